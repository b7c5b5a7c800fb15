/**
 * `session.status_idled` once per idle. The idle's session events are emitted once (emit-once hands
 * every re-run the same ones), but a commit that loses its rev check and decides again, a step or
 * grader re-run after its save failed, all come back here with that same idle event: webhooks
 * dedupe on the derived id, the event bus and its rules do not. A marker written after the publish
 * narrows a repeat to a crash between the two. Used by the grader and `finishTurn`; the step commit's
 * loop, on every turn's path, publishes once per invocation without a marker (agent-step.ts).
 */
import { emitOnceKey } from "../events/emit-once.js";
import { publishIdled } from "../events/lifecycle-publishing.js";
import { ConditionFailedError } from "../ports.js";
import type { StepDeps } from "./step-deps.js";

/** The marker's sort key, beside the emit-once markers of the session (`once#<session>`). */
const publishedKey = (eventId: string) => `published#${eventId}`;

/**
 * Publishes `session.status_idled` for the idle event among `entries` (what emit-once wrote), unless
 * an earlier run published it already. A child thread's idle is not published here (see publishIdled).
 */
export async function publishIdledOnce(
  deps: Pick<StepDeps, "store" | "domainEvents" | "logger" | "clock">,
  record: Parameters<typeof publishIdled>[1],
  entries: Parameters<typeof publishIdled>[2],
): Promise<void> {
  const idle = entries.find((e) => e.event.type === "session.status_idle");
  if (!idle || record.thread) return;
  const pk = emitOnceKey(record.session.id);
  const sk = publishedKey(idle.event.id);
  if (await deps.store.get("resources", pk, sk)) return;
  await publishIdled(deps, record, entries);
  try {
    await deps.store.put("resources", { pk, sk }, { ifNotExists: true });
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
  }
}
