/**
 * Outcome state transitions on the session record: defining an outcome (one active at a time, later
 * ones wait as `pending`), and handing a finished turn to the grader instead of going idle.
 */
import { InvalidRequestError } from "../../contract/errors.js";
import { idPrefix } from "../../contract/ids.js";
import { DEFAULT_MAX_ITERATIONS, type DefineOutcomeParams } from "../../contract/outcomes.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import { wakeSession } from "../runtime/session-status.js";
import type { StepDeps } from "../runtime/step-deps.js";
import type { SessionRecord } from "../sessions/session-record.js";
import { type GraderMessage, graderMessage } from "./grader-message.js";
import {
  type OutcomeEvaluation,
  OutcomeStore,
  SESSION_EXPLANATION_BYTES,
  storedBytes,
} from "./outcome-record.js";
import { parseRubric, RubricSyntaxError } from "./rubric.js";

export const outcomeIdPrefix = "outc";

const openResults = new Set(["pending", "running", "evaluating"]);

/**
 * Rejects what cannot be graded, before anything is written. A file rubric's text is checked once it
 * has been read ({@link checkRubricText}, from `rubric-files.ts`).
 */
export function validateOutcome(event: DefineOutcomeParams, root: string): void {
  if (event.rubric.type === "text") checkRubricText(event.rubric.content, `${root}.rubric`);
}

/**
 * How much of the session's record its outcomes may fill, bytes. Every outcome keeps its description
 * (up to 100,000 characters) and, once graded, an explanation on the session (the API's
 * `outcome_evaluations`), and the record — with the run's state — must stay under the store's
 * 400 KB item limit: past it no save of the session lands, and every turn after fails.
 */
export const SESSION_OUTCOMES_BUDGET_BYTES = 300_000;

/** An outcome entry's other fields (ids, result, iteration, times), bytes. */
const OUTCOME_ENTRY_BYTES = 300;

/**
 * Refuses the outcomes among `events` that the session's record could not hold, before anything is
 * written: the record as it is, room for the explanations its open outcomes may still get, and the
 * new outcomes with theirs. The error names the first of them under `at` (`events.2`).
 */
export function checkOutcomesFit(
  session: Pick<SessionRecord["session"], "outcome_evaluations">,
  events: readonly { type: string }[],
  at: string,
): void {
  const first = events.findIndex((event) => event.type === "user.define_outcome");
  if (first < 0) return;
  const outcomes = events.filter((event) => event.type === "user.define_outcome") as DefineOutcomeParams[];
  assertWithinBudget(session, outcomes, `${at}.${first}.description`);
}

/**
 * Throws the 400 of {@link checkOutcomesFit} if `outcomes` would take the session past its budget:
 * the record as it is, room for the explanations its open outcomes may still get, and the new
 * outcomes with theirs.
 */
function assertWithinBudget(
  session: Pick<SessionRecord["session"], "outcome_evaluations">,
  outcomes: readonly { description: string }[],
  field: string,
): void {
  // Bytes as stored: JSON, where a quote or a newline takes two and a control character six.
  const bytes = (text: string | null) => (text === null ? 0 : storedBytes(text));
  const owed = session.outcome_evaluations
    .filter((entry) => openResults.has(entry.result))
    .reduce((sum, entry) => sum + Math.max(0, SESSION_EXPLANATION_BYTES - bytes(entry.explanation)), 0);
  const held = Buffer.byteLength(JSON.stringify(session), "utf8") + owed;
  const added = outcomes.reduce(
    (sum, outcome) => sum + bytes(outcome.description) + SESSION_EXPLANATION_BYTES + OUTCOME_ENTRY_BYTES,
    0,
  );
  if (held + added > SESSION_OUTCOMES_BUDGET_BYTES)
    throw new InvalidRequestError(
      `${field}: this session cannot hold another ${Math.ceil(added / 1024)} KB of outcomes (its record holds ${Math.ceil(held / 1024)} KB, counting room for open outcomes' explanations, of at most ${SESSION_OUTCOMES_BUDGET_BYTES / 1000} KB); shorten the description, or start a new session`,
    );
}

