/**
 * Delivers one webhook (one webhooks-queue message): Standard Webhooks signing with the endpoint's
 * secret, order kept per subject (a later event of a session waits for the earlier one), retries
 * with exponential backoff through delayed re-sends, then the dead-letter queue. Each attempt is
 * claimed with a rev-checked write, so a duplicate message does not POST twice at once.
 */
import { Webhook } from "standardwebhooks";
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type Logger,
  type MessageQueue,
  type WebhookTransport,
} from "../ports.js";
import {
  type DeliveryRecord,
  deliveryKey,
  deliveryRecordSchema,
  endpointKey,
  endpointRecordSchema,
  type WebhookMessage,
} from "./webhook-records.js";

export interface WebhookDeliveryDeps {
  store: DocumentStore;
  transport: WebhookTransport;
  queue: MessageQueue<WebhookMessage>;
  /** Where a delivery goes when its attempts are exhausted (the webhooks DLQ). */
  deadLetters: MessageQueue<WebhookMessage>;
  clock: Clock;
  logger: Logger;
  /** Attempts before the dead-letter queue (default 5). */
  maxAttempts: number;
  /** Backoff base: attempt n waits base × 2^(n-1) seconds (capped at SQS's 900 s). */
  retryBaseSeconds: number;
  /** How long a delivery waits before re-checking an earlier one of its subject, seconds. */
  orderWaitSeconds: number;
  timeoutMs: number;
}

const userAgent = "Reverie-Webhooks/0.1";
/** A pending, never-attempted delivery this old has lost its queue message. */
const LOST_NUDGE_MS = 60_000;

/**
 * What one delivery job did, for its log line: `skipped` (nothing to do: delivered, superseded,
 * endpoint gone or disabled, or another attempt holds it), `waiting` (an earlier delivery to the
 * endpoint goes first), or an attempt that was `delivered`, is `retrying` or has `failed` for good.
 */
export type WebhookDeliveryRun =
  | { outcome: "skipped" | "waiting" }
  | { outcome: "delivered" | "retrying" | "failed"; attempt: number; status?: number };

export async function deliverWebhook(
  deps: WebhookDeliveryDeps,
  message: WebhookMessage,
): Promise<WebhookDeliveryRun> {
  const item = await deps.store.get("resources", deliveryKey(message.endpointId), message.eventId);
  if (!item) return skipped;
  const delivery = deliveryRecordSchema.parse(item);
  if (delivery.status !== "pending" || delivery.generation !== message.generation) return skipped;
  const endpointItem = await deps.store.get(
    "resources",
    endpointKey(delivery.workspaceId),
    delivery.endpointId,
  );
  if (!endpointItem) return skipped; // endpoint deleted: nothing to deliver to
  const endpoint = endpointRecordSchema.parse(endpointItem);
  if (endpoint.state !== "enabled") return skipped; // stays pending; a replay sends it after re-enabling

  const earlier = await pendingEarlier(deps, delivery);
  if (earlier) {
    // A publisher that recorded the earlier delivery may have died before enqueueing it; a
    // never-attempted earlier delivery older than any queue latency gets its nudge again (an
    // attempt is claimed by rev, so a duplicate nudge is harmless).
    const age = deps.clock.now() - Date.parse(earlier.createdAt);
    if (earlier.attempts === 0 && age > LOST_NUDGE_MS)
      await deps.queue.send({
        schemaVersion: 1,
        endpointId: earlier.endpointId,
        eventId: earlier.eventId,
        generation: earlier.generation,
      });
    await deps.queue.send(message, { delaySeconds: deps.orderWaitSeconds });
    return { outcome: "waiting" };
  }
  const claimed = await save(deps, { ...delivery, attempts: delivery.attempts + 1 }, delivery.rev);
  if (!claimed) return skipped;

  const timestamp = new Date(deps.clock.now());
  const signature = new Webhook(endpoint.signingSecret).sign(delivery.eventId, timestamp, delivery.payload);
  const headers = {
    "content-type": "application/json",
    "user-agent": userAgent,
    "webhook-id": delivery.eventId,
    "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
    "webhook-signature": signature,
  };
  let status: number | undefined;
  let error: string | undefined;
  try {
    status = (await deps.transport.post(endpoint.url, delivery.payload, headers, deps.timeoutMs)).status;
    if (status < 200 || status >= 300) error = `receiver answered ${status}`;
  } catch (cause) {
    error = (cause as Error).message;
  }
  const now = new Date(deps.clock.now()).toISOString();
  if (!error) {
    await save(
      deps,
      { ...claimed, status: "delivered", lastStatus: status, lastError: undefined, deliveredAt: now },
      claimed.rev,
    );
    return { outcome: "delivered", attempt: claimed.attempts, status };
  }
  deps.logger.warn("webhook delivery failed", {
    endpointId: delivery.endpointId,
    eventId: delivery.eventId,
    attempt: claimed.attempts,
    error,
  });
  if (claimed.attempts >= deps.maxAttempts) {
    await save(deps, { ...claimed, status: "failed", lastStatus: status, lastError: error }, claimed.rev);
    await deps.deadLetters.send(message);
    return { outcome: "failed", attempt: claimed.attempts, status };
  }
  await save(deps, { ...claimed, lastStatus: status, lastError: error }, claimed.rev);
  const delaySeconds = Math.min(900, deps.retryBaseSeconds * 2 ** (claimed.attempts - 1));
  await deps.queue.send(message, { delaySeconds });
  return { outcome: "retrying", attempt: claimed.attempts, status };
}

const skipped: WebhookDeliveryRun = { outcome: "skipped" };

/** The subject's previous delivery to this endpoint, if it is still pending. */
async function pendingEarlier(
  deps: WebhookDeliveryDeps,
  delivery: DeliveryRecord,
): Promise<DeliveryRecord | undefined> {
  const [previous] = await deps.store.query("resources", delivery.lane, {
    before: String(delivery.laneSeq).padStart(12, "0"),
    order: "desc",
    limit: 1,
  });
  if (!previous) return undefined;
  const item = await deps.store.get("resources", deliveryKey(delivery.endpointId), String(previous.eventId));
  const earlier = item && deliveryRecordSchema.parse(item);
  return earlier && earlier.status === "pending" ? earlier : undefined;
}

async function save(deps: WebhookDeliveryDeps, next: DeliveryRecord, expectedRev: number) {
  const stored = { ...next, rev: expectedRev + 1 };
  try {
    await deps.store.put(
      "resources",
      { pk: deliveryKey(next.endpointId), sk: next.eventId, ...stripUndefined(stored) },
      { expectedRev },
    );
    return stored;
  } catch (error) {
    if (error instanceof ConditionFailedError) return undefined;
    throw error;
  }
}

const stripUndefined = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
