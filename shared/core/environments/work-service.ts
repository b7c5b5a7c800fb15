/**
 * The work queue of `self_hosted` environments (`/v1/environments/{id}/work/*`), as the SDK's
 * `EnvironmentWorker` uses it: a session that needs its tools run gets a work item; a worker polls it
 * (receiving a `secret` whose `sessions_token` serves that one session), acknowledges it, heartbeats
 * its lease, and stops it when done. A lease that is not renewed expires and the item is offered
 * again, with a new token generation, so a dead worker's item is picked up by the next one and never
 * served by two at once. Every change is a single-item rev-checked write (DESIGN.md §5).
 */
import { randomBytes } from "node:crypto";
import { ApiError, ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { idPrefix } from "../../contract/ids.js";
import type { Environment } from "../../contract/sdk-types.js";
import { applyMetadataPatch } from "../../contract/validation.js";
import {
  DEFAULT_RECLAIM_MS,
  NO_HEARTBEAT,
  type SelfHostedWork,
  type WorkHeartbeatResponse,
  type WorkListQuery,
  type WorkQueueStats,
} from "../../contract/work.js";
import { ApiKeys, type CredentialScope } from "../auth/api-keys.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type IdGenerator,
  type StoredItem,
} from "../ports.js";

/** Lease settings of work items. */
export interface WorkSettings {
  /** TTL of a lease when the worker asks for none (seconds). */
  leaseSeconds: number;
  /** Largest TTL a worker may ask for (seconds). */
  maxLeaseSeconds: number;
}

interface LeaseState {
  /** Bumped on every poll that hands the item out: a sessions token is valid for one generation. */
  generation: number;
  polledAt?: number;
  workerId?: string;
  lastHeartbeat: string | null;
  ttlSeconds: number;
  /** Epoch ms when the lease lapses (set by ack and each heartbeat). */
  leaseUntil?: number;
  /**
   * Hashes of the sessions tokens handed out (every generation), revoked when the item stops. An old
   * generation's token keeps resolving until then, so its heartbeat is told 412 (lease lost) rather
   * than 401; every other call checks the generation (ScopedAccess) and refuses it.
   */
  tokenHashes?: string[];
  /**
   * The last sequence of a worker tool call shown to one of the item's sessions tokens (the events
   * list, the stream; `noteDelivered`), recorded before it is shown: a worker may have run any call up
   * to it. The next hand-out answers those still open that change something as interrupted instead
   * of letting the next worker run them a second time. A replacement item inherits it.
   */
  deliveredSeq?: number;
}

interface WorkItem extends StoredItem {
  sk: string;
  workspaceId: string;
  sessionId: string;
  work: Omit<SelfHostedWork, "secret">;
  lease: LeaseState;
  rev: number;
}

const workKey = (environmentId: string) => `work#${environmentId}`;
/** Items not yet stopped, oldest first: what a poll scans. */
const queueKey = (environmentId: string) => `workq#${environmentId}`;
/** The session's current work item (rev-checked), so a session never has two live items. */
const sessionPointerKey = (sessionId: string) => `worksess#${sessionId}`;
const workersKey = (environmentId: string) => `workers#${environmentId}`;

const iso = (ms: number) => new Date(ms).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The SDK's `BetaWorkSecret`, base64url-encoded JSON. */
function encodeSecret(sessionsToken: string): string {
  return Buffer.from(JSON.stringify({ sessions_token: sessionsToken }), "utf8").toString("base64url");
}

/** What the work service needs to know about environments. */
export interface WorkEnvironments {
  retrieve(workspaceId: string, environmentId: string): Promise<Environment>;
}

/**
 * Answers as interrupted the session's open worker calls up to `uptoSeq` that a worker which no
 * longer holds the item may have run (worker-hands.ts `interruptDeliveredCalls`).
 */
export type InterruptDelivered = (workspaceId: string, sessionId: string, uptoSeq: number) => Promise<void>;

