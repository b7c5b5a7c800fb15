/**
 * Deployment runs: each scheduled firing or run-now creates one session and one `deployment_run`
 * record linking them. Firings arrive at least once, and a process can die between any two writes
 * (DESIGN.md §5), so a run moves through single-item conditional writes that a retry can resume:
 *
 * 1. **Claim** (`drunkey#<deployment>` / run key, `expectedRev: 0`): the run id, the session id and
 *    the deployment's configuration are fixed here, once. A duplicate firing reads the same claim.
 * 2. **Session** created under the claimed id (its record is written with `expectedRev: 0`): a retry
 *    finds it and never makes a second one.
 * 3. **Run record** written once (`ifNotExists`), `deployment_run.started` published.
 * 4. **Initial events** sent one by one; a retry counts the ones already in the session's log and
 *    finishes the last one's wake-up before sending the rest, so none is sent twice.
 * 5. **Done**: the claim is closed, the pending index entry dropped, `deployment_run.succeeded`.
 *
 * A claim carries a lease, so a duplicate that arrives while the first is still working leaves it
 * alone; the sweeper finishes any claim whose worker died. A run that cannot create its session for
 * a reason the next firing would hit as well (an archived agent or environment, a missing vault, …)
 * records the error and — when the schedule fired it — pauses the deployment with that error.
 */
