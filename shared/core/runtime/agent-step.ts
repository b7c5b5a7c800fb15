/**
 * One agent step (DESIGN.md §2, §5): claim the session's lease, make exactly one model call (or
 * replay the stored record of one), write its events, run its tools, then commit the next state
 * and only then enqueue the next step. Every part is safe to re-run after a crash or a duplicate
 * delivery: the lease and `stepSeq` drop stale work, the step record pins the model's answer,
 * events are written at fixed sequences, and the state commit is rev-checked.
 */
import { randomUUID } from "node:crypto";
import { idPrefix } from "../../contract/ids.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import { emitOnce } from "../events/emit-once.js";
import { previewerFor } from "../events/event-previews.js";
import { publishIdled, publishIdledOnce } from "../events/lifecycle-publishing.js";
import { offerMcpTools } from "../mcp/mcp-servers.js";
import { mcpToolDefinition } from "../mcp/mcp-toolsets.js";
import { ModelCallError } from "../ports.js";
import type { SessionRecord } from "../sessions/session-record.js";
import { budgetReached, withThreadUsage } from "./budget.js";
import { buildModelRequest, toolDefinitions } from "./model-request.js";
import { canRetry, retryDelaySeconds } from "./model-retry.js";
import type { ExtensionTool, RunExtension } from "./run-extension.js";
import {
  addUsage,
  idleEvent,
  leaveRunningIndex,
  markIdle,
  type StopReason,
  usageSnapshotEvent,
} from "./session-status.js";
import type { StepDeps } from "./step-deps.js";
import { type FinishedStep, logStep, type StepNext } from "./step-log.js";
import { type StepMessage, stepMessage } from "./step-message.js";
import { loadStepRecord, recordFromResponse, type StepRecord, saveStepRecord } from "./step-record.js";
import { runConfirmedTools, runStepTools, toolSession } from "./tool-execution.js";
import { buildTranscript } from "./transcript.js";
import { awaitWorker, closeWorkerCalls, unansweredWorkerCalls, workerTimedOut } from "./worker-hands.js";
import { servedByWorker } from "./worker-tools.js";

const isActive = (r: SessionRecord) => r.session.status === "running" || r.session.status === "rescheduling";

/** Takes the session's lease for this step, or returns undefined if the step is stale or held. */
async function claim(deps: StepDeps, message: StepMessage): Promise<SessionRecord | undefined> {
  const owner = randomUUID();
  const now = deps.clock.now();
  // A child thread's run is keyed by its thread id (its own record, log, step records, markers).
  const runId = message.threadId ?? message.sessionId;
  const result = await deps.sessions.mutate(message.workspaceId, runId, (current) => {
    if (!isActive(current) || current.run.stepSeq !== message.stepSeq || current.run.grading)
      return undefined;
    if (current.run.leaseUntil !== undefined && current.run.leaseUntil > now) return undefined;
    current.run.leaseUntil = now + deps.leaseMs;
    current.run.leaseOwner = owner;
    current.run.stepClaims += 1;
    current.session.status = "running";
    return current;
  });
  return result?.after.run.leaseOwner === owner ? result.after : undefined;
}

/**
 * Runs the step a queue message names; resolves when its effects are committed. While the run goes
 * on and `deps.chainStepsMs` allows, the next steps run here too: a step's commit then also claims
 * the next one (one write instead of a commit, a queue message and a claim). A crash in a chained
 * step is recovered like a lost message: its lease expires and the sweeper re-nudges the run.
 */
