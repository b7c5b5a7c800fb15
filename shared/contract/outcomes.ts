/**
 * Request schemas for outcomes: the `user.define_outcome` event (SDK:
 * BetaManagedAgentsUserDefineOutcomeEventParams) and the extension endpoints' queries.
 */
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";

/** The SDK's limits: rubric text ≤ 262,144 characters; `max_iterations` default 3, max 20. */
export const MAX_RUBRIC_CHARS = 262_144;
export const DEFAULT_MAX_ITERATIONS = 3;
export const MAX_ITERATIONS_LIMIT = 20;

const textRubricSchema = lazySchema(() =>
  z.object({ type: z.literal("text"), content: z.string().min(1).max(MAX_RUBRIC_CHARS) }).strict(),
);
const fileRubricSchema = lazySchema(() =>
  z.object({ type: z.literal("file"), file_id: z.string().min(1) }).strict(),
);

export const defineOutcomeParamsSchema = lazySchema(() =>
  z
    .object({
      type: z.literal("user.define_outcome"),
      description: z.string().min(1).max(100_000),
      rubric: z.discriminatedUnion("type", [textRubricSchema, fileRubricSchema]),
      max_iterations: z.number().int().min(1).max(MAX_ITERATIONS_LIMIT).nullable().optional(),
    })
    .strict(),
);
export type DefineOutcomeParams = z.infer<typeof defineOutcomeParamsSchema>;
