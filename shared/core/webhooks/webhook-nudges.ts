/**
 * What keeps a pending delivery moving when a nudge goes missing: a publisher or an attempt can die
 * between writing the delivery record and sending its queue message (DESIGN.md §5), and nothing else
 * would send one. The record says when its latest nudge was due (`nudgedAt`); a pending delivery
 * without a live lease long past that has lost its nudge, and the sweeper sends it another, found
 * through the pending index rather than a scan.
 */
import { type Clock, ConditionFailedError, type DocumentStore, type MessageQueue } from "../ports.js";
import {
  type DeliveryRecord,
  deliveryKey,
  deliveryRecordSchema,
  padLane,
  pendingIndexEntry,
  pendingIndexKey,
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
  if (!(await markNudged(deps, delivery, deps.clock.now()))) return false;
  await deps.queue.send(nudgeOf(delivery));
  return true;
}

/**
 * Records that the delivery's nudge is moving (`nudgedAt`, rev-checked). A waiting delivery, which
 * re-sends its own message each second, says so now and then: a delivery behind it in its lane, or
 * the sweeper, would otherwise take one that has circled for a minute for a lost one and send it
 * another, a copy that would circle for ever too. False when the record changed meanwhile: whoever
 * changed it is moving it along.
 */
export async function markNudged(
  deps: Pick<NudgeDeps, "store">,
  delivery: DeliveryRecord,
  at: number,
): Promise<boolean> {
  const next = { ...delivery, nudgedAt: at, rev: delivery.rev + 1 };
  try {
    await deps.store.put(
      "resources",
      { pk: deliveryKey(delivery.endpointId), sk: delivery.eventId, ...next },
      { expectedRev: delivery.rev },
    );
    return true;
  } catch (error) {
    if (error instanceof ConditionFailedError) return false;
    throw error;
  }
}

/** Puts the delivery in the pending index; before the write that makes it pending, so none is missed. */
export async function enterPendingIndex(
  deps: Pick<NudgeDeps, "store" | "clock">,
  endpointId: string,
  eventId: string,
): Promise<void> {
  await deps.store.put("resources", pendingIndexEntry(endpointId, eventId, deps.clock.now()));
}

/**
 * Takes an ended delivery out of the pending index. A replay may make it pending again between the
 * read that saw it end and the delete (its entry put just before): looking again after the delete
 * and putting the entry back covers a replay written before that look; one written after it puts
 * its entry again itself (`WebhooksService.replay`).
 */
export async function leavePendingIndex(
  deps: Pick<NudgeDeps, "store" | "clock">,
  endpointId: string,
  eventId: string,
): Promise<void> {
  await deps.store.delete("resources", pendingIndexKey, `${endpointId}#${eventId}`);
  const item = await deps.store.get("resources", deliveryKey(endpointId), eventId);
  if (item && deliveryRecordSchema.parse(item).status === "pending")
    await enterPendingIndex(deps, endpointId, eventId);
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