/** A rubric's text must parse (plain criteria, or the hybrid JSON checks). */
export function checkRubricText(text: string, at: string): void {
  try {
    parseRubric(text);
  } catch (error) {
    if (error instanceof RubricSyntaxError) throw new InvalidRequestError(`${at}: ${error.message}`);
    throw error;
  }
}

/** The echo the log keeps and the client sees: the params plus the server's `outc_` id. */
export function outcomeEcho(deps: StepDeps, event: DefineOutcomeParams, processedAt: string): SessionEvent {
  return {
    type: "user.define_outcome",
    id: deps.ids.next(idPrefix.event),
    processed_at: processedAt,
    outcome_id: deps.ids.next(outcomeIdPrefix),
    description: event.description,
    rubric: event.rubric,
    max_iterations: event.max_iterations ?? DEFAULT_MAX_ITERATIONS,
  } as SessionEvent;
}

/**
 * Records a defined outcome (its echo is already in the log at `seq`) and starts work on it unless
 * another outcome is still open, in which case it waits as `pending`.
 */
export async function defineOutcome(
  deps: StepDeps,
  workspaceId: string,
  sessionId: string,
  echo: Extract<SessionEvent, { type: "user.define_outcome" }>,
  seq: number,
  /** The rubric's text, read from its file for a file rubric (pinned here). */
  rubricText?: string,
): Promise<void> {
  await new OutcomeStore(deps.store).putDefinition(sessionId, {
    schemaVersion: 1,
    outcomeId: echo.outcome_id,
    description: echo.description,
    rubric: echo.rubric.type === "text" ? echo.rubric.content : (rubricText ?? ""),
    maxIterations: echo.max_iterations ?? DEFAULT_MAX_ITERATIONS,
    definedSeq: seq,
  });
  let started = false;
  await deps.sessions.mutate(workspaceId, sessionId, (current) => {
    const list = current.session.outcome_evaluations;
    if (list.some((e) => e.outcome_id === echo.outcome_id)) {
      started = list.find((e) => e.outcome_id === echo.outcome_id)?.result === "running";
      return undefined;
    }
    // The check of the send (checkOutcomesFit) was made on the record it read; concurrent sends all
    // pass it. Checked again here, on the record this rev-checked save replaces, the check and the
    // spend are one conditional write: an outcome that no longer fits is refused (400), unsaved.
    assertWithinBudget(current.session, [echo], "description");
    started = !list.some((e) => openResults.has(e.result));
    const entry: OutcomeEvaluation = {
      type: "outcome_evaluation",
      outcome_id: echo.outcome_id,
      description: echo.description,
      result: started ? "running" : "pending",
      iteration: 0,
      explanation: null,
      completed_at: null,
    };
    list.push(entry);
    current.session.updated_at = new Date(deps.clock.now()).toISOString();
    return current;
  });
  if (started) await wakeSession(deps, workspaceId, sessionId, seq);
}

/**
 * At the end of a turn: if an outcome is being worked on, marks it `evaluating` on `next` (which the
 * caller saves) and returns the grader message to send after the save; the session stays running.
 */
export function beginEvaluation(deps: StepDeps, next: SessionRecord): GraderMessage | undefined {
  if (!deps.outcomes || next.run.grading) return undefined;
  const entry = next.session.outcome_evaluations.find((e) => e.result === "running");
  if (!entry) return undefined;
  entry.result = "evaluating";
  next.run.grading = { outcomeId: entry.outcome_id, iteration: entry.iteration, attempt: 0, claims: 0 };
  next.run.leaseUntil = undefined;
  next.run.leaseOwner = undefined;
  next.run.nudgeAfter = deps.clock.now() + deps.outcomes.leaseMs;
  next.session.status = "running";
  return graderMessage(next.workspaceId, next.session.id, entry.outcome_id, entry.iteration);
}

/** The grader message a stalled evaluation is re-nudged with (sweeper), if the session is grading. */
export function pendingGraderMessage(record: SessionRecord): GraderMessage | undefined {
  const grading = record.run.grading;
  return grading
    ? graderMessage(record.workspaceId, record.session.id, grading.outcomeId, grading.iteration)
    : undefined;
}
