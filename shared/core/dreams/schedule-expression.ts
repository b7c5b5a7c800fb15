/**
 * Schedule expressions as EventBridge Scheduler writes them — `rate(5 minutes)`,
 * `cron(0 3 * * ? *)` — checked for shape here; the cron fields themselves are checked by whatever
 * fires the schedule (EventBridge Scheduler on AWS, croner in the embedded stack's scheduler), so
 * the cron library stays out of the Lambda bundles that never fire a schedule.
 */
import { InvalidRequestError } from "../../contract/errors.js";

export type ParsedSchedule = { kind: "rate"; everyMs: number } | { kind: "cron"; fields: string[] };

const UNIT_MS = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/**
 * Parses an expression, or throws an InvalidRequestError naming the problem. `rate(n seconds)` is
 * a local-only extension for demos and tests (`allowSeconds`); EventBridge's finest rate is a minute.
 */
export function parseScheduleExpression(
  expression: string,
  options: { allowSeconds?: boolean } = { allowSeconds: true },
): ParsedSchedule {
  const rate = expression.match(/^rate\(\s*(\d+)\s+(second|minute|hour|day)s?\s*\)$/);
  if (rate) {
    const n = Number(rate[1]);
    if (n < 1) throw new InvalidRequestError("schedule_expression: a rate must be at least 1");
    if (rate[2] === "second" && !options.allowSeconds) {
      throw new InvalidRequestError(
        "schedule_expression: rates in seconds are only allowed locally (REVERIE_DREAM_ALLOW_SECOND_RATES)",
      );
    }
    return { kind: "rate", everyMs: n * UNIT_MS[rate[2] as keyof typeof UNIT_MS] };
  }
  const cron = expression.match(/^cron\((.+)\)$/);
  if (!cron) throw new InvalidRequestError("schedule_expression: must be rate(...) or cron(...)");
  const fields = (cron[1] as string).trim().split(/\s+/);
  if (fields.length !== 6) {
    throw new InvalidRequestError(
      "schedule_expression: cron(...) takes 6 fields: minutes hours day-of-month month day-of-week year",
    );
  }
  return { kind: "cron", fields };
}

/** The first firing of a rate strictly after `afterMs`, counting from `anchorMs` (the schedule's creation). */
export function nextRateTime(everyMs: number, afterMs: number, anchorMs: number): number {
  const elapsed = Math.max(0, afterMs - anchorMs);
  return anchorMs + (Math.floor(elapsed / everyMs) + 1) * everyMs;
}
