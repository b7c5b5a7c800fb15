/**
 * Memories and memory versions: the API (`/v1/memory_stores/{id}/memories`, `…/memory_versions`)
 * and the write primitives that session mounts, restores and dreams use.
 *
 * Every write is a sequence of single-item conditional writes, ordered so a crash between any two
 * leaves a state the next operation repairs or ignores (see memory-records.ts for the items):
 * - create: reserve a slot in the count → put the head as `pending` (must not exist) → claim the
 *   path (ifNotExists) → mark the head live (rev-checked) → put the version. A claim always names
 *   a head that holds the whole create, so the next reader of a pending head whose path entry names
 *   it finishes the create (roll forward) and a claim without a head is free at once: a crashed
 *   create never blocks its path.
 * - update: claim the new path (rename) → move the head (rev-checked; the precondition is checked
 *   against the head that is overwritten) → put the version → release the old path.
 * - delete: tombstone the head (rev-checked) → put the `deleted` version → release the path →
 *   release the slot → remove the head.
 * Losers of a race write nothing but, at most, a path claim they release again.
 */
import { createHash } from "node:crypto";
import { ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import {
  effectiveLimit,
  MEMORY_LIMITS,
  type MemoryListQuery,
  MemoryPathConflictError,
  MemoryPreconditionFailedError,
  type MemoryVersionListQuery,
  type MemoryView,
} from "../../contract/memory-stores.js";
import type { Memory, MemoryPrefix, MemoryVersion } from "../../contract/sdk-types.js";
import { collectPage, createdAtFilter, decodeCursor, encodeCursor, type PageCursorBody } from "../paging.js";
import { ConditionFailedError, type StoredItem } from "../ports.js";
import {
  headKey,
  headSchema,
  type MemoryHead,
  metaKey,
  type PathEntry,
  type ProvenanceInput,
  pathEntrySchema,
  pathKey,
  provenanceSchema,
  type StoredVersion,
  versionKey,
  versionOfHead,
  versionSchema,
  type WriteActor,
} from "./memory-records.js";
import { type MemoryDeps, type MemoryStoresService, memoryIdPrefix } from "./memory-stores-service.js";

/** How long a path claim whose memory does not (yet) use it is protected from being taken over. */
export const PATH_CLAIM_LEASE_MS = 30_000;

/** The owner of a path entry that a finished delete handed back (no memory has this id). */
const RELEASED = "released";

/** Who writes, and (Reverie extension) where the write came from. */
export interface WriteContext {
  actor: WriteActor;
  provenance?: ProvenanceInput;
}

/** A content change: new content and/or path, optionally only if the current content has `expectedSha`. */
export interface MemoryChange {
  content?: string;
  path?: string;
  expectedSha?: string;
}

/** A version in the SDK's shape plus Reverie's provenance extension. */
export type MemoryVersionWithProvenance = MemoryVersion & {
  reverie: ReturnType<typeof provenanceSchema.parse>;
};

export const sha256 = (content: string) => createHash("sha256").update(content, "utf8").digest("hex");

const isLive = (head: MemoryHead | undefined): head is MemoryHead => head !== undefined && !head.deleted;

export class MemoriesService {
  constructor(
    private readonly deps: MemoryDeps,
    private readonly stores: MemoryStoresService,
  ) {}

  private now() {
    return new Date(this.deps.clock.now()).toISOString();
  }

  // -------------------------------------------------------------------------------------------
  // Reading
  // -------------------------------------------------------------------------------------------

  /**
   * The head of a memory (live or tombstoned), validated. A pending create is finished here if its
   * path is claimed, and is no memory (undefined) if not.
   */
  async head(storeId: string, memoryId: string): Promise<MemoryHead | undefined> {
    const item = await this.deps.store.get("resources", headKey(storeId), memoryId);
    if (!item) return undefined;
    const head = headSchema.parse(item);
    return head.pending ? this.finishCreate(head) : head;
  }

  /** Rolls a pending create forward if its path entry names it; idempotent, any reader may run it. */
  private async finishCreate(pending: MemoryHead): Promise<MemoryHead | undefined> {
    const entry = await this.pathEntry(pending.storeId, pending.path);
    if (entry?.memoryId !== pending.memoryId) return undefined;
    const live: MemoryHead = { ...pending, rev: pending.rev + 1, pending: false };
    try {
      await this.deps.store.put("resources", this.headItem(live), { expectedRev: pending.rev });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      // another reader (or the create itself) finished it first
      return this.head(pending.storeId, pending.memoryId);
    }
    await this.putVersion(versionOfHead(live));
    return live;
  }

  private async liveHead(storeId: string, memoryId: string): Promise<MemoryHead> {
    const head = await this.head(storeId, memoryId);
    if (head?.deleted) await this.finishDelete(head);
    if (!isLive(head)) throw new NotFoundError("memory", memoryId);
    return head;
  }

  /** The live memory at `path`, if any. */
  async findByPath(storeId: string, path: string): Promise<MemoryHead | undefined> {
    const entry = await this.pathEntry(storeId, path);
    if (!entry) return undefined;
    const head = await this.head(storeId, entry.memoryId);
    return isLive(head) && head.path === path ? head : undefined;
  }

  /**
   * Every live memory of a store, content included, in path order. For mounts (glob/grep) and
   * dreams; a store holds at most 2,000 memories of at most 100 kB.
   */
  async listAll(storeId: string, options: { pathPrefix?: string } = {}): Promise<MemoryHead[]> {
    const out: MemoryHead[] = [];
    let after: string | undefined;
    for (;;) {
      const batch = await this.deps.store.query("resources", pathKey(storeId), {
        after,
        beginsWith: options.pathPrefix,
        limit: 200,
      });
      for (const item of batch) {
        const head = await this.head(storeId, String(pathEntrySchema.parse(item).memoryId));
        if (isLive(head) && head.path === item.sk) out.push(head);
      }
      if (batch.length < 200) return out;
      after = String(batch[batch.length - 1]?.sk);
    }
  }

  private async pathEntry(
    storeId: string,
    path: string,
  ): Promise<(PathEntry & { path: string }) | undefined> {
    const item = await this.deps.store.get("resources", pathKey(storeId), path);
    return item ? { ...pathEntrySchema.parse(item), path } : undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Path index
  // -------------------------------------------------------------------------------------------

  /**
   * Whether a path entry still stands for a memory at that path: its head uses the path, or the
   * claim is fresh (a create or rename in progress that has not moved its head yet).
   */
  private async entryHolds(storeId: string, entry: PathEntry & { path: string }): Promise<boolean> {
    const head = await this.head(storeId, entry.memoryId);
    // no head: a create that died before its head (claims follow heads) or a finished delete
    if (!head || head.deleted) return false;
    if (head.path === entry.path) return true;
    // a rename in progress (claimed, head not moved yet) or one that died there
    return this.deps.clock.now() - entry.claimedAt < PATH_CLAIM_LEASE_MS;
  }

  /** The first live memory path that is an ancestor or a descendant of `path`. */
  private async overlapOf(storeId: string, path: string, self: string) {
    const segments = path.slice(1).split("/");
    for (let i = 1; i < segments.length; i++) {
      const ancestor = `/${segments.slice(0, i).join("/")}`;
      const entry = await this.pathEntry(storeId, ancestor);
      if (entry && entry.memoryId !== self && (await this.entryHolds(storeId, entry))) return entry;
    }
    let after: string | undefined;
    for (;;) {
      const batch = await this.deps.store.query("resources", pathKey(storeId), {
        beginsWith: `${path}/`,
        after,
        limit: 20,
      });
      for (const item of batch) {
        const entry = { ...pathEntrySchema.parse(item), path: String(item.sk) };
        if (entry.memoryId !== self && (await this.entryHolds(storeId, entry))) return entry;
      }
      if (batch.length < 20) return undefined;
      after = String(batch[batch.length - 1]?.sk);
    }
  }

  /** Claims `path` for `memoryId`, or throws MemoryPathConflictError naming the memory in the way. */
  private async claimPath(storeId: string, path: string, memoryId: string): Promise<void> {
    const overlap = await this.overlapOf(storeId, path, memoryId);
    if (overlap) throw new MemoryPathConflictError(overlap.path, overlap.memoryId);
    const fresh = {
      pk: pathKey(storeId),
      sk: path,
      schemaVersion: 1,
      memoryId,
      claimedAt: this.deps.clock.now(),
    };
    for (;;) {
      try {
        await this.deps.store.put("resources", { ...fresh, rev: 1 }, { ifNotExists: true });
        break;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        const entry = await this.pathEntry(storeId, path);
        if (!entry) continue;
        if (entry.memoryId === memoryId) return;
        if (await this.entryHolds(storeId, entry)) throw new MemoryPathConflictError(path, entry.memoryId);
        try {
          // a stale claim (crashed create/rename, finished delete): take it over, once
          await this.deps.store.put(
            "resources",
            { ...fresh, rev: entry.rev + 1 },
            { expectedRev: entry.rev },
          );
          break;
        } catch (retry) {
          if (!(retry instanceof ConditionFailedError)) throw retry;
        }
      }
    }
    // two concurrent claims of overlapping paths (`/a` and `/a/b`) can both pass the first check
    const late = await this.overlapOf(storeId, path, memoryId);
    if (late) {
      await this.releasePath(storeId, path, memoryId);
      throw new MemoryPathConflictError(late.path, late.memoryId);
    }
  }

  /** Removes the path entry if `memoryId` still owns it. */
  private async releasePath(storeId: string, path: string, memoryId: string): Promise<void> {
    const entry = await this.pathEntry(storeId, path);
    if (entry?.memoryId === memoryId) await this.deps.store.delete("resources", pathKey(storeId), path);
  }

  // -------------------------------------------------------------------------------------------
  // The 2,000-memory limit
  // -------------------------------------------------------------------------------------------

  /**
   * Reserves room for one more memory. The counter only ever over-counts after a crash (a slot is
   * taken before its path and given back after), so when it says "full" the path index is
   * recounted and the counter corrected.
   */
  private async reserveSlot(storeId: string): Promise<void> {
    const n = await this.deps.store.increment("resources", metaKey(storeId), "count", "n", 1);
    if (n <= MEMORY_LIMITS.memoriesPerStore) return;
    const actual = (await this.deps.store.query("resources", pathKey(storeId))).length;
    if (actual + 1 <= MEMORY_LIMITS.memoriesPerStore) {
      await this.deps.store.increment("resources", metaKey(storeId), "count", "n", actual + 1 - n);
      return;
    }
    await this.releaseSlot(storeId);
    throw new InvalidRequestError(
      `memory store ${storeId} already holds the maximum of ${MEMORY_LIMITS.memoriesPerStore} memories`,
    );
  }

  private async releaseSlot(storeId: string): Promise<void> {
    await this.deps.store.increment("resources", metaKey(storeId), "count", "n", -1);
  }

  // -------------------------------------------------------------------------------------------
  // Versions
  // -------------------------------------------------------------------------------------------

  private async putVersion(version: StoredVersion): Promise<void> {
    try {
      await this.deps.store.put(
        "resources",
        { pk: versionKey(version.storeId), sk: version.versionId, ...version },
        { ifNotExists: true },
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  /** Writes the version the head stands for if a crash kept it from being written. */
  async ensureVersion(head: MemoryHead): Promise<void> {
    const existing = await this.deps.store.get("resources", versionKey(head.storeId), head.versionId);
    if (!existing) await this.putVersion(versionOfHead(head));
  }

  // -------------------------------------------------------------------------------------------
  // Writing (store-level primitives: the caller has checked the store belongs to the workspace)
  // -------------------------------------------------------------------------------------------

  private headItem(head: MemoryHead): StoredItem {
    return { pk: headKey(head.storeId), sk: head.memoryId, ...head };
  }

  /** Creates a memory at `path`; never overwrites (409 memory_path_conflict_error). */
  async createMemory(
    storeId: string,
    input: { path: string; content: string; memoryId?: string },
    context: WriteContext,
  ): Promise<MemoryHead> {
    const memoryId = input.memoryId ?? this.deps.ids.next(memoryIdPrefix.memory);
    await this.reserveSlot(storeId);
    const now = this.now();
    const pending: MemoryHead = {
      schemaVersion: 1,
      rev: 1,
      memoryId,
      storeId,
      path: input.path,
      content: input.content,
      sha: sha256(input.content),
      size: Buffer.byteLength(input.content, "utf8"),
      createdAt: now,
      updatedAt: now,
      versionId: this.deps.ids.next(memoryIdPrefix.version),
      operation: "created",
      actor: context.actor,
      provenance: provenanceSchema.parse(context.provenance ?? {}),
      deleted: false,
      pending: true,
    };
    try {
      await this.deps.store.put("resources", this.headItem(pending), { expectedRev: 0 });
    } catch (error) {
      await this.releaseSlot(storeId);
      throw error instanceof ConditionFailedError
        ? new ConflictError(`memory ${memoryId} already exists`)
        : error;
    }
    try {
      await this.claimPath(storeId, input.path, memoryId);
    } catch (error) {
      await this.deps.store.delete("resources", headKey(storeId), memoryId);
      await this.releaseSlot(storeId);
      throw error;
    }
    const head = await this.finishCreate(pending);
    if (!head) throw new Error(`memory ${memoryId}: its path claim vanished while it was created`);
    return head;
  }

  /**
   * Changes a memory's content and/or path (a rename). With `expectedSha` the change applies only
   * if the memory's current content hashes to it, unless the memory already is what was asked for.
   * A change that changes nothing adds no version.
   */
  async updateMemory(
    storeId: string,
    memoryId: string,
    change: MemoryChange,
    context: WriteContext,
  ): Promise<MemoryHead> {
    for (;;) {
      const head = await this.liveHead(storeId, memoryId);
      await this.ensureVersion(head);
      const content = change.content ?? head.content;
      const path = change.path ?? head.path;
      if (content === head.content && path === head.path) return head;
      if (change.expectedSha !== undefined && change.expectedSha !== head.sha)
        throw new MemoryPreconditionFailedError(memoryId);
      const renamed = path !== head.path;
      if (renamed) await this.claimPath(storeId, path, memoryId);
      const next: MemoryHead = {
        ...head,
        rev: head.rev + 1,
        path,
        content,
        sha: sha256(content),
        size: Buffer.byteLength(content, "utf8"),
        updatedAt: this.now(),
        versionId: this.deps.ids.next(memoryIdPrefix.version),
        operation: "modified",
        actor: context.actor,
        provenance: provenanceSchema.parse(context.provenance ?? {}),
      };
      try {
        await this.deps.store.put("resources", this.headItem(next), { expectedRev: head.rev });
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        if (renamed) await this.releasePath(storeId, path, memoryId);
        continue;
      }
      await this.putVersion(versionOfHead(next));
      if (renamed) await this.releasePath(storeId, head.path, memoryId);
      return next;
    }
  }

  /** Deletes a memory (its versions stay), optionally only if its content hashes to `expectedSha`. */
  async deleteMemory(
    storeId: string,
    memoryId: string,
    expectedSha: string | undefined,
    context: WriteContext,
  ): Promise<void> {
    for (;;) {
      const head = await this.liveHead(storeId, memoryId);
      await this.ensureVersion(head);
      if (expectedSha !== undefined && expectedSha !== head.sha)
        throw new MemoryPreconditionFailedError(memoryId);
      const tombstone: MemoryHead = {
        ...head,
        rev: head.rev + 1,
        deleted: true,
        operation: "deleted",
        updatedAt: this.now(),
        versionId: this.deps.ids.next(memoryIdPrefix.version),
        actor: context.actor,
        provenance: provenanceSchema.parse(context.provenance ?? {}),
      };
      try {
        await this.deps.store.put("resources", this.headItem(tombstone), { expectedRev: head.rev });
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        continue;
      }
      await this.finishDelete(tombstone);
      return;
    }
  }

  /** The steps of a delete after the tombstone; idempotent, so a crashed delete is finished by the next reader. */
  private async finishDelete(tombstone: MemoryHead): Promise<void> {
    await this.putVersion(versionOfHead(tombstone));
    const entry = await this.pathEntry(tombstone.storeId, tombstone.path);
    if (entry?.memoryId === tombstone.memoryId) {
      // a rev-checked hand-back first, so that of two finishers only one gives the slot back
      try {
        await this.deps.store.put(
          "resources",
          {
            pk: pathKey(tombstone.storeId),
            sk: tombstone.path,
            schemaVersion: 1,
            rev: entry.rev + 1,
            memoryId: RELEASED,
            claimedAt: 0,
          },
          { expectedRev: entry.rev },
        );
        await this.releaseSlot(tombstone.storeId);
        await this.deps.store.delete("resources", pathKey(tombstone.storeId), tombstone.path);
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    await this.deps.store.delete("resources", headKey(tombstone.storeId), tombstone.memoryId);
  }

  /** Writes `content` at `path`: updates the memory there or creates one (the mount's write/edit). */
  async writeAtPath(
    storeId: string,
    path: string,
    content: string,
    context: WriteContext & { expectedSha?: string },
  ): Promise<MemoryHead> {
    for (let attempt = 0; ; attempt++) {
      const existing = await this.findByPath(storeId, path);
      try {
        if (existing)
          return await this.updateMemory(
            storeId,
            existing.memoryId,
            { content, expectedSha: context.expectedSha },
            context,
          );
        return await this.createMemory(storeId, { path, content }, context);
      } catch (error) {
        // a concurrent create at the same path, or a delete of the one found: look again
        const raced = error instanceof MemoryPathConflictError || error instanceof NotFoundError;
        if (!raced || attempt >= 3) throw error;
      }
    }
  }

  // -------------------------------------------------------------------------------------------
  // The API (workspace-checked)
  // -------------------------------------------------------------------------------------------

  async create(
    workspaceId: string,
    storeId: string,
    body: { path: string; content: string | null },
    context: WriteContext,
    view: MemoryView = "basic",
  ): Promise<Memory> {
    await this.stores.writable(workspaceId, storeId);
    return toMemory(
      await this.createMemory(storeId, { path: body.path, content: body.content ?? "" }, context),
      view,
    );
  }

  async retrieve(
    workspaceId: string,
    storeId: string,
    memoryId: string,
    view: MemoryView = "full",
  ): Promise<Memory> {
    await this.stores.retrieve(workspaceId, storeId);
    const head = await this.liveHead(storeId, memoryId);
    await this.ensureVersion(head);
    return toMemory(head, view);
  }

  async update(
    workspaceId: string,
    storeId: string,
    memoryId: string,
    body: { content?: string | null; path?: string | null; precondition?: { content_sha256?: string } },
    context: WriteContext,
    view: MemoryView = "basic",
  ): Promise<Memory> {
    await this.stores.writable(workspaceId, storeId);
    const head = await this.updateMemory(
      storeId,
      memoryId,
      {
        content: body.content ?? undefined,
        path: body.path ?? undefined,
        expectedSha: body.precondition?.content_sha256,
      },
      context,
    );
    return toMemory(head, view);
  }

  async delete(
    workspaceId: string,
    storeId: string,
    memoryId: string,
    expectedSha: string | undefined,
    context: WriteContext,
  ): Promise<{ id: string; type: "memory_deleted" }> {
    await this.stores.retrieve(workspaceId, storeId);
    await this.deleteMemory(storeId, memoryId, expectedSha, context);
    return { id: memoryId, type: "memory_deleted" };
  }

  /**
   * Lists memories in path order below `path_prefix`. With `depth` > 0, memories more than `depth`
   * segments below the prefix are rolled up into one `memory_prefix` item per directory.
   */
  async list(
    workspaceId: string,
    storeId: string,
    query: MemoryListQuery,
  ): Promise<PageCursorBody<Memory | MemoryPrefix>> {
    await this.stores.retrieve(workspaceId, storeId);
    const prefix = query.path_prefix ?? "/";
    const limit = effectiveLimit(query.limit, query.view);
    const view = query.view ?? "basic";
    const start = decodeCursor(query.page);
    let after = typeof start === "string" ? start : undefined;
    const out: Array<Memory | MemoryPrefix> = [];
    let lastKey: string | undefined = after;
    for (;;) {
      const batch = await this.deps.store.query("resources", pathKey(storeId), {
        beginsWith: prefix,
        after,
        limit: 100,
      });
      for (const item of batch) {
        const path = String(item.sk);
        if (lastKey?.endsWith("/") && path.startsWith(lastKey)) continue;
        const head = await this.head(storeId, pathEntrySchema.parse(item).memoryId);
        if (!isLive(head) || head.path !== path) continue;
        const below = path.slice(prefix.length).split("/");
        const rolled = query.depth > 0 && below.length > query.depth;
        const key = rolled ? `${prefix}${below.slice(0, query.depth).join("/")}/` : path;
        if (out.length === limit) return { data: out, next_page: encodeCursor(lastKey as string) };
        out.push(rolled ? { type: "memory_prefix", path: key } : toMemory(head, view));
        lastKey = key;
      }
      if (batch.length < 100) return { data: out, next_page: null };
      after = String(batch[batch.length - 1]?.sk);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Versions (API)
  // -------------------------------------------------------------------------------------------

  private async versionItem(storeId: string, versionId: string): Promise<StoredVersion> {
    const item = await this.deps.store.get("resources", versionKey(storeId), versionId);
    if (!item) throw new NotFoundError("memory version", versionId);
    return versionSchema.parse(item);
  }

  /** Versions of a store, newest first, with the SDK's filters. */
  async listVersions(
    workspaceId: string,
    storeId: string,
    query: MemoryVersionListQuery,
  ): Promise<PageCursorBody<MemoryVersionWithProvenance>> {
    await this.stores.retrieve(workspaceId, storeId);
    return this.listStoredVersions(storeId, query);
  }

  /** The store-level version list (no workspace check): for restores and dreams. */
  async listStoredVersions(
    storeId: string,
    query: MemoryVersionListQuery,
  ): Promise<PageCursorBody<MemoryVersionWithProvenance>> {
    if (query.memory_id) {
      const head = await this.head(storeId, query.memory_id);
      if (head?.deleted) await this.finishDelete(head);
      else if (head) await this.ensureVersion(head);
    }
    const inRange = createdAtFilter(query);
    const view = query.view ?? "basic";
    return collectPage<StoredVersion, MemoryVersionWithProvenance>({
      limit: effectiveLimit(query.limit, query.view),
      start: decodeCursor(query.page),
      read: async (before, limit) =>
        (
          await this.deps.store.query("resources", versionKey(storeId), {
            before,
            limit,
            order: "desc",
          })
        ).map((i) => versionSchema.parse(i)),
      keyOf: (v) => v.versionId,
      keep: (v) =>
        (!query.memory_id || v.memoryId === query.memory_id) &&
        (!query.operation || v.operation === query.operation) &&
        (!query.session_id ||
          (v.actor.type === "session_actor" && v.actor.session_id === query.session_id)) &&
        (!query.api_key_id || (v.actor.type === "api_actor" && v.actor.api_key_id === query.api_key_id)) &&
        // no service accounts in Reverie: nothing was written by one
        !query.service_account_id &&
        inRange(v.createdAt),
      map: (v) => toVersion(v, view),
    });
  }

  async retrieveVersion(
    workspaceId: string,
    storeId: string,
    versionId: string,
    view: MemoryView = "full",
  ): Promise<MemoryVersionWithProvenance> {
    await this.stores.retrieve(workspaceId, storeId);
    return toVersion(await this.versionItem(storeId, versionId), view);
  }

  /** The stored version (content included) — for restores. */
  async storedVersion(storeId: string, versionId: string): Promise<StoredVersion> {
    return this.versionItem(storeId, versionId);
  }

  /**
   * Scrubs a version's content, path, size and hash, keeping the record. The version that holds a
   * live memory's current content can't be redacted: update or delete the memory first.
   */
  async redactVersion(
    workspaceId: string,
    storeId: string,
    versionId: string,
    actor: WriteActor,
  ): Promise<MemoryVersionWithProvenance> {
    await this.stores.retrieve(workspaceId, storeId);
    const version = await this.versionItem(storeId, versionId);
    const head = await this.head(storeId, version.memoryId);
    if (isLive(head) && head.versionId === versionId)
      throw new ConflictError(
        `memory version ${versionId} holds the current content of memory ${version.memoryId}; update or delete the memory before redacting it`,
      );
    if (version.redactedAt) return toVersion(version, "full");
    const redacted: StoredVersion = {
      ...version,
      path: null,
      content: null,
      sha: null,
      size: null,
      redactedAt: this.now(),
      redactedBy: actor,
    };
    await this.deps.store.put("resources", { pk: versionKey(storeId), sk: versionId, ...redacted });
    return toVersion(redacted, "full");
  }
}

/** A head as the SDK's `BetaManagedAgentsMemory`. */
export function toMemory(head: MemoryHead, view: MemoryView): Memory {
  return {
    id: head.memoryId,
    type: "memory",
    memory_store_id: head.storeId,
    path: head.path,
    content: view === "full" ? head.content : null,
    content_sha256: head.sha,
    content_size_bytes: head.size,
    created_at: head.createdAt,
    updated_at: head.updatedAt,
    memory_version_id: head.versionId,
  };
}

/** A stored version as the SDK's `BetaManagedAgentsMemoryVersion`, plus `reverie` (provenance, taint). */
export function toVersion(version: StoredVersion, view: MemoryView): MemoryVersionWithProvenance {
  return {
    id: version.versionId,
    type: "memory_version",
    memory_id: version.memoryId,
    memory_store_id: version.storeId,
    operation: version.operation,
    created_at: version.createdAt,
    path: version.path,
    content: view === "full" ? version.content : null,
    content_sha256: version.sha,
    content_size_bytes: version.size,
    created_by: version.actor,
    redacted_at: version.redactedAt,
    ...(version.redactedBy ? { redacted_by: version.redactedBy } : {}),
    reverie: version.provenance,
  };
}
