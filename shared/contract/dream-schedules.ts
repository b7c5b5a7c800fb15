/**
 * `/v1/dream_schedules` (Reverie extension; the SDK has no such resource): request schemas and the
 * response shape. A schedule dreams over one memory store on a cron or rate expression.
 */
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import { pageCursorSchema, pageLimitSchema } from "./validation.js";

/** `rate(5 minutes)` or `cron(0 3 * * ? *)`, as EventBridge Scheduler writes them. */
export const scheduleExpressionSchema = lazySchema(() =>
  z
    .string()
    .min(1)
    .max(256)
    .regex(/^(rate\(\s*\d+\s+(second|seconds|minute|minutes|hour|hours|day|days)\s*\)|cron\([^)]+\))$/, {
      message:
        "must be rate(<n> minutes|hours|days) or cron(<min> <hour> <day-of-month> <month> <day-of-week> <year>)",
    }),
);

const model = lazySchema(() =>
  z.union([
    z.string().min(1).max(256),
    z.object({ id: z.string().min(1).max(256), speed: z.literal("standard").nullish() }).strict(),
  ]),
);

export const DreamScheduleCreateSchema = lazySchema(() =>
  z
    .object({
      memory_store_id: z.string().min(1).max(256),
      schedule_expression: scheduleExpressionSchema,
      /** IANA time zone of a cron expression (default UTC). */
      timezone: z.string().min(1).max(64).optional(),
      model,
      instructions: z.string().min(1).max(4096).nullish(),
      /** `auto`: a result that passes every guard lands in the store; `review`: every result waits for apply. */
      mode: z.enum(["auto", "review"]).default("review"),
      metadata: z.record(z.string(), z.string().max(512)).optional(),
    })
    .strict(),
);
export type DreamScheduleCreateBody = z.infer<typeof DreamScheduleCreateSchema>;

export const DreamScheduleUpdateSchema = lazySchema(() =>
  z
    .object({
      schedule_expression: scheduleExpressionSchema.optional(),
      timezone: z.string().min(1).max(64).optional(),
      model: model.optional(),
      instructions: z.string().min(1).max(4096).nullish(),
      mode: z.enum(["auto", "review"]).optional(),
    })
    .strict(),
);
export type DreamScheduleUpdateBody = z.infer<typeof DreamScheduleUpdateSchema>;

export const DreamScheduleListQuerySchema = lazySchema(() =>
  z.object({ limit: pageLimitSchema, page: pageCursorSchema }),
);
export type DreamScheduleListQuery = z.infer<typeof DreamScheduleListQuerySchema>;

/** A dream schedule as the API returns it. */
export interface DreamSchedule {
  type: "dream_schedule";
  id: string;
  memory_store_id: string;
  schedule_expression: string;
  timezone: string;
  model: { id: string };
  instructions: string | null;
  mode: "auto" | "review";
  status: "active" | "paused";
  /** The newest session a dream of this schedule has covered (sessions are taken in creation order). */
  watermark_session_id: string | null;
  last_fired_at: string | null;
  last_dream_id: string | null;
  metadata: Record<string, string>;
  created_at: string;
  updated_at: string;
}
