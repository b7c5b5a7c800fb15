/**
 * Deployment schedules: 5-field POSIX cron (`minute hour day-of-month month day-of-week`) in an IANA
 * time zone, as the SDK documents it. This module reads an expression into the set of values each
 * field allows — so every check (ranges, syntax the SDK rules out, a date that never comes) is ours
 * and gives a clear 400 — and answers from that one reading: the next firings (`upcoming_runs_at`
 * and the embedded stack's timer) and EventBridge Scheduler's 6-field `cron(…)` on AWS. Daylight
 * saving time is handled as Scheduler handles it: a wall-clock time that does not exist that day
 * (spring forward) is skipped, one that occurs twice (fall back) fires once, at its first occurrence.
 * No cron library: what the API bundle carries is this file.
 *
 * Day matching follows cron: when day-of-month and day-of-week are both restricted (not `*`), a
 * day matching either fires; otherwise the restricted one decides. EventBridge cannot say "either"
 * in one expression, so such a schedule becomes two Scheduler schedules whose firings meet in the
 * run key (deployment + scheduled time): an instant both match still starts one run.
 */
import { InvalidRequestError } from "../../contract/errors.js";

/** One expression as the sets of values its fields allow (day-of-week 0–6, Sunday 0). */
export interface CronFields {
  minute: number[];
  hour: number[];
  dayOfMonth: number[];
  month: number[];
  dayOfWeek: number[];
  /** Whether the field is anything but `*` (cron's rule for combining the two day fields). */
  dayOfMonthRestricted: boolean;
  dayOfWeekRestricted: boolean;
}

interface FieldSpec {
  key: keyof Pick<CronFields, "minute" | "hour" | "dayOfMonth" | "month" | "dayOfWeek">;
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const FIELDS: readonly FieldSpec[] = [
  { key: "minute", label: "minute", min: 0, max: 59 },
  { key: "hour", label: "hour", min: 0, max: 23 },
  { key: "dayOfMonth", label: "day-of-month", min: 1, max: 31 },
  { key: "month", label: "month", min: 1, max: 12, names: MONTHS },
  // 0 and 7 both mean Sunday.
  { key: "dayOfWeek", label: "day-of-week", min: 0, max: 7, names: DAYS },
];

/** Longest month by month number (February counted with its leap day). */
const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const fail = (message: string): never => {
  throw new InvalidRequestError(`schedule.expression: ${message}`);
};

const extendedSyntax = (what: string): never =>
  fail(`extended cron syntax (${what}) is not supported: use numbers, names, *, ranges, lists and steps`);

/**
 * Reads a 5-field cron expression, or throws a 400 that says what is wrong with it.
 *
 * ```ts
 * parseCronExpression("0 9 * * 1-5").dayOfWeek; // [1, 2, 3, 4, 5]
 * ```
 */
export function parseCronExpression(expression: string): CronFields {
  const text = expression.trim();
  if (text.startsWith("@"))
    fail(`predefined shortcuts such as ${text.split(/\s/)[0]} are not supported; write the 5 fields`);
  const parts = text.split(/\s+/);
  if (parts.length !== 5)
    fail(
      `expected 5 fields (minute hour day-of-month month day-of-week), got ${parts.length}; seconds and year fields are not supported`,
    );
  const special = text.match(/[#?]/);
  if (special) extendedSyntax(special[0]);
  const out = {} as CronFields;
  for (const [i, spec] of FIELDS.entries()) {
    const values = parseField(parts[i] as string, spec);
    out[spec.key] =
      spec.key === "dayOfWeek" ? [...new Set(values.map((v) => v % 7))].sort((a, b) => a - b) : values;
  }
  out.dayOfMonthRestricted = parts[2] !== "*";
  out.dayOfWeekRestricted = parts[4] !== "*";
  if (out.dayOfMonthRestricted && !out.dayOfWeekRestricted) {
    const possible = out.month.some((m) => out.dayOfMonth.some((d) => d <= (DAYS_IN_MONTH[m] as number)));
    if (!possible) fail("no month has the days this expression names, so it would never run");
  }
  return out;
}

function parseField(field: string, spec: FieldSpec): number[] {
  const values = new Set<number>();
  for (const item of field.split(",")) {
    if (item === "") fail(`${spec.label}: empty list item in "${field}"`);
    const [range, stepText, extra] = item.split("/");
    if (extra !== undefined) fail(`${spec.label}: "${item}" has more than one step`);
    let from: number;
    let to: number;
    if (range === "*") {
      from = spec.min;
      to = spec.max === 7 ? 6 : spec.max;
    } else {
      const bounds = (range as string).split("-");
      if (bounds.length > 2) fail(`${spec.label}: "${item}" is not a range`);
      from = fieldValue(bounds[0] as string, spec);
      to = bounds.length === 2 ? fieldValue(bounds[1] as string, spec) : from;
      if (to < from) fail(`${spec.label}: range "${range}" runs backwards`);
      if (stepText !== undefined && bounds.length === 1)
        fail(`${spec.label}: a step needs a range or * before it ("${item}")`);
    }
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText)) fail(`${spec.label}: step "${stepText}" is not a number`);
      step = Number(stepText);
      if (step < 1 || step > spec.max - spec.min + 1)
        fail(`${spec.label}: step ${step} is out of range 1-${spec.max - spec.min + 1}`);
    }
    for (let v = from; v <= to; v += step) values.add(v);
  }
  return [...values].sort((a, b) => a - b);
}

