/**
 * The grader worker (one grader-queue message → at most one evaluation): claims the evaluation on the
 * session record, emits `span.outcome_evaluation_start` once, grades in a fresh context (the rubric,
 * the outcome's description, the agent's final output and its workspace files — never the agent's
 * system prompt or transcript), pins the verdict with a conditional write, emits
 * `span.outcome_evaluation_end` once, and commits what follows: idle, a revision turn, or the next
 * outcome. Every part is safe to re-run (DESIGN.md §5); duplicates and stale nudges are dropped.
 */
import { randomUUID } from "node:crypto";
import { idPrefix } from "../../contract/ids.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import { emitOnce } from "../events/emit-once.js";
import { publishIdledOnce, publishOnce, publishSessionEvent } from "../events/lifecycle-publishing.js";
import { ModelCallError } from "../ports.js";
import { canRetry, retryDelaySeconds } from "../runtime/model-retry.js";
import {
  addUsage,
  idleEvent,
  leaveRunningIndex,
  markIdle,
  usageSnapshotEvent,
} from "../runtime/session-status.js";
import type { StepDeps } from "../runtime/step-deps.js";
import { stepMessage } from "../runtime/step-message.js";
import type { SessionRecord } from "../sessions/session-record.js";
import type { GraderMessage } from "./grader-message.js";
import { type Grade, GraderOutputError, gradeAgainstRubric } from "./grading.js";
import {
  clipStoredBytes,
  type EvaluationRecord,
  type OutcomeDefinition,
  OutcomeStore,
  outcomeKey,
  SESSION_EXPLANATION_BYTES,
} from "./outcome-record.js";

const iso = (ms: number) => new Date(ms).toISOString();
const noUsage = () => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});
const interruptPending = (r: SessionRecord) => r.run.interruptSeq > r.run.interruptHandledSeq;
const matches = (r: SessionRecord, m: GraderMessage) =>
  r.run.grading?.outcomeId === m.outcomeId && r.run.grading.iteration === m.iteration;

/** Workspace limits of the grader's context. */
const MAX_FILES = 100;
const MAX_FILE_BYTES = 1_000_000;

/** Claims the evaluation for this message, or returns undefined if it is stale or held. */
async function claim(deps: StepDeps, message: GraderMessage, leaseMs: number) {
  const owner = randomUUID();
  const now = deps.clock.now();
  const result = await deps.sessions.mutate(message.workspaceId, message.sessionId, (current) => {
    const grading = current.run.grading;
    if (!grading || !matches(current, message)) return undefined;
    if (grading.leaseUntil !== undefined && grading.leaseUntil > now) return undefined;
    grading.leaseUntil = now + leaseMs;
    grading.leaseOwner = owner;
    grading.claims = (grading.claims ?? 0) + 1;
    current.run.nudgeAfter = now + leaseMs;
    return current;
  });
  return result?.after.run.grading?.leaseOwner === owner ? result.after : undefined;
}

/**
 * What one grader job did, for its log line: `skipped` (stale, duplicate or held), `retrying` (the
 * model or anything else before the verdict failed, and the evaluation is re-sent later), or
 * `graded` with the verdict and its tokens.
 */
export type GraderRun =
  | { outcome: "skipped" }
  | { outcome: "retrying"; errorKind: string }
  | {
      outcome: "graded";
      result: EvaluationRecord["result"];
      inputTokens: number;
      outputTokens: number;
    };

