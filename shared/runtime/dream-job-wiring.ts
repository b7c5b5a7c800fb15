/**
 * A dream job's dependencies from a step's: what the dream worker runs dreams on, and what the
 * dreams context (dream-wiring.ts) builds its services on.
 */
import { type DreamDeps, type DreamJob, defaultDreamOptions } from "../core/dreams/dream-deps.js";
import type { DreamMemory } from "../core/dreams/dream-memory.js";
import { DreamRepository } from "../core/dreams/dream-record.js";
import type { MessageQueue } from "../core/ports.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import type { Config } from "./config.js";
import { dreamOptionsOf } from "./dream-config.js";

export function buildDreamDeps(
  config: Config,
  deps: StepDeps,
  jobs: MessageQueue<DreamJob>,
  memory: DreamMemory,
): DreamDeps {
  return {
    store: deps.store,
    dreams: new DreamRepository(deps.store),
    memory,
    events: deps.events,
    sessions: deps.sessions,
    model: deps.model,
    jobs,
    steps: deps.steps,
    stepLeaseMs: deps.leaseMs,
    clock: deps.clock,
    ids: deps.ids,
    logger: deps.logger,
    options: { ...defaultDreamOptions, ...dreamOptionsOf(config) },
  };
}
