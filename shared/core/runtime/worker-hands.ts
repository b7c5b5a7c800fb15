/**
 * Tool calls served by a self-hosted worker (a `self_hosted` environment's hands): the step emits
 * `agent.tool_use` for `bash`, `read`, `write`, `edit`, `glob` and `grep` and, instead of running
 * them, waits — `running`, with no lease — until the worker's `user.tool_result` answers each one.
 * The wait is recorded in `run.workerWait`; a result that completes it nudges the step; the sweeper
 * nudges a wait past its deadline, and the step then ends the turn with a `session.error` and an
 * error result per unanswered call, so a session whose worker never comes is never stuck running.
 */
import { ConflictError, InvalidRequestError } from "../../contract/errors.js";
import { idPrefix } from "../../contract/ids.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import { emitOnce } from "../events/emit-once.js";
import type { EventInternals, LoggedEvent } from "../events/event-log.js";
import type { SessionRecord } from "../sessions/session-record.js";
import type { StepDeps } from "./step-deps.js";
import { stepMessage } from "./step-message.js";
import { isWorkerTool, servedByWorker } from "./worker-tools.js";

const resultOf = (event: SessionEvent) =>
  event.type === "user.tool_result" || event.type === "agent.tool_result" ? event.tool_use_id : undefined;

/**
 * The worker tool calls in `log` that still wait for their result: allowed ones, and `ask` ones the
 * user allowed. A denied call is answered by the server (an error result), not by the worker.
 */
export function unansweredWorkerCalls(log: readonly LoggedEvent[]): string[] {
  const answered = new Set<string>();
  const allowed = new Set<string>();
  for (const { event } of log) {
    const answers = resultOf(event);
    if (answers) answered.add(answers);
    if (event.type === "user.tool_confirmation" && event.result === "allow") allowed.add(event.tool_use_id);
  }
  const pending: string[] = [];
  for (const { event } of log) {
    if (event.type !== "agent.tool_use" || !isWorkerTool(event.name) || answered.has(event.id)) continue;
    if (event.evaluated_permission === "ask" && !allowed.has(event.id)) continue;
    pending.push(event.id);
  }
  return pending;
}

/**
 * Checks a `user.tool_result` before it is written: it must answer a worker tool call of this
 * session that has no result yet (a late or repeated answer is a 409, an unknown id a 400).
 */
export function checkToolResult(log: readonly LoggedEvent[], toolUseId: string, at: string): void {
  const use = log.find((e) => e.event.id === toolUseId)?.event;
  if (use?.type !== "agent.tool_use" || !isWorkerTool(use.name))
    throw new InvalidRequestError(
      `${at}.tool_use_id: ${toolUseId} is not a tool call a worker serves in this session`,
    );
  if (log.some((e) => resultOf(e.event) === toolUseId))
    throw new ConflictError(`${at}: tool call ${toolUseId} already has a result`);
  if (!unansweredWorkerCalls(log).includes(toolUseId))
    throw new ConflictError(`${at}: tool call ${toolUseId} is waiting for the user's confirmation`);
}

/** The emit-once key of a tool call's one result (the worker's, or the server's error). */
const resultKey = (toolUseId: string) => `result#${toolUseId}`;

/**
 * Writes a worker's `user.tool_result` as the call's one result: of two concurrent answers (or an
 * answer racing the server's timeout error) exactly one lands. A retried post of the same answer
 * finds its own result and succeeds again; a call the server already answered is a 409.
 */
export async function recordToolResult(
  deps: StepDeps,
  sessionId: string,
  event: Extract<SessionEvent, { type: "user.tool_result" }>,
  internals: EventInternals = {},
): Promise<LoggedEvent> {
  const [entry] = await emitOnce(deps.store, deps.events, sessionId, resultKey(event.tool_use_id), [event], {
    internals: [internals],
  });
  const recorded = entry as LoggedEvent;
  // The server's own answer (answerWithError) carries no send mark; a worker's always does.
  if (recorded.event.type !== "user.tool_result" || !recorded.internals.sent)
    throw new ConflictError(`tool call ${event.tool_use_id} already has a result`);
  return recorded;
}

/**
 * Answers open worker calls with an error result each (once per call, whoever answers first). The
 * result is a `user.tool_result`, the one event the SDK's worker (`SessionToolRunner`) reads as a
 * call's answer: an `agent.tool_result` would leave the call open to it, so the worker serving a
 * later turn would run it (and then retry the refused post for a lease's length).
 */
