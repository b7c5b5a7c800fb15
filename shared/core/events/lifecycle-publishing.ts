/**
 * Publishes a session's lifecycle as domain events (webhooks, EventBridge, SNS) from the places
 * that cause them. The domain event id derives from the session event that announced the change,
 * which emit-once keeps stable across retries, so a re-run publishes the same id and consumers dedupe.
 */
import type { StepDeps } from "../runtime/step-deps.js";

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
