/**
 * The sweeper: finds running sessions whose step lease expired (or that never got their step
 * message) and re-nudges them. Duplicate nudges are harmless: a step claims the session first.
 */
import type { StoredItem } from "../ports.js";
import type { SessionRepository } from "../sessions/session-record.js";
import { leaveRunningIndex, runningIndexKey } from "./session-status.js";
import type { StepDeps } from "./step-deps.js";
import { stepMessage } from "./step-message.js";

export async function sweepStalledSessions(
  deps: StepDeps,
): Promise<{ checked: number; nudged: number; failed: number }> {
  const entries = await deps.store.query("resources", runningIndexKey);
  let nudged = 0;
  let failed = 0;
  for (const entry of entries) {
    // One entry that cannot be handled (a storage error, a bug) must not stop the others' recovery.
    try {
      if (await sweepEntry(deps, entry)) nudged++;
    } catch (error) {
      failed++;
      deps.logger.error("sweeping a running entry failed", { runId: String(entry.sk), error: String(error) });
    }
  }
  return { checked: entries.length, nudged, failed };
}

/**
 * The deps of the run a running-index entry names: a child thread's entry names its session too
 * (threads/threads-runtime.ts), and its run record, queue addressing and extensions are the thread's.
 */
async function entryScope(deps: StepDeps, entry: StoredItem) {
  const runId = String(entry.sk);
  const workspaceId = String(entry.workspaceId);
  const parentId = typeof entry.sessionId === "string" ? entry.sessionId : undefined;
  if (!parentId) return { runId, workspaceId, parentId, scoped: deps };
  if (!deps.threads) throw new Error(`thread ${runId} of ${parentId}: threads are not wired here`);
  const scoped = await deps.threads.depsFor(deps, stepMessage(workspaceId, parentId, 0, runId));
  return { runId, workspaceId, parentId, scoped };
}

/** Re-nudges one running session or thread if its lease expired; true when it sent a nudge. */
async function sweepEntry(deps: StepDeps, entry: StoredItem): Promise<boolean> {
  const { runId: sessionId, workspaceId, parentId, scoped } = await entryScope(deps, entry);
  const runs: SessionRepository = scoped.sessions;
  const now = deps.clock.now();
  let waitsOnWorker: string | undefined;
  const result = await runs.mutate(workspaceId, sessionId, (current) => {
    const active = current.session.status === "running" || current.session.status === "rescheduling";
    if (!active) return undefined;
    waitsOnWorker = current.run.workerWait ? current.session.environment_id : undefined;
    if (Math.max(current.run.leaseUntil ?? 0, current.run.nudgeAfter ?? 0) > now) return undefined;
    current.run.nudgeAfter = now + deps.leaseMs;
    return current;
  });
  // A session waiting on a worker keeps a live work item (one stopped meanwhile is replaced).
  if (waitsOnWorker && !parentId) await deps.work?.ensureWork(workspaceId, waitsOnWorker, sessionId);
  const after = result?.after;
  if (!after || (after.session.status !== "running" && after.session.status !== "rescheduling")) {
    if (after && parentId) await deps.threads?.recoverIdleThread(deps, workspaceId, parentId, sessionId);
    await leaveRunningIndex(scoped, workspaceId, sessionId);
    return false;
  }
  if (result.before.rev === after.rev) return false;
  deps.logger.info("re-nudging stalled session", { sessionId, stepSeq: after.run.stepSeq });
  for (const extension of scoped.extensions ?? [])
    if (await extension.nudgeStalled?.(scoped, after)) return true;
  await scoped.steps.send(stepMessage(workspaceId, sessionId, after.run.stepSeq));
  return true;
}

/**
 * Embedded stack, at start: every lease still held belongs to a process that died (one process owns
 * a data dir), so each running session's or thread's step lease — and a grader's — is released at
 * once and the run re-nudged now, instead of waiting for the dead lease to expire. The time the stack
 * was down is not counted in `active_seconds`: the run's clock restarts now, keeping what it had
 * counted up to its last claim. Returns the ids it resumed.
 */
export async function resumeRunsAtBoot(deps: StepDeps): Promise<string[]> {
  const now = deps.clock.now();
  const resumed: string[] = [];
  for (const entry of await deps.store.query("resources", runningIndexKey)) {
    const runId = String(entry.sk);
    try {
      const { scoped } = await entryScope(deps, entry);
      const result = await scoped.sessions.mutate(String(entry.workspaceId), runId, (current) => {
        const active = current.session.status === "running" || current.session.status === "rescheduling";
        if (!active) return undefined;
        const run = current.run;
        // The last moment the dead process is known to have worked on the run: its last claim.
        const lastAlive = run.leaseUntil !== undefined ? run.leaseUntil - deps.leaseMs : undefined;
        if (run.runningSince !== undefined && lastAlive !== undefined && lastAlive > run.runningSince)
          run.activeMs += lastAlive - run.runningSince;
        if (run.runningSince !== undefined) run.runningSince = now;
        run.leaseUntil = undefined;
        run.leaseOwner = undefined;
        if (run.grading) {
          run.grading.leaseUntil = undefined;
          run.grading.leaseOwner = undefined;
        }
        // A step waiting on a worker or parked (a fan-out) keeps its own deadline; anything else goes now.
        if (!run.workerWait && run.parkedStep === undefined) run.nudgeAfter = now;
        return current;
      });
      if (result) resumed.push(runId);
    } catch (error) {
      deps.logger.error("releasing a lease at start failed", { runId, error: String(error) });
    }
  }
  return resumed;
}
