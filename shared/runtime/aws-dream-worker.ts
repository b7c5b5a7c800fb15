/**
 * The dream worker's composition on AWS: a dream job's dependencies alone (a step's, the memory
 * stores, the dream-jobs queue and the model), so its bundle carries neither the dreams API nor the
 * other bounded contexts.
 */
import type { DreamDeps } from "../core/dreams/dream-deps.js";
import { MemoryStoreDreamMemory } from "../core/dreams/memory-store-dream-memory.js";
import { MemoriesService } from "../core/memory/memories-service.js";
import { MemoryStoresService } from "../core/memory/memory-stores-service.js";
import { withDreamJobs } from "./aws-dream-jobs.js";
import { awsPorts, builtOnce, withModel } from "./aws-ports.js";
import { ConfigError } from "./config.js";
import { buildDreamDeps } from "./dream-job-wiring.js";
import { buildStepDeps } from "./step-deps-wiring.js";

/** The dream-jobs queue is required: the worker consumes it, and re-nudges on it. */
export const awsDreamJobDeps = builtOnce(async (): Promise<DreamDeps> => {
  const { config, ports } = await awsPorts(async (c) => ({ ...withDreamJobs(c), ...(await withModel(c)) }));
  if (!ports.dreamJobs) throw new ConfigError("REVERIE_DREAM_JOBS_QUEUE_URL is required on AWS");
  const deps = buildStepDeps(config, ports);
  const memoryStores = new MemoryStoresService(deps);
  const memory = new MemoryStoreDreamMemory(memoryStores, new MemoriesService(deps, memoryStores));
  return buildDreamDeps(config, deps, ports.dreamJobs, memory);
});
