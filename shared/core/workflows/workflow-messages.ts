/**
 * Workflow runs' messages on the agent-steps queue — nudges, never the truth (DESIGN.md §5): the
 * shapes the compiled ASL sends (shared/infra-spec/workflow-state-machine.ts). Each is validated
 * on read; one delivered twice changes nothing.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import { nullAsAbsentString } from "../../contract/validation.js";

// A function, not shared schemas: built inside the lazily built schemas that spread it.
const runFields = () => ({
  schemaVersion: z.literal(1),
  workspaceId: z.string().min(1),
  sessionId: z.string().min(1),
  runId: z.string().min(1),
});

export const workflowTaskMessageSchema = lazySchema(() =>
  z.object({
    ...runFields(),
    kind: z.literal("workflow_task"),
    stepId: z.string().min(1),
    phase: z.number().int().min(0),
    index: z.number().int().min(0).optional(),
    item: z.unknown().optional(),
    taskToken: z.string().min(1),
  }),
);

export const workflowPhaseMessageSchema = lazySchema(() =>
  z.object({
    ...runFields(),
    kind: z.literal("workflow_phase"),
    phase: z.number().int().min(0),
  }),
);

export const workflowFinishedMessageSchema = lazySchema(() =>
  z.object({
    ...runFields(),
    kind: z.literal("workflow_run_finished"),
    ok: z.boolean(),
    // A Catch's Error / Cause may arrive as null (moto) or be absent: read as absent.
    error: nullAsAbsentString(),
    cause: nullAsAbsentString(),
  }),
);

export const workflowQueueMessageSchema = lazySchema(() =>
  z.discriminatedUnion("kind", [
    workflowTaskMessageSchema,
    workflowPhaseMessageSchema,
    workflowFinishedMessageSchema,
  ]),
);
export type WorkflowQueueMessage = z.infer<typeof workflowQueueMessageSchema>;
export type WorkflowTaskMessage = z.infer<typeof workflowTaskMessageSchema>;
export type WorkflowFinishedMessage = z.infer<typeof workflowFinishedMessageSchema>;

export const WORKFLOW_MESSAGE_KINDS = new Set(["workflow_task", "workflow_phase", "workflow_run_finished"]);