async function answerWithError(
  deps: StepDeps,
  sessionId: string,
  pending: string[],
  message: string,
): Promise<LoggedEvent[]> {
  const now = new Date(deps.clock.now()).toISOString();
  const answers: LoggedEvent[] = [];
  for (const toolUseId of pending) {
    const [answer] = await emitOnce(deps.store, deps.events, sessionId, resultKey(toolUseId), [
      {
        type: "user.tool_result",
        id: deps.ids.next(idPrefix.event),
        processed_at: now,
        tool_use_id: toolUseId,
        is_error: true,
        content: [{ type: "text", text: message }],
      },
    ]);
    if (answer) answers.push(answer);
  }
  return answers;
}

/** Worker tools whose effects a second run would repeat (read, glob and grep just run again). */
const CHANGING_TOOLS = new Set(["bash", "write", "edit"]);

/**
 * A work item is handed to a new worker after one that was shown calls up to `uptoSeq` let go
 * without answering them (it died mid-call; its lease lapsed or its item stopped). The SDK's worker
 * runs every call it finds unanswered, so each such call that changes something is answered here
 * first, as interrupted — it may have taken effect, and it is not run a second time (as a step's
 * `runOnce` reports a shell command cut off by a restart). The answers are results like a worker's:
 * a wait they complete nudges its step.
 *
 * An `ask` call waits in the worker until its `allow` arrives, so it may have run only if that
 * `allow` was shown too (at or below `uptoSeq`); otherwise the next worker runs it. Every pass also
 * nudges for the server-written answers of the calls it covers: an earlier pass may have died
 * between an answer and its nudge, and the call, answered now, is no longer open to find.
 */
export async function interruptDeliveredCalls(
  deps: StepDeps,
  workspaceId: string,
  sessionId: string,
  uptoSeq: number,
): Promise<void> {
  const log = await deps.events.read(sessionId);
  const open = new Set(unansweredWorkerCalls(log));
  const allowedAt = new Map<string, number>();
  const serverAnswers = new Map<string, LoggedEvent>();
  for (const entry of log) {
    const { seq, event } = entry;
    if (
      event.type === "user.tool_confirmation" &&
      event.result === "allow" &&
      !allowedAt.has(event.tool_use_id)
    )
      allowedAt.set(event.tool_use_id, seq);
    // The server's own answers carry no send mark; a worker's always does.
    if (event.type === "user.tool_result" && !entry.internals.sent)
      serverAnswers.set(event.tool_use_id, entry);
  }
  const covered = log.flatMap(({ seq, event }) =>
    seq <= uptoSeq &&
    event.type === "agent.tool_use" &&
    CHANGING_TOOLS.has(event.name) &&
    (event.evaluated_permission !== "ask" || (allowedAt.get(event.id) ?? Number.POSITIVE_INFINITY) <= uptoSeq)
      ? [event.id]
      : [],
  );
  const mayHaveRun = covered.filter((id) => open.has(id));
  const answers =
    mayHaveRun.length === 0
      ? []
      : await answerWithError(
          deps,
          sessionId,
          mayHaveRun,
          "Interrupted: the worker running this call stopped before it answered, so it may or may not have taken effect. It was not run again.",
        );
  const earlier = covered.flatMap((id) => serverAnswers.get(id) ?? []);
  if (answers.length === 0 && earlier.length === 0) return;
  // Only answers the session has not taken in yet (an old turn's closed calls cost no write).
  const run = (await deps.sessions.get(workspaceId, sessionId))?.run;
  if (!run) return;
  for (const { seq, event } of [...earlier, ...answers]) {
    if (event.type !== "user.tool_result") continue;
    if (run.lastInputSeq >= seq && !run.workerWait?.toolUseIds.includes(event.tool_use_id)) continue;
    await workerResultArrived(deps, workspaceId, sessionId, seq, event.tool_use_id);
  }
}

/**
 * When a self-hosted session's turn ends with worker calls still open (an interrupt, a budget):
 * each gets an error result, and the work item is stopped so its worker lets go — a call the user
 * interrupted must not run later, nor keep the next turn waiting.
 */
export async function closeWorkerCalls(deps: StepDeps, record: SessionRecord): Promise<void> {
  if (!servedByWorker(record)) return;
  const sessionId = record.session.id;
  const pending = unansweredWorkerCalls(await deps.events.read(sessionId));
  if (pending.length === 0) return;
  await answerWithError(
    deps,
    sessionId,
    pending,
    "Not run: the turn ended before a worker answered this call.",
  );
  await deps.work?.stopForSession(record.workspaceId, sessionId);
}

/**
 * Checks the `user.tool_result`s of one send before anything is written: only a self-hosted
 * session takes them, each must answer an open worker call of this session, once.
 */
