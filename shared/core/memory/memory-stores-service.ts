/** /v1/memory_stores: create, retrieve, update, list, delete, archive. */
import { NotFoundError } from "../../contract/errors.js";
import {
  MemoryStoreArchivedError,
  type MemoryStoreCreate,
  type MemoryStoreListQuery,
  type MemoryStoreUpdate,
} from "../../contract/memory-stores.js";
import type { MemoryStore } from "../../contract/sdk-types.js";
import { applyMetadataPatch } from "../../contract/validation.js";
import { collectPage, createdAtFilter, decodeCursor, type PageCursorBody } from "../paging.js";
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type DomainEvents,
  type IdGenerator,
  type StoredItem,
} from "../ports.js";
import { changeRevisioned, markDeleting } from "../revisioned-item.js";
import {
  dreamHoldKey,
  headKey,
  metaKey,
  pathKey,
  snapshotEntryKey,
  snapshotKey,
  storeKey,
  versionKey,
} from "./memory-records.js";

/** The id prefixes of this bounded context, as the SDK uses them (`memsnap` is Reverie's). */
export const memoryIdPrefix = {
  store: "memstore",
  memory: "mem",
  version: "memver",
  snapshot: "memsnap",
} as const;

export interface MemoryDeps {
  store: DocumentStore;
  ids: IdGenerator;
  clock: Clock;
  domainEvents: DomainEvents;
}

export class MemoryStoresService {
  constructor(private readonly deps: MemoryDeps) {}

  private now() {
    return new Date(this.deps.clock.now()).toISOString();
  }

  private async publish(workspaceId: string, type: string, store: MemoryStore, discriminator: string) {
    await this.deps.domainEvents.publish({
      type,
      id: `${type}:${store.id}:${discriminator}`,
      workspaceId,
      createdAt: this.now(),
      // `id` is what the SDK's memory_store webhooks carry; `memory_store_id` is kept for existing consumers.
      data: { id: store.id, memory_store_id: store.id },
    });
  }

  /**
   * Creates a store. With `options.id` (a dream's output store, whose id is chosen up front) the
   * create is idempotent: a retry finds the store it made and publishes the same event again.
   */
  async create(
    workspaceId: string,
    body: MemoryStoreCreate,
    options: { id?: string } = {},
  ): Promise<MemoryStore> {
    const now = this.now();
    let store: MemoryStore = {
      id: options.id ?? this.deps.ids.next(memoryIdPrefix.store),
      type: "memory_store",
      name: body.name,
      description: body.description ?? "",
      metadata: body.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    try {
      await this.deps.store.put(
        "resources",
        { pk: storeKey(workspaceId), sk: store.id, rev: 1, store },
        { expectedRev: 0 },
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError) || !options.id) throw error;
      store = await this.retrieve(workspaceId, store.id);
    }
    await this.publish(workspaceId, "memory_store.created", store, "created");
    return store;
  }

  /** The store's item; a 404 for a store being deleted (`deletingAt`, set by the delete's first write). */
  private async item(workspaceId: string, id: string): Promise<StoredItem> {
    const item = await this.deps.store.get("resources", storeKey(workspaceId), id);
    if (!item || item.deletingAt) throw new NotFoundError("memory store", id);
    return item;
  }

  async retrieve(workspaceId: string, id: string): Promise<MemoryStore> {
    return (await this.item(workspaceId, id)).store as MemoryStore;
  }

  /** The store, refusing an archived one (memory writes, store updates, new session mounts). */
  async writable(workspaceId: string, id: string): Promise<MemoryStore> {
    const store = await this.retrieve(workspaceId, id);
    if (store.archived_at) throw new MemoryStoreArchivedError(id);
    return store;
  }

  async update(workspaceId: string, id: string, body: MemoryStoreUpdate): Promise<MemoryStore> {
    let changedTo: MemoryStore | undefined;
    const result = await changeRevisioned<MemoryStore>(
      this.deps.store,
      "resources",
      "store",
      () => this.item(workspaceId, id),
      (current) => {
        if (current.archived_at) throw new MemoryStoreArchivedError(id);
        const next: MemoryStore = {
          ...current,
          name: body.name ?? current.name,
          description:
            body.description === undefined || body.description === null
              ? current.description
              : body.description,
          metadata: applyMetadataPatch(current.metadata, body.metadata),
        };
        const same =
          next.name === current.name &&
          next.description === current.description &&
          JSON.stringify(next.metadata) === JSON.stringify(current.metadata);
        changedTo = same ? undefined : { ...next, updated_at: this.now() };
        return changedTo;
      },
    );
    if (changedTo) await this.publish(workspaceId, "memory_store.updated", result, result.updated_at);
    return result;
  }

  async archive(workspaceId: string, id: string): Promise<MemoryStore> {
    const result = await changeRevisioned<MemoryStore>(
      this.deps.store,
      "resources",
      "store",
      () => this.item(workspaceId, id),
      (current) => {
        if (current.archived_at) return undefined;
        const now = this.now();
        return { ...current, archived_at: now, updated_at: now };
      },
    );
    await this.publish(workspaceId, "memory_store.archived", result, "archived");
    return result;
  }

  /**
   * Marks the store as being deleted (a rev-checked write of `deletingAt`: from then on it is a 404
   * for every route, since every memory, version and snapshot route checks the store), purges its
   * partitions, and deletes the store item last. A delete that dies midway leaves the marked item,
   * so a retried delete finds it and finishes the purge; nothing is left that no route can reach.
   */
  async delete(workspaceId: string, id: string): Promise<{ id: string; type: "memory_store_deleted" }> {
    const pk = storeKey(workspaceId);
    const marked = await markDeleting(
      this.deps.store,
      "resources",
      { pk, sk: id },
      this.now(),
      () => new NotFoundError("memory store", id),
    );
    const store = marked.store as MemoryStore;
    await this.publish(workspaceId, "memory_store.deleted", store, "deleted");
    const snapshots = await this.deps.store.query("resources", snapshotKey(id));
    const partitions = [
      ...snapshots.map((s) => snapshotEntryKey(id, String(s.sk))),
      snapshotKey(id),
      pathKey(id),
      headKey(id),
      versionKey(id),
      metaKey(id),
      dreamHoldKey(workspaceId, id),
    ];
    for (const partition of partitions) {
      for (;;) {
        const items = await this.deps.store.query("resources", partition, { limit: 100 });
        for (const item of items) await this.deps.store.delete("resources", partition, item.sk);
        if (items.length < 100) break;
      }
    }
    await this.deps.store.delete("resources", pk, id);
    return { id, type: "memory_store_deleted" };
  }

  async list(workspaceId: string, query: MemoryStoreListQuery): Promise<PageCursorBody<MemoryStore>> {
    const inRange = createdAtFilter(query);
    return collectPage<StoredItem, MemoryStore>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, limit) =>
        this.deps.store.query("resources", storeKey(workspaceId), { after, limit, order: "asc" }),
      keyOf: (i) => i.sk,
      keep: (i) => {
        const store = i.store as MemoryStore;
        if (i.deletingAt) return false;
        return (query.include_archived || !store.archived_at) && inRange(store.created_at);
      },
      map: (i) => i.store as MemoryStore,
    });
  }
}
