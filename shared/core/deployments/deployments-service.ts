/**
 * `/v1/deployments` (create, retrieve, update, list, archive, pause, unpause, run) and
 * `/v1/deployment_runs` (retrieve, list). A deployment binds an agent version to an environment,
 * resources, vaults, initial events and an optional cron schedule; each run creates a session
 * (deployment-runner.ts). The stored deployment is the source of truth; its trigger (EventBridge
 * Scheduler / the local timer) is brought in line after every change, and re-synced by any retried
 * call, so a crash between the two is repaired by the client's retry and a stale firing is dropped
 * by its schedule revision.
 */
import {
  type Deployment,
  type DeploymentCreateBody,
  type DeploymentListQuery,
  type DeploymentRun,
  type DeploymentRunListQuery,
  type DeploymentUpdateBody,
  deploymentIdPrefix,
  type InitialEventParams,
  type ScheduleParams,
} from "../../contract/deployments.js";
import { InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { applyMetadataPatch } from "../../contract/validation.js";
import { publishLifecycleEvent } from "../events/resource-lifecycle.js";
import { collectPage, createdAtFilter, decodeCursor, type PageCursorBody } from "../paging.js";
import type { Clock, DomainEvents, IdGenerator, Logger } from "../ports.js";
import { listPrice } from "../runtime/budget.js";
import { checkTimezone, nextCronTimes, parseCronExpression } from "./cron-schedule.js";
import type {
  DeploymentItem,
  DeploymentRepository,
  DeploymentRunRepository,
  StoredDeployment,
} from "./deployment-record.js";
import type { DeploymentRunner } from "./deployment-runner.js";
import {
  type DeploymentScheduleTrigger,
  type DeploymentTriggerSpec,
  syncTrigger,
  triggerSpecOf,
} from "./deployment-trigger.js";
import type { RunNowAttempt } from "./run-now-attempts.js";

/** How many upcoming firings a deployment shows (SDK: "Up to 5"). */
export const UPCOMING_RUNS = 5;

type AgentRef = DeploymentCreateBody["agent"];

/** What a deployment's references are checked against when it is created or changed. */
export interface DeploymentReferences {
  /** Pins `agent` to a version (an id pins the latest); 404 if missing, 400 if archived. */
  pinAgent(ws: string, ref: AgentRef): Promise<{ id: string; version: number; model: string }>;
  /** 404 if missing, 400 if archived; whether it is self-hosted. */
  environment(ws: string, id: string): Promise<{ selfHosted: boolean }>;
  /** Checks resources as a session would resolve them (each exists, is attachable). */
  resources(ws: string, resources: NonNullable<DeploymentCreateBody["resources"]>): Promise<void>;
  /** Checks vaults (each exists and is not archived); absent where vaults are not served. */
  vaults?(ws: string, ids: readonly string[]): Promise<void>;
  /** Checks initial events as a session's first events (outcome limits, rubric files). */
  initialEvents(ws: string, events: readonly InitialEventParams[]): Promise<void>;
}

export interface DeploymentsServiceDeps {
  repository: DeploymentRepository;
  runs: DeploymentRunRepository;
  runner: DeploymentRunner;
  trigger: DeploymentScheduleTrigger;
  references: DeploymentReferences;
  publisher: { domainEvents: DomainEvents; ids: IdGenerator; clock: Clock; logger: Logger };
}

export class DeploymentsService {
  constructor(private readonly d: DeploymentsServiceDeps) {}

  private now(): string {
    return new Date(this.d.publisher.clock.now()).toISOString();
  }

  async create(ws: string, body: DeploymentCreateBody): Promise<Deployment> {
    const schedule = body.schedule ? checkSchedule(body.schedule) : null;
    const agent = await this.d.references.pinAgent(ws, body.agent);
    const environment = await this.d.references.environment(ws, body.environment_id);
    const resources = body.resources ?? [];
    checkSelfHosted(environment, resources);
    await this.d.references.resources(ws, resources);
    if (body.vault_ids?.length) await this.checkVaults(ws, body.vault_ids);
    await this.d.references.initialEvents(ws, body.initial_events as InitialEventParams[]);
    if (body.budget) checkBudgetable(agent.model);
    const now = this.now();
    const deployment: StoredDeployment = {
      id: this.d.publisher.ids.next(deploymentIdPrefix),
      type: "deployment",
      agent: { type: "agent", id: agent.id, version: agent.version },
      archived_at: null,
      created_at: now,
      updated_at: now,
      description: body.description || null,
      environment_id: body.environment_id,
      initial_events: body.initial_events as StoredDeployment["initial_events"],
      metadata: body.metadata ?? {},
      name: body.name,
      paused_reason: null,
      resources: resources as StoredDeployment["resources"],
      schedule: schedule && { ...schedule, last_run_at: null },
      status: "active",
      vault_ids: body.vault_ids ?? [],
      ...(body.budget ? { budget: body.budget } : {}),
    };
    await this.d.repository.create(ws, deployment);
    await this.d.repository.index(ws, deployment);
    await syncTrigger(this.d.trigger, ws, deployment, 1);
    await publishLifecycleEvent(this.d.publisher, "deployment.created", ws, deployment.id);
    return this.present(deployment);
  }

  async retrieve(ws: string, id: string): Promise<Deployment> {
    return this.present((await this.d.repository.get(ws, id)).deployment);
  }

  async update(ws: string, id: string, body: DeploymentUpdateBody): Promise<Deployment> {
    const current = (await this.d.repository.get(ws, id)).deployment;
    if (current.archived_at)
      throw new InvalidRequestError(`deployment ${id} is archived: it cannot be updated`);
    const schedule = body.schedule ? checkSchedule(body.schedule) : body.schedule;
    const agent = body.agent === undefined ? undefined : await this.d.references.pinAgent(ws, body.agent);
    const environmentId = body.environment_id ?? current.environment_id;
    const resources = body.resources === undefined ? current.resources : (body.resources ?? []);
    if (body.environment_id !== undefined || body.resources !== undefined) {
      const environment = await this.d.references.environment(ws, environmentId);
      checkSelfHosted(environment, resources);
    }
    if (body.resources) await this.d.references.resources(ws, body.resources);
    if (body.vault_ids?.length) await this.checkVaults(ws, body.vault_ids);
    if (body.initial_events)
      await this.d.references.initialEvents(ws, body.initial_events as InitialEventParams[]);
    // A budget needs a priced model: a new budget, or a new agent under the budget already set.
    const budgeted = body.budget || (body.budget === undefined && current.budget && agent);
    if (budgeted) checkBudgetable((agent ?? (await this.d.references.pinAgent(ws, current.agent))).model);
    const { after } = await this.d.repository.change(ws, id, ({ deployment: d, scheduleRev }) => {
      if (d.archived_at) throw new InvalidRequestError(`deployment ${id} is archived: it cannot be updated`);
      const next: StoredDeployment = {
        ...d,
        agent: agent ? { type: "agent", id: agent.id, version: agent.version } : d.agent,
        description: body.description === undefined ? d.description : body.description || null,
        environment_id: environmentId,
        initial_events: (body.initial_events as StoredDeployment["initial_events"]) ?? d.initial_events,
        metadata: applyMetadataPatch(d.metadata, body.metadata),
        name: body.name ?? d.name,
        resources: resources as StoredDeployment["resources"],
        schedule:
          schedule === undefined
            ? d.schedule
            : schedule && { ...schedule, last_run_at: d.schedule?.last_run_at ?? null },
        vault_ids: body.vault_ids === undefined ? d.vault_ids : (body.vault_ids ?? []),
        updated_at: this.now(),
      };
      if (body.budget === null) delete next.budget;
      else if (body.budget) next.budget = body.budget;
      const scheduleChanged =
        schedule !== undefined &&
        (schedule?.expression !== d.schedule?.expression || schedule?.timezone !== d.schedule?.timezone);
      return { deployment: next, scheduleRev: scheduleChanged ? scheduleRev + 1 : scheduleRev };
    });
    await this.d.repository.index(ws, after.deployment);
    await syncTrigger(this.d.trigger, ws, after.deployment, after.scheduleRev);
    await publishLifecycleEvent(this.d.publisher, "deployment.updated", ws, id);
    return this.present(after.deployment);
  }

  async list(ws: string, query: DeploymentListQuery): Promise<PageCursorBody<Deployment>> {
    const inRange = createdAtFilter(query);
    return collectPage<DeploymentItem, Deployment>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, batch) => this.d.repository.page(ws, after as string | undefined, batch),
      keyOf: (item) => item.deployment.id,
      keep: ({ deployment: d }) =>
        (query.include_archived || !d.archived_at) &&
        (!query.status || d.status === query.status) &&
        (!query.agent_id || d.agent.id === query.agent_id) &&
        inRange(d.created_at),
      map: (item) => this.present(item.deployment),
    });
  }

  async archive(ws: string, id: string): Promise<Deployment> {
    const result = await this.d.repository.change(ws, id, ({ deployment: d, scheduleRev }) =>
      d.archived_at
        ? undefined
        : {
            // Archived deployments report `active` with `archived_at` set (SDK).
            deployment: {
              ...d,
              archived_at: this.now(),
              status: "active",
              paused_reason: null,
              updated_at: this.now(),
            },
            scheduleRev,
          },
    );
    const { deployment, scheduleRev } = result.after;
    await syncTrigger(this.d.trigger, ws, deployment, scheduleRev);
    await this.d.repository.index(ws, deployment);
    if (result.changed) await publishLifecycleEvent(this.d.publisher, "deployment.archived", ws, id);
    return this.present(deployment);
  }

  /** Pauses: autonomous (scheduled) runs stop; manual runs are still permitted. */
  async pause(ws: string, id: string): Promise<Deployment> {
    return this.setStatus(ws, id, "paused");
  }

  /** Unpauses: the schedule fires again from its next occurrence (missed ones are not caught up). */
  async unpause(ws: string, id: string): Promise<Deployment> {
    return this.setStatus(ws, id, "active");
  }

  private async setStatus(ws: string, id: string, status: "active" | "paused"): Promise<Deployment> {
    const result = await this.d.repository.change(ws, id, ({ deployment: d, scheduleRev }) => {
      if (d.archived_at)
        throw new InvalidRequestError(
          `deployment ${id} is archived: it cannot be ${status === "paused" ? "paused" : "unpaused"}`,
        );
      if (d.status === status) return undefined;
      return {
        deployment: {
          ...d,
          status,
          paused_reason: status === "paused" ? { type: "manual" } : null,
          updated_at: this.now(),
        },
        scheduleRev,
      };
    });
    const { deployment, scheduleRev } = result.after;
    await syncTrigger(this.d.trigger, ws, deployment, scheduleRev);
    if (result.changed)
      await publishLifecycleEvent(
        this.d.publisher,
        status === "paused" ? "deployment.paused" : "deployment.unpaused",
        ws,
        id,
      );
    return this.present(deployment);
  }

  /**
   * Runs the deployment now (`trigger_context: manual`): one session, whatever its status. A retry
   * of a run-now whose answer was lost (`attempt`) answers with that run (run-now-attempts.ts).
   */
  async run(ws: string, id: string, attempt?: RunNowAttempt): Promise<DeploymentRun> {
    return this.d.runner.runNow(ws, id, attempt);
  }

  async retrieveRun(ws: string, runId: string): Promise<DeploymentRun> {
    const run = await this.d.runs.get(ws, runId);
    if (!run) throw new NotFoundError("deployment run", runId);
    return run;
  }

  /** Runs of the workspace (or of one deployment), newest first. */
  async listRuns(ws: string, query: DeploymentRunListQuery): Promise<PageCursorBody<DeploymentRun>> {
    const inRange = createdAtFilter(query);
    return collectPage<DeploymentRun, DeploymentRun>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, batch) => this.d.runs.page(ws, after as string | undefined, batch),
      keyOf: (run) => run.id,
      keep: (run) =>
        (!query.deployment_id || run.deployment_id === query.deployment_id) &&
        (query.has_error === undefined || (run.error !== null) === query.has_error) &&
        (!query.trigger_type || run.trigger_context.type === query.trigger_type) &&
        inRange(run.created_at),
      map: (run) => run,
    });
  }

  /** Every scheduled deployment's trigger (the local scheduler arms them at start). */
  async triggers(): Promise<DeploymentTriggerSpec[]> {
    const out: DeploymentTriggerSpec[] = [];
    for (const [ws, id] of await this.d.repository.scheduled()) {
      const item = await this.d.repository.find(ws, id);
      const spec = item && triggerSpecOf(ws, item.deployment, item.scheduleRev);
      if (spec) out.push(spec);
    }
    return out;
  }

  private async checkVaults(ws: string, ids: readonly string[]): Promise<void> {
    if (!this.d.references.vaults) throw new InvalidRequestError("vault_ids: vaults are not served here");
    await this.d.references.vaults(ws, ids);
  }

  /** The API's view: the stored deployment with its next firings computed now. */
  private present(deployment: StoredDeployment): Deployment {
    const schedule = deployment.schedule;
    if (!schedule) return { ...deployment, schedule: null };
    const upcoming = deployment.archived_at
      ? []
      : nextCronTimes(
          parseCronExpression(schedule.expression),
          schedule.timezone,
          this.d.publisher.clock.now(),
          UPCOMING_RUNS,
        );
    return {
      ...deployment,
      schedule: { ...schedule, upcoming_runs_at: upcoming.map((t) => new Date(t).toISOString()) },
    };
  }
}

/** Validates a schedule (clear 400s) and returns it with the time zone's canonical spelling. */
function checkSchedule(schedule: ScheduleParams): { type: "cron"; expression: string; timezone: string } {
  parseCronExpression(schedule.expression);
  return { type: "cron", expression: schedule.expression.trim(), timezone: checkTimezone(schedule.timezone) };
}

function checkSelfHosted(environment: { selfHosted: boolean }, resources: ReadonlyArray<{ type: string }>) {
  if (!environment.selfHosted) return;
  const i = resources.findIndex((r) => r.type !== "memory_store");
  if (i >= 0)
    throw new InvalidRequestError(
      `resources.${i}: a self-hosted environment can mount memory stores only; ${(resources[i] as { type: string }).type} resources need a cloud environment`,
    );
}

function checkBudgetable(model: string) {
  if (!listPrice(model))
    throw new InvalidRequestError(`budget: model ${model} has no public list price (model_not_budgetable)`);
}
