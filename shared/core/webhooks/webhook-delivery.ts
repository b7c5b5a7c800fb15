/**
 * Delivers one webhook (one webhooks-queue message): Standard Webhooks signing with the endpoint's
 * secret, order kept per subject (a later event of a session waits for the earlier one), retries
 * with exponential backoff through delayed re-sends, then the dead-letter queue.
 *
 * Nudges overlap — SQS delivers at least once, a batch's records run in parallel, a replay nudges
 * while an attempt is in flight — so an attempt is claimed with a lease (owner and expiry, written
 * rev-checked): a nudge that finds a live lease comes back when it ends instead of POSTing alongside,
 * and one that arrives before the retry nudge already due drops. An attempt's outcome is written on
 * the record as it is then: a 2xx wins over anything of its generation (the receiver has the
 * webhook), a failure counts only while the attempt still holds its lease.
 */
import { randomUUID } from "node:crypto";
import { Webhook } from "standardwebhooks";
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type Logger,
  type MessageQueue,
  type SecretSealer,
  type WebhookTransport,
} from "../ports.js";
import {
  enterPendingIndex,
  LOST_NUDGE_MS,
  leavePendingIndex,
  markNudged,
  nudgeAgain,
  nudgeOverdue,
  pendingEarlier,
} from "./webhook-nudges.js";
import {
  type DeliveryRecord,
  deliveryKey,
  deliveryRecordSchema,
  type EndpointRecord,
  endpointKey,
  endpointRecordSchema,
  signingSecretOf,
  type WebhookMessage,
} from "./webhook-records.js";

