/**
 * Schedule expressions as EventBridge Scheduler writes them — `rate(5 minutes)`,
 * `cron(0 3 * * ? *)` — and when they next fire, for the embedded stack's local scheduler. Cron
 * uses croner; EventBridge's sixth field (year) must be `*`. Use day names (MON-FRI) for the day of
 * the week: EventBridge numbers Sunday 1, croner 0.
 */
import { Cron } from "croner";
import { InvalidRequestError } from "../../contract/errors.js";

export type ParsedSchedule = { kind: "rate"; everyMs: number } | { kind: "cron"; pattern: string };

const UNIT_MS = { second: 1000, minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/**
 * Parses an expression, or throws an InvalidRequestError naming the problem. `rate(n seconds)` is
 * a local-only extension for demos and tests (`allowSeconds`); EventBridge's finest rate is a minute.
 */
export function parseScheduleExpression(
  expression: string,
  timezone = "UTC",
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
  if (fields[5] !== "*") throw new InvalidRequestError("schedule_expression: the year field must be *");
  const pattern = fields.slice(0, 5).join(" ");
  try {
    new Cron(pattern, { paused: true, timezone });
  } catch (cause) {
    throw new InvalidRequestError(`schedule_expression: ${(cause as Error).message}`, { cause });
  }
  return { kind: "cron", pattern };
}

/** The first firing strictly after `afterMs` (rates count from `anchorMs`, the schedule's creation). */
export function nextFireTime(
  parsed: ParsedSchedule,
  afterMs: number,
  anchorMs: number,
  timezone = "UTC",
): number {
  if (parsed.kind === "rate") {
    const elapsed = Math.max(0, afterMs - anchorMs);
    return anchorMs + (Math.floor(elapsed / parsed.everyMs) + 1) * parsed.everyMs;
  }
  const next = new Cron(parsed.pattern, { paused: true, timezone }).nextRun(new Date(afterMs));
  return next ? next.getTime() : Number.POSITIVE_INFINITY;
}
