/**
 * The extensions every step loop runs with (shared/core/runtime/run-extension.ts), in the order they
 * are asked: prompt notes and mounts follow it (memory stores, session files, skills), then outcomes,
 * then multiagent_20261001's advisor.
 * The composition root appends what needs wiring (the coordinator's threads, …).
 */
import { filesExtension } from "../core/files/files-extension.js";
import { memoryExtension } from "../core/memory/memory-extension.js";
import { multiagentExtension } from "../core/multiagent/multiagent-extension.js";
import { outcomeExtension } from "../core/outcomes/outcome-extension.js";
import type { RunExtension } from "../core/runtime/run-extension.js";
import { skillsExtension } from "../core/skills/skills-extension.js";

export const builtinExtensions: readonly RunExtension[] = [
  memoryExtension,
  filesExtension,
  skillsExtension,
  outcomeExtension,
  multiagentExtension,
];
