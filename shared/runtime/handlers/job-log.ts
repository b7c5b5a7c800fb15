/**
 * One structured INFO line per queue job (issue 14): which job, the ids it works on, what it did and
 * how long it took — ids and outcomes only, never a payload, a rubric or a secret. A job that throws
 * (the queue redelivers it) gets a WARN line naming the error class, then the error goes on.
 */
import type { Logger } from "../../core/ports.js";

/** The message of each job's line (what a log query filters on). */
export const JOB_LOG_MESSAGES = {
  grader: "grader job",
  dream: "dream job",
  webhook: "webhook job",
} as const;

/**
 * Runs `job`, then logs its ids, its result's fields (`outcome`, …) and its duration.
 *
 * @example await loggedJob(logger, "grader", { sessionId, outcomeId }, () => runGrader(deps, message));
 */
export async function loggedJob<Result extends object>(
  logger: Logger,
  kind: keyof typeof JOB_LOG_MESSAGES,
  ids: Record<string, string | number | undefined>,
  job: () => Promise<Result>,
): Promise<Result> {
  const startedAt = performance.now();
  const durationMs = () => Math.round(performance.now() - startedAt);
  try {
    const result = await job();
    logger.info(JOB_LOG_MESSAGES[kind], { job: kind, ...ids, ...result, durationMs: durationMs() });
    return result;
  } catch (error) {
    logger.warn(JOB_LOG_MESSAGES[kind], {
      job: kind,
      ...ids,
      outcome: "error",
      error: (error as Error)?.name ?? "Error",
      durationMs: durationMs(),
    });
    throw error;
  }
}
