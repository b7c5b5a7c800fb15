/**
 * The self-hosted work API (`client.beta.environments.work.*`) and Reverie's environment keys
 * extension: request schemas matching the SDK's params, and the SDK response types re-exported.
 */
import type {
  BetaSelfHostedWork,
  BetaSelfHostedWorkHeartbeatResponse,
  BetaSelfHostedWorkQueueStats,
  BetaWorkLeaseState,
  BetaWorkSecret,
  WorkHeartbeatParams,
  WorkPollParams,
  WorkStopParams,
  WorkUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/environments/work";
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import { metadataPatchSchema, pageCursorSchema, pageLimitSchema } from "./validation.js";

export type {
  BetaSelfHostedWork as SelfHostedWork,
  BetaSelfHostedWorkHeartbeatResponse as WorkHeartbeatResponse,
  BetaSelfHostedWorkQueueStats as WorkQueueStats,
  BetaWorkLeaseState as WorkLeaseState,
  BetaWorkSecret as WorkSecret,
};

export type WorkState = BetaSelfHostedWork["state"];

/** `block_ms` is capped at 999 by the API (the SDK's `POLL_BLOCK_MS`). */
export const MAX_POLL_BLOCK_MS = 999;
/** Default `reclaim_older_than_ms`: a polled item nobody acknowledged is offered again after this. */
export const DEFAULT_RECLAIM_MS = 5_000;
/** The heartbeat value that claims a lease nobody has heartbeated yet. */
export const NO_HEARTBEAT = "NO_HEARTBEAT";

const queryInt = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, { message: "must be an integer" })
    .transform(Number)
    .pipe(z.number().int().min(min).max(max))
    .optional();

export const WorkPollQuerySchema = lazySchema(() =>
  z.object({
    block_ms: queryInt(1, MAX_POLL_BLOCK_MS),
    reclaim_older_than_ms: queryInt(0, 3_600_000),
  }),
);
export type WorkPollQuery = z.infer<typeof WorkPollQuerySchema>;
// The SDK sends these params as query strings; the type test checks the names line up.
export type WorkPollQueryNames = keyof Omit<WorkPollParams, "betas" | "Anthropic-Worker-ID">;

export const WorkHeartbeatQuerySchema = lazySchema(() =>
  z.object({
    desired_ttl_seconds: queryInt(1, 86_400),
    expected_last_heartbeat: z.string().min(1).max(64).optional(),
  }),
);
export type WorkHeartbeatQueryNames = keyof Omit<WorkHeartbeatParams, "betas" | "environment_id">;

export const WorkStopBodySchema = lazySchema(
  () =>
    z.strictObject({ force: z.boolean().optional() }) satisfies z.ZodType<
      Omit<WorkStopParams, "environment_id" | "betas" | "workspace_id">
    >,
);

export const WorkUpdateBodySchema = lazySchema(
  () =>
    z.strictObject({ metadata: metadataPatchSchema }) satisfies z.ZodType<
      Omit<WorkUpdateParams, "environment_id" | "betas" | "workspace_id">
    >,
);

export const WorkListQuerySchema = lazySchema(() =>
  z.object({ limit: pageLimitSchema, page: pageCursorSchema }),
);
export type WorkListQuery = z.infer<typeof WorkListQuerySchema>;

/** Reverie extension: `POST /v1/environments/{environment_id}/keys`. */
export const EnvironmentKeyCreateSchema = lazySchema(() =>
  z.strictObject({
    name: z.string().min(1).max(256).optional(),
  }),
);
export type EnvironmentKeyCreate = z.infer<typeof EnvironmentKeyCreateSchema>;

/** An environment key as listed (the key itself is shown once, at creation). */
export interface EnvironmentKey {
  id: string;
  type: "environment_key";
  environment_id: string;
  name: string | null;
  /** The key's last four characters, to tell keys apart. */
  hint: string;
  created_at: string;
  revoked_at: string | null;
}