export class WorkService {
  constructor(
    private readonly store: DocumentStore,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly apiKeys: ApiKeys,
    private readonly environments: WorkEnvironments,
    private readonly settings: WorkSettings,
    private readonly interruptDelivered?: InterruptDelivered,
  ) {}

  /** When this process last recorded each poller (a worker polls every few seconds). */
  private readonly pollersNoted = new Map<string, number>();

  /** Records that a worker polls (for `stats.workers_polling`), at most every 10 s per worker. */
  private async notePoller(environmentId: string, workerId: string) {
    const now = this.clock.now();
    const key = `${environmentId}#${workerId}`;
    if (now - (this.pollersNoted.get(key) ?? Number.NEGATIVE_INFINITY) < 10_000) return;
    if (this.pollersNoted.size > 10_000) this.pollersNoted.clear();
    this.pollersNoted.set(key, now);
    await this.store.put("resources", { pk: workersKey(environmentId), sk: workerId, at: now });
  }

  /** A self-hosted environment of the workspace, or a 404 / 400. */
  private async selfHosted(workspaceId: string, environmentId: string): Promise<Environment> {
    const environment = await this.environments.retrieve(workspaceId, environmentId);
    if (environment.config.type !== "self_hosted")
      throw new InvalidRequestError(`environment ${environmentId} is not self_hosted: it has no work queue`);
    return environment;
  }

  private async item(workspaceId: string, environmentId: string, workId: string): Promise<WorkItem> {
    const item = (await this.store.get("resources", workKey(environmentId), workId)) as WorkItem | undefined;
    if (!item || item.workspaceId !== workspaceId) throw new NotFoundError("work", workId);
    return item;
  }

