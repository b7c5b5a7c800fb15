/**
 * Request schemas for /v1/dreams, matching the SDK's DreamCreateParams / DreamListParams, and the
 * Reverie extensions around them (review: `/v1/dreams/{id}/changes`, `/v1/dreams/{id}/apply`).
 */
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import { pageCursorSchema, pageLimitSchema, queryBooleanSchema, queryTimestampSchema } from "./validation.js";

export const dreamStatuses = ["pending", "running", "completed", "failed", "canceled"] as const;
export type DreamStatus = (typeof dreamStatuses)[number];

/** `completed`, `failed` and `canceled` never change again. */
export const isTerminalDreamStatus = (status: DreamStatus) =>
  status === "completed" || status === "failed" || status === "canceled";

const memoryStoreInput = lazySchema(() =>
  z.object({ type: z.literal("memory_store"), memory_store_id: z.string().min(1).max(256) }).strict(),
);
const sessionsInput = lazySchema(() =>
  z
    .object({
      type: z.literal("sessions"),
      session_ids: z
        .array(z.string().min(1).max(256))
        .min(1)
        .max(100)
        .refine((ids) => new Set(ids).size === ids.length, "session ids must not repeat"),
    })
    .strict(),
);

const modelConfig = lazySchema(() =>
  z
    .object({
      id: z.string().min(1).max(256),
      speed: z
        .enum(["standard", "fast"])
        .nullish()
        .refine((s) => s === undefined || s === null || s === "standard", "dreams accept only standard"),
    })
    .strict(),
);

const outputBehavior = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.object({ type: z.literal("create_new") }).strict(),
    z.object({ type: z.literal("update_existing"), memory_store_id: z.string().min(1).max(256) }).strict(),
  ]),
);

export const DreamCreateSchema = lazySchema(() =>
  z
    .object({
      inputs: z
        .array(z.discriminatedUnion("type", [memoryStoreInput, sessionsInput]))
        .min(2)
        .max(2),
      model: z.union([z.string().min(1).max(256), modelConfig]),
      instructions: z.string().min(1).max(4096).nullish(),
      output_behavior: outputBehavior.optional(),
    })
    .strict()
    .superRefine((body, ctx) => {
      const stores = body.inputs.filter((i) => i.type === "memory_store");
      const sessions = body.inputs.filter((i) => i.type === "sessions");
      if (stores.length !== 1 || sessions.length !== 1) {
        ctx.addIssue({
          code: "custom",
          path: ["inputs"],
          message: "give exactly one memory_store entry and exactly one sessions entry",
        });
        return;
      }
      const store = stores[0] as z.infer<typeof memoryStoreInput>;
      if (
        body.output_behavior?.type === "update_existing" &&
        body.output_behavior.memory_store_id !== store.memory_store_id
      ) {
        ctx.addIssue({
          code: "custom",
          path: ["output_behavior", "memory_store_id"],
          message: "must be the memory store in the memory_store entry of inputs",
        });
      }
    }),
);
export type DreamCreateBody = z.infer<typeof DreamCreateSchema>;

export const DreamListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    "created_at[gt]": queryTimestampSchema.optional(),
    "created_at[lt]": queryTimestampSchema.optional(),
    include_archived: queryBooleanSchema,
    statuses: z.array(z.enum(dreamStatuses)).optional(),
  }),
);
export type DreamListQuery = z.infer<typeof DreamListQuerySchema>;

/** Body of `POST /v1/dreams/{id}/apply` (extension): the paths of the changes to accept. */
export const DreamApplySchema = lazySchema(() =>
  z.object({ paths: z.array(z.string().min(1).max(1024)).min(1).max(2000) }).strict(),
);
export type DreamApplyBody = z.infer<typeof DreamApplySchema>;

/**
 * The built-in agent a dream's session runs as. Dream sessions are left out of `sessions.list`
 * unless it asks for them (`agent_id` of this agent, or `include_dream_sessions=true`).
 */
export const DREAMER_AGENT_ID = "agent_reverie_dreamer";