/** Runs the evaluation a grader message asks for; resolves when its effects are committed. */
export async function runGrader(deps: StepDeps, message: GraderMessage): Promise<GraderRun> {
  const settings = deps.outcomes;
  if (!settings) throw new Error("runGrader needs deps.outcomes");
  const claimed = await claim(deps, message, settings.leaseMs);
  if (!claimed) return { outcome: "skipped" };
  const { sessionId, outcomeId, iteration } = message;
  const outcomes = new OutcomeStore(deps.store);
  const definition = await outcomes.definition(sessionId, outcomeId);
  if (!definition) {
    deps.logger.error("grader: outcome definition missing", { sessionId, outcomeId });
    return { outcome: "skipped" };
  }
  const [start] = await emitOnce(deps.store, deps.events, sessionId, `outc-start#${outcomeId}#${iteration}`, [
    {
      type: "span.outcome_evaluation_start",
      id: deps.ids.next(idPrefix.event),
      outcome_id: outcomeId,
      iteration,
      processed_at: iso(deps.clock.now()),
    },
  ]);
  let record = await outcomes.evaluation(sessionId, outcomeId, iteration);
  if (!record) {
    const verdict = await gradeAndPin(deps, claimed, definition, iteration);
    if ("retry" in verdict) {
      await retryLater(deps, claimed, message, verdict.retry);
      return { outcome: "retrying", errorKind: verdict.retry };
    }
    record = verdict;
  }
  const [end] = await emitOnce(deps.store, deps.events, sessionId, `outc-end#${outcomeId}#${iteration}`, [
    {
      type: "span.outcome_evaluation_end",
      id: deps.ids.next(idPrefix.event),
      outcome_id: outcomeId,
      outcome_evaluation_start_id: start?.event.id ?? "",
      iteration,
      result: record.result,
      // Within EVALUATION_LIMITS, as pinned: the event has no findings, only the explanation.
      explanation: record.explanation,
      usage: record.usage,
      processed_at: iso(deps.clock.now()),
    },
  ]);
  const graded = {
    outcome: "graded" as const,
    result: record.result,
    inputTokens: record.usage.input_tokens,
    outputTokens: record.usage.output_tokens,
  };
  if (!end) return graded;
  // Once (publishOnce): the SNS topic's email/SMS subscribers would not dedupe a re-run's repeat.
  await publishOnce(deps.store, outcomeKey(sessionId), end.event.id, () =>
    publishSessionEvent(
      deps,
      message.workspaceId,
      sessionId,
      "session.outcome_evaluation_ended",
      end.event.id,
      {
        outcome_id: outcomeId,
        result: record.result,
        iteration,
        agent_id: claimed.session.agent.id,
      },
    ),
  );
  await commit(deps, claimed, record, end.seq);
  return graded;
}

/**
 * Grades the iteration and pins its verdict, or says why to retry later. Anything that fails before
 * the verdict is pinned (a store refusal, a workspace read, a bug) counts as an attempt, like a model
 * outage: once retries run out the evaluation is pinned `failed`, instead of being re-run (and the
 * grader model called again) on every re-nudge.
 */
async function gradeAndPin(
  deps: StepDeps,
  claimed: SessionRecord,
  definition: OutcomeDefinition,
  iteration: number,
): Promise<EvaluationRecord | { retry: string }> {
  const outcomes = new OutcomeStore(deps.store);
  const sessionId = claimed.session.id;
  const attempt = claimed.run.grading?.attempt ?? 0;
  /** A `failed` verdict for an evaluation that could not be made (`why` without its full stop). */
  const pinFailed = (why: string) =>
    outcomes.pinEvaluation(sessionId, {
      schemaVersion: 2,
      outcomeId: definition.outcomeId,
      iteration,
      result: "failed",
      explanation: `${why}, so the outcome could not be evaluated.`,
      criteria: [],
      usage: noUsage(),
      gradedAt: iso(deps.clock.now()),
    });
  // Earlier claims that neither counted an attempt nor pinned a verdict: processes that died
  // grading (this claim is the last). Past the retries, the evaluation ends `failed` without
  // another model call, instead of being graded again after every lease for ever.
  // (An interrupt still wins: `evaluate` pins `interrupted` without a model call.)
  const died = (claimed.run.grading?.claims ?? 1) - 1 - attempt;
  if (died > 0 && !interruptPending(claimed) && !canRetry(died - 1, deps.retry)) {
    deps.logger.error("grader process stopped on every try", {
      sessionId,
      outcomeId: definition.outcomeId,
      died,
    });
    return pinFailed(`The grader's process stopped (a crash or a timeout) on ${died} of its attempts`);
  }
  try {
    const grade = await evaluate(deps, claimed, definition, iteration);
    if (grade instanceof ModelCallError) return { retry: grade.kind };
    return await outcomes.pinEvaluation(sessionId, grade);
  } catch (error) {
    const retry = canRetry(attempt, deps.retry);
    deps.logger.error("grader failed", {
      sessionId,
      outcomeId: definition.outcomeId,
      iteration,
      attempt,
      retry,
      error: String((error as Error)?.stack ?? error),
    });
    if (retry) return { retry: "internal" };
  }
  return pinFailed(`The grader failed with an internal error on each of its ${attempt + 1} attempts`);
}

/**
 * Grades one iteration: a grader model that cannot be read or reached becomes a `failed` verdict
 * (never a guess), or a ModelCallError to retry; anything else is thrown for the caller to count.
 */
