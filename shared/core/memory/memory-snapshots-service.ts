/**
 * Reverie extensions over whole stores: named, immutable snapshots
 * (`POST|GET /v1/memory_stores/{id}/snapshots`), restore to a snapshot or a point in time
 * (`POST /v1/memory_stores/{id}/restore`) — which rewrites the store through the ordinary write
 * path, so every change is a new version and no history is lost — and store copies (for dreams).
 */
import { ConflictError, NotFoundError } from "../../contract/errors.js";
import { MemoryPathConflictError } from "../../contract/memory-stores.js";
import type { MemoryStore } from "../../contract/sdk-types.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import type { StoredItem } from "../ports.js";
import type { MemoriesService, WriteContext } from "./memories-service.js";
import {
  type MemoryHead,
  snapshotEntryKey,
  snapshotEntrySchema,
  snapshotKey,
  versionKey,
  versionSchema,
  type WriteActor,
} from "./memory-records.js";
import { type MemoryDeps, type MemoryStoresService, memoryIdPrefix } from "./memory-stores-service.js";

/** A snapshot as the API returns it (Reverie extension; not an SDK type). */
export interface MemoryStoreSnapshot {
  id: string;
  type: "memory_store_snapshot";
  memory_store_id: string;
  name: string;
  description: string;
  created_at: string;
  created_by: WriteActor;
  memory_count: number;
}

/** What a restore did (Reverie extension). */
export interface MemoryStoreRestoreResult {
  type: "memory_store_restore";
  memory_store_id: string;
  restored_from: { type: "snapshot"; snapshot_id: string } | { type: "point_in_time"; point_in_time: string };
  created: number;
  modified: number;
  deleted: number;
  unchanged: number;
  /** Memories the target held whose content was redacted since: they can't be brought back. */
  skipped: Array<{ memory_id: string; memory_version_id: string; reason: "redacted" }>;
}

/** One memory of a restore target. */
interface TargetMemory {
  memoryId: string;
  path: string;
  content: string;
}

/** Where paths wait during a restore that swaps two memories' paths. */
const PARKING = "/.reverie-restore";

export class MemorySnapshotsService {
  constructor(
    private readonly deps: MemoryDeps,
    private readonly stores: MemoryStoresService,
    private readonly memories: MemoriesService,
  ) {}

  private now() {
    return new Date(this.deps.clock.now()).toISOString();
  }

  /**
   * Takes a snapshot: one entry item per memory (its current version), then the header, which is
   * what makes the snapshot exist — a crash before it leaves only unreachable entries. A store
   * written during the call is captured memory by memory.
   */
  async create(
    workspaceId: string,
    storeId: string,
    body: { name: string; description?: string | null },
    actor: WriteActor,
  ): Promise<MemoryStoreSnapshot> {
    await this.stores.retrieve(workspaceId, storeId);
    const id = this.deps.ids.next(memoryIdPrefix.snapshot);
    const heads = await this.memories.listAll(storeId);
    for (const head of heads) {
      await this.memories.ensureVersion(head);
      await this.deps.store.put("resources", {
        pk: snapshotEntryKey(storeId, id),
        sk: head.path,
        schemaVersion: 1,
        memoryId: head.memoryId,
        versionId: head.versionId,
        sha: head.sha,
      });
    }
    const snapshot: MemoryStoreSnapshot = {
      id,
      type: "memory_store_snapshot",
      memory_store_id: storeId,
      name: body.name,
      description: body.description ?? "",
      created_at: this.now(),
      created_by: actor,
      memory_count: heads.length,
    };
    await this.deps.store.put(
      "resources",
      { pk: snapshotKey(storeId), sk: id, schemaVersion: 1, snapshot },
      { ifNotExists: true },
    );
    return snapshot;
  }

