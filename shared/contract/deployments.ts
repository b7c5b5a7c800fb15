/**
 * `/v1/deployments` and `/v1/deployment_runs`: the SDK's deployment types under short names, and
 * request schemas matching `DeploymentCreateParams` / `DeploymentUpdateParams` /
 * `DeploymentListParams` / `DeploymentRunListParams` (a type-level test holds them to the SDK).
 * Limits are the SDK doc comments': 1–50 initial events, ≤ 500 resources, ≤ 50 vaults, metadata
 * ≤ 16 pairs (keys ≤ 64, values ≤ 512 characters).
 */
import * as z from "zod";
import { userMessageParamsSchema } from "./events.js";
import { defineOutcomeParamsSchema } from "./outcomes.js";
import { sessionResourcesSchema } from "./session-resources.js";
import { budgetSchema } from "./sessions.js";
import {
  metadataPatchSchema,
  metadataSchema,
  pageCursorSchema,
  pageLimitSchema,
  queryTimestampSchema,
} from "./validation.js";

export type {
  BetaManagedAgentsDeploymentRun as DeploymentRun,
  BetaManagedAgentsTriggerContext as DeploymentTriggerContext,
} from "@anthropic-ai/sdk/resources/beta/deployment-runs";
export type {
  BetaManagedAgentsDeployment as Deployment,
  BetaManagedAgentsDeploymentInitialEvent as DeploymentInitialEvent,
  BetaManagedAgentsDeploymentPausedReason as DeploymentPausedReason,
  BetaManagedAgentsDeploymentPausedReasonErrorObject as DeploymentPausedReasonError,
  BetaManagedAgentsSchedule as DeploymentSchedule,
  BetaManagedAgentsSessionResourceConfig as DeploymentResourceConfig,
} from "@anthropic-ai/sdk/resources/beta/deployments";

import { lazySchema } from "./lazy-schema.js";

/** Id prefixes, as the SDK's examples show them (`depl_011C…`, `drun_…`). */
export const deploymentIdPrefix = "depl";
export const deploymentRunIdPrefix = "drun";

/** The documented limits, and Reverie's own where the SDK states none. */
export const DEPLOYMENT_LIMITS = {
  minInitialEvents: 1,
  maxInitialEvents: 50,
  maxResources: 500,
  maxVaults: 50,
  /** Not stated by the SDK; Reverie's bound (as for agents). */
  nameMaxLength: 256,
  /** Not stated by the SDK; Reverie's bound (as for agents). */
  descriptionMaxLength: 2048,
  /** Longest cron expression accepted (five fields of lists fit well within it). */
  expressionMaxLength: 256,
} as const;

const agentIdSchema = lazySchema(() => z.string().min(1).max(128));

/** `agent`: an id (pins the latest version) or `{type: "agent", id, version?}`. */
const agentRefSchema = lazySchema(() =>
  z.union([
    agentIdSchema,
    z.strictObject({
      type: z.literal("agent"),
      id: agentIdSchema,
      version: z.number().int().min(1).optional(),
    }),
  ]),
);

/** `schedule`: a 5-field cron expression and an IANA time zone (checked by the service). */
export const scheduleParamsSchema = lazySchema(() =>
  z.strictObject({
    type: z.literal("cron"),
    expression: z.string().min(1).max(DEPLOYMENT_LIMITS.expressionMaxLength),
    timezone: z.string().min(1).max(64),
  }),
);
export type ScheduleParams = z.infer<typeof scheduleParamsSchema>;

/**
 * One initial event. `system.message` is typed by the SDK but this server does not take it (as on
 * `POST /v1/sessions/{id}/events`): a clear 400 instead of an event that would be ignored.
 */
const systemMessageParamsSchema = lazySchema(() =>
  z
    .object({
      type: z.literal("system.message"),
      content: z.array(z.object({ type: z.literal("text"), text: z.string() })),
    })
    .loose()
    .refine(() => false, { message: "system.message is not supported by this server yet" }),
);