async function evaluate(
  deps: StepDeps,
  claimed: SessionRecord,
  definition: OutcomeDefinition,
  iteration: number,
): Promise<EvaluationRecord | ModelCallError> {
  const settings = deps.outcomes as NonNullable<StepDeps["outcomes"]>;
  const sessionId = claimed.session.id;
  const base = { schemaVersion: 2 as const, outcomeId: definition.outcomeId, iteration };
  const now = () => iso(deps.clock.now());
  const interrupted = (usage: Grade["usage"]): EvaluationRecord => ({
    ...base,
    result: "interrupted",
    explanation: "The user interrupted the session while the outcome was being evaluated.",
    criteria: [],
    usage,
    gradedAt: now(),
  });
  const zero = noUsage();
  if (interruptPending(claimed)) return interrupted(zero);

  const beat = (n: number) =>
    emitOnce(deps.store, deps.events, sessionId, `outc-ongoing#${definition.outcomeId}#${iteration}#${n}`, [
      {
        type: "span.outcome_evaluation_ongoing",
        id: deps.ids.next(idPrefix.event),
        outcome_id: definition.outcomeId,
        iteration,
        processed_at: now(),
      },
    ]);
  await beat(0);
  let beats = 0;
  const heartbeat = setInterval(() => {
    beat(++beats).catch((error) => deps.logger.warn("grader heartbeat failed", { error: String(error) }));
  }, settings.heartbeatMs);
  let grade: Grade;
  try {
    grade = await gradeAgainstRubric(await gradingInput(deps, sessionId, definition), {
      model: deps.model,
      modelId: settings.modelId ?? claimed.session.agent.model.id,
    });
  } catch (error) {
    if (!(error instanceof GraderOutputError) && !(error instanceof ModelCallError)) throw error;
    // A rate limit or an outage is retried later through the queue, like an agent step's model call.
    if (
      error instanceof ModelCallError &&
      error.retryable &&
      canRetry(claimed.run.grading?.attempt ?? 0, deps.retry)
    )
      return error;
    deps.logger.warn("grader failed", { sessionId, outcomeId: definition.outcomeId, error: error.message });
    grade = {
      result: "failed",
      explanation:
        error instanceof GraderOutputError
          ? error.message
          : `the grader model could not be reached: ${error.message}`,
      criteria: [],
      usage: error instanceof GraderOutputError ? error.usage : zero,
      modelCalls: 0,
    };
  } finally {
    clearInterval(heartbeat);
  }
  const latest = await deps.sessions.get(claimed.workspaceId, sessionId);
  if (latest && interruptPending(latest)) return interrupted(grade.usage);
  const exhausted = grade.result === "needs_revision" && iteration + 1 >= definition.maxIterations;
  return {
    ...base,
    result: exhausted ? "max_iterations_reached" : grade.result,
    explanation: grade.explanation,
    criteria: grade.criteria,
    usage: grade.usage,
    gradedAt: now(),
  };
}

/**
 * Counts the failed attempt, releases the evaluation and re-sends its message after a jittered
 * delay; the sweeper's deadline moves past the delay so it does not re-nudge early.
 */
async function retryLater(deps: StepDeps, claimed: SessionRecord, message: GraderMessage, kind: string) {
  const attempt = claimed.run.grading?.attempt ?? 0;
  const delaySeconds = retryDelaySeconds(attempt, deps.retry);
  deps.logger.warn("grader attempt failed; retrying", { sessionId: message.sessionId, attempt, kind });
  const saved = await deps.sessions.mutate(message.workspaceId, message.sessionId, (current) => {
    const grading = current.run.grading;
    if (!grading || !matches(current, message) || grading.leaseOwner !== claimed.run.grading?.leaseOwner)
      return undefined;
    grading.attempt = attempt + 1;
    grading.leaseUntil = undefined;
    grading.leaseOwner = undefined;
    current.run.nudgeAfter = deps.clock.now() + delaySeconds * 1000 + (deps.outcomes?.leaseMs ?? 0);
    return current;
  });
  if (saved?.after.run.grading?.attempt === attempt + 1)
    await deps.outcomes?.queue.send(message, { delaySeconds });
}

/** The grader's context: this iteration's final output and the workspace files, nothing else. */
async function gradingInput(deps: StepDeps, sessionId: string, definition: OutcomeDefinition) {
  const log = await deps.events.read(sessionId, { after: definition.definedSeq });
  let boundary = definition.definedSeq;
  for (const { seq, event } of log) {
    if (event.type === "span.outcome_evaluation_end" && event.outcome_id === definition.outcomeId)
      boundary = seq;
  }
  const texts = (from: number) =>
    log
      .filter(({ seq, event }) => seq > from && event.type === "agent.message")
      .flatMap(({ event }) =>
        ((event as { content: Array<{ type: string; text?: string }> }).content ?? [])
          .filter((b) => b.type === "text")
          .map((b) => b.text ?? ""),
      );
  const recent = texts(boundary);
  // The final output is the last message of the turn; earlier messages belong to the transcript.
  const output = (recent.length > 0 ? recent : texts(definition.definedSeq)).slice(-1).join("");
  const files = new Map<string, string>();
  const listed = (await deps.workspace.list(sessionId))
    .filter((f) => f.size <= MAX_FILE_BYTES)
    .slice(0, MAX_FILES);
  for (const file of listed.sort((a, b) => a.path.localeCompare(b.path))) {
    const content = await deps.workspace.read(sessionId, file.path);
    if (content !== undefined) files.set(file.path, content);
  }
  return { description: definition.description, rubric: definition.rubric, output, files };
}

