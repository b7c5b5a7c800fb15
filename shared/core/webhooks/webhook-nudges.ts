/**
 * When a delivery needs (another) nudge: the record says when its latest nudge was due (`nudgedAt`),
 * so a pending delivery without a live lease long past that has lost its nudge (a publisher or an
 * attempt can die between its record write and its queue send: DESIGN.md §5), and one nudged
 * recently needs none.
 */
import { type Clock, ConditionFailedError, type DocumentStore, type MessageQueue } from "../ports.js";
import {
  type DeliveryRecord,
  deliveryKey,
  deliveryRecordSchema,
  padLane,
  type WebhookMessage,
} from "./webhook-records.js";

/** Longer than any queue latency: a pending delivery this far past its last nudge has lost it. */
export const LOST_NUDGE_MS = 60_000;

export interface NudgeDeps {
  store: DocumentStore;
  queue: MessageQueue<WebhookMessage>;
  clock: Clock;
}

export const nudgeOf = (delivery: DeliveryRecord): WebhookMessage => ({
  schemaVersion: 1,
  endpointId: delivery.endpointId,
  eventId: delivery.eventId,
  generation: delivery.generation,
});

/** Pending, no attempt in flight, and no nudge due for over LOST_NUDGE_MS: its nudge was lost. */
export function nudgeOverdue(delivery: DeliveryRecord, now: number): boolean {
  if (delivery.status !== "pending" || (delivery.leaseUntil ?? 0) > now) return false;
  return (delivery.nudgedAt ?? Date.parse(delivery.createdAt)) + LOST_NUDGE_MS < now;
}

/**
 * Sends the delivery another nudge, recording when first (rev-checked), so that the sweeper and a
 * republished event do not both send one. False when the record changed meanwhile: whoever changed
 * it (a claim, an attempt's outcome, a replay, another re-nudge) is moving it along.
 */
export async function nudgeAgain(deps: NudgeDeps, delivery: DeliveryRecord): Promise<boolean> {
  const next = { ...delivery, nudgedAt: deps.clock.now(), rev: delivery.rev + 1 };
  try {
    await deps.store.put(
      "resources",
      { pk: deliveryKey(delivery.endpointId), sk: delivery.eventId, ...next },
      { expectedRev: delivery.rev },
    );
  } catch (error) {
    if (error instanceof ConditionFailedError) return false;
    throw error;
  }
  await deps.queue.send(nudgeOf(delivery));
  return true;
}

/** The subject's previous delivery to this endpoint, if it is still pending. */
export async function pendingEarlier(
  store: DocumentStore,
  delivery: DeliveryRecord,
): Promise<DeliveryRecord | undefined> {
  const [previous] = await store.query("resources", delivery.lane, {
    before: padLane(delivery.laneSeq),
    order: "desc",
    limit: 1,
  });
  if (!previous) return undefined;
  const item = await store.get("resources", deliveryKey(delivery.endpointId), String(previous.eventId));
  const earlier = item && deliveryRecordSchema.parse(item);
  return earlier && earlier.status === "pending" ? earlier : undefined;
}