function fieldValue(token: string, spec: FieldSpec): number {
  if (/^\d+$/.test(token)) {
    const n = Number(token);
    if (n < spec.min || n > spec.max) fail(`${spec.label}: ${n} is out of range ${spec.min}-${spec.max}`);
    return n;
  }
  const named = spec.names?.indexOf(token.toUpperCase()) ?? -1;
  if (named < 0 && /^(\d*L|\d+W|LW)$/i.test(token)) extendedSyntax(token);
  if (named < 0) fail(`${spec.label}: "${token}" is not a number${spec.names ? " or a name" : ""}`);
  return spec.key === "month" ? named + 1 : named;
}

/**
 * Checks an IANA time zone (the name Intl knows; offsets such as `+02:00` are not zone names) and
 * returns it in its canonical spelling (`utc` → `UTC`).
 */
export function checkTimezone(timezone: string): string {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(timezone))
    throw new InvalidRequestError(`schedule.timezone: "${timezone}" is not an IANA time zone name`);
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
  } catch (cause) {
    throw new InvalidRequestError(`schedule.timezone: "${timezone}" is not in the IANA time zone database`, {
      cause,
    });
  }
}

/** A field's values as one cron field: `*`, `a/step` to the end, or ranges and singles. */
function compress(values: readonly number[], min: number, max: number, name?: (v: number) => string): string {
  if (values.length === max - min + 1) return "*";
  const label = name ?? String;
  const [first, second] = values;
  if (!name && values.length >= 3 && first !== undefined && second !== undefined) {
    const step = second - first;
    const progression = values.every((v, i) => v === first + i * step);
    if (progression && (values.at(-1) as number) + step > max) return `${first}/${step}`;
  }
  const parts: string[] = [];
  for (let i = 0; i < values.length; ) {
    let j = i;
    while (j + 1 < values.length && (values[j + 1] as number) === (values[j] as number) + 1) j++;
    const a = values[i] as number;
    const b = values[j] as number;
    parts.push(a === b ? label(a) : b === a + 1 ? `${label(a)},${label(b)}` : `${label(a)}-${label(b)}`);
    i = j + 1;
  }
  return parts.join(",");
}

/**
 * EventBridge Scheduler expressions (6 fields, `?` in one day field, weekdays by name) that fire
 * exactly when the cron expression does: one, or two when both day fields are restricted.
 */
