/**
 * Status transitions of a session and the events that announce them. Transitions are rev-checked
 * saves; the step's callers emit their announcements once (emitOnce) before committing.
 */

import { idPrefix } from "../../contract/ids.js";
import type { SessionEvent, SessionUsage } from "../../contract/sdk-types.js";
import { publishSessionEvent } from "../events/lifecycle-publishing.js";
import type { StoredItem } from "../ports.js";
import type { SessionRecord } from "../sessions/session-record.js";
import type { StepDeps, StopReason } from "./step-deps.js";
import { stepMessage } from "./step-message.js";

export type { StopReason };

const iso = (ms: number) => new Date(ms).toISOString();

/** Index of running sessions, for the sweeper. */
export const runningIndexKey = "running";

/**
 * A run's entry in the sweeper's index: a session's, or a child thread's, which names its session so
 * the sweeper can re-nudge it.
 */
export const runningIndexEntry = (workspaceId: string, runId: string, sessionId?: string): StoredItem => ({
  pk: runningIndexKey,
  sk: runId,
  workspaceId,
  ...(sessionId === undefined ? {} : { sessionId }),
});

export function usageSnapshotEvent(deps: StepDeps, record: SessionRecord): SessionEvent {
  return {
    type: "session.usage",
    id: deps.ids.next(idPrefix.event),
    processed_at: iso(deps.clock.now()),
    usage: { ...record.session.usage, active_seconds: Math.round(record.run.activeMs / 1000) },
    budget: record.session.budget,
  } as SessionEvent;
}

export function idleEvent(deps: StepDeps, stopReason: StopReason): SessionEvent {
  return {
    type: "session.status_idle",
    id: deps.ids.next(idPrefix.event),
    processed_at: iso(deps.clock.now()),
    stop_reason: stopReason,
    stop_details: null,
  };
}

/** Applies an idle transition to a record in memory (the caller saves it). */
export function markIdle(record: SessionRecord, now: number, awaiting: string[] = []): SessionRecord {
  const run = record.run;
  if (run.runningSince !== undefined) run.activeMs += Math.max(0, now - run.runningSince);
  run.runningSince = undefined;
  run.leaseUntil = undefined;
  run.leaseOwner = undefined;
  run.attempt = 0;
  run.awaiting = awaiting;
  run.workerWait = undefined;
  record.session.status = "idle";
  record.session.updated_at = iso(now);
  return record;
}

/** Applies a running transition to a record in memory (the caller saves it and enqueues the step). */
export function markRunning(record: SessionRecord, now: number, graceMs: number): SessionRecord {
  record.run.runningSince ??= now;
  record.run.nudgeAfter = now + graceMs;
  record.run.awaiting = [];
  record.session.status = "running";
  record.session.updated_at = iso(now);
  return record;
}

/**
 * Wakes an idle session because input arrived at `inputSeq`: status running, event, step enqueued
 * after the commit. Does nothing if the session is not idle (a running step will see the input).
 * `from`: the session as the caller read it moments ago, to start from (the save is rev-checked).
 * `mayWake`: a condition on the record the wake writes; when it fails nothing is written (a thread
 * whose task was cancelled, or which was archived, after its message was logged).
 */