  /** Applies `change` to a fresh copy with a rev check, re-reading on a lost race. */
  private async mutate(
    workspaceId: string,
    environmentId: string,
    workId: string,
    change: (item: WorkItem) => WorkItem | undefined,
  ): Promise<{ before: WorkItem; after: WorkItem }> {
    for (;;) {
      const before = await this.item(workspaceId, environmentId, workId);
      const next = change(structuredClone(before));
      if (!next) return { before, after: before };
      next.rev = before.rev + 1;
      try {
        await this.store.put("resources", next, { expectedRev: before.rev });
        return { before, after: next };
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
  }

  /** The work item as the SDK types it (`secret` only on the poll response). */
  private view(item: WorkItem, secret: string | null = null): SelfHostedWork {
    return { ...item.work, secret };
  }

  /** Whether the item's lease ran out without a worker renewing it (it may be offered again). */
  private lapsed(item: WorkItem, now: number): boolean {
    const state = item.work.state;
    if (state === "queued") return false;
    if (state === "stopped") return false;
    return item.lease.leaseUntil !== undefined && item.lease.leaseUntil < now;
  }

  /**
   * Makes sure the session has a live work item (idempotent): the current one if it is not stopped,
   * else a new queued one. The pointer is claimed first, rev-checked, so concurrent callers agree on
   * one id; a crash between the pointer and the item is repaired by the next call.
   */
  async ensureWork(workspaceId: string, environmentId: string, sessionId: string): Promise<string> {
    for (;;) {
      const pointer = await this.store.get("resources", sessionPointerKey(sessionId), "current");
      let stopped: WorkItem | undefined;
      if (pointer) {
        const existing = (await this.store.get(
          "resources",
          workKey(environmentId),
          String(pointer.workId),
        )) as WorkItem | undefined;
        if (!existing) {
          const inherited = pointer.deliveredSeq as number | undefined;
          await this.createItem(workspaceId, environmentId, sessionId, String(pointer.workId), inherited);
          return String(pointer.workId);
        }
        if (existing.work.state !== "stopped") return existing.sk;
        stopped = existing;
      }
      const workId = this.ids.next(idPrefix.work);
      try {
        await this.store.put(
          "resources",
          {
            pk: sessionPointerKey(sessionId),
            sk: "current",
            workId,
            environmentId,
            rev: ((pointer?.rev as number | undefined) ?? 0) + 1,
            // What the stopped item's workers were shown stays with the session (LeaseState.deliveredSeq),
            // here too, so that a crash before the new item is written does not lose it.
            ...(stopped?.lease.deliveredSeq === undefined
              ? {}
              : { deliveredSeq: stopped.lease.deliveredSeq }),
          },
          pointer ? { expectedRev: pointer.rev as number } : { ifNotExists: true },
        );
      } catch (error) {
        if (error instanceof ConditionFailedError) continue;
        throw error;
      }
      await this.createItem(workspaceId, environmentId, sessionId, workId, stopped?.lease.deliveredSeq);
      return workId;
    }
  }

  private async createItem(
    workspaceId: string,
    environmentId: string,
    sessionId: string,
    workId: string,
    deliveredSeq?: number,
  ) {
    const now = iso(this.clock.now());
    const item: WorkItem = {
      pk: workKey(environmentId),
      sk: workId,
      rev: 1,
      workspaceId,
      sessionId,
      work: {
        id: workId,
        type: "work",
        environment_id: environmentId,
        data: { type: "session", id: sessionId },
        state: "queued",
        metadata: {},
        created_at: now,
        acknowledged_at: null,
        started_at: null,
        latest_heartbeat_at: null,
        stop_requested_at: null,
        stopped_at: null,
      },
      lease: {
        generation: 0,
        lastHeartbeat: null,
        ttlSeconds: this.settings.leaseSeconds,
        ...(deliveredSeq === undefined ? {} : { deliveredSeq }),
      },
    };
    // Queue entry first: an item without one would never be polled; an entry without an item is skipped.
    await this.store.put("resources", { pk: queueKey(environmentId), sk: workId, workspaceId });
    try {
      await this.store.put("resources", item, { ifNotExists: true });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  /**
   * `GET …/work/poll`: hands out the oldest item that is queued (and not handed out within
   * `reclaim_older_than_ms`) or whose lease lapsed, with a fresh sessions token; long-polls up to
   * `block_ms`. Returns null when there is none.
   */
  async poll(
    workspaceId: string,
    environmentId: string,
    options: { blockMs?: number; reclaimOlderThanMs?: number; workerId?: string },
  ): Promise<SelfHostedWork | null> {
    await this.selfHosted(workspaceId, environmentId);
    if (options.workerId) await this.notePoller(environmentId, options.workerId.slice(0, 200));
    const deadline = this.clock.now() + (options.blockMs ?? 0);
    for (;;) {
      const claimed = await this.tryClaim(workspaceId, environmentId, options);
      if (claimed) return claimed;
      const left = deadline - this.clock.now();
      if (left <= 0) return null;
      await sleep(Math.min(100, left));
    }
  }

  private async tryClaim(
    workspaceId: string,
    environmentId: string,
    options: { reclaimOlderThanMs?: number; workerId?: string },
  ): Promise<SelfHostedWork | undefined> {
    const reclaimMs = options.reclaimOlderThanMs ?? DEFAULT_RECLAIM_MS;
    const entries = await this.store.query("resources", queueKey(environmentId), {
      limit: 100,
      order: "asc",
    });
    for (const entry of entries) {
      const now = this.clock.now();
      const item = (await this.store.get("resources", workKey(environmentId), entry.sk)) as
        | WorkItem
        | undefined;
      if (!item || item.workspaceId !== workspaceId) continue;
      if (item.work.state === "stopped") {
        await this.store.delete("resources", queueKey(environmentId), entry.sk);
        continue;
      }
      const fresh =
        item.work.state === "queued" &&
        (item.lease.polledAt === undefined || now - item.lease.polledAt > reclaimMs);
      const lapsed = this.lapsed(item, now);
      if (!fresh && !lapsed) continue;
      if (lapsed && item.work.state === "stopping") {
        await this.finishStop(item, now);
        continue;
      }
      const token = `sk-ant-req-${randomBytes(24).toString("base64url")}`;
      const next = structuredClone(item);
      next.rev = item.rev + 1;
      next.lease = {
        generation: item.lease.generation + 1,
        polledAt: now,
        workerId: options.workerId,
        lastHeartbeat: null,
        ttlSeconds: this.settings.leaseSeconds,
        tokenHashes: [...(item.lease.tokenHashes ?? []), ApiKeys.hash(token)].slice(-20),
        ...(item.lease.deliveredSeq === undefined ? {} : { deliveredSeq: item.lease.deliveredSeq }),
      };
      next.work.state = "queued";
      next.work.acknowledged_at = null;
      next.work.latest_heartbeat_at = null;
      const scope: CredentialScope = {
        kind: "session",
        environmentId,
        workId: item.sk,
        sessionId: item.sessionId,
        generation: next.lease.generation,
      };
      // The token exists before the item names it, so a worker never holds an unknown token.
      await this.apiKeys.register(token, {
        workspaceId,
        apiKeyId: `${item.sk}#${next.lease.generation}`,
        scope,
      });
      try {
        await this.store.put("resources", next, { expectedRev: item.rev });
      } catch (error) {
        await this.apiKeys.revoke(token);
        if (error instanceof ConditionFailedError) continue;
        throw error;
      }
      // The item keeps the last 20 generations' hashes (revoked when it stops); older ones go now.
      const kept = new Set(next.lease.tokenHashes);
      for (const hash of item.lease.tokenHashes ?? [])
        if (!kept.has(hash)) await this.apiKeys.revokeHash(hash);
      // Before the new worker holds its token: calls an earlier one was shown may have run. A crash
      // here loses only this poll's answer; the item is offered again and this is done again.
      if (next.lease.deliveredSeq !== undefined)
        await this.interruptDelivered?.(workspaceId, item.sessionId, next.lease.deliveredSeq);
      return this.view(next, encodeSecret(token));
    }
    return undefined;
  }

  private async finishStop(item: WorkItem, now: number) {
    const next = structuredClone(item);
    next.rev = item.rev + 1;
    next.work.state = "stopped";
    next.work.stopped_at = iso(now);
    try {
      await this.store.put("resources", next, { expectedRev: item.rev });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      return;
    }
    await this.afterStopped(next);
  }

  private async afterStopped(item: WorkItem) {
    await this.store.delete("resources", queueKey(item.work.environment_id), item.sk);
    for (const hash of item.lease.tokenHashes ?? []) await this.apiKeys.revokeHash(hash);
  }

  /** A scoped caller may touch only its own environment's items, and a sessions token only its own. */
  private checkScope(scope: CredentialScope | undefined, environmentId: string, workId: string) {
    if (!scope) return;
    if (scope.environmentId !== environmentId) throw new NotFoundError("environment", environmentId);
    if (scope.kind === "session" && scope.workId !== workId) throw new NotFoundError("work", workId);
  }

  /** `POST …/work/{id}/ack`: queued → starting; the lease starts (a worker that dies now is replaced). */
  async ack(workspaceId: string, environmentId: string, workId: string, scope?: CredentialScope) {
    this.checkScope(scope, environmentId, workId);
    const now = this.clock.now();
    const { after } = await this.mutate(workspaceId, environmentId, workId, (item) => {
      if (item.work.state !== "queued") {
        if (item.work.acknowledged_at) return undefined; // a repeated ack
        throw new ConflictError(`work ${workId} is ${item.work.state}`);
      }
      if (item.lease.polledAt === undefined)
        throw new ConflictError(`work ${workId} has not been polled: poll for work first`);
      item.work.state = "starting";
      item.work.acknowledged_at = iso(now);
      item.lease.leaseUntil = now + item.lease.ttlSeconds * 1000;
      return item;
    });
    return this.view(after);
  }

  /**
   * `POST …/work/{id}/heartbeat`: renews the lease when `expected_last_heartbeat` is the stored one
   * (`NO_HEARTBEAT` before the first), else 412 with the lease as the server holds it. A stopping
   * or stopped item answers its state without extending anything, so the worker shuts down.
   */
  async heartbeat(
    workspaceId: string,
    environmentId: string,
    workId: string,
    params: { expectedLastHeartbeat?: string; desiredTtlSeconds?: number },
    scope?: CredentialScope,
  ): Promise<WorkHeartbeatResponse> {
    this.checkScope(scope, environmentId, workId);
    const now = this.clock.now();
    const ttl = Math.min(
      params.desiredTtlSeconds ?? this.settings.leaseSeconds,
      this.settings.maxLeaseSeconds,
    );
    const { before, after } = await this.mutate(workspaceId, environmentId, workId, (item) => {
      const state = item.work.state;
      if (state === "stopping" || state === "stopped") return undefined;
      const stored = item.lease.lastHeartbeat ?? NO_HEARTBEAT;
      const staleToken = scope?.kind === "session" && scope.generation !== item.lease.generation;
      if (staleToken || (params.expectedLastHeartbeat ?? stored) !== stored || this.lapsed(item, now)) {
        throw new ApiError("precondition_failed_error", "the lease of this work item is held elsewhere", {
          extra: {
            details: {
              error_code: "heartbeat_precondition_failed",
              current_state: {
                last_heartbeat: item.lease.lastHeartbeat,
                lease_extended: false,
                state,
                ttl_seconds: item.lease.ttlSeconds,
              },
            },
          },
        });
      }
      // Each heartbeat value is unique, so a worker echoing an old one is told it lost the lease.
      let beat = iso(now);
      if (beat <= (item.lease.lastHeartbeat ?? ""))
        beat = iso(Date.parse(item.lease.lastHeartbeat as string) + 1);
      item.lease.lastHeartbeat = beat;
      item.lease.ttlSeconds = ttl;
      item.lease.leaseUntil = now + ttl * 1000;
      item.work.latest_heartbeat_at = beat;
      item.work.started_at ??= beat;
      if (state === "queued" || state === "starting") item.work.state = "active";
      return item;
    });
    const extended = after.rev !== before.rev;
    return {
      type: "work_heartbeat",
      last_heartbeat: after.lease.lastHeartbeat ?? "",
      lease_extended: extended,
      state: after.work.state,
      ttl_seconds: after.lease.ttlSeconds,
    };
  }

  /** `POST …/work/{id}/stop`: `force` stops now; otherwise `stopping` until the worker lets go. */
  async stop(
    workspaceId: string,
    environmentId: string,
    workId: string,
    force: boolean,
    scope?: CredentialScope,
  ): Promise<SelfHostedWork> {
    this.checkScope(scope, environmentId, workId);
    const now = this.clock.now();
    const { after } = await this.mutate(workspaceId, environmentId, workId, (item) => {
      if (item.work.state === "stopped") throw new ConflictError(`work ${workId} is already stopped`);
      if (scope?.kind === "session" && scope.generation !== item.lease.generation)
        throw new ConflictError(`work ${workId} is held by another worker now`);
      const unstarted = item.work.state === "queued" && item.lease.polledAt === undefined;
      item.work.stop_requested_at ??= iso(now);
      if (force || unstarted || item.lease.leaseUntil === undefined) {
        item.work.state = "stopped";
        item.work.stopped_at = iso(now);
      } else item.work.state = "stopping";
      return item;
    });
    if (after.work.state === "stopped") await this.afterStopped(after);
    return this.view(after);
  }

  /** Stops a session's current work item, if any (the session ended, or no worker answered in time). */
  async stopForSession(workspaceId: string, sessionId: string): Promise<void> {
    const pointer = await this.store.get("resources", sessionPointerKey(sessionId), "current");
    if (!pointer) return;
    try {
      await this.stop(workspaceId, String(pointer.environmentId), String(pointer.workId), true);
    } catch (error) {
      if (!(error instanceof ConflictError) && !(error instanceof NotFoundError)) throw error;
    }
  }

  /**
   * Records, before a sessions token is shown the worker tool call at `seq`, that its worker may run
   * it. False (nothing recorded) when the token no longer holds its item: the call must not be shown,
   * as another worker may be handed it.
   */
  async noteDelivered(
    workspaceId: string,
    scope: Pick<Extract<CredentialScope, { kind: "session" }>, "environmentId" | "workId" | "generation">,
    seq: number,
  ): Promise<boolean> {
    let current = false;
    try {
      await this.mutate(workspaceId, scope.environmentId, scope.workId, (item) => {
        current = item.lease.generation === scope.generation && item.work.state !== "stopped";
        if (!current || (item.lease.deliveredSeq ?? 0) >= seq) return undefined;
        item.lease.deliveredSeq = seq;
        return item;
      });
    } catch (error) {
      if (error instanceof NotFoundError) return false;
      throw error;
    }
    return current;
  }

  /** Whether a sessions token of `scope` still holds its work item's lease generation. */
  async tokenIsCurrent(workspaceId: string, scope: Extract<CredentialScope, { kind: "session" }>) {
    const item = (await this.store.get("resources", workKey(scope.environmentId), scope.workId)) as
      | WorkItem
      | undefined;
    return (
      !!item &&
      item.workspaceId === workspaceId &&
      item.lease.generation === scope.generation &&
      item.work.state !== "stopped"
    );
  }

  async retrieve(workspaceId: string, environmentId: string, workId: string): Promise<SelfHostedWork> {
    await this.environments.retrieve(workspaceId, environmentId);
    return this.view(await this.item(workspaceId, environmentId, workId));
  }

  async update(
    workspaceId: string,
    environmentId: string,
    workId: string,
    patch: Record<string, string | null>,
  ): Promise<SelfHostedWork> {
    await this.environments.retrieve(workspaceId, environmentId);
    const { after } = await this.mutate(workspaceId, environmentId, workId, (item) => {
      item.work.metadata = applyMetadataPatch(item.work.metadata, patch);
      return item;
    });
    return this.view(after);
  }

  async list(
    workspaceId: string,
    environmentId: string,
    query: WorkListQuery,
  ): Promise<PageCursorBody<SelfHostedWork>> {
    await this.environments.retrieve(workspaceId, environmentId);
    return collectPage<StoredItem, SelfHostedWork>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, limit) =>
        this.store.query("resources", workKey(environmentId), { after, limit, order: "desc" }),
      keyOf: (i) => i.sk,
      keep: (i) => i.workspaceId === workspaceId,
      map: (i) => this.view(i as WorkItem),
    });
  }

  /** `GET …/work/stats`: queued items, handed-out-but-unacknowledged ones, and recent pollers. */
  async stats(workspaceId: string, environmentId: string): Promise<WorkQueueStats> {
    await this.selfHosted(workspaceId, environmentId);
    const now = this.clock.now();
    let depth = 0;
    let pending = 0;
    let oldest: string | null = null;
    for (const entry of await this.store.query("resources", queueKey(environmentId), { order: "asc" })) {
      const item = (await this.store.get("resources", workKey(environmentId), entry.sk)) as
        | WorkItem
        | undefined;
      if (item?.work.state !== "queued") continue;
      oldest ??= item.work.created_at;
      if (item.lease.polledAt !== undefined && now - item.lease.polledAt <= DEFAULT_RECLAIM_MS) pending += 1;
      else depth += 1;
    }
    const workers = await this.store.query("resources", workersKey(environmentId), {});
    return {
      type: "work_queue_stats",
      depth,
      pending,
      oldest_queued_at: oldest,
      workers_polling: workers.filter((w) => now - Number(w.at) <= 30_000).length,
    };
  }
}
