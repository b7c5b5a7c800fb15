/**
 * Webhook endpoints and deliveries as stored (`resources` table):
 * - `ws#<ws>#webhook` / endpoint id — the endpoint, with its signing secret sealed (SecretSealer:
 *   AES-GCM under the data dir's key locally, a KMS data key on AWS), bound to its workspace and id;
 * - `whdlv#<endpoint>` / event id — one delivery per (endpoint, event): the outbox record, whose
 *   key makes recording it idempotent and whose event id is the stable `webhook-id`;
 * - `whlane#<endpoint>#<subject>` / lane position — delivery order per subject (e.g. a session);
 * - `whpending` / `<endpoint>#<event>` — the sweeper's index of pending deliveries, so it finds a
 *   delivery whose nudge was lost without scanning: put before the delivery becomes pending (recorded
 *   or replayed), deleted after it ends (webhook-nudges.ts).
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { SecretSealer } from "../ports.js";

export const endpointRecordSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    id: z.string(),
    workspaceId: z.string(),
    url: z.string(),
    name: z.string(),
    description: z.string(),
    enabled_events: z.array(z.string()),
    state: z.enum(["enabled", "disabled"]),
    disabled_reason: z.string(),
    /** The signing secret, sealed ({@link sealSigningSecret}). */
    sealedSigningSecret: z.string().optional(),
    /** The secret in clear: endpoints stored before secrets were sealed (sealed when regenerated). */
    signingSecret: z.string().optional(),
    created_at: z.string(),
    updated_at: z.string(),
    rev: z.number().int(),
  }),
);
export type EndpointRecord = z.infer<typeof endpointRecordSchema>;

/**
 * What an endpoint's sealed secret is bound to: an envelope copied onto another endpoint, or into
 * another workspace, does not open. Its keys are its own (not a vault credential's): on AWS the key
 * policy lets webhook-deliver decrypt only under them, so it can open no vault credential.
 */
const secretContext = (endpoint: Pick<EndpointRecord, "workspaceId" | "id">) => ({
  workspace: endpoint.workspaceId,
  webhook_endpoint: endpoint.id,
});

/** Seals a signing secret for the endpoint: the record keeps only the envelope. */
export function sealSigningSecret(
  sealer: SecretSealer,
  endpoint: Pick<EndpointRecord, "workspaceId" | "id">,
  secret: string,
): Promise<string> {
  return sealer.seal(secret, secretContext(endpoint));
}

/** The endpoint's signing secret, for signing a delivery (never for a response: it is write-only). */
export async function signingSecretOf(sealer: SecretSealer, endpoint: EndpointRecord): Promise<string> {
  if (endpoint.sealedSigningSecret !== undefined)
    return sealer.open(endpoint.sealedSigningSecret, secretContext(endpoint));
  if (endpoint.signingSecret !== undefined) return endpoint.signingSecret;
  throw new Error(`webhook endpoint ${endpoint.id} has no signing secret`);
}

export const deliveryRecordSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    endpointId: z.string(),
    workspaceId: z.string(),
    eventId: z.string(),
    eventType: z.string(),
    /** The signed body, fixed when the event is recorded so every attempt and replay sends the same bytes. */
    payload: z.string(),
    lane: z.string(),
    laneSeq: z.number().int(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int().min(0),
    lastStatus: z.number().int().optional(),
    lastError: z.string().optional(),
    createdAt: z.string(),
    deliveredAt: z.string().optional(),
    /** Bumped by each replay, so a replay's queue message is told apart from stale ones. */
    generation: z.number().int().min(0),
    /**
     * The attempt in flight: who claimed it and until when (epoch ms). While the lease lasts no other
     * nudge POSTs; it outlasts one POST's timeout, so a live holder never loses it mid-request.
     */
    leaseOwner: z.string().optional(),
    leaseUntil: z.number().optional(),
    /**
     * When the latest nudge is due (epoch ms): when it was sent, or for a retry when its delay ends.
     * A nudge earlier than this is a duplicate; a pending delivery long past it lost its nudge.
     * Absent on records written before it existed: their `createdAt` stands in.
     */
    nudgedAt: z.number().optional(),
    rev: z.number().int(),
  }),
);
export type DeliveryRecord = z.infer<typeof deliveryRecordSchema>;

export const endpointKey = (workspaceId: string) => `ws#${workspaceId}#webhook`;
export const deliveryKey = (endpointId: string) => `whdlv#${endpointId}`;
export const laneKey = (endpointId: string, subject: string) => `whlane#${endpointId}#${subject}`;
export const padLane = (n: number) => String(n).padStart(12, "0");
export const pendingIndexKey = "whpending";

/** A pending delivery's entry in the sweeper's index; `at` (epoch ms) dates an entry whose record never came. */
export const pendingIndexEntry = (endpointId: string, eventId: string, at: number) => ({
  pk: pendingIndexKey,
  sk: `${endpointId}#${eventId}`,
  endpointId,
  eventId,
  at,
});

/** The webhooks queue's message: a nudge to attempt one delivery (DESIGN.md §5). */
export const webhookMessageSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    endpointId: z.string().min(1),
    eventId: z.string().min(1),
    generation: z.number().int().min(0),
  }),
);
export type WebhookMessage = z.infer<typeof webhookMessageSchema>;
