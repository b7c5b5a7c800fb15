/** Memory store lifecycle changes leave the core as domain events with deterministic ids. */
import { describe, expect, it } from "vitest";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import { TimeSortableIds } from "../../shared/contract/ids.js";
import { MemoryStoresService } from "../../shared/core/memory/memory-stores-service.js";
import type { DomainEvent } from "../../shared/core/ports.js";

describe("memory store domain events", () => {
  it("publishes created, updated, archived and deleted once per change, with ids fixed by the change", async () => {
    const published: DomainEvent[] = [];
    let now = Date.parse("2026-11-23T00:00:00Z");
    const stores = new MemoryStoresService({
      store: new MemoryDocumentStore(),
      ids: new TimeSortableIds(() => now),
      clock: { now: () => now++ },
      domainEvents: { publish: async (e) => void published.push(e) },
    });
    const store = await stores.create("ws", { name: "s" });
    await stores.update("ws", store.id, { description: "d" });
    await stores.update("ws", store.id, { description: "d" }); // no change, no event
    await stores.archive("ws", store.id);
    await stores.archive("ws", store.id); // archiving again changes nothing but re-announces the same event
    await stores.delete("ws", store.id);

    expect(published.map((e) => e.type)).toEqual([
      "memory_store.created",
      "memory_store.updated",
      "memory_store.archived",
      "memory_store.archived",
      "memory_store.deleted",
    ]);
    expect(published[2]?.id).toBe(published[3]?.id);
    expect(new Set(published.map((e) => e.id)).size).toBe(4);
    for (const e of published) {
      expect(e.workspaceId).toBe("ws");
      expect(e.data).toEqual({ id: store.id, memory_store_id: store.id });
    }
  });

  it("creates under a chosen id idempotently (a dream's output store): one store, the same created event", async () => {
    const published: DomainEvent[] = [];
    const stores = new MemoryStoresService({
      store: new MemoryDocumentStore(),
      ids: new TimeSortableIds(),
      clock: { now: () => Date.now() },
      domainEvents: { publish: async (e) => void published.push(e) },
    });
    const first = await stores.create("ws", { name: "out" }, { id: "memstore_chosen" });
    const retried = await stores.create("ws", { name: "out" }, { id: "memstore_chosen" });
    expect(retried).toEqual(first);
    expect(published.map((e) => [e.type, e.id])).toEqual([
      ["memory_store.created", published[0]?.id],
      ["memory_store.created", published[0]?.id],
    ]);
    await expect(stores.create("ws", { name: "other" })).resolves.toMatchObject({ name: "other" });
  });
});
