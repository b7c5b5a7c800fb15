/**
 * The fan-out's messages on the agent-steps queue (nudges, never the truth — DESIGN.md §5): the
 * Step Functions task that starts a thread's work (with its task token) and the one that resumes
 * the coordinator with every thread's result. Their shapes are the ASL's MessageBody templates.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import { nullAsAbsentString } from "../../contract/validation.js";

export const threadDispatchMessageSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    kind: z.literal("thread_dispatch"),
    workspaceId: z.string().min(1),
    sessionId: z.string().min(1),
    threadId: z.string().min(1),
    toolUseEventId: z.string().min(1),
    fanoutKey: z.string().min(1),
    timeoutSeconds: z.number().int().positive(),
    taskToken: z.string().min(1),
  }),
);

const threadResultSchema = lazySchema(() =>
  z.object({
    threadId: z.string(),
    toolUseEventId: z.string(),
    ok: z.boolean(),
    reply: z.string().optional(),
    // A Catch's `$.error.Error` / `.Cause` may arrive as null (moto sends a null Cause): read as absent.
    error: nullAsAbsentString(),
    cause: nullAsAbsentString(),
  }),
);
export type ThreadResult = z.infer<typeof threadResultSchema>;

export const fanoutResumeMessageSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    kind: z.literal("fanout_resume"),
    workspaceId: z.string().min(1),
    sessionId: z.string().min(1),
    fanoutStep: z.number().int().min(0),
    results: z.array(threadResultSchema),
  }),
);

export const threadQueueMessageSchema = lazySchema(() =>
  z.discriminatedUnion("kind", [threadDispatchMessageSchema, fanoutResumeMessageSchema]),
);
export type ThreadDispatchMessage = z.infer<typeof threadDispatchMessageSchema>;
export type FanoutResumeMessage = z.infer<typeof fanoutResumeMessageSchema>;