export const initialEventParamsSchema = lazySchema(() =>
  z.discriminatedUnion("type", [
    userMessageParamsSchema,
    defineOutcomeParamsSchema,
    systemMessageParamsSchema,
  ]),
);
export type InitialEventParams =
  | z.infer<typeof userMessageParamsSchema>
  | z.infer<typeof defineOutcomeParamsSchema>;

const initialEventsSchema = lazySchema(() =>
  z
    .array(initialEventParamsSchema)
    .min(DEPLOYMENT_LIMITS.minInitialEvents)
    .max(DEPLOYMENT_LIMITS.maxInitialEvents),
);

const resourcesSchema = lazySchema(() =>
  sessionResourcesSchema.refine((r) => r.length <= DEPLOYMENT_LIMITS.maxResources, {
    message: `must have at most ${DEPLOYMENT_LIMITS.maxResources} items`,
  }),
);

const vaultIdsSchema = lazySchema(() => z.array(z.string().min(1).max(128)).max(DEPLOYMENT_LIMITS.maxVaults));

const nameSchema = lazySchema(() => z.string().trim().min(1).max(DEPLOYMENT_LIMITS.nameMaxLength));
const descriptionSchema = lazySchema(() => z.string().max(DEPLOYMENT_LIMITS.descriptionMaxLength));

export const DeploymentCreateSchema = lazySchema(() =>
  z.strictObject({
    agent: agentRefSchema,
    environment_id: z.string().min(1).max(128),
    initial_events: initialEventsSchema,
    name: nameSchema,
    budget: budgetSchema.nullish(),
    description: descriptionSchema.nullish(),
    metadata: metadataSchema.optional(),
    resources: resourcesSchema.optional(),
    schedule: scheduleParamsSchema.nullish(),
    vault_ids: vaultIdsSchema.optional(),
  }),
);
export type DeploymentCreateBody = z.infer<typeof DeploymentCreateSchema>;

export const DeploymentUpdateSchema = lazySchema(() =>
  z.strictObject({
    agent: agentRefSchema.optional(),
    budget: budgetSchema.nullish(),
    description: descriptionSchema.nullish(),
    environment_id: z.string().min(1).max(128).optional(),
    initial_events: initialEventsSchema.optional(),
    metadata: metadataPatchSchema.nullish(),
    name: nameSchema.optional(),
    resources: resourcesSchema.nullish(),
    schedule: scheduleParamsSchema.nullish(),
    vault_ids: vaultIdsSchema.nullish(),
  }),
);
export type DeploymentUpdateBody = z.infer<typeof DeploymentUpdateSchema>;

const queryBoolean = lazySchema(() => z.enum(["true", "false"]).transform((v) => v === "true"));

export const DeploymentListQuerySchema = lazySchema(() =>
  z
    .object({
      limit: pageLimitSchema,
      page: pageCursorSchema,
      agent_id: z.string().min(1).optional(),
      "created_at[gte]": queryTimestampSchema.optional(),
      "created_at[lte]": queryTimestampSchema.optional(),
      include_archived: queryBoolean.optional(),
      status: z.enum(["active", "paused"]).optional(),
    })
    .refine((q) => !(q.include_archived && q.status), {
      message: "status and include_archived=true cannot be combined",
      path: ["status"],
    }),
);
export type DeploymentListQuery = z.infer<typeof DeploymentListQuerySchema>;

export const DeploymentRunListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    "created_at[gt]": queryTimestampSchema.optional(),
    "created_at[gte]": queryTimestampSchema.optional(),
    "created_at[lt]": queryTimestampSchema.optional(),
    "created_at[lte]": queryTimestampSchema.optional(),
    deployment_id: z.string().min(1).optional(),
    has_error: queryBoolean.optional(),
    trigger_type: z.enum(["schedule", "manual"]).optional(),
  }),
);
export type DeploymentRunListQuery = z.infer<typeof DeploymentRunListQuerySchema>;
