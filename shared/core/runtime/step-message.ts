/** The agent-steps queue message: a nudge, never the truth (DESIGN.md §5). */
import * as z from "zod";

export const stepMessageSchema = z.object({
  schemaVersion: z.literal(1),
  workspaceId: z.string().min(1),
  sessionId: z.string().min(1),
  stepSeq: z.number().int().min(0),
});
export type StepMessage = z.infer<typeof stepMessageSchema>;

export const stepMessage = (workspaceId: string, sessionId: string, stepSeq: number): StepMessage => ({
  schemaVersion: 1,
  workspaceId,
  sessionId,
  stepSeq,
});