import type { DeploymentRun, DeploymentTriggerContext } from "../../contract/deployments.js";
import { deploymentRunIdPrefix } from "../../contract/deployments.js";
import { ApiError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { idPrefix } from "../../contract/ids.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import type { SessionCreateBody } from "../../contract/sessions.js";
import type { LoggedEvent } from "../events/event-log.js";
import type { EventsService } from "../events/events-service.js";
import { defineOutcome } from "../outcomes/outcome-lifecycle.js";
import { ConditionFailedError, type StoredItem } from "../ports.js";
import { wakeSession } from "../runtime/session-status.js";
import type { StepDeps } from "../runtime/step-deps.js";
import type { SessionsService } from "../sessions/sessions-service.js";
import {
  DeploymentRepository,
  DeploymentRunRepository,
  pendingRunsKey,
  type RunClaim,
  type RunConfig,
  runClaimKey,
  runClaimSchema,
  type StoredDeployment,
} from "./deployment-record.js";
import { type DeploymentFiring, type DeploymentScheduleTrigger, syncTrigger } from "./deployment-trigger.js";
import { findEarlierRunNow, markRunNow, type RunNowAttempt } from "./run-now-attempts.js";

/** The error a run records when it could not create its session (the SDK's run error union). */
export type RunError = NonNullable<DeploymentRun["error"]>;
export type RunErrorType = RunError["type"];

/**
 * Errors that auto-pause a scheduled deployment (the SDK's paused-reason union): the next firing
 * would fail the same way. Rate limiting and a rejected session request do not pause it.
 */
const PAUSING: ReadonlySet<RunErrorType> = new Set<RunErrorType>([
  "environment_archived_error",
  "agent_archived_error",
  "environment_not_found_error",
  "vault_not_found_error",
  "file_not_found_error",
  "session_resource_not_found_error",
  "workspace_archived_error",
  "organization_disabled_error",
  "memory_store_archived_error",
  "skill_not_found_error",
  "vault_archived_error",
  "unknown_error",
  "self_hosted_resources_unsupported_error",
  "mcp_egress_blocked_error",
]);

export const pausesDeployment = (type: RunErrorType) => PAUSING.has(type);

/** What a run checks before it creates its session, so a failure is named precisely. */
export interface RunChecks {
  /** undefined: no such environment. */
  environment(ws: string, id: string): Promise<{ archived: boolean; selfHosted: boolean } | undefined>;
  /** undefined: no such agent (or version). `archived` is the agent's, not the version's. */
  agent(ws: string, id: string, version: number): Promise<{ archived: boolean } | undefined>;
  /** false: no such file. */
  file(ws: string, id: string): Promise<boolean>;
  memoryStore(ws: string, id: string): Promise<{ archived: boolean } | undefined>;
  /** Absent where vaults are not served (a run with vault_ids then fails at session creation). */
  vault?(ws: string, id: string): Promise<{ archived: boolean } | undefined>;
}

export interface DeploymentRunnerDeps {
  /** The runtime's dependencies (store, event log, ids, clock, domain events, the step queue). */
  step: StepDeps;
  sessions: Pick<SessionsService, "create">;
  events: Pick<EventsService, "send" | "fileRubrics">;
  checks: RunChecks;
  trigger: DeploymentScheduleTrigger;
  /** How long a worker holds a claim (a run takes a few seconds); default 60 s. */
  leaseMs?: number;
  /** Attempts at one claim before it is recorded as failed (`unknown_error`); default 5. */
  maxAttempts?: number;
}

export type RunOutcome =
  | { kind: "started"; run: DeploymentRun }
  | { kind: "failed"; run: DeploymentRun }
  /** Another delivery of the same firing is working on it now. */
  | { kind: "in_progress"; runId: string }
  | { kind: "skipped"; reason: string };

export class DeploymentRunner {
  private readonly deployments: DeploymentRepository;
  private readonly runs: DeploymentRunRepository;
  private readonly leaseMs: number;
  private readonly maxAttempts: number;

  constructor(private readonly d: DeploymentRunnerDeps) {
    this.deployments = new DeploymentRepository(d.step.store);
    this.runs = new DeploymentRunRepository(d.step.store);
    this.leaseMs = d.leaseMs ?? 60_000;
    this.maxAttempts = d.maxAttempts ?? 5;
  }

  private now(): number {
    return this.d.step.clock.now();
  }

  /**
   * One scheduled firing: at most one run per (deployment, scheduled time), however often it is
   * delivered. A firing of a paused, archived or since-replaced schedule starts nothing.
   */
  async fire(firing: DeploymentFiring): Promise<RunOutcome> {
    const { workspaceId, deploymentId } = firing;
    const scheduledAt = new Date(firing.scheduledTime).toISOString();
    const existing = await this.claim(deploymentId, scheduledAt);
    if (!existing) {
      const item = await this.deployments.find(workspaceId, deploymentId);
      if (!item) return { kind: "skipped", reason: "no such deployment" };
      const { deployment } = item;
      if (deployment.archived_at) return { kind: "skipped", reason: "deployment archived" };
      if (!deployment.schedule) return { kind: "skipped", reason: "deployment has no schedule" };
      if (item.scheduleRev !== firing.scheduleRev)
        return { kind: "skipped", reason: "the schedule was replaced since this firing was set" };
      if (deployment.status !== "active") return { kind: "skipped", reason: "deployment paused" };
    }
    const claim =
      existing ??
      (await this.newClaim(
        workspaceId,
        deploymentId,
        scheduledAt,
        { type: "schedule", scheduled_at: scheduledAt },
        { scheduleRev: firing.scheduleRev },
      ));
    if (!claim) return { kind: "skipped", reason: "deployment archived" };
    return this.execute(claim);
  }

  /**
   * Run now (manual): a new run whatever the deployment's status, unless it is archived. A retry of
   * a run-now whose answer was lost (`attempt`; see run-now-attempts.ts) starts nothing: it finishes
   * the earlier attempt's run (a claim it may have died before writing) and answers with it.
   */
  async runNow(
    workspaceId: string,
    deploymentId: string,
    attempt: RunNowAttempt = { retry: false },
  ): Promise<DeploymentRun> {
    const store = this.d.step.store;
    const earlier = await findEarlierRunNow(store, workspaceId, deploymentId, attempt, this.now());
    const runId = earlier ?? this.d.step.ids.next(deploymentRunIdPrefix);
    const key = `manual#${runId}`;
    // Recorded before the claim: a retry of an attempt that died in between claims the same run. A
    // deployment that is not there is a 404 first, and leaves no mark behind.
    const read = earlier === undefined ? await this.deployments.get(workspaceId, deploymentId) : undefined;
    if (read) await markRunNow(store, workspaceId, deploymentId, runId, attempt, this.now());
    const claimed = earlier === undefined ? undefined : await this.claim(deploymentId, key);
    const claim =
      claimed ??
      (await this.newClaim(
        workspaceId,
        deploymentId,
        key,
        { type: "manual" },
        { runId, deployment: read?.deployment },
      ));
    if (!claim) throw new InvalidRequestError(`deployment ${deploymentId} is archived: it cannot run`);
    const outcome = await this.execute(claim);
    if (outcome.kind === "started" || outcome.kind === "failed") return outcome.run;
    throw new ApiError(
      "api_error",
      `run ${claim.runId} could not finish now; it is retried in the background`,
    );
  }

  /**
   * Finishes claims whose worker died (a crash, a timeout): those pending since before
   * `olderThanMs` ago. Returns how many it finished.
   */
  async sweep(olderThanMs = 2 * this.leaseMs): Promise<number> {
    let finished = 0;
    const cutoff = this.now() - olderThanMs;
    for (const entry of await this.d.step.store.query("resources", pendingRunsKey)) {
      if (Number(entry.createdAtMs ?? 0) > cutoff) continue;
      const claim = await this.claim(String(entry.deploymentId), String(entry.key));
      if (!claim) {
        // A firing whose worker died before its claim: fire it again (a run-now's caller saw its
        // call fail, and makes a run of its own).
        const firing = firingOf(entry);
        if (firing) {
          try {
            const outcome = await this.fire(firing);
            if (outcome.kind === "started" || outcome.kind === "failed") finished++;
            if (outcome.kind !== "skipped") continue;
          } catch (error) {
            this.d.step.logger.warn("deployment firing still failing; retried at the next sweep", {
              deploymentId: firing.deploymentId,
              scheduledTime: firing.scheduledTime,
              error: String(error),
            });
            continue;
          }
        }
      }
      if (!claim || claim.phase === "done") {
        await this.d.step.store.delete("resources", pendingRunsKey, entry.sk);
        continue;
      }
      try {
        const outcome = await this.execute(claim);
        if (outcome.kind !== "in_progress") finished++;
      } catch (error) {
        this.d.step.logger.warn("deployment run still failing; retried at the next sweep", {
          runId: claim.runId,
          error: String(error),
        });
      }
    }
    return finished;
  }

  // ------------------------------------------------------------------ claims

  private async claim(deploymentId: string, key: string): Promise<RunClaim | undefined> {
    const item = await this.d.step.store.get("resources", runClaimKey(deploymentId), key);
    return item ? { ...runClaimSchema.parse(item), rev: Number(item.rev) } : undefined;
  }

  /**
   * Claims a run key (once; a duplicate reads the first claim). undefined: the deployment is archived.
   * `scheduleRev`: a scheduled firing's, kept in the pending entry so the sweeper can fire it again.
   */
  private async newClaim(
    workspaceId: string,
    deploymentId: string,
    key: string,
    trigger: DeploymentTriggerContext,
    {
      runId = this.d.step.ids.next(deploymentRunIdPrefix),
      scheduleRev,
      deployment: known,
    }: { runId?: string; scheduleRev?: number; deployment?: StoredDeployment } = {},
  ): Promise<RunClaim | undefined> {
    // `known`: the deployment as the caller has just read it.
    const deployment = known ?? (await this.deployments.get(workspaceId, deploymentId)).deployment;
    if (deployment.archived_at) return undefined;
    const claim: RunClaim = {
      schemaVersion: 1,
      workspaceId,
      deploymentId,
      key,
      runId,
      sessionId: this.d.step.ids.next(idPrefix.session),
      trigger,
      config: configOf(deployment),
      phase: "pending",
      attempts: 0,
      createdAt: new Date(this.now()).toISOString(),
      rev: 1,
    };
    // The pending entry first: a crash right after the claim still leaves the sweeper a way to it.
    await this.d.step.store.put("resources", {
      pk: pendingRunsKey,
      sk: `${workspaceId}#${deploymentId}#${key}`,
      workspaceId,
      deploymentId,
      key,
      createdAtMs: this.now(),
      ...(scheduleRev === undefined ? {} : { scheduleRev }),
    });
    try {
      await this.d.step.store.put("resources", claimItem(claim), { expectedRev: 0 });
      return claim;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      return (await this.claim(deploymentId, key)) as RunClaim;
    }
  }

  /** Takes the claim's lease, or says who has it. */
  private async lease(claim: RunClaim): Promise<RunClaim | "held" | "done"> {
    let current = claim;
    for (;;) {
      if (current.phase === "done") return "done";
      if (current.leaseUntil !== undefined && current.leaseUntil > this.now()) return "held";
      const next: RunClaim = {
        ...current,
        attempts: current.attempts + 1,
        leaseUntil: this.now() + this.leaseMs,
        leaseOwner: this.d.step.ids.next("lease"),
        rev: current.rev + 1,
      };
      try {
        await this.d.step.store.put("resources", claimItem(next), { expectedRev: current.rev });
        return next;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        current = (await this.claim(claim.deploymentId, claim.key)) as RunClaim;
      }
    }
  }

  private async close(claim: RunClaim): Promise<void> {
    const done: RunClaim = {
      ...claim,
      phase: "done",
      leaseUntil: undefined,
      leaseOwner: undefined,
      rev: claim.rev + 1,
    };
    try {
      await this.d.step.store.put("resources", claimItem(done), { expectedRev: claim.rev });
    } catch (error) {
      // Someone took the lease over after ours ran out: it finishes (and closes) the same run.
      if (!(error instanceof ConditionFailedError)) throw error;
    }
    await this.d.step.store.delete(
      "resources",
      pendingRunsKey,
      `${claim.workspaceId}#${claim.deploymentId}#${claim.key}`,
    );
  }

  // ------------------------------------------------------------------ one run

  private async execute(claim: RunClaim): Promise<RunOutcome> {
    const leased = await this.lease(claim);
    if (leased === "held") return { kind: "in_progress", runId: claim.runId };
    if (leased === "done") {
      const run = await this.runs.get(claim.workspaceId, claim.runId);
      if (!run) return { kind: "in_progress", runId: claim.runId };
      return run.error ? { kind: "failed", run } : { kind: "started", run };
    }
    const { workspaceId, sessionId } = leased;
    const existing = await this.d.step.sessions.get(workspaceId, sessionId);
    if (!existing) {
      const problem =
        leased.attempts > this.maxAttempts
          ? {
              type: "unknown_error" as const,
              message: `the run failed ${this.maxAttempts} times; see the logs`,
            }
          : ((await this.check(workspaceId, leased.config)) ?? (await this.createSession(leased)));
      if (problem) return this.fail(leased, problem);
    }
    const run = await this.runs.putOnce(
      workspaceId,
      this.runOf(leased, { session_id: sessionId, error: null }),
    );
    await this.publish(leased, "deployment_run.started", "started", run.id);
    if (leased.trigger.type === "schedule") await this.markLastRun(leased, run.created_at);
    await this.deliverInitialEvents(workspaceId, sessionId, leased.config.initial_events);
    await this.publish(leased, "deployment_run.succeeded", "succeeded", run.id);
    await this.close(leased);
    return { kind: "started", run };
  }

  private runOf(claim: RunClaim, outcome: Pick<DeploymentRun, "session_id" | "error">): DeploymentRun {
    return {
      id: claim.runId,
      type: "deployment_run",
      agent: claim.config.agent,
      created_at: new Date(this.now()).toISOString(),
      deployment_id: claim.deploymentId,
      trigger_context: claim.trigger,
      ...outcome,
    };
  }

  /** Finds what would make the session fail, before it is created (precise error types). */
  private async check(ws: string, config: RunConfig): Promise<RunError | undefined> {
    const c = this.d.checks;
    const environment = await c.environment(ws, config.environment_id);
    if (!environment)
      return {
        type: "environment_not_found_error",
        message: `environment ${config.environment_id} no longer exists`,
      };
    if (environment.archived)
      return {
        type: "environment_archived_error",
        message: `environment ${config.environment_id} is archived`,
      };
    const agent = await c.agent(ws, config.agent.id, config.agent.version);
    if (!agent)
      return {
        type: "session_resource_not_found_error",
        message: `agent ${config.agent.id} version ${config.agent.version} no longer exists`,
      };
    if (agent.archived)
      return { type: "agent_archived_error", message: `agent ${config.agent.id} is archived` };
    if (environment.selfHosted && config.resources.some((r) => r.type !== "memory_store"))
      return {
        type: "self_hosted_resources_unsupported_error",
        message: `environment ${config.environment_id} is self-hosted: it cannot mount file or github_repository resources`,
      };
    for (const r of config.resources) {
      if (r.type === "file" && !(await c.file(ws, String(r.file_id))))
        return { type: "file_not_found_error", message: `file ${String(r.file_id)} no longer exists` };
      if (r.type === "memory_store") {
        const store = await c.memoryStore(ws, String(r.memory_store_id));
        if (!store)
          return {
            type: "session_resource_not_found_error",
            message: `memory store ${String(r.memory_store_id)} no longer exists`,
          };
        if (store.archived)
          return {
            type: "memory_store_archived_error",
            message: `memory store ${String(r.memory_store_id)} is archived`,
          };
      }
    }
    for (const id of config.vault_ids) {
      if (!c.vault) break;
      const vault = await c.vault(ws, id);
      if (!vault) return { type: "vault_not_found_error", message: `vault ${id} no longer exists` };
      if (vault.archived) return { type: "vault_archived_error", message: `vault ${id} is archived` };
    }
    for (const [i, event] of config.initial_events.entries()) {
      const rubric = (event as { rubric?: { type: string; file_id?: string } }).rubric;
      if (rubric?.type === "file" && rubric.file_id && !(await c.file(ws, rubric.file_id)))
        return {
          type: "file_not_found_error",
          message: `initial_events.${i}: rubric file ${rubric.file_id} no longer exists`,
        };
    }
    return undefined;
  }

  /** Creates the run's session under its claimed id; returns the error a refusal maps to. */
  private async createSession(claim: RunClaim): Promise<RunError | undefined> {
    const { config } = claim;
    const body = {
      agent: config.agent,
      environment_id: config.environment_id,
      resources: config.resources,
      vault_ids: config.vault_ids,
      ...(config.budget ? { budget: config.budget } : {}),
    } as SessionCreateBody;
    try {
      await this.d.sessions.create(claim.workspaceId, body, {
        sessionId: claim.sessionId,
        deploymentId: claim.deploymentId,
      });
      return undefined;
    } catch (error) {
      // Another worker created it after our check (its lease ran out under it): the same session.
      if (error instanceof ConditionFailedError) return undefined;
      if (error instanceof NotFoundError)
        return { type: notFoundType(error.message), message: error.message };
      const archived = ARCHIVED_ERRORS[(error as Error).name];
      if (archived) return { type: archived, message: (error as Error).message };
      if (error instanceof ApiError && error.type === "rate_limit_error")
        return { type: "session_rate_limited_error", message: error.message };
      if (error instanceof ApiError && error.status < 500)
        return { type: "session_creation_rejected_error", message: error.message };
      throw error;
    }
  }

  private async fail(claim: RunClaim, error: RunError): Promise<RunOutcome> {
    const run = await this.runs.putOnce(claim.workspaceId, this.runOf(claim, { session_id: null, error }));
    if (claim.trigger.type === "schedule" && run.error && pausesDeployment(run.error.type))
      await this.autoPause(claim, run.error.type, run.created_at);
    await this.publish(claim, "deployment_run.failed", "failed", run.id);
    await this.close(claim);
    this.d.step.logger.warn("deployment run failed", {
      deploymentId: claim.deploymentId,
      runId: run.id,
      error: run.error,
    });
    return { kind: "failed", run };
  }

  /**
   * Pauses an active deployment with the error that a scheduled run hit (once: later runs see it
   * paused). A retry of the failed run (its worker died after pausing, before closing the claim)
   * leaves alone a deployment changed since the run failed (`failedAt`): one the user has unpaused
   * or re-pointed is not paused again for a failure it has already answered.
   */
  private async autoPause(claim: RunClaim, type: RunErrorType, failedAt: string): Promise<void> {
    const { workspaceId, deploymentId } = claim;
    const result = await this.deployments.change(workspaceId, deploymentId, (current) => {
      const d = current.deployment;
      if (d.archived_at || d.status !== "active" || d.updated_at > failedAt) return undefined;
      const paused: StoredDeployment = {
        ...d,
        status: "paused",
        paused_reason: { type: "error", error: { type } } as StoredDeployment["paused_reason"],
        updated_at: new Date(this.now()).toISOString(),
      };
      return { deployment: paused, scheduleRev: current.scheduleRev };
    });
    // The trigger follows the record even on a retry that finds the pause already written.
    const { deployment, scheduleRev } = result.after;
    if (deployment.status === "paused")
      await syncTrigger(this.d.trigger, workspaceId, deployment, scheduleRev);
    // Published again by a retry that finds the pause it wrote (same id): never lost, deduped downstream.
    const reason = deployment.paused_reason;
    if (result.changed || (reason?.type === "error" && reason.error.type === type))
      await this.publish(claim, "deployment.paused", "paused", deploymentId);
  }

  /** `schedule.last_run_at`: when the newest scheduled run started (never moved backwards). */
  private async markLastRun(claim: RunClaim, startedAt: string): Promise<void> {
    await this.deployments.change(claim.workspaceId, claim.deploymentId, (current) => {
      const schedule = current.deployment.schedule;
      if (!schedule || (schedule.last_run_at && schedule.last_run_at >= startedAt)) return undefined;
      return {
        deployment: { ...current.deployment, schedule: { ...schedule, last_run_at: startedAt } },
        scheduleRev: current.scheduleRev,
      };
    });
  }

  /**
   * Sends the initial events that are not in the session's log yet. Each one is sent alone and in
   * order, so those already logged are a prefix; the last of them may have been cut off between
   * being logged and waking the session, so that wake-up is finished first (both are idempotent).
   */
  private async deliverInitialEvents(
    workspaceId: string,
    sessionId: string,
    initial: RunConfig["initial_events"],
  ): Promise<void> {
    const step = this.d.step;
    const logged = (await step.events.read(sessionId, { limit: 2000 })).filter(
      (e) => e.event.type === "user.message" || e.event.type === "user.define_outcome",
    );
    const last = logged.at(-1);
    if (last) await this.finishAct(workspaceId, sessionId, last);
    for (const event of initial.slice(logged.length)) {
      try {
        await this.d.events.send(workspaceId, sessionId, [event]);
      } catch (error) {
        // The session exists, so the run stands; an event the session refuses now is logged, not retried.
        if (!(error instanceof ApiError) || error.status >= 500) throw error;
        step.logger.error("a deployment's initial event was refused", { sessionId, error: error.message });
      }
    }
  }

  private async finishAct(workspaceId: string, sessionId: string, logged: LoggedEvent): Promise<void> {
    const step = this.d.step;
    if (logged.event.type === "user.define_outcome") {
      const echo = logged.event as Extract<SessionEvent, { type: "user.define_outcome" }>;
      try {
        await defineOutcome(step, workspaceId, sessionId, echo, logged.seq, logged.internals.rubricText);
      } catch (error) {
        // Refused when it was sent (an outcome that no longer fit the session's budget): refused again.
        if (!(error instanceof ApiError) || error.status >= 500) throw error;
      }
      return;
    }
    const record = await step.sessions.get(workspaceId, sessionId);
    if (record && record.run.lastInputSeq < logged.seq)
      await wakeSession(step, workspaceId, sessionId, logged.seq, "*");
  }

  /**
   * Publishes a domain event whose id is fixed by the run: published before the step that follows
   * it is recorded, so a retry publishes the same event again (receivers dedupe on the id) and a
   * failure to publish is retried with the run rather than lost.
   */
  private async publish(claim: RunClaim, type: string, suffix: string, subjectId: string): Promise<void> {
    await this.d.step.domainEvents.publish({
      type,
      id: `wevt_${claim.runId.replace(/^drun_/, "")}_${suffix}`,
      workspaceId: claim.workspaceId,
      createdAt: new Date(this.now()).toISOString(),
      data: type.startsWith("deployment_run.")
        ? { id: subjectId, deployment_id: claim.deploymentId }
        : { id: subjectId },
    });
  }
}

/** Refusals of session creation that name what is archived, by error class. */
const ARCHIVED_ERRORS: Record<string, RunErrorType | undefined> = {
  VaultArchivedError: "vault_archived_error",
  MemoryStoreArchivedError: "memory_store_archived_error",
};

/** A NotFoundError's message starts with the kind of thing missing (`vault vlt_… not found`). */
function notFoundType(message: string): RunErrorType {
  const kind = message.slice(0, message.indexOf(" "));
  if (kind === "vault") return "vault_not_found_error";
  if (kind === "file") return "file_not_found_error";
  if (kind === "skill") return "skill_not_found_error";
  if (kind === "environment") return "environment_not_found_error";
  return "session_resource_not_found_error";
}

/** The deployment's run configuration, frozen into a claim. */
function configOf(deployment: StoredDeployment): RunConfig {
  return {
    agent: deployment.agent,
    environment_id: deployment.environment_id,
    resources: deployment.resources as unknown as RunConfig["resources"],
    vault_ids: deployment.vault_ids,
    budget: deployment.budget ?? null,
    initial_events: deployment.initial_events,
  };
}

function claimItem(claim: RunClaim): StoredItem {
  const { rev, ...rest } = claim;
  const item: StoredItem = { pk: runClaimKey(claim.deploymentId), sk: claim.key, rev, ...rest };
  if (item.leaseUntil === undefined) delete item.leaseUntil;
  if (item.leaseOwner === undefined) delete item.leaseOwner;
  return item;
}

/** The scheduled firing a pending entry was written for, if it was one (entries since scheduleRev). */
function firingOf(entry: StoredItem): DeploymentFiring | undefined {
  if (typeof entry.scheduleRev !== "number" || typeof entry.workspaceId !== "string") return undefined;
  return {
    schemaVersion: 1,
    workspaceId: entry.workspaceId,
    deploymentId: String(entry.deploymentId),
    scheduledTime: String(entry.key),
    scheduleRev: entry.scheduleRev,
  };
}
