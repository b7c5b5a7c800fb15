/** The agent-steps queue message: a nudge, never the truth (DESIGN.md §5). */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";

export const stepMessageSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    workspaceId: z.string().min(1),
    sessionId: z.string().min(1),
    stepSeq: z.number().int().min(0),
    /** A child thread's step (threads); absent for the session's primary thread. */
    threadId: z.string().min(1).optional(),
  }),
);
export type StepMessage = z.infer<typeof stepMessageSchema>;

export const stepMessage = (
  workspaceId: string,
  sessionId: string,
  stepSeq: number,
  threadId?: string,
): StepMessage => ({
  schemaVersion: 1,
  workspaceId,
  sessionId,
  stepSeq,
  ...(threadId ? { threadId } : {}),
});
