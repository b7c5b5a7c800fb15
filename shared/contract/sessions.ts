/** Request schemas for /v1/sessions, matching the SDK's SessionCreateParams / SessionUpdateParams / SessionListParams. */
import * as z from "zod";
import { userMessageParamsSchema } from "./events.js";
import { lazySchema } from "./lazy-schema.js";
import { defineOutcomeParamsSchema } from "./outcomes.js";
import { sessionResourcesSchema } from "./session-resources.js";
import {
  metadataPatchSchema,
  metadataSchema,
  pageCursorSchema,
  pageLimitSchema,
  queryBooleanSchema,
  queryTimestampSchema,
} from "./validation.js";
import { sessionVaultIdsSchema } from "./vaults.js";

/** `budget` (SDK: BetaManagedAgentsBudgetLimit): a USD list-cost ceiling. */
export const budgetSchema = lazySchema(() =>
  z
    .object({
      type: z.literal("limit"),
      max_list_cost: z
        .object({
          amount: z.string().regex(/^\d+(\.\d+)?$/, "must be a decimal string"),
          currency: z.literal("USD"),
        })
        .strict(),
    })
    .strict(),
);

const agentIdSchema = lazySchema(() => z.string().min(1).max(128));

export const SessionCreateSchema = lazySchema(() =>
  z
    .object({
      agent: z.union([
        agentIdSchema,
        z
          .object({
            type: z.literal("agent"),
            id: agentIdSchema,
            version: z.number().int().min(1).optional(),
          })
          .strict(),
        z
          .object({
            type: z.literal("agent_with_overrides"),
            id: agentIdSchema,
            version: z.number().int().min(1).optional(),
            model: z.unknown().optional(),
            system: z.string().max(100_000).nullable().optional(),
            tools: z.array(z.unknown()).optional(),
            mcp_servers: z.array(z.unknown()).optional(),
            skills: z.array(z.unknown()).optional(),
          })
          .strict(),
      ]),
      environment_id: z.string().min(1).max(128),
      budget: budgetSchema.optional(),
      initial_events: z
        .array(z.discriminatedUnion("type", [userMessageParamsSchema, defineOutcomeParamsSchema]))
        .max(50)
        .optional(),
      metadata: metadataSchema.optional(),
      resources: sessionResourcesSchema.optional(),
      title: z.string().max(512).nullable().optional(),
      vault_ids: sessionVaultIdsSchema.optional(),
    })
    .strict(),
);
export type SessionCreateBody = z.infer<typeof SessionCreateSchema>;

export const SessionUpdateSchema = lazySchema(() =>
  z
    .object({
      agent: z
        .object({ tools: z.array(z.unknown()).optional(), mcp_servers: z.array(z.unknown()).optional() })
        .strict()
        .optional(),
      budget: budgetSchema.nullable().optional(),
      metadata: metadataPatchSchema.nullable().optional(),
      title: z.string().max(512).nullable().optional(),
      // The SDK: "Not yet supported; requests setting this field are rejected. Reserved for future use."
      vault_ids: z
        .array(z.string())
        .max(0, "vault_ids can only be set when the session is created")
        .optional(),
    })
    .strict(),
);
export type SessionUpdateBody = z.infer<typeof SessionUpdateSchema>;

export const sessionStatuses = ["rescheduling", "running", "idle", "terminated"] as const;

export const SessionListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    agent_id: z.string().optional(),
    agent_version: z.coerce.number().int().min(1).optional(),
    "created_at[gt]": queryTimestampSchema.optional(),
    "created_at[gte]": queryTimestampSchema.optional(),
    "created_at[lt]": queryTimestampSchema.optional(),
    "created_at[lte]": queryTimestampSchema.optional(),
    deployment_id: z.string().optional(),
    include_archived: queryBooleanSchema,
    /** Reverie extension: list dreams' sessions too (they are left out unless asked for). */
    include_dream_sessions: queryBooleanSchema,
    memory_store_id: z.string().optional(),
    order: z.enum(["asc", "desc"]).default("desc"),
    statuses: z.array(z.enum(sessionStatuses)).optional(),
  }),
);
export type SessionListQuery = z.infer<typeof SessionListQuerySchema>;
