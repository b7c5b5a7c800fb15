/**
 * Publishes a session's lifecycle as domain events (webhooks, EventBridge, SNS) from the places
 * that cause them. The domain event id derives from the session event that announced the change,
 * which emit-once keeps stable across retries, so a re-run publishes the same id and consumers dedupe.
 */
import { ConditionFailedError, type DocumentStore } from "../ports.js";
import type { StepDeps } from "../runtime/step-deps.js";
import { emitOnceKey } from "./emit-once.js";

/** `sevt_…` → `wevt_…`: the same change seen as a webhook event. */
export const domainEventIdFor = (sourceEventId: string) => `wevt_${sourceEventId.replace(/^[a-z]+_/, "")}`;

export async function publishSessionEvent(
  deps: Pick<StepDeps, "domainEvents" | "logger" | "clock">,
  workspaceId: string,
  sessionId: string,
  type: string,
  sourceEventId: string,
  data: Record<string, unknown> = {},
): Promise<void> {
  try {
    await deps.domainEvents.publish({
      type,
      id: domainEventIdFor(sourceEventId),
      workspaceId,
      createdAt: new Date(deps.clock.now()).toISOString(),
      data: { id: sessionId, ...data },
    });
  } catch (error) {
    // Publishing records an outbox entry first; a failure here is a storage failure, which the
    // caller's retry (queue redelivery) repeats with the same id.
    deps.logger.error("publishing a domain event failed", { type, sessionId, error: String(error) });
    throw error;
  }
}

/** Publishes `session.status_idled` for the idle event among `entries` (what emit-once wrote). */
export async function publishIdled(
  deps: Pick<StepDeps, "domainEvents" | "logger" | "clock">,
  record: { workspaceId: string; session: { id: string; agent: { id: string } }; thread?: unknown },
  entries: ReadonlyArray<{ event: { type: string; id: string } }>,
): Promise<void> {
  // A child thread's idle is `session.thread_status_idle`, published by the threads runtime.
  if (record.thread) return;
  const idle = entries.find((e) => e.event.type === "session.status_idle");
  if (!idle) return;
  await publishSessionEvent(
    deps,
    record.workspaceId,
    record.session.id,
    "session.status_idled",
    idle.event.id,
    {
      agent_id: record.session.agent.id,
    },
  );
}

/**
 * Runs `publish` unless an earlier run left a `published#<eventId>` marker under `pk`, then leaves
 * it. A re-run after a failed commit is handed the same session event by emit-once and would publish
 * its domain event again: webhooks dedupe on the id, the event bus and SNS's email/SMS subscribers
 * do not. Only a crash between the publish and the marker repeats it.
 */
export async function publishOnce(
  store: DocumentStore,
  pk: string,
  eventId: string,
  publish: () => Promise<void>,
): Promise<void> {
  const sk = `published#${eventId}`;
  if (await store.get("resources", pk, sk)) return;
  await publish();
  try {
    await store.put("resources", { pk, sk }, { ifNotExists: true });
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
  }
}

/**
 * {@link publishIdled} once per idle event ({@link publishOnce}, its marker beside the session's
 * emit-once markers, purged with them): for the grader and `finishTurn`, whose re-runs come from
 * redeliveries. The step commit's loop, on every turn's path, publishes once per invocation without
 * a marker (agent-step.ts).
 */
export async function publishIdledOnce(
  deps: Pick<StepDeps, "store" | "domainEvents" | "logger" | "clock">,
  record: Parameters<typeof publishIdled>[1],
  entries: Parameters<typeof publishIdled>[2],
): Promise<void> {
  const idle = entries.find((e) => e.event.type === "session.status_idle");
  if (!idle || record.thread) return;
  await publishOnce(deps.store, emitOnceKey(record.session.id), idle.event.id, () =>
    publishIdled(deps, record, entries),
  );
}
