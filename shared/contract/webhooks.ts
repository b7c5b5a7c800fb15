/**
 * Request schemas for /v1/organizations/webhooks (SDK: WebhookCreateParams / WebhookUpdateParams /
 * WebhookListParams). Endpoints here subscribe to the session, agent, outcome and memory events this
 * server publishes; the SDK's enum names only organization events, so any event type string is
 * accepted (a type-level test asserts that every SDK body is accepted).
 */
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import { pageLimitSchema } from "./validation.js";

/** Anthropic allows at most 32 webhook endpoints (here: per workspace). */
export const MAX_WEBHOOK_ENDPOINTS = 32;

const url = lazySchema(() =>
  z
    .string()
    .max(2048)
    .refine((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), "must be an http(s) URL"),
);
const eventTypes = lazySchema(() =>
  z
    .array(z.string().regex(/^[a-z_]+\.[a-z_]+$/, "must be an event type such as session.status_idled"))
    .min(1)
    .max(100),
);

export const WebhookCreateSchema = lazySchema(() =>
  z
    .object({
      url,
      enabled_events: eventTypes,
      description: z.string().max(1024).optional(),
      name: z.string().max(256).optional(),
    })
    .strict(),
);
export type WebhookCreateBody = z.infer<typeof WebhookCreateSchema>;

export const WebhookUpdateSchema = lazySchema(() =>
  z
    .object({
      url: url.optional(),
      enabled_events: eventTypes.optional(),
      description: z.string().max(1024).optional(),
      name: z.string().max(256).optional(),
      state: z.enum(["enabled", "disabled"]).optional(),
    })
    .strict(),
);
export type WebhookUpdateBody = z.infer<typeof WebhookUpdateSchema>;

export const WebhookListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    after_id: z.string().optional(),
    before_id: z.string().optional(),
    order: z.enum(["asc", "desc"]).default("desc"),
  }),
);
export type WebhookListQuery = z.infer<typeof WebhookListQuerySchema>;

export const WebhookDeliveryListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    after_id: z.string().optional(),
    status: z.enum(["pending", "delivered", "failed"]).optional(),
  }),
);
export type WebhookDeliveryListQuery = z.infer<typeof WebhookDeliveryListQuerySchema>;
