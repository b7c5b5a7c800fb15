/**
 * The sweeper's webhook pass: every delivery in the pending index whose nudge looks lost (pending, no
 * attempt in flight, nothing due for a minute: webhook-nudges.ts) gets another, and the entries of
 * deliveries that ended leave the index. Runs beside the session sweep (functions/sweeper.ts, the
 * embedded stack's timer). A duplicate nudge is harmless: an attempt is claimed under a lease.
 */
import type { Clock, DocumentStore, Logger, MessageQueue, StoredItem } from "../ports.js";
import { leavePendingIndex, nudgeAgain, nudgeOverdue, pendingEarlier } from "./webhook-nudges.js";
import {
  deliveryKey,
  deliveryRecordSchema,
  endpointKey,
  endpointRecordSchema,
  pendingIndexKey,
  type WebhookMessage,
} from "./webhook-records.js";

/** Longer than any Lambda runs: an index entry whose record is still missing after this never gets one. */
const ORPHAN_ENTRY_MS = 15 * 60_000;

export interface WebhookSweepDeps {
  store: DocumentStore;
  queue: MessageQueue<WebhookMessage>;
  clock: Clock;
  logger: Logger;
}

export async function sweepWebhookDeliveries(
  deps: WebhookSweepDeps,
): Promise<{ checked: number; nudged: number; dropped: number; failed: number }> {
  const entries = await deps.store.query("resources", pendingIndexKey);
  let nudged = 0;
  let dropped = 0;
  let failed = 0;
  for (const entry of entries) {
    // One entry that cannot be handled (a storage error, a bug) must not stop the others' recovery.
    try {
      const done = await sweepEntry(deps, entry);
      if (done === "nudged") nudged++;
      if (done === "dropped") dropped++;
    } catch (error) {
      failed++;
      deps.logger.error("sweeping a pending webhook delivery failed", {
        entry: String(entry.sk),
        error: String(error),
      });
    }
  }
  return { checked: entries.length, nudged, dropped, failed };
}

async function sweepEntry(
  deps: WebhookSweepDeps,
  entry: StoredItem,
): Promise<"nudged" | "dropped" | undefined> {
  const endpointId = String(entry.endpointId);
  const eventId = String(entry.eventId);
  const now = deps.clock.now();
  const item = await deps.store.get("resources", deliveryKey(endpointId), eventId);
  if (!item) {
    // The publisher died between the entry and the record (a live one is about to write it).
    if (now - Number(entry.at) < ORPHAN_ENTRY_MS) return undefined;
    await deps.store.delete("resources", pendingIndexKey, entry.sk);
    return "dropped";
  }
  const delivery = deliveryRecordSchema.parse(item);
  if (delivery.status !== "pending") {
    // The attempt that ended it died before taking it out of the index.
    await leavePendingIndex(deps, endpointId, eventId);
    return "dropped";
  }
  if (!nudgeOverdue(delivery, now)) return undefined;
  const endpointItem = await deps.store.get("resources", endpointKey(delivery.workspaceId), endpointId);
  if (!endpointItem) {
    // The endpoint was deleted: nothing will ever deliver this.
    await deps.store.delete("resources", pendingIndexKey, entry.sk);
    return "dropped";
  }
  // A disabled endpoint's deliveries stay pending, and are nudged once it is enabled again.
  if (endpointRecordSchema.parse(endpointItem).state !== "enabled") return undefined;
  // Behind a pending earlier delivery, a nudge would only circle (re-sent each second) beside the one
  // that may already be circling; the earlier delivery is swept in its own right, and this one after.
  if (await pendingEarlier(deps.store, delivery)) return undefined;
  deps.logger.info("re-nudging a webhook delivery whose nudge was lost", { endpointId, eventId });
  return (await nudgeAgain(deps, delivery)) ? "nudged" : undefined;
}