export async function checkWorkerResults(
  deps: StepDeps,
  record: SessionRecord,
  events: ReadonlyArray<{ type: string; tool_use_id?: string }>,
): Promise<void> {
  if (!events.some((e) => e.type === "user.tool_result")) return;
  if (!servedByWorker(record))
    throw new InvalidRequestError(
      "user.tool_result answers a self-hosted worker's tool call; this session's tools run on the server",
    );
  const log = await deps.events.read(record.session.id);
  const seen = new Set<string>();
  for (const [i, event] of events.entries()) {
    if (event.type !== "user.tool_result") continue;
    const toolUseId = event.tool_use_id as string;
    if (seen.has(toolUseId))
      throw new InvalidRequestError(`events.${i}: tool call ${toolUseId} is answered twice`);
    seen.add(toolUseId);
    checkToolResult(log, toolUseId, `events.${i}`);
  }
}

/**
 * After a `user.tool_result` is written at `seq`: records it as input and, if it was the last result
 * a waiting step needed, nudges that step (after the commit).
 */
export async function workerResultArrived(
  deps: StepDeps,
  workspaceId: string,
  sessionId: string,
  seq: number,
  toolUseId: string,
): Promise<void> {
  let resume = false;
  const saved = await deps.sessions.mutate(workspaceId, sessionId, (current) => {
    resume = false;
    if (current.run.lastInputSeq < seq) current.run.lastInputSeq = seq;
    const wait = current.run.workerWait;
    if (wait) {
      wait.toolUseIds = wait.toolUseIds.filter((id) => id !== toolUseId);
      if (wait.toolUseIds.length === 0) {
        current.run.workerWait = undefined;
        current.run.nudgeAfter = deps.clock.now() + deps.leaseMs;
        resume = current.session.status === "running" && current.run.leaseOwner === undefined;
      }
    }
    return current;
  });
  if (saved && resume) await deps.steps.send(stepMessage(workspaceId, sessionId, saved.after.run.stepSeq));
}

/**
 * A claimed step found worker calls unanswered: waits for them (lease released, deadline set, work
 * item ensured) or, past the deadline, ends the turn. Returns the stop when the turn must end.
 */
export async function awaitWorker(
  deps: StepDeps,
  claimed: SessionRecord,
  pending: string[],
): Promise<"waiting" | "timed_out"> {
  const now = deps.clock.now();
  const since = claimed.run.workerWait?.since ?? now;
  if (now - since >= deps.workerTimeoutMs) return "timed_out";
  const sessionId = claimed.session.id;
  // The work item first, while the lease is held: a crash after it leaves nothing to repair.
  await deps.work?.ensureWork(claimed.workspaceId, claimed.session.environment_id, sessionId);
  let inputArrived = false;
  const saved = await deps.sessions.mutate(claimed.workspaceId, sessionId, (current) => {
    if (current.run.leaseOwner !== claimed.run.leaseOwner || current.run.stepSeq !== claimed.run.stepSeq)
      return undefined;
    current.run.leaseUntil = undefined;
    current.run.leaseOwner = undefined;
    // A result or an interrupt that arrived since the claim may have found no wait to act on (the
    // lease was held): look again instead of waiting.
    inputArrived =
      current.run.lastInputSeq > claimed.run.lastInputSeq ||
      current.run.interruptSeq > current.run.interruptHandledSeq;
    current.run.workerWait = inputArrived ? undefined : { since, toolUseIds: pending };
    current.run.nudgeAfter = inputArrived ? now + deps.leaseMs : since + deps.workerTimeoutMs;
    return current;
  });
  if (!saved) return "waiting";
  if (inputArrived) await deps.steps.send(stepMessage(claimed.workspaceId, sessionId, claimed.run.stepSeq));
  return "waiting";
}

/** Past the deadline: an error result for each unanswered call and a `session.error`, once. */
export async function workerTimedOut(deps: StepDeps, claimed: SessionRecord, pending: string[]) {
  const sessionId = claimed.session.id;
  const seconds = Math.round(deps.workerTimeoutMs / 1000);
  const message =
    `No worker of self-hosted environment ${claimed.session.environment_id} answered within ${seconds} s. ` +
    "Run a worker (client.beta.environments.work.worker({ environmentId, environmentKey }).run()) and send a new message.";
  await answerWithError(deps, sessionId, pending, message);
  await emitOnce(deps.store, deps.events, sessionId, `workertimeout#${claimed.run.stepSeq}`, [
    {
      type: "session.error",
      id: deps.ids.next(idPrefix.event),
      processed_at: new Date(deps.clock.now()).toISOString(),
      error: { type: "unknown_error", message, retry_status: { type: "terminal" } },
    } as SessionEvent,
  ]);
  await deps.work?.stopForSession(claimed.workspaceId, sessionId);
}
