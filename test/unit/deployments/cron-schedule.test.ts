/**
 * The one reading of a deployment's cron expression: the sets each field allows, the next firings
 * computed from it (checked minute by minute against cron's own rule, and across daylight saving
 * changes as EventBridge Scheduler handles them), and the Scheduler expressions that say the same.
 */
import { describe, expect, it } from "vitest";
import {
  type CronFields,
  checkTimezone,
  eventBridgeExpressions,
  nextCronTimes,
  parseCronExpression,
} from "../../../shared/core/deployments/cron-schedule.js";

/** cron's rule, in UTC: minute, hour and month must match; the two day fields as cron combines them. */
function matches(f: CronFields, t: Date): boolean {
  const dom = f.dayOfMonth.includes(t.getUTCDate());
  const dow = f.dayOfWeek.includes(t.getUTCDay());
  const day =
    f.dayOfMonthRestricted && f.dayOfWeekRestricted
      ? dom || dow
      : (!f.dayOfMonthRestricted || dom) && (!f.dayOfWeekRestricted || dow);
  return (
    f.minute.includes(t.getUTCMinutes()) &&
    f.hour.includes(t.getUTCHours()) &&
    f.month.includes(t.getUTCMonth() + 1) &&
    day
  );
}

describe("parseCronExpression", () => {
  it("reads numbers, names, ranges, lists and steps; Sunday is 0 or 7", () => {
    const f = parseCronExpression("*/15 9-17/4 1,15 jan-MAR MON-fri");
    expect(f.minute).toEqual([0, 15, 30, 45]);
    expect(f.hour).toEqual([9, 13, 17]);
    expect(f.dayOfMonth).toEqual([1, 15]);
    expect(f.month).toEqual([1, 2, 3]);
    expect(f.dayOfWeek).toEqual([1, 2, 3, 4, 5]);
    expect(parseCronExpression("0 0 * * 7").dayOfWeek).toEqual([0]);
    expect(parseCronExpression("0 0 * * 5-7").dayOfWeek).toEqual([0, 5, 6]);
    expect(parseCronExpression("0 0 * * *")).toMatchObject({
      dayOfMonthRestricted: false,
      dayOfWeekRestricted: false,
    });
    expect(parseCronExpression("0 0 */2 * 1")).toMatchObject({
      dayOfMonthRestricted: true,
      dayOfWeekRestricted: true,
    });
  });

  it.each([
    ["0 9 * *", /expected 5 fields/],
    ["* * * * * *", /seconds and year fields are not supported/],
    ["@hourly", /predefined shortcuts/],
    ["0 9 L * *", /\(L\)/],
    ["0 9 15W * *", /\(15W\)/],
    ["0 9 * * 5L", /\(5L\)/],
    ["0 9 * * MON#1", /\(#\)/],
    ["0 9 ? * MON", /\(\?\)/],
    ["0 9 1,,2 * *", /empty list item/],
    ["0 9 5/2 * *", /a step needs a range or \*/],
    ["*/0 * * * *", /step 0 is out of range/],
    ["0 9 * 13 *", /month: 13 is out of range 1-12/],
    ["0 9 0 * *", /day-of-month: 0 is out of range 1-31/],
    ["0 9 * * funday", /"funday" is not a number or a name/],
    ["0 9 30 2 *", /never run/],
  ])("refuses %s", (expression, message) => {
    expect(() => parseCronExpression(expression)).toThrow(message);
  });

  it("accepts a date only some years have, and Feb 30 when the weekday can still fire", () => {
    expect(() => parseCronExpression("0 9 29 2 *")).not.toThrow();
    expect(() => parseCronExpression("0 9 30 2 1")).not.toThrow();
  });
});

describe("checkTimezone", () => {
  it("returns the IANA name, canonically spelt", () => {
    expect(checkTimezone("UTC")).toBe("UTC");
    expect(checkTimezone("utc")).toBe("UTC");
    expect(checkTimezone("America/Los_Angeles")).toBe("America/Los_Angeles");
  });
  it.each(["+02:00", "GMT+2 ", "Nowhere/Atlantis", "", "../etc"])("refuses %j", (tz) => {
    expect(() => checkTimezone(tz)).toThrow(/schedule.timezone/);
  });
});

describe("nextCronTimes", () => {
  const expressions: Array<[string, number]> = [
    ["* * * * *", 12],
    ["*/7 * * * *", 12],
    ["0 9 * * 1-5", 12],
    ["30 2 1,15 * *", 12],
    ["0 12 13 * 5", 12], // the 13th or a Friday
    ["0 0 */2 * 1", 12], // odd days or Mondays
    ["15 6 * jun-aug sat,sun", 12],
    ["45 23 31 * *", 8],
    ["0 0 29 2 *", 2],
  ];
  it.each(expressions)(
    "%s: the next firings are exactly the minutes cron's rule matches",
    (expression, count) => {
      const f = parseCronExpression(expression);
      const start = Date.parse("2027-01-30T22:17:31Z");
      const times = nextCronTimes(f, "UTC", start, count);
      // Walk every minute from the start: the matching ones, in order, must be croner's firings.
      const found: number[] = [];
      const last = times.at(-1) as number;
      for (let t = Math.ceil((start + 1) / 60_000) * 60_000; t <= last; t += 60_000)
        if (matches(f, new Date(t))) found.push(t);
      expect(times).toHaveLength(count);
      expect(found.map((t) => new Date(t).toISOString())).toEqual(
        times.map((t) => new Date(t).toISOString()),
      );
    },
  );

  it("reads the expression in the time zone", () => {
    const f = parseCronExpression("0 9 * * *");
    const [ny] = nextCronTimes(f, "America/New_York", Date.parse("2027-01-15T00:00:00Z"), 1);
    expect(new Date(ny as number).toISOString()).toBe("2027-01-15T14:00:00.000Z");
    const [kolkata] = nextCronTimes(f, "Asia/Kolkata", Date.parse("2027-01-15T00:00:00Z"), 1);
    expect(new Date(kolkata as number).toISOString()).toBe("2027-01-15T03:30:00.000Z");
  });

  it("skips a time the clock skips (spring forward) and fires once at a time it shows twice (fall back)", () => {
    const iso = (times: number[]) => times.map((t) => new Date(t).toISOString());
    // New York, 14 March 2027: 02:00 EST becomes 03:00 EDT, so 02:30 does not happen that day.
    const spring = nextCronTimes(
      parseCronExpression("30 2 * * *"),
      "America/New_York",
      Date.parse("2027-03-13T00:00:00Z"),
      3,
    );
    expect(iso(spring)).toEqual([
      "2027-03-13T07:30:00.000Z",
      "2027-03-15T06:30:00.000Z",
      "2027-03-16T06:30:00.000Z",
    ]);
    // 7 November 2027: 02:00 EDT becomes 01:00 EST, so 01:30 happens twice; it fires at the first.
    const fall = nextCronTimes(
      parseCronExpression("30 1 * * *"),
      "America/New_York",
      Date.parse("2027-11-06T12:00:00Z"),
      3,
    );
    expect(iso(fall)).toEqual([
      "2027-11-07T05:30:00.000Z",
      "2027-11-08T06:30:00.000Z",
      "2027-11-09T06:30:00.000Z",
    ]);
    // Every 20 minutes across the fall-back hour: each wall-clock minute once, in order.
    const hourly = nextCronTimes(
      parseCronExpression("*/20 1 * * *"),
      "America/New_York",
      Date.parse("2027-11-07T04:00:00Z"),
      3,
    );
    expect(iso(hourly)).toEqual([
      "2027-11-07T05:00:00.000Z",
      "2027-11-07T05:20:00.000Z",
      "2027-11-07T05:40:00.000Z",
    ]);
  });

  it("finds the next firing of a sparse schedule quickly", () => {
    const started = performance.now();
    const times = nextCronTimes(
      parseCronExpression("0 0 29 2 *"),
      "Europe/Paris",
      Date.parse("2027-01-01T00:00:00Z"),
      5,
    );
    expect(times).toHaveLength(5);
    expect(new Date(times[0] as number).toISOString()).toBe("2028-02-28T23:00:00.000Z");
    const every = nextCronTimes(
      parseCronExpression("* * * * *"),
      "Asia/Kolkata",
      Date.parse("2027-01-01T23:59:30Z"),
      5,
    );
    expect(new Date(every[0] as number).toISOString()).toBe("2027-01-02T00:00:00.000Z");
    expect(performance.now() - started).toBeLessThan(500);
  });
});

describe("eventBridgeExpressions", () => {
  it.each([
    ["0 9 * * *", ["cron(0 9 * * ? *)"]],
    ["*/15 * * * *", ["cron(0/15 * * * ? *)"]],
    ["0 9 * * 1-5", ["cron(0 9 ? * MON-FRI *)"]],
    ["0 9 * * 0,6", ["cron(0 9 ? * SUN,SAT *)"]],
    ["0 9 * * 7", ["cron(0 9 ? * SUN *)"]],
    ["30 2 1,15 * *", ["cron(30 2 1,15 * ? *)"]],
    ["0 0 1 1-3,6 *", ["cron(0 0 1 1-3,6 ? *)"]],
    ["5,6,7,20 * * * *", ["cron(5-7,20 * * * ? *)"]],
    // Either day field: two schedules, by date and by weekday.
    ["0 12 13 * 5", ["cron(0 12 13 * ? *)", "cron(0 12 ? * FRI *)"]],
    ["0 0 */2 * 1", ["cron(0 0 1/2 * ? *)", "cron(0 0 ? * MON *)"]],
  ])("%s → %j", (expression, expected) => {
    expect(eventBridgeExpressions(parseCronExpression(expression))).toEqual(expected);
  });

  it("keeps a long list within Scheduler's 256-character expression", () => {
    const [expression] = eventBridgeExpressions(
      parseCronExpression("1,3,5,8,13,21,34,55 */3 2,3,5,7,11,13,17,19,23,29,31 * *"),
    );
    expect((expression as string).length).toBeLessThanOrEqual(256);
  });
});
