/**
 * Two habits of the simulated agent that let the quirk gym (test/gym) check the mechanism of learning
 * from experience — the stand-in follows notes of a form it can parse, nothing more:
 *
 * - **retry hints**: a tool error whose text holds `valid call: {json}` is retried once, with that
 *   input (what an agent does after reading an error message that says what to do);
 * - **lessons**: the dreamer's recurring-error notes, when they were read earlier in the turn
 *   (`# Recurring error: <tool>`, then `Failing input: \`…\`` and `Workaround that succeeded: \`…\``,
 *   as mechanical-dreamer.ts writes them and `grep` or `read` shows them), change the next call of
 *   that tool: the fields the workaround changed are applied to the planned input.
 *
 * So a lesson travels from a failure in session n, through a dream, into the memory mounted in
 * session n+1, and changes what the agent does — which is exactly, and only, what the gym measures
 * with this model.
 */

export interface Lesson {
  tool: string;
  failing: Record<string, unknown>;
  workaround: Record<string, unknown>;
}

const HINT = "valid call: ";

/** The input an error's `valid call: {json}` hint gives, if any (the object runs to the line's last `}`). */
export function retryHint(errorText: string): Record<string, unknown> | undefined {
  const at = errorText.indexOf(HINT);
  if (at < 0) return undefined;
  const line = errorText.slice(at + HINT.length).split("\n", 1)[0] ?? "";
  const end = line.lastIndexOf("}");
  if (!line.startsWith("{") || end < 0) return undefined;
  return parseObject(line.slice(0, end + 1));
}

/** Lessons in text the agent has read (grep lines `path:n:text` or read lines `   n\ttext`, or plain). */
export function lessonsIn(texts: readonly string[]): Lesson[] {
  const lessons: Lesson[] = [];
  for (const text of texts) {
    let tool: string | undefined;
    let failing: Record<string, unknown> | undefined;
    for (const raw of text.split("\n")) {
      const line = raw.replace(/^[^\s:]*:\d+:/, "").replace(/^\s*\d+\t/, "");
      const heading = /# Recurring error: (\S+)/.exec(line);
      if (heading) {
        tool = heading[1];
        failing = undefined;
        continue;
      }
      const failed = /Failing input: `(.*)`/.exec(line);
      if (failed && tool) {
        failing = parseObject(failed[1] ?? "");
        continue;
      }
      const fixed = /Workaround that succeeded: `(.*)`/.exec(line);
      const workaround = fixed ? parseObject(fixed[1] ?? "") : undefined;
      if (workaround && tool && failing) {
        lessons.push({ tool, failing, workaround });
        tool = undefined;
        failing = undefined;
      }
    }
  }
  return lessons;
}

/** The planned input with what each lesson about `tool` changed between its failing input and its workaround. */
export function applyLessons(
  tool: string,
  input: Record<string, unknown>,
  lessons: readonly Lesson[],
): Record<string, unknown> {
  let out = input;
  for (const lesson of lessons) {
    if (lesson.tool !== tool) continue;
    const next: Record<string, unknown> = { ...out };
    for (const [key, value] of Object.entries(lesson.workaround))
      if (JSON.stringify(lesson.failing[key]) !== JSON.stringify(value)) next[key] = value;
    for (const key of Object.keys(lesson.failing)) if (!(key in lesson.workaround)) delete next[key];
    out = next;
  }
  return out;
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