export function eventBridgeExpressions(fields: CronFields): string[] {
  const m = compress(fields.minute, 0, 59);
  const h = compress(fields.hour, 0, 23);
  const mon = compress(fields.month, 1, 12);
  const dom = compress(fields.dayOfMonth, 1, 31);
  const dow = compress(fields.dayOfWeek, 0, 6, (v) => DAYS[v] as string);
  const byDate = `cron(${m} ${h} ${fields.dayOfMonthRestricted ? dom : "*"} ${mon} ? *)`;
  const byWeekday = `cron(${m} ${h} ? ${mon} ${dow} *)`;
  if (fields.dayOfMonthRestricted && fields.dayOfWeekRestricted) return [byDate, byWeekday];
  return [fields.dayOfWeekRestricted ? byWeekday : byDate];
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
/** How far ahead firings are looked for: a 29 February schedule fires about once in 4 years. */
const SEARCH_DAYS = 30 * 366;

const formatters = new Map<string, Intl.DateTimeFormat>();

/** The wall-clock time of instant `ms` in `timezone`, as a UTC timestamp of the same fields (to the minute). */
function wallClock(timezone: string, ms: number): number {
  let format = formatters.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
    });
    formatters.set(timezone, format);
  }
  const part: Record<string, number> = {};
  for (const p of format.formatToParts(new Date(ms)))
    if (p.type !== "literal") part[p.type] = Number(p.value);
  return Date.UTC(part.year as number, (part.month as number) - 1, part.day, part.hour, part.minute);
}

/** The zone's offset from UTC at instant `ms` (to the minute), in ms. */
function offsetAt(timezone: string, ms: number): number {
  const at = Math.floor(ms / MINUTE_MS) * MINUTE_MS;
  return wallClock(timezone, at) - at;
}

/**
 * The instant a wall-clock time (given as UTC fields) has in `timezone`: the earliest, when the
 * clock shows it twice; undefined when the clock skips it. The offsets on either side of the day
 * cover any transition near it.
 */
function instantOf(timezone: string, local: number): number | undefined {
  let found: number | undefined;
  for (const probe of [local - DAY_MS, local, local + DAY_MS]) {
    const candidate = local - offsetAt(timezone, probe);
    if (wallClock(timezone, candidate) === local && (found === undefined || candidate < found))
      found = candidate;
  }
  return found;
}

/**
 * The next `count` times (epoch ms, ascending) the schedule fires strictly after `afterMs`, read in
 * `timezone`; fewer when the search horizon (30 years) ends first.
 */
export function nextCronTimes(
  fields: CronFields,
  timezone: string,
  afterMs: number,
  count: number,
): number[] {
  const out: number[] = [];
  const localAfter = wallClock(timezone, afterMs);
  // Local dates from the day before (an offset can move the instant across midnight).
  const firstDay = Math.floor(localAfter / DAY_MS) * DAY_MS - DAY_MS;
  const months = new Set(fields.month);
  const daysOfMonth = new Set(fields.dayOfMonth);
  const daysOfWeek = new Set(fields.dayOfWeek);
  for (let i = 0; i < SEARCH_DAYS && out.length < count; i++) {
    const day = new Date(firstDay + i * DAY_MS);
    if (!months.has(day.getUTCMonth() + 1)) continue;
    const dom = daysOfMonth.has(day.getUTCDate());
    const dow = daysOfWeek.has(day.getUTCDay());
    const matches =
      fields.dayOfMonthRestricted && fields.dayOfWeekRestricted
        ? dom || dow
        : (!fields.dayOfMonthRestricted || dom) && (!fields.dayOfWeekRestricted || dow);
    if (!matches) continue;
    // The zone's offset on either side of the day: the same (the usual case) means no transition
    // near it, so each time of the day is one subtraction away from its instant.
    const offset = offsetAt(timezone, day.getTime() - DAY_MS);
    const steady = offset === offsetAt(timezone, day.getTime() + 2 * DAY_MS);
    for (const hour of fields.hour) {
      for (const minute of fields.minute) {
        const local = day.getTime() + hour * 3_600_000 + minute * MINUTE_MS;
        // A wall-clock time more than a few hours before the start's is before it (an offset never
        // changes by that much), so the zone is not asked.
        if (local < localAfter - 4 * 3_600_000) continue;
        const at = steady ? local - offset : instantOf(timezone, local);
        if (at === undefined || at <= afterMs) continue;
        out.push(at);
        if (out.length === count) return out.sort((a, b) => a - b);
      }
    }
  }
  return out.sort((a, b) => a - b);
}