export interface WebhookDeliveryDeps {
  store: DocumentStore;
  /** Opens the endpoints' sealed signing secrets. */
  sealer: SecretSealer;
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
/** How much longer than one POST's timeout an attempt's lease lasts: the reads and writes around it. */
const LEASE_MARGIN_MS = 20_000;
/** How early a due nudge may arrive and still count (hosts' clocks, a queue's rounding of delays). */
const EARLY_NUDGE_SLACK_MS = 1_000;

/**
 * What one delivery job did, for its log line: `skipped` (nothing to do: delivered or failed, an old
 * generation's nudge, endpoint gone or disabled, or a duplicate of a retry nudge due later),
 * `waiting` (an earlier delivery to the endpoint goes first), `in_flight` (another attempt holds the
 * lease; the nudge comes back when it ends), or an attempt that was `delivered`, is `retrying`, has
 * `failed` for good, or was `superseded` (its failure came after its lease had passed to another
 * attempt, or a replay began).
 */
export type WebhookDeliveryRun =
  | NoAttempt
  | { outcome: "delivered" | "retrying" | "failed" | "superseded"; attempt: number; status?: number };

export async function deliverWebhook(
  deps: WebhookDeliveryDeps,
  message: WebhookMessage,
): Promise<WebhookDeliveryRun> {
  const claim = await claimAttempt(deps, message);
  if (!("attempt" in claim)) return claim;
  const { attempt, endpoint } = claim;

  let status: number | undefined;
  let error: string | undefined;
  try {
    // Inside the attempt: a secret that does not open (a disabled KMS key, a lost secrets.key) fails
    // the attempt like a refused POST — counted, backed off, and dead-lettered in the end.
    const timestamp = new Date(deps.clock.now());
    const secret = await openedSecrets.of(deps.sealer, endpoint);
    const headers = {
      "content-type": "application/json",
      "user-agent": userAgent,
      "webhook-id": attempt.eventId,
      "webhook-timestamp": String(Math.floor(timestamp.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(attempt.eventId, timestamp, attempt.payload),
    };
    status = (await deps.transport.post(endpoint.url, attempt.payload, headers, deps.timeoutMs)).status;
    if (status < 200 || status >= 300) error = `receiver answered ${status}`;
  } catch (cause) {
    error = (cause as Error).message;
  }
  if (error)
    deps.logger.warn("webhook delivery failed", {
      endpointId: attempt.endpointId,
      eventId: attempt.eventId,
      attempt: attempt.attempts,
      error,
    });
  return settle(deps, message, attempt, status, error);
}

/**
 * Signing secrets this process has opened, by envelope (a regenerated secret is a new envelope):
 * on AWS each open is a KMS call, and a busy endpoint would otherwise pay one per delivery. Bounded;
 * the oldest opened goes first.
 */
const openedSecrets = {
  byEnvelope: new Map<string, string>(),
  async of(sealer: SecretSealer, endpoint: EndpointRecord): Promise<string> {
    const envelope = endpoint.sealedSigningSecret;
    if (envelope === undefined) return signingSecretOf(sealer, endpoint);
    const key = `${endpoint.workspaceId}\n${endpoint.id}\n${envelope}`;
    let secret = this.byEnvelope.get(key);
    if (secret === undefined) {
      secret = await signingSecretOf(sealer, endpoint);
      if (this.byEnvelope.size >= 256) this.byEnvelope.delete(this.byEnvelope.keys().next().value as string);
      this.byEnvelope.set(key, secret);
    }
    return secret;
  },
};

type NoAttempt = { outcome: "skipped" | "waiting" | "in_flight" };
const skipped: NoAttempt = { outcome: "skipped" };

/** Claims the delivery's next attempt under a lease, or says why this nudge makes none. */
async function claimAttempt(
  deps: WebhookDeliveryDeps,
  message: WebhookMessage,
): Promise<{ attempt: DeliveryRecord; endpoint: EndpointRecord } | NoAttempt> {
  for (;;) {
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
    // Stays pending: the sweeper nudges it again once the endpoint is re-enabled (or a replay does).
    if (endpoint.state !== "enabled") return skipped;

    const now = deps.clock.now();
    if (delivery.leaseUntil !== undefined && delivery.leaseUntil > now) {
      // Another attempt is in flight. Its holder sends a retry's nudge itself, but this nudge may be
      // a replay's, which nobody else would send: it comes back when the lease ends, and drops then
      // if the holder has delivered or scheduled a retry meanwhile.
      const delaySeconds = Math.min(900, Math.max(1, Math.ceil((delivery.leaseUntil - now) / 1000)));
      await deps.queue.send(message, { delaySeconds });
      return { outcome: "in_flight" };
    }
    // A retry's nudge is due later: this one duplicates it, and POSTing now would skip the backoff.
    if ((delivery.nudgedAt ?? 0) > now + EARLY_NUDGE_SLACK_MS) return skipped;
    const earlier = await pendingEarlier(deps.store, delivery);
    if (earlier) {
      // An earlier delivery whose own nudge was lost: the sweeper re-nudges it, found through the
      // pending index — unless it has no entry there (recorded before the index existed, or dropped
      // by a race), when this lane would wait on it for ever. Put the entry (harmless if present)
      // and nudge it now.
      if (nudgeOverdue(earlier, now)) {
        await enterPendingIndex(deps, earlier.endpointId, earlier.eventId);
        await nudgeAgain(deps, earlier);
      }
      // This one's own nudge is alive: say so now and then, or it would look lost to the delivery
      // behind it (and to the sweeper) after a minute of circling.
      if ((delivery.nudgedAt ?? Date.parse(delivery.createdAt)) + LOST_NUDGE_MS / 2 < now)
        await markNudged(deps, delivery, now);
      await deps.queue.send(message, { delaySeconds: deps.orderWaitSeconds });
      return { outcome: "waiting" };
    }
    const attempt = await save(
      deps,
      {
        ...delivery,
        attempts: delivery.attempts + 1,
        leaseOwner: randomUUID(),
        // Outlasts the POST's timeout (on AWS, the function's 30 s too), so a live holder keeps it
        // through its request; one that overruns anyway is sorted out when its outcome is settled.
        leaseUntil: now + deps.timeoutMs + LEASE_MARGIN_MS,
      },
      delivery.rev,
    );
    if (attempt) return { attempt, endpoint };
    // Lost the rev check (another nudge claimed it, or a re-nudge or replay wrote): look again.
  }
}

/**
 * Writes an attempt's outcome on the record as it is now, re-read after a lost rev check. A 2xx is
 * written over anything of its generation — a pending record, or a `failed` a later attempt wrote
 * after this one's lease ran out — since the receiver has the webhook. A failure is written only
 * while the attempt still holds its lease; otherwise the attempt that took over decides. A replay
 * (a newer generation) supersedes the attempt whatever its result.
 */
async function settle(
  deps: WebhookDeliveryDeps,
  message: WebhookMessage,
  attempt: DeliveryRecord,
  status: number | undefined,
  error: string | undefined,
): Promise<WebhookDeliveryRun> {
  const run = { attempt: attempt.attempts, status };
  const exhausted = attempt.attempts >= deps.maxAttempts;
  const delaySeconds = Math.min(900, deps.retryBaseSeconds * 2 ** (attempt.attempts - 1));
  for (;;) {
    const item = await deps.store.get("resources", deliveryKey(attempt.endpointId), attempt.eventId);
    const current = item && deliveryRecordSchema.parse(item);
    if (!current || current.generation !== attempt.generation) return { outcome: "superseded", ...run };
    const now = deps.clock.now();
    const released = { ...current, leaseOwner: undefined, leaseUntil: undefined, lastStatus: status };
    let next: DeliveryRecord;
    if (!error) {
      if (current.status === "delivered") return { outcome: "delivered", ...run };
      next = {
        ...released,
        status: "delivered",
        lastError: undefined,
        deliveredAt: new Date(now).toISOString(),
      };
    } else if (current.status !== "pending" || current.leaseOwner !== attempt.leaseOwner) {
      return { outcome: "superseded", ...run };
    } else if (exhausted) {
      next = { ...released, status: "failed", lastError: error };
    } else {
      // The retry's nudge is due when its delay ends: the sweeper leaves it alone until then.
      next = { ...released, lastError: error, nudgedAt: now + delaySeconds * 1000 };
    }
    if (!(await save(deps, next, current.rev))) continue;
    if (next.status === "delivered") {
      await leavePendingIndex(deps, attempt.endpointId, attempt.eventId);
      return { outcome: "delivered", ...run };
    }
    if (next.status === "failed") {
      await deps.deadLetters.send(message);
      await leavePendingIndex(deps, attempt.endpointId, attempt.eventId);
      return { outcome: "failed", ...run };
    }
    await deps.queue.send(message, { delaySeconds });
    return { outcome: "retrying", ...run };
  }
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