export async function wakeSession(
  deps: StepDeps,
  workspaceId: string,
  sessionId: string,
  inputSeq: number,
  answered?: string,
  from?: SessionRecord,
  mayWake?: (current: SessionRecord) => boolean,
) {
  const now = deps.clock.now();
  const entry = runningIndexEntry(workspaceId, sessionId, deps.sessions.parentSessionId);
  const result = await deps.sessions.mutate(
    workspaceId,
    sessionId,
    (current) => {
      // The caller's condition, read in the wake's own conditional write (a task cancelled since).
      if (mayWake && !mayWake(current)) return undefined;
      if (current.run.lastInputSeq < inputSeq) current.run.lastInputSeq = inputSeq;
      if (answered === "*") current.run.awaiting = [];
      else if (answered) current.run.awaiting = current.run.awaiting.filter((id) => id !== answered);
      if (current.session.status !== "idle" || current.run.awaiting.length > 0) return current;
      return markRunning(current, now, deps.leaseMs);
    },
    {
      ...(from ? { from } : {}),
      // The running index entry goes with the transition, ahead of it: a process that dies right
      // after the save leaves the session where the sweeper looks for stalled runs (an entry whose
      // session did not turn running is dropped by the sweeper's next look).
      alongside: (before, after) => (woke(before, after) ? [{ table: "resources", item: entry }] : []),
    },
  );
  if (!result || !woke(result.before, result.after)) return;
  // The save is the wake's commit: the session is running and in the sweeper's index, so the turn
  // will run. Nothing after it may fail the caller: a request that fails here makes the SDK send its
  // input again (the model would read it twice), and a queue consumer would redo its work. What
  // fails is logged and left as a process dying here would leave it: the status event is missing,
  // and a step message that was not sent is the sweeper's to send once the wake's grace has passed.
  const afterCommit = async <T>(what: string, body: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await body();
    } catch (error) {
      deps.logger.warn(`waking a session: ${what} failed; the sweeper resumes the run`, {
        sessionId,
        error: String(error),
      });
      return undefined;
    }
  };
  // Where a group is not one write (DynamoDB: the entry, then the save), the turn before may have
  // left the index between the two: its leaveRunningIndex deleted this entry and read the run before
  // this save landed, so it saw an idle run and did not put the entry back. Looking again now, after
  // the save and before anything that may fail, closes that window (a stray entry for a run gone idle
  // since is the sweeper's to drop). On SQLite the group is one transaction and the look finds it.
  await afterCommit("the running index check", async () => {
    if (!(await deps.store.get("resources", runningIndexKey, sessionId)))
      await deps.store.put("resources", entry);
  });
  // Only the caller whose transition won gets here, once per input event: no emit-once marker needed.
  const [running] =
    (await afterCommit("appending session.status_running", () =>
      deps.events.append(sessionId, [
        { type: "session.status_running", id: deps.ids.next(idPrefix.event), processed_at: iso(now) },
      ]),
    )) ?? [];
  if (running) {
    // Best effort: a failure is logged, and must not keep the step from being enqueued.
    await publishSessionEvent(deps, workspaceId, sessionId, "session.status_run_started", running.event.id, {
      agent_id: result.after.session.agent.id,
    }).catch(() => undefined);
  }
  await afterCommit("enqueueing the step", () =>
    deps.steps.send(stepMessage(workspaceId, sessionId, result.after.run.stepSeq)),
  );
}

const woke = (before: SessionRecord, after: SessionRecord) =>
  before.session.status === "idle" && after.session.status === "running";

/**
 * Takes a run that went idle out of the sweeper's index, unless input woke it again meanwhile. A run
 * found running (or rescheduling) keeps its entry; otherwise the entry is deleted and the run read
 * again: a wake puts its entry ahead of its save, so a run found running now gets the entry back.
 * Without that second look, a wake between the first look and the delete would leave a running run
 * the sweeper never sees. (A process that dies between such a wake's delete and the put-back still
 * loses the entry: two rare events at once; the run's step message still runs the turn.)
 */
export async function leaveRunningIndex(deps: StepDeps, workspaceId: string, runId: string): Promise<void> {
  const active = async () => {
    const status = (await deps.sessions.get(workspaceId, runId))?.session.status;
    return status === "running" || status === "rescheduling";
  };
  if (await active()) return;
  await deps.store.delete("resources", runningIndexKey, runId);
  if (await active())
    await deps.store.put("resources", runningIndexEntry(workspaceId, runId, deps.sessions.parentSessionId));
}

/** Adds a model call's usage to the session's cumulative usage. */
export function addUsage(total: SessionUsage, add: SessionUsage): SessionUsage {
  return {
    ...total,
    input_tokens: (total.input_tokens ?? 0) + (add.input_tokens ?? 0),
    output_tokens: (total.output_tokens ?? 0) + (add.output_tokens ?? 0),
    cache_read_input_tokens: (total.cache_read_input_tokens ?? 0) + (add.cache_read_input_tokens ?? 0),
    cache_creation: {
      ephemeral_5m_input_tokens:
        (total.cache_creation?.ephemeral_5m_input_tokens ?? 0) +
        (add.cache_creation?.ephemeral_5m_input_tokens ?? 0),
      ephemeral_1h_input_tokens:
        (total.cache_creation?.ephemeral_1h_input_tokens ?? 0) +
        (add.cache_creation?.ephemeral_1h_input_tokens ?? 0),
    },
  };
}