  async retrieve(workspaceId: string, storeId: string, snapshotId: string): Promise<MemoryStoreSnapshot> {
    await this.stores.retrieve(workspaceId, storeId);
    const item = await this.deps.store.get("resources", snapshotKey(storeId), snapshotId);
    if (!item) throw new NotFoundError("memory store snapshot", snapshotId);
    return item.snapshot as MemoryStoreSnapshot;
  }

  async list(
    workspaceId: string,
    storeId: string,
    query: { limit: number; page?: string },
  ): Promise<PageCursorBody<MemoryStoreSnapshot>> {
    await this.stores.retrieve(workspaceId, storeId);
    return collectPage<StoredItem, MemoryStoreSnapshot>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (before, limit) =>
        this.deps.store.query("resources", snapshotKey(storeId), { before, limit, order: "desc" }),
      keyOf: (i) => i.sk,
      keep: () => true,
      map: (i) => i.snapshot as MemoryStoreSnapshot,
    });
  }

  /** The memories a snapshot holds, content read from their versions. */
  private async snapshotTarget(storeId: string, snapshotId: string) {
    const entries: StoredItem[] = [];
    let after: string | undefined;
    for (;;) {
      const batch = await this.deps.store.query("resources", snapshotEntryKey(storeId, snapshotId), {
        after,
        limit: 200,
      });
      entries.push(...batch);
      if (batch.length < 200) break;
      after = String(batch.at(-1)?.sk);
    }
    return this.fromVersions(
      storeId,
      entries.map((e) => snapshotEntrySchema.parse(e)),
    );
  }

  /** The memories the store held at `at` (ms): each memory's last version written by then, unless a delete. */
  private async pointInTimeTarget(storeId: string, at: number) {
    const last = new Map<string, { versionId: string; deleted: boolean }>();
    let after: string | undefined;
    for (;;) {
      const batch = await this.deps.store.query("resources", versionKey(storeId), { after, limit: 200 });
      for (const item of batch) {
        const v = versionSchema.parse(item);
        if (Date.parse(v.createdAt) <= at)
          last.set(v.memoryId, { versionId: v.versionId, deleted: v.operation === "deleted" });
      }
      if (batch.length < 200) break;
      after = String(batch.at(-1)?.sk);
    }
    return this.fromVersions(
      storeId,
      [...last.entries()]
        .filter(([, v]) => !v.deleted)
        .map(([memoryId, v]) => ({ memoryId, versionId: v.versionId })),
    );
  }

  private async fromVersions(storeId: string, refs: Array<{ memoryId: string; versionId: string }>) {
    const target: TargetMemory[] = [];
    const skipped: MemoryStoreRestoreResult["skipped"] = [];
    for (const ref of refs) {
      const v = await this.memories.storedVersion(storeId, ref.versionId);
      if (v.content === null || v.path === null) {
        skipped.push({ memory_id: ref.memoryId, memory_version_id: ref.versionId, reason: "redacted" });
        continue;
      }
      target.push({ memoryId: ref.memoryId, path: v.path, content: v.content });
    }
    return { target, skipped };
  }

  /**
   * Rewrites the store to a snapshot or a point in time: memories that were not there are
   * deleted, changed ones modified (content and path), missing ones created again under their
   * old ids. Each change is a new version whose provenance names the restore; no version is lost.
   */
  async restore(
    workspaceId: string,
    storeId: string,
    body: { snapshot_id?: string | null; point_in_time?: string | null },
    actor: WriteActor,
  ): Promise<MemoryStoreRestoreResult> {
    const startedAt = this.now();
    const store = await this.stores.writable(workspaceId, storeId);
    const from: MemoryStoreRestoreResult["restored_from"] = body.snapshot_id
      ? { type: "snapshot", snapshot_id: body.snapshot_id }
      : { type: "point_in_time", point_in_time: body.point_in_time as string };
    if (body.snapshot_id) await this.retrieve(workspaceId, storeId, body.snapshot_id);
    const { target, skipped } = body.snapshot_id
      ? await this.snapshotTarget(storeId, body.snapshot_id)
      : await this.pointInTimeTarget(storeId, Date.parse(body.point_in_time as string));
    const context: WriteContext = {
      actor,
      provenance: { restored_from: body.snapshot_id ?? `point_in_time:${body.point_in_time}` },
    };
    const result = await this.apply(storeId, target, context);
    await this.deps.domainEvents.publish({
      type: "memory_store.restored",
      // one event per restore call: the call is identified by its target and when it ran
      id: `memory_store.restored:${storeId}:${body.snapshot_id ?? body.point_in_time}:${startedAt}`,
      workspaceId,
      createdAt: this.now(),
      data: { id: store.id, memory_store_id: store.id, restored_from: from },
    });
    return {
      type: "memory_store_restore",
      memory_store_id: storeId,
      restored_from: from,
      ...result,
      skipped,
    };
  }

  private async apply(storeId: string, target: TargetMemory[], context: WriteContext) {
    const counts = { created: 0, modified: 0, deleted: 0, unchanged: 0 };
    const wanted = new Map(target.map((t) => [t.memoryId, t]));
    const current = await this.memories.listAll(storeId);
    for (const head of current) {
      if (wanted.has(head.memoryId)) continue;
      await this.memories.deleteMemory(storeId, head.memoryId, undefined, context);
      counts.deleted++;
    }
    const live = new Map<string, MemoryHead>(
      current.filter((h) => wanted.has(h.memoryId)).map((h) => [h.memoryId, h]),
    );
    let pending = [...target];
    for (let pass = 0; pending.length > 0; pass++) {
      if (pass > target.length + 1)
        throw new ConflictError(`memory store ${storeId}: restore could not settle paths`, {
          retryable: true,
        });
      const blocked: TargetMemory[] = [];
      for (const t of pending) {
        try {
          const head = live.get(t.memoryId);
          if (!head) {
            await this.createAgain(storeId, t, context);
            counts.created++;
          } else if (head.path === t.path && head.content === t.content) {
            counts.unchanged++;
          } else {
            await this.memories.updateMemory(
              storeId,
              t.memoryId,
              { content: t.content, path: t.path },
              context,
            );
            counts.modified++;
          }
        } catch (error) {
          if (!(error instanceof MemoryPathConflictError)) throw error;
          blocked.push(t);
          // a path swap: park the memory in the way (a target memory itself) and retry
          const blocker = String(error.extra?.conflicting_memory_id ?? "");
          if (live.has(blocker) && !pending.some((p) => p.memoryId === blocker && p.path === t.path)) {
            const parked = await this.memories.updateMemory(
              storeId,
              blocker,
              { path: `${PARKING}/${blocker}` },
              context,
            );
            live.set(blocker, parked);
          }
        }
      }
      pending = blocked;
    }
    return counts;
  }

  /** Creates a memory again under its old id (its head was removed by the delete), else a new id. */
  private async createAgain(storeId: string, t: TargetMemory, context: WriteContext): Promise<void> {
    try {
      await this.memories.createMemory(
        storeId,
        { path: t.path, content: t.content, memoryId: t.memoryId },
        context,
      );
    } catch (error) {
      if (!(error instanceof ConflictError) || error instanceof MemoryPathConflictError) throw error;
      await this.memories.createMemory(storeId, { path: t.path, content: t.content }, context);
    }
  }

  /**
   * Copies a store into a new one (name and description given), every memory written as `context`
   * — e.g. a dream's output store starting as a copy of its input.
   */
  async copyStore(
    workspaceId: string,
    sourceId: string,
    body: { name: string; description?: string; metadata?: Record<string, string> },
    context: WriteContext,
  ): Promise<MemoryStore> {
    await this.stores.retrieve(workspaceId, sourceId);
    const copy = await this.stores.create(workspaceId, body);
    for (const head of await this.memories.listAll(sourceId))
      await this.memories.createMemory(copy.id, { path: head.path, content: head.content }, context);
    return copy;
  }
}
