/**
 * The `workflow_run.*` events of a run, each group written once under a fixed key (emitOnce), so a
 * redelivered message or a retried step writes nothing twice (DESIGN.md §5):
 *
 *     wf#<run>#created     workflow_run.created (with its phases), workflow_run.status_running
 *     wf#<run>#phase#<p>   workflow_run.phase_ended (the phase before, if it started), workflow_run.phase_started
 *     wf#<run>#end         workflow_run.phase_ended (the last phase that started), [workflow_run.error], workflow_run.status_ended
 *     wf#refused#<call>    workflow_run.error with workflow_run_id null (no run was created)
 *
 * Phases start in order (the plan runs them in sequence), so "the phase before" is the only one that
 * can be open when a phase starts.
 */
import { idPrefix } from "../../contract/ids.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import { emitOnce } from "../events/emit-once.js";
import type { EventLog } from "../events/event-log.js";
import type { DocumentStore, IdGenerator } from "../ports.js";
import type { WorkflowRun, WorkflowRunError, WorkflowRunResult } from "./workflow-run-record.js";

export interface WorkflowEventDeps {
  store: DocumentStore;
  events: EventLog;
  ids: IdGenerator;
}

const key = (runId: string, part: string) => `wf#${runId}#${part}`;
const eventId = (ids: IdGenerator) => ids.next(idPrefix.event);

/** `workflow_run.created` and `workflow_run.status_running`. */
export function emitRunCreated(deps: WorkflowEventDeps, run: WorkflowRun) {
  return emitOnce(deps.store, deps.events, run.sessionId, key(run.runId, "created"), [
    {
      type: "workflow_run.created",
      id: eventId(deps.ids),
      processed_at: run.createdAt,
      workflow_run_id: run.runId,
      name: run.name,
      description: run.description,
      phases: run.phases,
    },
    {
      type: "workflow_run.status_running",
      id: eventId(deps.ids),
      processed_at: run.createdAt,
      workflow_run_id: run.runId,
    },
  ] as SessionEvent[]);
}

/** The `phase_started` event of phase `p`, if it was written. */
async function phaseStartedId(
  deps: WorkflowEventDeps,
  run: WorkflowRun,
  p: number,
): Promise<string | undefined> {
  const recorded = await deps.store.get("resources", `once#${run.sessionId}`, key(run.runId, `phase#${p}`));
  const entries = (recorded?.entries ?? []) as Array<{ event: SessionEvent }>;
  return entries.find((e) => e.event.type === "workflow_run.phase_started")?.event.id;
}

/** Phase `p` starts (and phase `p - 1`, if it started, ends). */
export async function emitPhaseStarted(deps: WorkflowEventDeps, run: WorkflowRun, p: number, now: string) {
  const phase = run.phases[p];
  if (!phase) return;
  const events: SessionEvent[] = [];
  const previous = run.phases[p - 1];
  const previousStarted = previous ? await phaseStartedId(deps, run, p - 1) : undefined;
  if (previous && previousStarted)
    events.push({
      type: "workflow_run.phase_ended",
      id: eventId(deps.ids),
      processed_at: now,
      workflow_run_id: run.runId,
      workflow_run_phase_id: previous.id,
      phase_started_id: previousStarted,
    } as SessionEvent);
  events.push({
    type: "workflow_run.phase_started",
    id: eventId(deps.ids),
    processed_at: now,
    workflow_run_id: run.runId,
    workflow_run_phase_id: phase.id,
  } as SessionEvent);
  await emitOnce(deps.store, deps.events, run.sessionId, key(run.runId, `phase#${p}`), events);
}

/** The run ended: the last started phase ends, its error (if any), then `status_ended` carrying `resultText`. */
export async function emitRunEnded(
  deps: WorkflowEventDeps,
  run: WorkflowRun,
  result: WorkflowRunResult,
  now: string,
  resultText: string,
) {
  const events: SessionEvent[] = [];
  for (let p = run.phases.length - 1; p >= 0; p--) {
    const started = await phaseStartedId(deps, run, p);
    if (!started) continue;
    events.push({
      type: "workflow_run.phase_ended",
      id: eventId(deps.ids),
      processed_at: now,
      workflow_run_id: run.runId,
      workflow_run_phase_id: run.phases[p]?.id as string,
      phase_started_id: started,
    } as SessionEvent);
    break;
  }
  if (result.type === "error")
    events.push({
      type: "workflow_run.error",
      id: eventId(deps.ids),
      processed_at: now,
      workflow_run_id: run.runId,
      error: result.error,
    } as SessionEvent);
  events.push({
    type: "workflow_run.status_ended",
    id: eventId(deps.ids),
    processed_at: now,
    workflow_run_id: run.runId,
    result,
  } as SessionEvent);
  // The result text rides on status_ended, hidden from clients, for the agent's context (contextText).
  const internals = events.map((_e, i) => (i === events.length - 1 ? { workflowResult: resultText } : {}));
  return emitOnce(deps.store, deps.events, run.sessionId, key(run.runId, "end"), events, { internals });
}

/** An error kept a run from being created (a refused plan, the open-runs limit). */
export function emitRunRefused(
  deps: WorkflowEventDeps,
  sessionId: string,
  toolUseEventId: string,
  error: WorkflowRunError,
  now: string,
) {
  return emitOnce(deps.store, deps.events, sessionId, `wf#refused#${toolUseEventId}`, [
    {
      type: "workflow_run.error",
      id: eventId(deps.ids),
      processed_at: now,
      workflow_run_id: null,
      error,
    } as SessionEvent,
  ]);
}
