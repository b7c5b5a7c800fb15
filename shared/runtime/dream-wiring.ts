/**
 * Wires the dreams context from the container's step dependencies: kept out of container.ts so the
 * composition root gains two lines, not forty.
 */
import type { DreamDeps, DreamJob } from "../core/dreams/dream-deps.js";
import type { DreamMemory } from "../core/dreams/dream-memory.js";
import { runDream } from "../core/dreams/dream-runner.js";
import { DreamSchedulesService, type DreamScheduleTrigger } from "../core/dreams/dream-schedules-service.js";
import { DreamsService } from "../core/dreams/dreams-service.js";
import { MemoryStoreDreamMemory } from "../core/dreams/memory-store-dream-memory.js";
import type { MemoriesService } from "../core/memory/memories-service.js";
import type { MemoryStoresService } from "../core/memory/memory-stores-service.js";
import type { MessageQueue } from "../core/ports.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import type { Config } from "./config.js";
import { buildDreamDeps } from "./dream-job-wiring.js";

/** Without a scheduler (a Lambda that never manages schedules) schedules are stored but never fire. */
const unscheduled: DreamScheduleTrigger = { put: async () => {}, delete: async () => {} };

/**
 * Runs each job in this process, after the caller's request has returned. Not durable by itself:
 * the dream sweeper re-sends a job for any dream no run holds, so a lost one is picked up later.
 */
class InProcessDreamJobs implements MessageQueue<DreamJob> {
  deps: DreamDeps | undefined;
  async send(job: DreamJob): Promise<void> {
    const deps = this.deps;
    if (!deps) return;
    setImmediate(() => {
      runDream(deps, job).catch((error) =>
        deps.logger.warn("dream run failed; the sweeper retries", { error: String(error) }),
      );
    });
  }
}

export function buildDreams(
  config: Config,
  deps: StepDeps,
  ports: {
    dreamJobs?: MessageQueue<DreamJob>;
    dreamMemory?: DreamMemory;
    dreamTrigger?: DreamScheduleTrigger;
  },
  memory: { memoryStores: MemoryStoresService; memories: MemoriesService },
) {
  const inline = ports.dreamJobs ? undefined : new InProcessDreamJobs();
  const dreamDeps = buildDreamDeps(
    config,
    deps,
    ports.dreamJobs ?? (inline as InProcessDreamJobs),
    ports.dreamMemory ?? new MemoryStoreDreamMemory(memory.memoryStores, memory.memories),
  );
  if (inline) inline.deps = dreamDeps;
  const dreams = new DreamsService(dreamDeps);
  const dreamSchedules = new DreamSchedulesService(dreamDeps, dreams, ports.dreamTrigger ?? unscheduled);
  return { dreamDeps, dreams, dreamSchedules };
}

/** What `buildServices` takes as `ports.dreaming`. */
export type DreamWiring = typeof buildDreams;
export type Dreaming = ReturnType<DreamWiring>;

/** The dreams context of a process that wired it (`ports.dreaming`). */
export function dreamsOf(services: { dreaming?: Dreaming }): Dreaming {
  if (!services.dreaming) throw new Error("dreams are not wired in this process (ports.dreaming)");
  return services.dreaming;
}
