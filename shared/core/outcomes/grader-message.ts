/** The grader queue's message: a nudge to evaluate one iteration of one outcome (DESIGN.md §5). */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";

export const graderMessageSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    workspaceId: z.string().min(1),
    sessionId: z.string().min(1),
    outcomeId: z.string().min(1),
    iteration: z.number().int().min(0),
  }),
);
export type GraderMessage = z.infer<typeof graderMessageSchema>;

export const graderMessage = (
  workspaceId: string,
  sessionId: string,
  outcomeId: string,
  iteration: number,
): GraderMessage => ({ schemaVersion: 1, workspaceId, sessionId, outcomeId, iteration });
