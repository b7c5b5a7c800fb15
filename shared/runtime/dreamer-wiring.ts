/**
 * The dreamer in the step loop: every process that runs steps lists it (container.ts), so a dream's
 * session gets its tools, hint and budget wherever its steps run. Kept apart from dream-wiring.ts so
 * a step runner does not bundle the dream runner.
 */
import type { DreamJob } from "../core/dreams/dream-deps.js";
import { defaultDreamOptions } from "../core/dreams/dream-deps.js";
import { dreamerExtension } from "../core/dreams/dreamer-extension.js";
import type { MessageQueue } from "../core/ports.js";
import type { RunExtension } from "../core/runtime/run-extension.js";
import type { Config } from "./config.js";
import { dreamOptionsOf } from "./dream-config.js";

/**
 * `jobs` is where a dream's job is nudged when its session goes idle: present only where dreams are
 * wired; elsewhere the dream sweeper re-sends the job.
 */
export function dreamerExtensionFor(config: Config, jobs?: MessageQueue<DreamJob>): RunExtension {
  const options = { ...defaultDreamOptions, ...dreamOptionsOf(config) };
  return dreamerExtension({
    budget: options.budget,
    maxMalformedFinishes: options.maxMalformedFinishes,
    jobs,
  });
}
