/** Session files in the step loop: the `/mnt/session` mount of the owner session's file resources. */
import type { RunExtension } from "../runtime/run-extension.js";
import { sessionFileMounts } from "./file-mounts.js";

export const filesExtension: RunExtension = {
  name: "files",
  mounts: (deps, context) => sessionFileMounts(deps.workspace, context.owner, context.resources),
};
