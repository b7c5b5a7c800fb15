/**
 * The dream pre-pass: deterministic evidence mined from the selected sessions' event logs before any
 * model sees them, so the dreamer consolidates evidence instead of guessing. Four kinds of finding:
 *
 * - `tool_retry`: a tool call that failed, then the same tool called again with different input and
 *   succeeding — the workaround worth remembering;
 * - `recurring_feedback`: grader feedback (`span.outcome_evaluation_end` with `needs_revision`) whose
 *   sentences recur in at least two sessions;
 * - `repeated_sequence`: an ordered run of tools that several successful sessions share;
 * - `user_preference`: a preference a user stated (`always …`, `never …`, `I prefer …`).
 *
 * Every finding names the event ids (and session ids) it came from. The pre-pass reads only the
 * sessions it is given (a dream's ≤ 100), and every list and string in its output is capped, so the
 * dreamer's input stays flat however long the history behind those sessions is.
 */
import type { SessionEvent } from "../../contract/sdk-types.js";
import type { EventLog } from "../events/event-log.js";

/** The events of one session, in sequence order. */
export interface SessionTranscript {
  sessionId: string;
  events: readonly SessionEvent[];
}

/** Where a finding came from: a session and the ids of the events in it. */
export interface Evidence {
  sessionId: string;
  eventIds: string[];
}

export interface ToolRetryFinding {
  kind: "tool_retry";
  tool: string;
  /** The first failure's error text (truncated). */
  error: string;
  failedInput: unknown;
  retryInput: unknown;
  /** How many failed-then-fixed retries of this tool and error there were. */
  occurrences: number;
  evidence: Evidence[];
}

export interface RecurringFeedbackFinding {
  kind: "recurring_feedback";
  feedback: string;
  sessions: number;
  evidence: Evidence[];
}

export interface RepeatedSequenceFinding {
  kind: "repeated_sequence";
  tools: string[];
  sessions: number;
  evidence: Evidence[];
}

export interface UserPreferenceFinding {
  kind: "user_preference";
  preference: string;
  sessions: number;
  evidence: Evidence[];
}

export type Finding =
  | ToolRetryFinding
  | RecurringFeedbackFinding
  | RepeatedSequenceFinding
  | UserPreferenceFinding;

export interface PrePassResult {
  schemaVersion: 1;
  sessionsRead: number;
  eventsRead: number;
  findings: Finding[];
}

/** Caps that bound the pre-pass output regardless of how much the sessions hold. */
export const prePassLimits = {
  findingsPerKind: 20,
  evidencePerFinding: 5,
  textChars: 300,
  inputChars: 400,
  sequenceLengths: [2, 3, 4] as const,
};

/**
 * Caps that bound the pre-pass's work, not just its output. The pre-pass is synchronous and, on the
 * embedded stack, runs in the process that answers every API request (`/health` included): its
 * regex work must stay proportional to a fixed budget, never to whatever a key holder pasted into a
 * message or a tool returned. Findings quote at most `textChars` (300) of a text and a retry's
 * grouping key its first 80 normalised characters, so reading more of an event than
 * `eventTextChars` could only change which over-long sentence gets quoted.
 */
export const PRE_PASS_TEXT_LIMITS = {
  /** Characters of one event's text (a user message, a tool result, a grader explanation) read. */
  eventTextChars: 16_000,
  /** Characters read in total per kind of finding over all a dream's sessions (≤ 100). */
  totalTextChars: 1_000_000,
} as const;

/** Reads the given sessions' logs (and nothing else). */
export async function readTranscripts(
  log: Pick<EventLog, "read">,
  sessionIds: readonly string[],
): Promise<SessionTranscript[]> {
  const transcripts: SessionTranscript[] = [];
  for (const sessionId of sessionIds) {
    const events = await log.read(sessionId);
    transcripts.push({ sessionId, events: events.map((e) => e.event) });
  }
  return transcripts;
}

/** Reads the given sessions' logs (and nothing else) and runs the pre-pass over them. */
export async function prePassForSessions(
  log: Pick<EventLog, "read">,
  sessionIds: readonly string[],
): Promise<PrePassResult> {
  return runPrePass(await readTranscripts(log, sessionIds));
}

