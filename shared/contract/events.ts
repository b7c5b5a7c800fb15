/** Request schemas for /v1/sessions/{id}/events, matching the SDK's EventSendParams / EventListParams. */
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import { defineOutcomeParamsSchema } from "./outcomes.js";
import { pageCursorSchema, pageLimit, queryTimestampSchema } from "./validation.js";

const textBlock = lazySchema(() =>
  z.object({ type: z.literal("text"), text: z.string().min(1).max(1_000_000) }).strict(),
);
const base64Source = lazySchema(() =>
  z.object({ type: z.literal("base64"), media_type: z.string().min(1), data: z.string().min(1) }).strict(),
);
const urlSource = lazySchema(() => z.object({ type: z.literal("url"), url: z.url() }).strict());
const imageBlock = lazySchema(() =>
  z.object({ type: z.literal("image"), source: z.union([base64Source, urlSource]) }).strict(),
);
const documentBlock = lazySchema(() =>
  z
    .object({
      type: z.literal("document"),
      source: z.union([
        base64Source,
        urlSource,
        z.object({ type: z.literal("text"), media_type: z.literal("text/plain"), data: z.string() }).strict(),
      ]),
      title: z.string().nullable().optional(),
      context: z.string().nullable().optional(),
    })
    .strict(),
);
const contentBlock = lazySchema(() => z.discriminatedUnion("type", [textBlock, imageBlock, documentBlock]));

export const userMessageParamsSchema = lazySchema(() =>
  z.object({ type: z.literal("user.message"), content: z.array(contentBlock).min(1).max(100) }).strict(),
);

const interruptSchema = lazySchema(() =>
  z
    .object({ type: z.literal("user.interrupt"), session_thread_id: z.string().nullable().optional() })
    .strict(),
);

const toolConfirmationSchema = lazySchema(() =>
  z
    .object({
      type: z.literal("user.tool_confirmation"),
      tool_use_id: z.string().min(1),
      result: z.enum(["allow", "deny"]),
      deny_message: z.string().max(10_000).nullable().optional(),
    })
    .strict(),
);

const customToolResultSchema = lazySchema(() =>
  z
    .object({
      type: z.literal("user.custom_tool_result"),
      custom_tool_use_id: z.string().min(1),
      content: z.array(z.discriminatedUnion("type", [textBlock, imageBlock, documentBlock])).optional(),
      is_error: z.boolean().nullable().optional(),
    })
    .strict(),
);

const searchResultBlock = lazySchema(() =>
  z
    .object({
      type: z.literal("search_result"),
      source: z.string(),
      title: z.string(),
      content: z.array(textBlock),
      citations: z.object({ enabled: z.boolean() }).strict().optional(),
    })
    .strict(),
);

/** A self-hosted worker's answer to an `agent.tool_use` (the SDK's `SessionToolRunner` sends it). */
export const toolResultSchema = lazySchema(() =>
  z
    .object({
      type: z.literal("user.tool_result"),
      tool_use_id: z.string().min(1).max(200),
      content: z
        .array(z.discriminatedUnion("type", [textBlock, imageBlock, documentBlock, searchResultBlock]))
        .max(100)
        .optional(),
      is_error: z.boolean().nullable().optional(),
    })
    .strict(),
);

/** The event types a client may send; other SDK-typed ones get a clear "not supported yet". */
export const sendableEventSchema = lazySchema(() =>
  z.discriminatedUnion("type", [
    userMessageParamsSchema,
    interruptSchema,
    toolConfirmationSchema,
    customToolResultSchema,
    toolResultSchema,
    defineOutcomeParamsSchema,
  ]),
);
export type SendableEvent = z.infer<typeof sendableEventSchema>;

export const EventSendSchema = lazySchema(() =>
  z.object({ events: z.array(z.unknown()).min(1).max(50) }).strict(),
);

export const EventListQuerySchema = lazySchema(() =>
  z.object({
    // The SDK's SessionToolRunner reads a session's history with `limit: 1000`.
    limit: pageLimit({ max: 1000, fallback: 20 }),
    page: pageCursorSchema,
    order: z.enum(["asc", "desc"]).default("asc"),
    "created_at[gt]": queryTimestampSchema.optional(),
    "created_at[gte]": queryTimestampSchema.optional(),
    "created_at[lt]": queryTimestampSchema.optional(),
    "created_at[lte]": queryTimestampSchema.optional(),
    types: z.array(z.string().min(1)).optional(),
  }),
);
export type EventListQuery = z.infer<typeof EventListQuerySchema>;
