/**
 * How deployments and their runs are stored (table `resources`):
 *
 * | pk                        | sk                 | holds                                                  |
 * |---------------------------|--------------------|--------------------------------------------------------|
 * | `ws#<ws>#depl`            | deployment id      | the deployment (rev-checked) and its schedule revision |
 * | `depl#all`                | `<ws>#<id>`        | every scheduled deployment, for the local scheduler    |
 * | `drunkey#<deployment>`    | run key            | a run's claim: ids allocated up front, its progress    |
 * | `drun#pending`            | `<ws>#<depl>#<key>`| claims not finished yet (the sweeper finishes them)    |
 * | `ws#<ws>#drun`            | run id             | the run as the API returns it (written once)           |
 * | `drunnow#<ws>#<depl>`     | `newest`           | the newest run-now, for its retries (run-now-attempts) |
 *
 * A run key is the scheduled time of a firing (`2026-05-01T09:00:00.000Z`) or `manual#<run id>`:
 * at most one run per (deployment, scheduled time), as the SDK documents.
 */
import * as z from "zod";
import type {
  Deployment,
  DeploymentInitialEvent,
  DeploymentRun,
  DeploymentTriggerContext,
} from "../../contract/deployments.js";
import { NotFoundError } from "../../contract/errors.js";
import { lazySchema } from "../../contract/lazy-schema.js";
import { ConditionFailedError, type DocumentStore, type StoredItem } from "../ports.js";

export const deploymentKey = (ws: string) => `ws#${ws}#depl`;
export const scheduledDeploymentsKey = "depl#all";
export const runClaimKey = (deploymentId: string) => `drunkey#${deploymentId}`;
export const pendingRunsKey = "drun#pending";
export const runKey = (ws: string) => `ws#${ws}#drun`;

/** A deployment as stored: the API's shape without what is computed at read time (upcoming runs). */
export type StoredDeployment = Omit<Deployment, "schedule"> & {
  schedule: { type: "cron"; expression: string; timezone: string; last_run_at: string | null } | null;
};

const storedDeploymentSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    deployment: z.custom<StoredDeployment>((v) => typeof v === "object" && v !== null),
    /** Bumped whenever the schedule changes: a firing of an older schedule is stale. */
    scheduleRev: z.number().int().min(0),
  }),
);

export interface DeploymentItem {
  deployment: StoredDeployment;
  scheduleRev: number;
  rev: number;
}

/** What a run creates its session from, copied from the deployment when the run is claimed. */
export const runConfigSchema = lazySchema(() =>
  z.object({
    agent: z.object({ type: z.literal("agent"), id: z.string(), version: z.number().int() }),
    environment_id: z.string(),
    resources: z.array(z.record(z.string(), z.unknown())),
    vault_ids: z.array(z.string()),
    budget: z.unknown().nullable(),
    initial_events: z.array(z.custom<DeploymentInitialEvent>()),
  }),
);
export type RunConfig = z.infer<typeof runConfigSchema>;

/** A run's claim: written once per run key, then moved on under its lease. */
export const runClaimSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    workspaceId: z.string(),
    deploymentId: z.string(),
    key: z.string(),
    runId: z.string(),
    /** Allocated with the claim: the run's session is created under this id or not at all. */
    sessionId: z.string(),
    trigger: z.custom<DeploymentTriggerContext>(),
    config: runConfigSchema,
    /** `done` once the run record is written and the session has its initial events. */
    phase: z.enum(["pending", "done"]),
    attempts: z.number().int().min(0),
    leaseUntil: z.number().optional(),
    leaseOwner: z.string().optional(),
    createdAt: z.string(),
  }),
);
export type RunClaim = z.infer<typeof runClaimSchema> & { rev: number };

export class DeploymentRepository {
  constructor(private readonly store: DocumentStore) {}

  async find(workspaceId: string, id: string): Promise<DeploymentItem | undefined> {
    const item = await this.store.get("resources", deploymentKey(workspaceId), id);
    if (!item) return undefined;
    const parsed = storedDeploymentSchema.parse(item);
    return { deployment: parsed.deployment, scheduleRev: parsed.scheduleRev, rev: Number(item.rev) };
  }