/**
 * The events whose content a user wrote (`user.message`): the only evidence a dream may treat as
 * trusted. Everything else — tool output, files, fetched pages, and what the agent did after
 * reading them — may carry an injected instruction.
 */
export function trustedEventIds(transcripts: readonly SessionTranscript[]): Set<string> {
  const ids = new Set<string>();
  for (const t of transcripts) for (const e of t.events) if (e.type === "user.message") ids.add(e.id);
  return ids;
}

/** The pre-pass as a pure function of the transcripts: same input, same findings, same order. */
export function runPrePass(transcripts: readonly SessionTranscript[]): PrePassResult {
  const findings: Finding[] = [
    ...toolRetries(transcripts),
    ...recurringFeedback(transcripts),
    ...repeatedSequences(transcripts),
    ...userPreferences(transcripts),
  ];
  return {
    schemaVersion: 1,
    sessionsRead: transcripts.length,
    eventsRead: transcripts.reduce((sum, t) => sum + t.events.length, 0),
    findings,
  };
}

// ---------------------------------------------------------------- tool retries

interface ToolCall {
  useId: string;
  name: string;
  input: unknown;
  resultId?: string;
  isError: boolean;
  resultText: string;
}

function toolCalls(events: readonly SessionEvent[]): ToolCall[] {
  const calls: ToolCall[] = [];
  const byId = new Map<string, ToolCall>();
  for (const event of events) {
    if (
      event.type === "agent.tool_use" ||
      event.type === "agent.mcp_tool_use" ||
      event.type === "agent.custom_tool_use"
    ) {
      const call: ToolCall = {
        useId: event.id,
        name: event.name,
        input: event.input,
        isError: false,
        resultText: "",
      };
      calls.push(call);
      byId.set(event.id, call);
    } else if (
      event.type === "agent.tool_result" ||
      event.type === "agent.mcp_tool_result" ||
      event.type === "user.custom_tool_result"
    ) {
      const ref =
        event.type === "agent.tool_result"
          ? event.tool_use_id
          : event.type === "agent.mcp_tool_result"
            ? event.mcp_tool_use_id
            : event.custom_tool_use_id;
      const call = byId.get(ref);
      if (!call) continue;
      call.resultId = event.id;
      call.isError = event.is_error === true;
      call.resultText = blocksText(event.content, PRE_PASS_TEXT_LIMITS.eventTextChars);
    }
  }
  return calls;
}

function toolRetries(transcripts: readonly SessionTranscript[]): ToolRetryFinding[] {
  const budget = new TextBudget();
  const groups = new Map<string, ToolRetryFinding>();
  for (const { sessionId, events } of transcripts) {
    const calls = toolCalls(events);
    for (const [i, failed] of calls.entries()) {
      if (!failed.isError || failed.resultId === undefined) continue;
      const retry = calls.slice(i + 1).find((c) => c.name === failed.name);
      if (!retry || retry.isError || retry.resultId === undefined) continue;
      if (stableJson(retry.input) === stableJson(failed.input)) continue;
      const key = `${failed.name}\u0000${normalise(budget.take(failed.resultText)).slice(0, 80)}`;
      const evidence: Evidence = {
        sessionId,
        eventIds: [failed.useId, failed.resultId, retry.useId, retry.resultId],
      };
      const group = groups.get(key);
      if (group) {
        group.occurrences += 1;
        pushEvidence(group.evidence, evidence);
      } else {
        groups.set(key, {
          kind: "tool_retry",
          tool: failed.name,
          error: clip(failed.resultText, prePassLimits.textChars),
          failedInput: clipJson(failed.input),
          retryInput: clipJson(retry.input),
          occurrences: 1,
          evidence: [evidence],
        });
      }
    }
  }
  return [...groups.values()]
    .sort((a, b) => b.occurrences - a.occurrences || a.tool.localeCompare(b.tool))
    .slice(0, prePassLimits.findingsPerKind);
}

// ---------------------------------------------------------------- recurring grader feedback

