/** Memory stores in the step loop: the mounts' note in the system prompt and `/mnt/memory/*` for tools. */
import type { RunExtension } from "../runtime/run-extension.js";
import { memoryPromptNote, sessionMemoryMounts } from "./memory-mounts.js";

export const memoryExtension: RunExtension = {
  name: "memory",
  systemNote: async (_deps, run) => memoryPromptNote(run.session.resources),
  mounts: (deps, context) =>
    sessionMemoryMounts(
      deps,
      {
        workspaceId: context.workspaceId,
        sessionId: context.runId,
        resources: context.resources,
        owner: context.owner === context.runId ? undefined : context.owner,
        dispatchedBy: context.dispatchedBy,
      },
      context.toolUseEventId,
      // What `bash` printed may come from anywhere: its writes carry that taint.
      context.tool === "bash" ? ["bash"] : undefined,
    ),
};
