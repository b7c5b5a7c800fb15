/**
 * What the sweeper's dream sweep runs on: the dream records and the dream-jobs queue. Not the dreams
 * context (`buildDreams` in dream-wiring.ts: runner, dreamer, guards, review, schedules), which only
 * the processes that serve or run dreams compose and bundle.
 */
import { DreamRepository } from "../core/dreams/dream-record.js";
import type { DreamSweepDeps } from "../core/dreams/dream-sweeper.js";
import type { Services } from "./container.js";

export function dreamSweepOf(services: Pick<Services, "deps" | "dreamJobs">): DreamSweepDeps {
  if (!services.dreamJobs) throw new Error("no dream-jobs queue in this process (ports.dreamJobs)");
  const { store, clock } = services.deps;
  return { store, clock, dreams: new DreamRepository(store), jobs: services.dreamJobs };
}
