/** The dreams context's environment variables (spread into config.ts's schema). */
import * as z from "zod/mini";
import "../contract/zod-mini.js";
import { DEFAULT_MEMORY_RUBRIC, type DreamOptions } from "../core/dreams/dream-deps.js";

const flag = z.pipe(
  z.optional(z.enum(["0", "1", "true", "false"])),
  z.transform((v) => v === "1" || v === "true"),
);

export const dreamConfigSchema = {
  /** The key that created a review-mode dream may not apply it alone. */
  REVERIE_DREAM_REQUIRE_SECOND_REVIEWER: flag,
  /** Conservation guard: the largest share (0–1) of a store a dream may drop and still land unreviewed. */
  REVERIE_DREAM_MAX_DROP_SHARE: z._default(z.coerce.number().check(z.minimum(0), z.maximum(1)), 0.3),
  /**
   * Dreams over larger input stores fail with `input_memory_store_too_large`. The dreamer reads a
   * store file by file, so the default covers the largest store (2,000 memories of 100 kB).
   */
  REVERIE_DREAM_MAX_STORE_BYTES: z._default(
    z.coerce.number().check(z.int(), z.positive()),
    256 * 1024 * 1024,
  ),
  /** A dream's budget: tokens of every kind its dreamer may spend (the dream then fails with `budget_exceeded`). */
  REVERIE_DREAM_BUDGET_TOKENS: z._default(z.coerce.number().check(z.int(), z.positive()), 5_000_000),
  /** A dream's budget in list-price USD (budget.ts prices), on top of the token budget; unset: none. */
  REVERIE_DREAM_BUDGET_USD: z.optional(z.coerce.number().check(z.positive())),
  /** Most model calls (steps) of a dream's session; then the dreamer is asked for its answer. */
  REVERIE_DREAM_MAX_STEPS: z._default(z.coerce.number().check(z.int(), z.minimum(2), z.maximum(10_000)), 200),
  /** A dream not finished this long after creation fails with `timeout`. */
  REVERIE_DREAM_TIMEOUT_SECONDS: z._default(z.coerce.number().check(z.positive(), z.maximum(86_400)), 1800),
  /** A memory rubric the outcomes grader checks before a dream lands: `default`, or the rubric's text. */
  REVERIE_DREAM_RUBRIC: z.optional(z.string().check(z.minLength(1))),
  /** Embedded stack: accept `rate(n seconds)` dream schedules (demos, tests). */
  REVERIE_DREAM_ALLOW_SECOND_RATES: flag,
  /** AWS: the dream-jobs queue. */
  REVERIE_DREAM_JOBS_QUEUE_URL: z.optional(z.string()),
  /** AWS: the EventBridge Scheduler group, target Lambda and invoke role of dream schedules. */
  REVERIE_DREAM_SCHEDULE_GROUP: z.optional(z.string()),
  REVERIE_DREAM_SCHEDULER_FUNCTION_ARN: z.optional(z.string()),
  REVERIE_DREAM_SCHEDULER_ROLE_ARN: z.optional(z.string()),
};

export function dreamOptionsOf(config: {
  REVERIE_DREAM_REQUIRE_SECOND_REVIEWER: boolean;
  REVERIE_DREAM_MAX_DROP_SHARE: number;
  REVERIE_DREAM_MAX_STORE_BYTES: number;
  REVERIE_DREAM_TIMEOUT_SECONDS: number;
  REVERIE_DREAM_ALLOW_SECOND_RATES: boolean;
  REVERIE_DREAM_RUBRIC?: string;
  REVERIE_DREAM_BUDGET_TOKENS: number;
  REVERIE_DREAM_BUDGET_USD?: number;
  REVERIE_DREAM_MAX_STEPS: number;
}): Omit<DreamOptions, "leaseMs" | "maxMalformedFinishes"> {
  return {
    requireSecondReviewer: config.REVERIE_DREAM_REQUIRE_SECOND_REVIEWER,
    maxDroppedShare: config.REVERIE_DREAM_MAX_DROP_SHARE,
    maxStoreBytes: config.REVERIE_DREAM_MAX_STORE_BYTES,
    timeoutMs: config.REVERIE_DREAM_TIMEOUT_SECONDS * 1000,
    allowSecondRates: config.REVERIE_DREAM_ALLOW_SECOND_RATES,
    rubric: config.REVERIE_DREAM_RUBRIC === "default" ? DEFAULT_MEMORY_RUBRIC : config.REVERIE_DREAM_RUBRIC,
    budget: {
      maxTokens: config.REVERIE_DREAM_BUDGET_TOKENS,
      maxUsd: config.REVERIE_DREAM_BUDGET_USD,
      maxSteps: config.REVERIE_DREAM_MAX_STEPS,
    },
  };
}
