/**
 * Snapshots and restore (Reverie extensions) through the SDK client's generic methods: snapshot →
 * changes → restore brings back the exact contents; history keeps every version; a point-in-time
 * restore does the same without a snapshot.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type {
  MemoryStoreRestoreResult,
  MemoryStoreSnapshot,
} from "../../shared/core/memory/memory-snapshots-service.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { rejection } from "../fixtures/sdk-assertions.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const memories = () => h.client.beta.memoryStores.memories;

/** path → content of every memory of a store. */
async function contents(storeId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const m of memories().list(storeId, { view: "full" }))
    out[m.path] = (m as Anthropic.Beta.MemoryStores.BetaManagedAgentsMemory).content as string;
  return out;
}

async function versionIds(storeId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const v of h.client.beta.memoryStores.memoryVersions.list(storeId)) ids.push(v.id);
  return ids;
}

async function seed() {
  const store = await h.client.beta.memoryStores.create({ name: "snap" });
  const a = await memories().create(store.id, { path: "/a.md", content: "alpha" });
  const b = await memories().create(store.id, { path: "/dir/b.md", content: "beta" });
  const c = await memories().create(store.id, { path: "/dir/c.md", content: "gamma" });
  const d = await memories().create(store.id, { path: "/d.md", content: "delta" });
  return { store, a, b, c, d };
}

/** Every kind of change: modify, rename, delete, create, and a path swap. */
async function churn(storeId: string, ids: { a: string; b: string; c: string; d: string }) {
  await memories().update(ids.a, { memory_store_id: storeId, content: "ALPHA changed" });
  await memories().update(ids.b, { memory_store_id: storeId, path: "/moved/b.md" });
  await memories().delete(ids.c, { memory_store_id: storeId });
  await memories().create(storeId, { path: "/new.md", content: "new" });
  // swap /d.md and /a.md
  await memories().update(ids.d, { memory_store_id: storeId, path: "/tmp.md" });
  await memories().update(ids.a, { memory_store_id: storeId, path: "/d.md" });
  await memories().update(ids.d, { memory_store_id: storeId, path: "/a.md" });
}

describe("memory store snapshots and restore", () => {
  it("snapshot → changes → restore gives back the exact contents, keeping every version", async () => {
    const { store, a, b, c, d } = await seed();
    const before = await contents(store.id);
    const snapshot = await h.client.post<MemoryStoreSnapshot>(`/v1/memory_stores/${store.id}/snapshots`, {
      body: { name: "before churn" },
    });
    expect(snapshot).toMatchObject({
      type: "memory_store_snapshot",
      memory_store_id: store.id,
      name: "before churn",
      memory_count: 4,
    });
    expect(snapshot.id).toMatch(/^memsnap_/);
    expect(
      await h.client.get<MemoryStoreSnapshot>(`/v1/memory_stores/${store.id}/snapshots/${snapshot.id}`),
    ).toEqual(snapshot);

    await churn(store.id, { a: a.id, b: b.id, c: c.id, d: d.id });
    expect(await contents(store.id)).not.toEqual(before);
    const historyBefore = await versionIds(store.id);

    const result = await h.client.post<MemoryStoreRestoreResult>(`/v1/memory_stores/${store.id}/restore`, {
      body: { snapshot_id: snapshot.id },
    });
    expect(result).toMatchObject({
      type: "memory_store_restore",
      restored_from: { snapshot_id: snapshot.id },
    });
    expect(result.created).toBe(1); // c, under its old id
    expect(result.deleted).toBe(1); // /new.md
    expect(await contents(store.id)).toEqual(before);
    expect((await memories().retrieve(c.id, { memory_store_id: store.id })).content).toBe("gamma");

    const historyAfter = await versionIds(store.id);
    for (const id of historyBefore) expect(historyAfter).toContain(id);
    expect(historyAfter.length).toBeGreaterThan(historyBefore.length);
    const restoreVersions = (
      await h.client.beta.memoryStores.memoryVersions.list(store.id, { limit: 100 })
    ).data.filter(
      (v) =>
        (v as unknown as { reverie: { restored_from: string | null } }).reverie.restored_from === snapshot.id,
    );
    expect(restoreVersions.length).toBe(historyAfter.length - historyBefore.length);

    // the snapshot is immutable: later changes and restores don't alter it
    await memories().create(store.id, { path: "/after.md", content: "x" });
    const again = await h.client.post<MemoryStoreRestoreResult>(`/v1/memory_stores/${store.id}/restore`, {
      body: { snapshot_id: snapshot.id },
    });
    expect(again.deleted).toBe(1);
    expect(await contents(store.id)).toEqual(before);
    const listed = await h.client.get<{ data: MemoryStoreSnapshot[] }>(
      `/v1/memory_stores/${store.id}/snapshots`,
    );
    expect(listed.data).toEqual([snapshot]);
  });

  it("restores to a point in time", async () => {
    const { store, a, b, c, d } = await seed();
    const before = await contents(store.id);
    await new Promise((r) => setTimeout(r, 20));
    const at = new Date().toISOString();
    await new Promise((r) => setTimeout(r, 20));
    await churn(store.id, { a: a.id, b: b.id, c: c.id, d: d.id });
    await h.client.post(`/v1/memory_stores/${store.id}/restore`, { body: { point_in_time: at } });
    expect(await contents(store.id)).toEqual(before);
  });

  it("rejects a restore without exactly one target, and unknown snapshots", async () => {
    const { store } = await seed();
    await rejection(
      h.client.post(`/v1/memory_stores/${store.id}/restore`, { body: {} }),
      Anthropic.BadRequestError,
    );
    await rejection(
      h.client.post(`/v1/memory_stores/${store.id}/restore`, {
        body: { snapshot_id: "memsnap_x", point_in_time: new Date().toISOString() },
      }),
      Anthropic.BadRequestError,
    );
    await rejection(
      h.client.post(`/v1/memory_stores/${store.id}/restore`, { body: { snapshot_id: "memsnap_x" } }),
      Anthropic.NotFoundError,
    );
    await rejection(
      h.client.post(`/v1/memory_stores/${store.id}/snapshots`, { body: { name: "" } }),
      Anthropic.BadRequestError,
    );
  });
});