/** Applies the verdict: the outcome's state, then idle, a revision turn, or the next outcome. */
async function commit(deps: StepDeps, claimed: SessionRecord, record: EvaluationRecord, endSeq: number) {
  const { workspaceId } = claimed;
  const sessionId = claimed.session.id;
  const key = `${record.outcomeId}#${record.iteration}`;
  const plan = (current: SessionRecord) => {
    const revise = record.result === "needs_revision" || record.result === "max_iterations_reached";
    const nextPending =
      record.result === "interrupted"
        ? undefined
        : current.session.outcome_evaluations.find((e) => e.result === "pending");
    // A message the user sent during the evaluation is answered, not left behind by going idle.
    const unansweredInput = current.run.lastInputSeq > current.run.watermark;
    const goIdle = interruptPending(current) || (!revise && !nextPending && !unansweredInput);
    return { revise, nextPending, goIdle };
  };
  const owned = (r: SessionRecord) =>
    r.run.grading?.leaseOwner === claimed.run.grading?.leaseOwner &&
    r.run.grading?.outcomeId === record.outcomeId &&
    r.run.grading.iteration === record.iteration;

  let idleEvents: SessionEvent[] = [];
  const before = await deps.sessions.get(workspaceId, sessionId);
  if (!before || !owned(before)) return;
  if (plan(before).goIdle) {
    const entries = await emitOnce(deps.store, deps.events, sessionId, `outc-idle#${key}`, [
      usageSnapshotEvent(deps, before),
      idleEvent(deps, { type: "end_turn" }),
    ]);
    idleEvents = entries.map((e) => e.event);
    // Once: a redelivery after this commit's save failed, or a commit that starts over, gets the
    // same idle event from emit-once.
    await publishIdledOnce(deps, before, entries);
  }
  const now = deps.clock.now();
  // The idle events were planned on `before`; an interrupt written since makes this save go idle
  // too, and an idle saved unannounced has no `session.status_idle` and no webhook. Then nothing is
  // saved and the commit starts over from a fresh read, which announces it.
  let unannounced = false;
  const result = await deps.sessions.mutate(workspaceId, sessionId, (current) => {
    unannounced = false;
    if (!owned(current)) return undefined;
    const { revise, nextPending, goIdle } = plan(current);
    if (goIdle && idleEvents.length === 0) {
      unannounced = true;
      return undefined;
    }
    const entry = current.session.outcome_evaluations.find((e) => e.outcome_id === record.outcomeId);
    if (entry) {
      // Within what the session keeps of an explanation (checkOutcomesFit counts on it).
      entry.explanation = clipStoredBytes(record.explanation, SESSION_EXPLANATION_BYTES);
      if (record.result === "needs_revision") {
        entry.result = "running";
        entry.iteration = record.iteration + 1;
      } else {
        entry.result = record.result;
        entry.completed_at = iso(now);
      }
    }
    current.session.usage = addUsage(current.session.usage, record.usage);
    current.run.grading = undefined;
    if (nextPending && !goIdle) nextPending.result = "running";
    if (revise) current.run.lastInputSeq = Math.max(current.run.lastInputSeq, endSeq);
    if (goIdle) {
      current.run.interruptHandledSeq = current.run.interruptSeq;
      current.run.watermark = Math.max(current.run.watermark, current.run.lastInputSeq);
      return markIdle(current, now);
    }
    current.session.status = "running";
    current.run.nudgeAfter = now + deps.leaseMs;
    current.session.updated_at = iso(now);
    return current;
  });
  if (unannounced) return commit(deps, claimed, record, endSeq);
  const after = result?.after;
  if (!after || result.before.rev === after.rev) return;
  if (after.session.status === "idle") {
    await leaveRunningIndex(deps, workspaceId, sessionId);
    return;
  }
  if (idleEvents.length > 0) {
    // Announced idle, then a waiting outcome won the race: announce the resumption.
    await emitOnce(deps.store, deps.events, sessionId, `outc-resume#${key}`, [
      { type: "session.status_running", id: deps.ids.next(idPrefix.event), processed_at: iso(now) },
    ]);
  }
  await deps.steps.send(stepMessage(workspaceId, sessionId, after.run.stepSeq));
}