function recurringFeedback(transcripts: readonly SessionTranscript[]): RecurringFeedbackFinding[] {
  const budget = new TextBudget();
  const groups = new Map<string, { text: string; bySession: Map<string, string[]> }>();
  for (const { sessionId, events } of transcripts) {
    for (const event of events) {
      if (event.type !== "span.outcome_evaluation_end" || event.result !== "needs_revision") continue;
      for (const sentence of sentences(budget.take(event.explanation))) {
        const key = normalise(sentence);
        if (key.length < 8) continue;
        const group = groups.get(key) ?? { text: sentence, bySession: new Map() };
        groups.set(key, group);
        const ids = group.bySession.get(sessionId) ?? [];
        if (!ids.includes(event.id)) ids.push(event.id);
        group.bySession.set(sessionId, ids);
      }
    }
  }
  return [...groups.values()]
    .filter((g) => g.bySession.size >= 2)
    .map((g) => ({
      kind: "recurring_feedback" as const,
      feedback: clip(g.text, prePassLimits.textChars),
      sessions: g.bySession.size,
      evidence: evidenceOf(g.bySession),
    }))
    .sort((a, b) => b.sessions - a.sessions || a.feedback.localeCompare(b.feedback))
    .slice(0, prePassLimits.findingsPerKind);
}

// ---------------------------------------------------------------- repeated tool sequences

/**
 * A session succeeded when it went idle at the end of a turn, never logged a `session.error`, and
 * its last outcome verdict (if it had an outcome) was `satisfied`.
 */
export function sessionSucceeded(events: readonly SessionEvent[]): boolean {
  let idleAtEndTurn = false;
  let lastVerdict: string | undefined;
  for (const event of events) {
    if (event.type === "session.error") return false;
    if (event.type === "session.status_idle") idleAtEndTurn = event.stop_reason?.type === "end_turn";
    if (event.type === "span.outcome_evaluation_end") lastVerdict = event.result;
  }
  return idleAtEndTurn && (lastVerdict === undefined || lastVerdict === "satisfied");
}

function repeatedSequences(transcripts: readonly SessionTranscript[]): RepeatedSequenceFinding[] {
  const groups = new Map<string, { tools: string[]; bySession: Map<string, string[]> }>();
  for (const { sessionId, events } of transcripts) {
    if (!sessionSucceeded(events)) continue;
    // Consecutive calls of one tool collapse into one step: reading three files is "read".
    const steps: ToolCall[] = [];
    for (const call of toolCalls(events)) {
      if (call.isError) continue;
      if (steps.at(-1)?.name !== call.name) steps.push(call);
    }
    const seen = new Set<string>();
    for (const length of prePassLimits.sequenceLengths) {
      for (let i = 0; i + length <= steps.length; i++) {
        const run = steps.slice(i, i + length);
        const key = run.map((c) => c.name).join(" → ");
        if (seen.has(key)) continue;
        seen.add(key);
        const group = groups.get(key) ?? { tools: run.map((c) => c.name), bySession: new Map() };
        groups.set(key, group);
        group.bySession.set(
          sessionId,
          run.map((c) => c.useId),
        );
      }
    }
  }
  const recurring = [...groups.values()].filter((g) => g.bySession.size >= 2);
  // Keep only maximal runs: a run inside a longer one that just as many sessions share says nothing new.
  const maximal = recurring.filter(
    (g) =>
      !recurring.some(
        (other) =>
          other.tools.length > g.tools.length &&
          other.bySession.size >= g.bySession.size &&
          other.tools.join("\u0000").includes(g.tools.join("\u0000")),
      ),
  );
  return maximal
    .map((g) => ({
      kind: "repeated_sequence" as const,
      tools: g.tools,
      sessions: g.bySession.size,
      evidence: evidenceOf(g.bySession),
    }))
    .sort((a, b) => b.sessions - a.sessions || b.tools.length - a.tools.length)
    .slice(0, prePassLimits.findingsPerKind);
}

// ---------------------------------------------------------------- user preferences

