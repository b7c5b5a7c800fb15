/** Skills in the step loop: the skills section of the system prompt and the read-only `/mnt/skills`. */
import type { RunExtension } from "../runtime/run-extension.js";
import { sessionSkillMounts, skillsPromptNote } from "./session-skills.js";

export const skillsExtension: RunExtension = {
  name: "skills",
  systemNote: (deps, run) => skillsPromptNote(deps.store, run),
  mounts: (deps, context) =>
    context.agent.skills.length > 0 ? sessionSkillMounts(deps.workspace, context.owner) : [],
};