  async get(workspaceId: string, id: string): Promise<DeploymentItem> {
    const found = await this.find(workspaceId, id);
    if (!found) throw new NotFoundError("deployment", id);
    return found;
  }

  async create(workspaceId: string, deployment: StoredDeployment): Promise<void> {
    await this.store.put("resources", this.item(workspaceId, { deployment, scheduleRev: 1, rev: 1 }), {
      expectedRev: 0,
    });
  }

  /**
   * Read-modify-write under the item's `rev`, retried on a concurrent change. `change` returns the
   * next state, or undefined to leave the deployment as it is.
   */
  async change(
    workspaceId: string,
    id: string,
    change: (current: DeploymentItem) => Omit<DeploymentItem, "rev"> | undefined,
  ): Promise<{ before: DeploymentItem; after: DeploymentItem; changed: boolean }> {
    for (;;) {
      const current = await this.get(workspaceId, id);
      const next = change(structuredClone(current));
      if (!next) return { before: current, after: current, changed: false };
      const after = { ...next, rev: current.rev + 1 };
      try {
        await this.store.put("resources", this.item(workspaceId, after), { expectedRev: current.rev });
        return { before: current, after, changed: true };
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
  }

  /** Deployments of a workspace, newest first, from below `before` (an id). */
  async page(workspaceId: string, before: string | undefined, limit: number): Promise<DeploymentItem[]> {
    const items = await this.store.query("resources", deploymentKey(workspaceId), {
      before,
      order: "desc",
      limit,
    });
    return items.map((item) => {
      const parsed = storedDeploymentSchema.parse(item);
      return { deployment: parsed.deployment, scheduleRev: parsed.scheduleRev, rev: Number(item.rev) };
    });
  }

  /** Keeps the index of scheduled deployments the local scheduler arms at start in step. */
  async index(workspaceId: string, deployment: StoredDeployment): Promise<void> {
    const sk = `${workspaceId}#${deployment.id}`;
    if (deployment.schedule && !deployment.archived_at)
      await this.store.put("resources", { pk: scheduledDeploymentsKey, sk });
    else await this.store.delete("resources", scheduledDeploymentsKey, sk);
  }

  /** Every indexed (scheduled, not archived) deployment as `[workspaceId, id]`. */
  async scheduled(): Promise<Array<[string, string]>> {
    const entries = await this.store.query("resources", scheduledDeploymentsKey);
    return entries.map((e) => {
      const sk = String(e.sk);
      const at = sk.indexOf("#");
      return [sk.slice(0, at), sk.slice(at + 1)];
    });
  }

  private item(workspaceId: string, state: DeploymentItem): StoredItem {
    return {
      pk: deploymentKey(workspaceId),
      sk: state.deployment.id,
      rev: state.rev,
      schemaVersion: 1,
      deployment: state.deployment,
      scheduleRev: state.scheduleRev,
    };
  }
}

/** Run records: written once each (`ifNotExists`), listed newest first. */
export class DeploymentRunRepository {
  constructor(private readonly store: DocumentStore) {}

  async get(workspaceId: string, runId: string): Promise<DeploymentRun | undefined> {
    const item = await this.store.get("resources", runKey(workspaceId), runId);
    return item ? (item.run as DeploymentRun) : undefined;
  }

  /** Writes the run unless it is already written; returns the run as stored. */
  async putOnce(workspaceId: string, run: DeploymentRun): Promise<DeploymentRun> {
    try {
      await this.store.put(
        "resources",
        { pk: runKey(workspaceId), sk: run.id, schemaVersion: 1, run },
        { ifNotExists: true },
      );
      return run;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      return (await this.get(workspaceId, run.id)) as DeploymentRun;
    }
  }

  async page(workspaceId: string, before: string | undefined, limit: number): Promise<DeploymentRun[]> {
    const items = await this.store.query("resources", runKey(workspaceId), { before, order: "desc", limit });
    return items.map((i) => i.run as DeploymentRun);
  }
}