const PREFERENCE =
  /\b(i|we) (prefer|like|want|always|never|use)\b|\b(please )?(always|never)\b|\b(don't|do not|avoid)\b|\binstead of\b|\bmake sure\b/i;

function userPreferences(transcripts: readonly SessionTranscript[]): UserPreferenceFinding[] {
  const budget = new TextBudget();
  const groups = new Map<string, { text: string; bySession: Map<string, string[]> }>();
  for (const { sessionId, events } of transcripts) {
    for (const event of events) {
      if (event.type !== "user.message") continue;
      const text = budget.take(blocksText(event.content, PRE_PASS_TEXT_LIMITS.eventTextChars));
      for (const sentence of sentences(text)) {
        if (!PREFERENCE.test(sentence)) continue;
        const key = normalise(sentence);
        if (key.length < 6) continue;
        const group = groups.get(key) ?? { text: sentence, bySession: new Map() };
        groups.set(key, group);
        const ids = group.bySession.get(sessionId) ?? [];
        ids.push(event.id);
        group.bySession.set(sessionId, ids);
      }
    }
  }
  return [...groups.values()]
    .map((g) => ({
      kind: "user_preference" as const,
      preference: clip(g.text, prePassLimits.textChars),
      sessions: g.bySession.size,
      evidence: evidenceOf(g.bySession),
    }))
    .sort((a, b) => b.sessions - a.sessions || a.preference.localeCompare(b.preference))
    .slice(0, prePassLimits.findingsPerKind);
}

// ---------------------------------------------------------------- helpers

/** The session ids a finding's evidence spans. */
export function evidenceSessions(finding: Finding): string[] {
  return [...new Set(finding.evidence.map((e) => e.sessionId))];
}

function evidenceOf(bySession: Map<string, string[]>): Evidence[] {
  return [...bySession.entries()]
    .slice(0, prePassLimits.evidencePerFinding)
    .map(([sessionId, eventIds]) => ({ sessionId, eventIds: eventIds.slice(0, 4) }));
}

function pushEvidence(list: Evidence[], evidence: Evidence): void {
  if (list.length < prePassLimits.evidencePerFinding) list.push(evidence);
}

/**
 * Reading within {@link PRE_PASS_TEXT_LIMITS}: each text cut to `eventTextChars`, and all the texts
 * one kind of finding reads to `totalTextChars` (the sessions come in a fixed order, so what is read
 * stays deterministic).
 */
class TextBudget {
  private left: number = PRE_PASS_TEXT_LIMITS.totalTextChars;

  take(text: string): string {
    const cut = text.slice(0, Math.min(PRE_PASS_TEXT_LIMITS.eventTextChars, this.left));
    this.left -= cut.length;
    return cut;
  }
}

/** The text blocks' text joined by newlines, at most `maxChars` of it. */
function blocksText(content: readonly unknown[] | undefined, maxChars = Number.POSITIVE_INFINITY): string {
  let text = "";
  for (const block of content ?? []) {
    if (text.length >= maxChars) break;
    const b = block as { type?: string; text?: unknown };
    if (b.type !== "text" || typeof b.text !== "string" || b.text === "") continue;
    if (text !== "") text += "\n";
    text += b.text.slice(0, maxChars - text.length);
  }
  return text.slice(0, maxChars);
}

/**
 * Sentences: split after `.`, `!` or `?` followed by whitespace, and at line breaks. (Marking the
 * sentence ends with a newline first keeps both regexes free of look-behind, so the regex-safety
 * test can prove them linear.)
 */
function sentences(text: string): string[] {
  return text
    .replace(/([.!?])\s+/g, "$1\n")
    .split(/\n+/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Lowercase words only, numbers and ids blurred, so "line 12" and "line 40" group together.
 *
 * Linear in the text: an id (`prefix_` then ≥ 10 id characters) is found by matching every run of
 * letters once, whole, with its optional id tail. The former `/[a-z]+_[0-9a-z]{10,}/g` retried a run
 * of letters from each of its letters, so 250,000 × "a" took over a minute while the API waited.
 */
export function normalise(text: string): string {
  return text
    .toLowerCase()
    .replace(/[a-z]+(_[0-9a-z]{10,})?/g, (word, id: string | undefined) => (id === undefined ? word : "#id"))
    .replace(/\d+/g, "#")
    .replace(/[^\p{L}#]+/gu, " ")
    .trim();
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function clipJson(value: unknown): unknown {
  const json = stableJson(value);
  return json.length <= prePassLimits.inputChars ? value : clip(json, prePassLimits.inputChars);
}

/** JSON with object keys sorted, so equal inputs compare equal whatever their key order. */
export function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}