export async function runAgentStep(sessionDeps: StepDeps, message: StepMessage): Promise<void> {
  const deps = sessionDeps.threads ? await sessionDeps.threads.depsFor(sessionDeps, message) : sessionDeps;
  const chainUntil = deps.clock.now() + (deps.chainStepsMs ?? 0);
  let session = await claim(deps, message);
  while (session) {
    const claimed: SessionRecord = session;
    session = undefined;
    const startedAt = deps.clock.now();
    try {
      const finished = await runClaimedStep(deps, claimed, chainUntil);
      if (finished) {
        logStep(deps, message, finished, startedAt);
        session = finished.chained;
        // A turn of the event loop between chained steps, as a queue hop gave: on one process the
        // I/O that is ready (other runs' model answers, API requests) goes first.
        if (session) await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } catch (error) {
      // Anything that fails after the claim (storage, a tool's store, a bug) is retried like a model
      // failure and then ends the turn: a step that keeps failing must never leave the session running.
      await handleStepFailure(deps, claimed, error);
    }
  }
}

/**
 * Runs a claimed step; what it did when it made (or replayed) a model call, for the step's log line,
 * and the next step's claimed record when it is to run here (chained).
 */
async function runClaimedStep(
  deps: StepDeps,
  session: SessionRecord,
  chainUntil: number,
): Promise<(FinishedStep & { chained?: SessionRecord }) | undefined> {
  const sessionId = session.session.id;

  if (session.run.parkedStep !== undefined) return noModelCall(resumeParked(deps, session));
  if (session.run.interruptSeq > session.run.interruptHandledSeq)
    return noModelCall(finishTurn(deps, session, { type: "end_turn" }, []));
  const ended = await endTurn(deps, session);
  if (ended) return noModelCall(finishTurn(deps, session, ended, []));
  if (await overBudget(deps, session, session.session.usage)) {
    return noModelCall(finishTurn(deps, session, { type: "budget_reached" }, []));
  }

  const fresh = session.run.stepClaims === 1;
  const offered = await extensionTools(deps, session);
  let record = fresh ? undefined : await loadStepRecord(deps, sessionId, session.run.stepSeq);
  const replayed = record !== undefined;
  if (!record) {
    const log = await deps.events.read(sessionId);
    if (await runConfirmedTools(deps, sessionId, session.session.agent, log, toolSession(session)))
      log.splice(0, log.length, ...(await deps.events.read(sessionId)));
    // A self-hosted session's tool calls are answered by its worker: no model call until they are.
    if (servedByWorker(session)) {
      const pending = unansweredWorkerCalls(log);
      if (pending.length > 0) {
        if ((await awaitWorker(deps, session, pending)) === "waiting") return undefined;
        await workerTimedOut(deps, session, pending);
        return noModelCall(finishTurn(deps, session, { type: "retries_exhausted" }, []));
      }
    }
    const watermark = log.at(-1)?.seq ?? 0;
    const agent = session.session.agent;
    const extension = offered.map((t) => t.definition);
    // The agent's MCP servers' tools, named apart from every other tool it may be offered.
    const reserved = new Set(toolDefinitions(agent, { bash: true, extension }).map((t) => t.name));
    const mcpTools = await offerMcpTools(deps, session, session.run.stepSeq, reserved);
    const transcript = buildTranscript(log, extensionsOf(deps));
    const request = buildModelRequest(agent, transcript, await systemNote(deps, session), {
      bash: servedByWorker(session) || (deps.bashAvailable ?? false),
      extension,
      mcp: mcpTools.map(mcpToolDefinition),
    });
    // While a stream asks for previews (event_deltas), the call streams and the events keep the ids
    // their previews announced.
    const previewer = previewerFor(deps.notifier.previews, sessionId, () => deps.ids.next(idPrefix.event));
    let response: Awaited<ReturnType<typeof deps.model.createMessage>>;
    const requestedAt = deps.clock.now();
    try {
      response = await deps.model.createMessage(request, previewer);
    } catch (error) {
      return noModelCall(handleStepFailure(deps, session, error));
    }
    record = await saveStepRecord(
      deps,
      sessionId,
      await recordFromResponse(
        deps,
        session,
        watermark,
        response,
        mcpTools,
        previewer?.idsByBlock,
        requestedAt,
      ),
    );
  }

  // A saved record's events went with it; a record found stored may have been cut off before them.
  if (replayed) await deps.events.write(sessionId, record.entries);
  await runStepTools(deps, sessionId, session.session.agent, record, {
    fresh,
    session: toolSession(session),
    extension: { run: session, tools: offered },
  });
  const parkedBy = await afterTools(deps, session, record);
  const { next, chained } = await commitStep(deps, session, record, { fresh, parkedBy, chainUntil });
  return { record, next, model: session.session.agent.model.id, replayed, chained };
}

/** A step that ends without a model call's result (it has no step line; failures log their own). */
const noModelCall = async (work: Promise<void>): Promise<undefined> => {
  await work;
  return undefined;
};

const extensionsOf = (deps: StepDeps): readonly RunExtension[] => deps.extensions ?? [];

/** The tools the run's extensions offer this step, in extension order. */
async function extensionTools(deps: StepDeps, run: SessionRecord): Promise<ExtensionTool[]> {
  const tools: ExtensionTool[] = [];
  for (const extension of extensionsOf(deps)) tools.push(...((await extension.tools?.(deps, run)) ?? []));
  return tools;
}

/** The session-constant additions to the system prompt, in extension order (memory mounts, skills, …). */
async function systemNote(deps: StepDeps, session: SessionRecord): Promise<string | undefined> {
  const notes: string[] = [];
  for (const extension of extensionsOf(deps)) {
    const note = await extension.systemNote?.(deps, session);
    if (note) notes.push(note);
  }
  return notes.join("\n\n") || undefined;
}

/** After the step's tools: the first extension that parks the run names itself (or undefined). */
async function afterTools(deps: StepDeps, run: SessionRecord, step: StepRecord): Promise<string | undefined> {
  for (const extension of extensionsOf(deps))
    if (await extension.afterTools?.(deps, run, step)) return extension.name;
  return undefined;
}

/** A parked run was claimed: the extension that parked it restarts what it waits on. */
async function resumeParked(deps: StepDeps, run: SessionRecord): Promise<void> {
  const extension = extensionsOf(deps).find((e) => e.name === run.run.parkedBy && e.resumeParked);
  if (!extension?.resumeParked) throw new Error(`run ${run.session.id} is parked by an unknown extension`);
  await extension.resumeParked(deps, run);
}

/**
 * The budget rule: the first extension with a rule of its own for the run (a child thread's token
 * budget), else the session budget over every thread's usage.
 */
async function overBudget(deps: StepDeps, record: SessionRecord, usage: SessionRecord["session"]["usage"]) {
  for (const extension of extensionsOf(deps)) {
    const spent = await extension.overBudget?.(deps, record, usage);
    if (spent !== undefined) return spent;
  }
  const total = withThreadUsage(usage, record.run.threadUsage);
  return budgetReached(record.session.agent.model.id, total, record.session.budget);
}

/** The first extension's reason to end the run's turn now (a canceled dream), or undefined. */
async function endTurn(deps: StepDeps, run: SessionRecord): Promise<StopReason | undefined> {
  for (const extension of extensionsOf(deps)) {
    const stop = await extension.endTurn?.(deps, run);
    if (stop) return stop;
  }
  return undefined;
}

/** Runs once a run's idle transition is committed (a child thread reports back). */
async function afterIdle(deps: StepDeps, record: SessionRecord, stop: StopReason): Promise<void> {
  for (const extension of extensionsOf(deps)) await extension.afterIdle?.(deps, record, stop);
}

/**
 * Decides what follows a step and commits it. A next step is enqueued after the commit, or, before
 * `chainUntil`, claimed by the commit itself and returned to run here.
 */
async function commitStep(
  deps: StepDeps,
  claimed: SessionRecord,
  record: StepRecord,
  options: { fresh: boolean; parkedBy: string | undefined; chainUntil: number },
): Promise<{ next: StepNext; chained?: SessionRecord }> {
  const { fresh, parkedBy } = options;
  const sessionId = claimed.session.id;
  const usage = addUsage(claimed.session.usage, record.usage);
  const spent = await overBudget(deps, claimed, usage);
  const ended = await endTurn(deps, claimed);
  const decide = (
    current: SessionRecord,
  ): { next: "continue" } | { next: "park" } | { next: "idle"; stop: StopReason } => {
    // Parked work runs to its end (a fan-out's threads are already told): the run waits. An
    // interrupt that came during the step stays pending for the extension (park, below).
    if (parkedBy) return { next: "park" };
    if (current.run.interruptSeq > current.run.interruptHandledSeq)
      return { next: "idle", stop: { type: "end_turn" } };
    if (ended) return { next: "idle", stop: ended };
    if (record.awaiting.length > 0)
      return { next: "idle", stop: { type: "requires_action", event_ids: record.awaiting } };
    if (spent) return { next: "idle", stop: { type: "budget_reached" } };
    if (record.stopReason === "refusal") return { next: "idle", stop: { type: "refusal" } };
    if (record.stopReason === "tool_use" && record.toolRuns.length + record.workerCalls.length > 0)
      return { next: "continue" };
    if (current.run.lastInputSeq > record.watermark) return { next: "continue" };
    return { next: "idle", stop: { type: "end_turn" } };
  };

  // The first pass commits over the claimed record (its rev checks that nothing changed since);
  // only a conflict costs a re-read.
  let current: SessionRecord | undefined = claimed;
  let announcedIdle = false;
  for (let pass = 0; ; pass++) {
    if (pass > 0) current = await deps.sessions.get(claimed.workspaceId, sessionId);
    if (
      !current ||
      current.run.stepSeq !== record.stepSeq ||
      current.run.leaseOwner !== claimed.run.leaseOwner
    )
      return { next: "superseded" };
    const decision = decide(current);
    const next = structuredClone(current);
    next.session.usage = usage;
    next.run.stepSeq += 1;
    next.run.stepClaims = 0;
    next.run.watermark = record.watermark;
    next.run.attempt = 0;
    // Parking does not honour an interrupt: the extension's resumeParked sees it pending and stops
    // the parked work (threads: the fan-out is cancelled), and the step after it ends the turn.
    if (decision.next !== "park") next.run.interruptHandledSeq = next.run.interruptSeq;
    if (decision.next === "park") {
      next.run.leaseUntil = undefined;
      next.run.leaseOwner = undefined;
      next.run.parkedStep = record.stepSeq;
      next.run.parkedBy = parkedBy;
      next.run.nudgeAfter = deps.clock.now() + deps.leaseMs;
      next.session.status = "running";
      const parked = await trySave(deps, next);
      if (parked) {
        await resumeParked(deps, parked);
        return { next: "parked" };
      }
      continue;
    }
    if (decision.next === "continue") {
      // Chained, the commit is the next step's claim (the claim's fields, a new owner); else the
      // lease is let go and the queue message that follows the commit brings the next step.
      const chain = deps.clock.now() < options.chainUntil;
      next.run.leaseUntil = chain ? deps.clock.now() + deps.leaseMs : undefined;
      next.run.leaseOwner = chain ? randomUUID() : undefined;
      next.run.stepClaims = chain ? 1 : 0;
      next.run.nudgeAfter = deps.clock.now() + deps.leaseMs;
      next.session.status = "running";
      const idleAnnounced =
        announcedIdle ||
        (!fresh && (await deps.store.get("resources", `once#${sessionId}`, `idle#${record.stepSeq}`)));
      if (idleAnnounced) {
        // An earlier pass announced idle before new input won the race: announce the resumption.
        await emitOnce(deps.store, deps.events, sessionId, `resume#${record.stepSeq}`, [
          {
            type: "session.status_running",
            id: deps.ids.next(idPrefix.event),
            processed_at: new Date(deps.clock.now()).toISOString(),
          },
        ]);
      }
      const saved = await trySave(deps, next);
      if (saved) {
        if (chain) return { next: "continue", chained: saved };
        await deps.steps.send(stepMessage(current.workspaceId, sessionId, next.run.stepSeq));
        return { next: "continue" };
      }
      continue;
    }
    const handoff =
      decision.stop.type === "end_turn" && current.run.interruptSeq <= current.run.interruptHandledSeq
        ? insteadOfIdle(deps, next)
        : undefined;
    if (handoff) {
      // An extension takes the end of the turn over (an outcome's grader decides what follows).
      if (await trySave(deps, next)) {
        await handoff();
        return { next: "handed_off" };
      }
      continue;
    }
    // Worker calls of this step left open by an interrupt or a budget: answered, their worker let go.
    if (record.workerCalls.length > 0 && decision.stop.type !== "requires_action")
      await closeWorkerCalls(deps, claimed);
    markIdle(next, deps.clock.now(), decision.stop.type === "requires_action" ? record.awaiting : []);
    const idleEntries = await emitOnce(
      deps.store,
      deps.events,
      sessionId,
      `idle#${record.stepSeq}`,
      [usageSnapshotEvent(deps, next), idleEvent(deps, decision.stop)],
      { knownNew: fresh && !announcedIdle },
    );
    // Published before the commit, so a failure retries the step, which publishes the same event id
    // (at least once, as EventBridge delivers anyway); a pass of this loop that decides again after
    // losing its rev check has the same idle event, announced already: not published twice.
    if (!announcedIdle) await publishIdled(deps, next, idleEntries);
    announcedIdle = true;
    if (await trySave(deps, next)) {
      // The run leaves the sweeper's index only once what follows its idle is done: a crash in
      // between (a child thread's report cut short) leaves it there for the sweeper to finish.
      await afterIdle(deps, next, decision.stop);
      await leaveRunningIndex(deps, claimed.workspaceId, sessionId);
      return { next: `idle:${decision.stop.type}` };
    }
  }
}

/** The first extension that takes the end of a turn over (changing `next`), or undefined. */
function insteadOfIdle(deps: StepDeps, next: SessionRecord) {
  for (const extension of extensionsOf(deps)) {
    const handoff = extension.insteadOfIdle?.(deps, next);
    if (handoff) return handoff;
  }
  return undefined;
}

/** Saves `record` if nobody changed it since it was read: the saved record, or undefined. */
async function trySave(deps: StepDeps, record: SessionRecord): Promise<SessionRecord | undefined> {
  try {
    return await deps.sessions.save(record);
  } catch (error) {
    if ((error as Error).name === "ConditionFailedError") return undefined;
    throw error;
  }
}

/** Ends the turn without a model call (interrupt, budget), with the usual idle events. */
async function finishTurn(deps: StepDeps, claimed: SessionRecord, stop: StopReason, awaiting: string[]) {
  const sessionId = claimed.session.id;
  await closeWorkerCalls(deps, claimed);
  // Events first, then the commit: a crash in between re-runs this step, which re-emits nothing.
  const idleEntries = await emitOnce(deps.store, deps.events, sessionId, `idle#${claimed.run.stepSeq}`, [
    usageSnapshotEvent(deps, claimed),
    idleEvent(deps, stop),
  ]);
  await publishIdledOnce(deps, claimed, idleEntries);
  const saved = await deps.sessions.mutate(claimed.workspaceId, sessionId, (current) => {
    if (current.run.leaseOwner !== claimed.run.leaseOwner || current.run.stepSeq !== claimed.run.stepSeq)
      return undefined;
    current.run.stepSeq += 1;
    current.run.stepClaims = 0;
    current.run.interruptHandledSeq = current.run.interruptSeq;
    current.run.watermark = Math.max(current.run.watermark, current.run.lastInputSeq);
    return markIdle(current, deps.clock.now(), awaiting);
  });
  if (saved && saved.before.rev !== saved.after.rev) await afterIdle(deps, saved.after, stop);
  await leaveRunningIndex(deps, claimed.workspaceId, sessionId);
}

const errorTypeOf = {
  rate_limited: "model_rate_limited_error",
  overloaded: "model_overloaded_error",
  server_error: "model_request_failed_error",
  timeout: "model_request_failed_error",
  invalid_request: "model_request_failed_error",
} as const;

/**
 * A failed step (most often its model call): retryable failures put the session in `rescheduling` and re-enqueue the same
 * step with a jittered delay; when retries run out (or the failure cannot be retried) the turn ends
 * with `session.error` and `session.status_idle` (`retries_exhausted`) — never a stuck session.
 */
async function handleStepFailure(deps: StepDeps, claimed: SessionRecord, error: unknown): Promise<void> {
  const { attempt, stepSeq } = claimed.run;
  const sessionId = claimed.session.id;
  const current = await deps.sessions.get(claimed.workspaceId, sessionId);
  // Failed after its commit (e.g. the enqueue): the step is done, and the sweeper re-nudges.
  if (!current || current.run.leaseOwner !== claimed.run.leaseOwner || current.run.stepSeq !== stepSeq)
    return;
  const fromModel = error instanceof ModelCallError;
  const failure = fromModel ? error : new ModelCallError("server_error", String(error), { cause: error });
  const retry = failure.retryable && canRetry(attempt, deps.retry);
  deps.logger.warn(fromModel ? "model call failed" : "step failed", {
    sessionId,
    stepSeq,
    attempt,
    kind: failure.kind,
    retry,
    error: fromModel ? undefined : String((error as Error)?.stack ?? error),
  });
  const now = new Date(deps.clock.now()).toISOString();
  const errorEvent: SessionEvent = {
    type: "session.error",
    id: deps.ids.next(idPrefix.event),
    processed_at: now,
    error: {
      type: fromModel ? errorTypeOf[failure.kind] : "unknown_error",
      message: failure.message,
      retry_status: { type: retry ? "retrying" : failure.retryable ? "exhausted" : "terminal" },
    },
  };
  if (!retry) {
    await emitOnce(deps.store, deps.events, sessionId, `error#${stepSeq}`, [errorEvent]);
    return finishTurn(deps, claimed, { type: "retries_exhausted" }, []);
  }
  const delaySeconds = retryDelaySeconds(attempt, deps.retry);
  await emitOnce(deps.store, deps.events, sessionId, `retry#${stepSeq}#${attempt}`, [
    errorEvent,
    { type: "session.status_rescheduled", id: deps.ids.next(idPrefix.event), processed_at: now },
  ]);
  const saved = await deps.sessions.mutate(claimed.workspaceId, sessionId, (current) => {
    if (current.run.leaseOwner !== claimed.run.leaseOwner || current.run.stepSeq !== stepSeq)
      return undefined;
    current.run.attempt = attempt + 1;
    current.run.leaseUntil = undefined;
    current.run.leaseOwner = undefined;
    current.run.nudgeAfter = deps.clock.now() + delaySeconds * 1000 + deps.leaseMs;
    current.session.status = "rescheduling";
    return current;
  });
  if (saved?.after.run.attempt === attempt + 1) {
    await deps.steps.send(stepMessage(claimed.workspaceId, sessionId, stepSeq), { delaySeconds });
  }
}
