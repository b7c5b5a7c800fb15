/** A session's usage counts every thread: the coordinator's own plus each child thread's total. */
import type { SessionUsage } from "../../contract/sdk-types.js";
import { addUsage } from "../runtime/session-status.js";

/** `own` plus every child thread's cumulative usage (RunState.threadUsage). */
export function withThreadUsage(own: SessionUsage, threadUsage: Record<string, unknown> | undefined) {
  let total = own;
  for (const usage of Object.values(threadUsage ?? {})) total = addUsage(total, usage as SessionUsage);
  return total;
}
