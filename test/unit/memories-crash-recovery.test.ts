/**
 * The memory write path over an in-memory store that "crashes" (throws before a chosen write):
 * whatever write a create, rename or delete dies before, the store ends up consistent or is
 * repaired by the next operation — no lost memory, no stuck path, no missing version.
 */
import { describe, expect, it } from "vitest";
import { NotFoundError } from "../../shared/contract/errors.js";
import { TimeSortableIds } from "../../shared/contract/ids.js";
import { MemoryPathConflictError } from "../../shared/contract/memory-stores.js";
import { MemoriesService, PATH_CLAIM_LEASE_MS } from "../../shared/core/memory/memories-service.js";
import {
  dreamHoldKey,
  headKey,
  metaKey,
  pathKey,
  snapshotKey,
  storeKey,
  versionKey,
} from "../../shared/core/memory/memory-records.js";
import { MemoryStoresService } from "../../shared/core/memory/memory-stores-service.js";
import { CrashError, CrashingStore } from "../fixtures/crashing-store.js";

const WS = "wrkspc_test";
const api = { actor: { type: "api_actor" as const, api_key_id: "apikey_t" } };

async function setup() {
  let now = Date.parse("2026-11-23T00:00:00Z");
  const store = new CrashingStore();
  const deps = {
    store,
    ids: new TimeSortableIds(() => now++),
    // every reading moves the clock on, so ids and timestamps of successive writes are ordered
    clock: { now: () => now++ },
    domainEvents: { publish: async () => {} },
  };
  const stores = new MemoryStoresService(deps);
  const memories = new MemoriesService(deps, stores);
  const memStore = await stores.create(WS, { name: "crashy" });
  const versionsOf = async (memoryId: string) =>
    (await memories.listVersions(WS, memStore.id, { limit: 100, memory_id: memoryId })).data.map(
      (v) => v.operation,
    );
  return {
    store,
    stores,
    memories,
    storeId: memStore.id,
    versionsOf,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe("memory writes survive a crash between any two writes", () => {
  it("create: crash before the version — the version is written by the next read", async () => {
    const t = await setup();
    t.store.crashOn = { op: "put", pk: /#ver$/ };
    await expect(t.memories.createMemory(t.storeId, { path: "/a", content: "A" }, api)).rejects.toThrow(
      CrashError,
    );
    t.store.restart();
    const [head] = await t.memories.listAll(t.storeId);
    expect(head?.content).toBe("A");
    await t.memories.retrieve(WS, t.storeId, head?.memoryId as string);
    expect(await t.versionsOf(head?.memoryId as string)).toEqual(["created"]);
  });

  it("create: crash before the head — nothing was claimed, the path is free at once", async () => {
    const t = await setup();
    t.store.crashOn = { op: "put", pk: /#mem$/ };
    await expect(t.memories.createMemory(t.storeId, { path: "/a", content: "A" }, api)).rejects.toThrow(
      CrashError,
    );
    t.store.restart();
    expect(await t.memories.listAll(t.storeId)).toEqual([]);
    const created = await t.memories.createMemory(t.storeId, { path: "/a", content: "B" }, api);
    expect((await t.memories.findByPath(t.storeId, "/a"))?.memoryId).toBe(created.memoryId);
  });

  it("create: crash before the path claim — the pending memory is invisible and the path free at once", async () => {
    const t = await setup();
    t.store.crashOn = { op: "put", pk: /#path$/ };
    await expect(t.memories.createMemory(t.storeId, { path: "/a", content: "A" }, api)).rejects.toThrow(
      CrashError,
    );
    t.store.restart();
    expect(await t.memories.listAll(t.storeId)).toEqual([]);
    const created = await t.memories.createMemory(t.storeId, { path: "/a", content: "B" }, api);
    expect((await t.memories.listAll(t.storeId)).map((h) => [h.path, h.content, h.memoryId])).toEqual([
      ["/a", "B", created.memoryId],
    ]);
  });

  it("create: crash after the path claim — the next access finishes the create; no orphan holds the path", async () => {
    const t = await setup();
    // the first head put (pending) goes through; the crash comes before the second (going live)
    let heads = 0;
    const put = t.store.put.bind(t.store);
    t.store.put = async (table, item, options) => {
      if (/#mem$/.test(item.pk) && ++heads === 2) {
        t.store.crashOn = { op: "put", pk: /#mem$/ };
      }
      return put(table, item, options);
    };
    await expect(t.memories.createMemory(t.storeId, { path: "/a", content: "A" }, api)).rejects.toThrow(
      CrashError,
    );
    t.store.restart();
    t.store.put = put;
    // a second create at the same path meets the first one, finished — a real memory, not a 404
    const conflict = await t.memories
      .createMemory(t.storeId, { path: "/a", content: "B" }, api)
      .catch((error: unknown) => error);
    expect(conflict).toBeInstanceOf(MemoryPathConflictError);
    const [first] = await t.memories.listAll(t.storeId);
    expect(first?.content).toBe("A");
    expect((conflict as Error).message).toContain(first?.memoryId);
    await t.memories.retrieve(WS, t.storeId, first?.memoryId as string);
    expect(await t.versionsOf(first?.memoryId as string)).toEqual(["created"]);
    // and an edit through the path goes straight through
    const edited = await t.memories.writeAtPath(t.storeId, "/a", "A2", api);
    expect(edited.memoryId).toBe(first?.memoryId);
    expect(await t.versionsOf(first?.memoryId as string)).toEqual(["modified", "created"]);
  });

  it("create: whatever write it dies before, 20 creates and edits after a restart never meet a blocked path", async () => {
    for (const crashOn of [/#mem$/, /#path$/, /#ver$/]) {
      const t = await setup();
      t.store.crashOn = { op: "put", pk: crashOn };
      await t.memories.createMemory(t.storeId, { path: "/p", content: "0" }, api).catch(() => undefined);
      t.store.restart();
      for (let i = 1; i <= 20; i++) await t.memories.writeAtPath(t.storeId, "/p", String(i), api);
      const live = await t.memories.listAll(t.storeId);
      expect(live.map((h) => [h.path, h.content])).toEqual([["/p", "20"]]);
    }
  });

  it("rename: crash before the head moves — the memory keeps its old path, the new one frees up", async () => {
    const t = await setup();
    const m = await t.memories.createMemory(t.storeId, { path: "/old", content: "x" }, api);
    t.store.crashOn = { op: "put", pk: /#mem$/ };
    await expect(t.memories.updateMemory(t.storeId, m.memoryId, { path: "/new" }, api)).rejects.toThrow(
      CrashError,
    );
    t.store.restart();
    expect((await t.memories.findByPath(t.storeId, "/old"))?.memoryId).toBe(m.memoryId);
    expect(await t.memories.findByPath(t.storeId, "/new")).toBeUndefined();
    // the same rename, retried, goes through (its own claim is reused)
    const renamed = await t.memories.updateMemory(t.storeId, m.memoryId, { path: "/new" }, api);
    expect(renamed.path).toBe("/new");
    expect(await t.versionsOf(m.memoryId)).toEqual(["modified", "created"]);
  });

  it("rename: crash before the old path is released — the old path is reusable once its claim is old", async () => {
    const t = await setup();
    const m = await t.memories.createMemory(t.storeId, { path: "/old", content: "x" }, api);
    t.store.crashOn = { op: "delete", pk: /#path$/ };
    await expect(t.memories.updateMemory(t.storeId, m.memoryId, { path: "/new" }, api)).rejects.toThrow(
      CrashError,
    );
    t.store.restart();
    expect((await t.memories.findByPath(t.storeId, "/new"))?.memoryId).toBe(m.memoryId);
    expect(await t.memories.findByPath(t.storeId, "/old")).toBeUndefined();
    t.advance(PATH_CLAIM_LEASE_MS + 1);
    const other = await t.memories.createMemory(t.storeId, { path: "/old", content: "y" }, api);
    expect((await t.memories.listAll(t.storeId)).map((h) => [h.path, h.memoryId])).toEqual([
      ["/new", m.memoryId],
      ["/old", other.memoryId],
    ]);
  });

  it("delete: crash after the tombstone — the next read finishes the delete and the path is free at once", async () => {
    const t = await setup();
    const m = await t.memories.createMemory(t.storeId, { path: "/a", content: "x" }, api);
    t.store.crashOn = { op: "put", pk: /#ver$/ };
    await expect(t.memories.deleteMemory(t.storeId, m.memoryId, undefined, api)).rejects.toThrow(CrashError);
    t.store.restart();
    await expect(t.memories.retrieve(WS, t.storeId, m.memoryId)).rejects.toThrow(NotFoundError);
    expect(await t.versionsOf(m.memoryId)).toEqual(["deleted", "created"]);
    await t.memories.createMemory(t.storeId, { path: "/a", content: "again" }, api);
  });

  it("update: a failed precondition or a lost race writes nothing", async () => {
    const t = await setup();
    const m = await t.memories.createMemory(t.storeId, { path: "/c", content: "0" }, api);
    const results = await Promise.allSettled(
      ["1", "2", "3"].map((content) =>
        t.memories.updateMemory(t.storeId, m.memoryId, { content, expectedSha: m.sha }, api),
      ),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(await t.versionsOf(m.memoryId)).toEqual(["modified", "created"]);
  });
});

describe("deleting a memory store", () => {
  for (const [where, pk] of [
    ["before its memories are purged", /#mem$/],
    ["before its versions are purged", /#ver$/],
    ["before the store item goes", /#memstore$/],
  ] as const) {
    it(`a delete that dies ${where} is finished by a retry; the store is gone meanwhile`, async () => {
      const t = await setup();
      await t.memories.createMemory(t.storeId, { path: "/a", content: "A" }, api);
      // A dream's hold on the store, released (it names no dream): it goes with the store.
      await t.store.put("resources", { pk: dreamHoldKey(WS, t.storeId), sk: "hold", rev: 2, dreamId: null });
      t.store.crashOn = { op: "delete", pk };
      await expect(t.stores.delete(WS, t.storeId)).rejects.toThrow(CrashError);
      t.store.restart();
      // gone for every route from the delete's first write
      await expect(t.stores.retrieve(WS, t.storeId)).rejects.toBeInstanceOf(NotFoundError);
      expect((await t.stores.list(WS, { limit: 100, include_archived: true })).data).toEqual([]);
      await expect(
        t.memories.create(WS, t.storeId, { path: "/b", content: "B" }, api),
      ).rejects.toBeInstanceOf(NotFoundError);
      expect(await t.stores.delete(WS, t.storeId)).toEqual({ id: t.storeId, type: "memory_store_deleted" });
      for (const key of [headKey, pathKey, versionKey, metaKey, snapshotKey])
        expect(await t.store.query("resources", key(t.storeId)), key(t.storeId)).toEqual([]);
      expect(await t.store.query("resources", dreamHoldKey(WS, t.storeId))).toEqual([]);
      expect(await t.store.get("resources", storeKey(WS), t.storeId)).toBeUndefined();
      await expect(t.stores.delete(WS, t.storeId)).rejects.toBeInstanceOf(NotFoundError);
    });
  }
});
