/**
 * The dream worker's composition on AWS: a dream job's dependencies alone (a step's, the memory
 * stores, the dream-jobs queue and the model), so its bundle carries neither the dreams API nor the
 * other bounded contexts.
 */
import type { DreamDeps } from "../core/dreams/dream-deps.js";
import { withDreamJobs } from "./aws-dream-jobs.js";
import { awsPorts, forgetting, withModel } from "./aws-ports.js";
import { ConfigError } from "./config.js";
import { buildDreamDeps, memoryStoresDreamMemory } from "./dream-job-wiring.js";
import { buildStepDeps } from "./step-deps-wiring.js";

let dreamDeps: Promise<DreamDeps> | undefined;

/** Built on first use; the dream-jobs queue is required (the worker consumes it, and re-nudges on it). */
export function awsDreamJobDeps(): Promise<DreamDeps> {
  dreamDeps ??= awsPorts(async (config) => ({ ...withDreamJobs(config), ...(await withModel(config)) }))
    .then(({ config, ports }) => {
      if (!ports.dreamJobs) throw new ConfigError("REVERIE_DREAM_JOBS_QUEUE_URL is required on AWS");
      const deps = buildStepDeps(config, ports);
      return buildDreamDeps(config, deps, ports.dreamJobs, memoryStoresDreamMemory(deps));
    })
    .catch(forgetting(() => (dreamDeps = undefined)));
  return dreamDeps;
}
