/**
 * /v1/memory_stores, memories and memory versions through the official SDK against the embedded
 * stack: every endpoint, the two memory 409s, the documented limits and `created_by`.
 */
import { createHash } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Memory = Anthropic.Beta.MemoryStores.BetaManagedAgentsMemory;
type ListItem = Anthropic.Beta.MemoryStores.BetaManagedAgentsMemoryListItem;

const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");

let h: Harness;
let apiKeyId: string;
beforeAll(async () => {
  h = await startHarness();
  const principal = await h.stack.services.apiKeys.resolve(h.stack.apiKey);
  apiKeyId = principal?.apiKeyId as string;
});
afterAll(async () => h.close());

const stores = () => h.client.beta.memoryStores;
const memories = () => h.client.beta.memoryStores.memories;
const versions = () => h.client.beta.memoryStores.memoryVersions;

async function all<T>(page: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of page) out.push(item);
  return out;
}

describe("memory stores", () => {
  it("creates, retrieves, updates, lists, archives and deletes a store", async () => {
    const store = await stores().create({ name: "User Preferences", metadata: { user: "u1" } });
    expect(store).toMatchObject({
      type: "memory_store",
      name: "User Preferences",
      description: "",
      metadata: { user: "u1" },
      archived_at: null,
    });
    expect(store.id).toMatch(/^memstore_/);
    expect(await stores().retrieve(store.id)).toEqual(store);

    const updated = await stores().update(store.id, {
      description: "what the user likes",
      metadata: { user: null, team: "t" },
    });
    expect(updated.description).toBe("what the user likes");
    expect(updated.metadata).toEqual({ team: "t" });
    expect(updated.name).toBe("User Preferences");

    const archived = await stores().archive(store.id);
    expect(archived.archived_at).not.toBeNull();
    const listed = (await all(stores().list())).map((s) => s.id);
    expect(listed).not.toContain(store.id);
    expect((await all(stores().list({ include_archived: true }))).map((s) => s.id)).toContain(store.id);
    await rejection(stores().update(store.id, { name: "x" }), Anthropic.BadRequestError);
    await rejection(memories().create(store.id, { path: "/a.md", content: "a" }), Anthropic.BadRequestError);

    expect(await stores().delete(store.id)).toEqual({ id: store.id, type: "memory_store_deleted" });
    await rejection(stores().retrieve(store.id), Anthropic.NotFoundError);
  });

  it("validates names, descriptions and metadata", async () => {
    await rejection(stores().create({ name: "" }), Anthropic.BadRequestError);
    await rejection(stores().create({ name: "x".repeat(256) }), Anthropic.BadRequestError);
    await rejection(stores().create({ name: "a\u0007b" }), Anthropic.BadRequestError);
    await rejection(
      stores().create({ name: "ok", description: "d".repeat(1025) }),
      Anthropic.BadRequestError,
    );
    const tooMany = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
    await rejection(stores().create({ name: "ok", metadata: tooMany }), Anthropic.BadRequestError);
  });

  it("pages through stores and filters by created_at", async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await stores().create({ name: `paged-${i}` }));
    const page = await stores().list({ limit: 2 });
    expect(page.data).toHaveLength(2);
    const ids = (await all(stores().list({ limit: 2 }))).map((s) => s.id);
    for (const s of made) expect(ids).toContain(s.id);
    const future = await stores().list({ "created_at[gte]": new Date(Date.now() + 60_000).toISOString() });
    expect(future.data).toEqual([]);
  });
});

describe("memories", () => {
  it("creates (basic view), retrieves (full view), renames and deletes a memory", async () => {
    const store = await stores().create({ name: "notes" });
    const created = await memories().create(store.id, { path: "/projects/foo/notes.md", content: "hello" });
    expect(created).toMatchObject({
      type: "memory",
      memory_store_id: store.id,
      path: "/projects/foo/notes.md",
      content: null,
      content_sha256: sha("hello"),
      content_size_bytes: 5,
    });
    expect(created.id).toMatch(/^mem_/);
    expect(created.memory_version_id).toMatch(/^memver_/);

    const full = await memories().retrieve(created.id, { memory_store_id: store.id });
    expect(full.content).toBe("hello");
    const basic = await memories().retrieve(created.id, { memory_store_id: store.id, view: "basic" });
    expect(basic.content).toBeNull();

    const renamed = await memories().update(created.id, {
      memory_store_id: store.id,
      path: "/projects/bar/notes.md",
      view: "full",
    });
    expect(renamed.id).toBe(created.id);
    expect(renamed.path).toBe("/projects/bar/notes.md");
    expect(renamed.content).toBe("hello");
    expect(renamed.memory_version_id).not.toBe(created.memory_version_id);
    // the old path is free again
    const reuse = await memories().create(store.id, { path: "/projects/foo/notes.md", content: "again" });
    expect(reuse.id).not.toBe(created.id);

    const unchanged = await memories().update(created.id, { memory_store_id: store.id, content: "hello" });
    expect(unchanged.memory_version_id).toBe(renamed.memory_version_id);

    expect(await memories().delete(created.id, { memory_store_id: store.id })).toEqual({
      id: created.id,
      type: "memory_deleted",
    });
    await rejection(memories().retrieve(created.id, { memory_store_id: store.id }), Anthropic.NotFoundError);
    await memories().create(store.id, { path: "/projects/bar/notes.md", content: "path free after delete" });
  });

  it("never overwrites: 409 memory_path_conflict_error with the conflicting memory, also for overlapping paths", async () => {
    const store = await stores().create({ name: "conflicts" });
    const first = await memories().create(store.id, { path: "/notes/todo.md", content: "1" });
    for (const path of ["/notes/todo.md", "/notes", "/notes/todo.md/deeper"]) {
      const error = await rejection(
        memories().create(store.id, { path, content: "2" }),
        Anthropic.ConflictError,
      );
      const body = (error.error as { error: Record<string, string> }).error;
      expect(body.type).toBe("memory_path_conflict_error");
      expect(body.conflicting_memory_id).toBe(first.id);
      expect(typeof body.conflicting_path).toBe("string");
    }
    const other = await memories().create(store.id, { path: "/notes-archive/todo.md", content: "3" });
    const error = await rejection(
      memories().update(other.id, { memory_store_id: store.id, path: "/notes/todo.md" }),
      Anthropic.ConflictError,
    );
    expect((error.error as { error: { type: string } }).error.type).toBe("memory_path_conflict_error");
    const still = await memories().retrieve(first.id, { memory_store_id: store.id });
    expect(still.content).toBe("1");
  });

  it("applies content_sha256 preconditions (409 memory_precondition_failed_error) on update and delete", async () => {
    const store = await stores().create({ name: "preconditions" });
    const m = await memories().create(store.id, { path: "/counter", content: "0" });
    const ok = await memories().update(m.id, {
      memory_store_id: store.id,
      content: "1",
      precondition: { type: "content_sha256", content_sha256: sha("0") },
    });
    expect(ok.content_sha256).toBe(sha("1"));
    const stale = await rejection(
      memories().update(m.id, {
        memory_store_id: store.id,
        content: "2",
        precondition: { type: "content_sha256", content_sha256: sha("0") },
      }),
      Anthropic.ConflictError,
    );
    expect((stale.error as { error: { type: string } }).error.type).toBe("memory_precondition_failed_error");
    // already exactly what was asked for: succeeds even though the hash differs
    const same = await memories().update(m.id, {
      memory_store_id: store.id,
      content: "1",
      precondition: { type: "content_sha256", content_sha256: sha("0") },
    });
    expect(same.memory_version_id).toBe(ok.memory_version_id);
    const delStale = await rejection(
      memories().delete(m.id, { memory_store_id: store.id, expected_content_sha256: sha("0") }),
      Anthropic.ConflictError,
    );
    expect((delStale.error as { error: { type: string } }).error.type).toBe(
      "memory_precondition_failed_error",
    );
    await memories().delete(m.id, { memory_store_id: store.id, expected_content_sha256: sha("1") });
  });

  it("enforces the path rules and the 100 kB content limit", async () => {
    const store = await stores().create({ name: "limits" });
    for (const path of [
      "no-slash",
      "/",
      "/a//b",
      "/a/",
      "/a/./b",
      "/a/../b",
      "/a\u0000b",
      "/zero\u200bwidth",
      "/line\u2028sep",
      "/e\u0301", // not NFC
      `/${"x".repeat(1024)}`,
      `/${Array.from({ length: 21 }, () => "s").join("/")}`,
    ]) {
      await rejection(memories().create(store.id, { path, content: "x" }), Anthropic.BadRequestError);
    }
    await memories().create(store.id, {
      path: `/${Array.from({ length: 20 }, () => "s").join("/")}`,
      content: "",
    });
    await memories().create(store.id, { path: "/café/ünïcode.md", content: "" });
    const max = "a".repeat(102_400);
    const big = await memories().create(store.id, { path: "/big", content: max });
    expect(big.content_size_bytes).toBe(102_400);
    const error = await rejection(
      memories().create(store.id, { path: "/too-big", content: `${max}a` }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toMatch(/102400 bytes/);
    // multi-byte characters count in UTF-8 bytes
    await rejection(
      memories().update(big.id, { memory_store_id: store.id, content: "é".repeat(51_201) }),
      Anthropic.BadRequestError,
    );
  });

  it("refuses the 2,001st memory of a store", async () => {
    const store = await stores().create({ name: "full" });
    const { memories: service } = h.stack.services;
    const actor = { type: "api_actor" as const, api_key_id: apiKeyId };
    for (let i = 0; i < 2000; i += 100) {
      await Promise.all(
        Array.from({ length: 100 }, (_, j) =>
          service.createMemory(store.id, { path: `/m/${i + j}`, content: "" }, { actor }),
        ),
      );
    }
    const error = await rejection(
      memories().create(store.id, { path: "/one-more", content: "" }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toMatch(/2000 memories/);
    const [first] = (await memories().list(store.id, { path_prefix: "/m/", limit: 1 })).data as Memory[];
    await memories().delete((first as Memory).id, { memory_store_id: store.id });
    await memories().create(store.id, { path: "/one-more", content: "" });
  }, 120_000);

  it("lists by path_prefix in path order, rolls deeper paths into memory_prefix items with depth, and pages", async () => {
    const store = await stores().create({ name: "tree" });
    for (const path of [
      "/a.md",
      "/notes/x.md",
      "/notes/y.md",
      "/notes/deep/z.md",
      "/notes-archive/old.md",
      "/zed/q.md",
    ])
      await memories().create(store.id, { path, content: path });
    const paths = (items: ListItem[]) =>
      items.map((i) => `${i.type === "memory_prefix" ? "P" : "M"}:${i.path}`);

    expect(paths(await all(memories().list(store.id)))).toEqual([
      "M:/a.md",
      "M:/notes-archive/old.md",
      "M:/notes/deep/z.md",
      "M:/notes/x.md",
      "M:/notes/y.md",
      "M:/zed/q.md",
    ]);
    expect(paths(await all(memories().list(store.id, { path_prefix: "/notes/" })))).toEqual([
      "M:/notes/deep/z.md",
      "M:/notes/x.md",
      "M:/notes/y.md",
    ]);
    expect(paths(await all(memories().list(store.id, { depth: 1 })))).toEqual([
      "M:/a.md",
      "P:/notes-archive/",
      "P:/notes/",
      "P:/zed/",
    ]);
    expect(
      paths(await all(memories().list(store.id, { path_prefix: "/notes/", depth: 1, limit: 1 }))),
    ).toEqual(["P:/notes/deep/", "M:/notes/x.md", "M:/notes/y.md"]);
    const basic = (await memories().list(store.id, { limit: 1 })).data[0] as Memory;
    expect(basic.content).toBeNull();
    expect(basic.content_sha256).toBe(sha("/a.md"));
    const full = await memories().list(store.id, { view: "full", limit: 100 });
    expect(full.data).toHaveLength(6);
    expect((full.data[0] as Memory).content).toBe("/a.md");
    await rejection(memories().list(store.id, { path_prefix: "/notes" }), Anthropic.BadRequestError);
  });

  it("answers 404 for another workspace's store and for unknown ids", async () => {
    await rejection(stores().retrieve("memstore_nope"), Anthropic.NotFoundError);
    const mine = await stores().create({ name: "private" });
    const m = await memories().create(mine.id, { path: "/secret.md", content: "s" });
    const otherKey = "sk-ant-rev-other-workspace-key-0123456789";
    await h.stack.services.apiKeys.register(otherKey, {
      workspaceId: "wrkspc_other",
      apiKeyId: "apikey_other",
    });
    const other = new Anthropic({ baseURL: h.stack.url, apiKey: otherKey, maxRetries: 0 });
    await rejection(other.beta.memoryStores.retrieve(mine.id), Anthropic.NotFoundError);
    await rejection(
      other.beta.memoryStores.memories.retrieve(m.id, { memory_store_id: mine.id }),
      Anthropic.NotFoundError,
    );
    await rejection(other.beta.memoryStores.memories.list(mine.id), Anthropic.NotFoundError);
    await rejection(other.beta.memoryStores.memoryVersions.list(mine.id), Anthropic.NotFoundError);
    await rejection(
      other.beta.memoryStores.memories.create(mine.id, { path: "/x", content: "x" }),
      Anthropic.NotFoundError,
    );
    expect((await other.beta.memoryStores.list()).data).toEqual([]);
    const store = await stores().create({ name: "ids" });
    await rejection(memories().retrieve("mem_nope", { memory_store_id: store.id }), Anthropic.NotFoundError);
    await rejection(
      versions().retrieve("memver_nope", { memory_store_id: store.id }),
      Anthropic.NotFoundError,
    );
  });
});

describe("memory versions", () => {
  it("records every change with created_by, filters by memory, operation, api key and time, and redacts", async () => {
    const store = await stores().create({ name: "history" });
    const m = await memories().create(store.id, { path: "/h.md", content: "v1" });
    await memories().update(m.id, { memory_store_id: store.id, content: "v2" });
    const v3 = await memories().update(m.id, { memory_store_id: store.id, path: "/h2.md" });
    const other = await memories().create(store.id, { path: "/o.md", content: "o" });
    await memories().delete(other.id, { memory_store_id: store.id });

    const history = await all(versions().list(store.id, { memory_id: m.id }));
    expect(history.map((v) => v.operation)).toEqual(["modified", "modified", "created"]);
    expect(history[0]?.id).toBe(v3.memory_version_id);
    for (const v of history) {
      expect(v.created_by).toEqual({ type: "api_actor", api_key_id: apiKeyId });
      expect(v.content).toBeNull(); // basic view on lists
      expect(v.memory_store_id).toBe(store.id);
    }
    expect(history.map((v) => v.path)).toEqual(["/h2.md", "/h.md", "/h.md"]);
    expect(history[2]?.content_sha256).toBe(sha("v1"));

    const deleted = await all(versions().list(store.id, { memory_id: other.id }));
    expect(deleted.map((v) => v.operation)).toEqual(["deleted", "created"]);
    expect(deleted[0]).toMatchObject({ content: null, content_sha256: null, content_size_bytes: null });
    expect((await all(versions().list(store.id, { operation: "deleted" }))).map((v) => v.memory_id)).toEqual([
      other.id,
    ]);
    expect(await all(versions().list(store.id, { api_key_id: apiKeyId }))).toHaveLength(5);
    expect(await all(versions().list(store.id, { api_key_id: "apikey_other" }))).toHaveLength(0);
    expect(await all(versions().list(store.id, { session_id: "sesn_x" }))).toHaveLength(0);
    expect(
      await all(
        versions().list(store.id, { "created_at[lte]": new Date(Date.now() - 3_600_000).toISOString() }),
      ),
    ).toHaveLength(0);
    const fullPage = await versions().list(store.id, { view: "full", limit: 100 });
    expect(fullPage.data.length).toBe(5);
    expect(fullPage.data.find((v) => v.operation === "created" && v.memory_id === m.id)?.content).toBe("v1");

    const oldest = history[2] as Anthropic.Beta.MemoryStores.BetaManagedAgentsMemoryVersion;
    const retrieved = await versions().retrieve(oldest.id, { memory_store_id: store.id });
    expect(retrieved.content).toBe("v1");

    // the live head can't be redacted
    await rejection(
      versions().redact(v3.memory_version_id, { memory_store_id: store.id }),
      Anthropic.ConflictError,
    );
    const redacted = await versions().redact(oldest.id, { memory_store_id: store.id });
    expect(redacted).toMatchObject({
      id: oldest.id,
      content: null,
      path: null,
      content_sha256: null,
      content_size_bytes: null,
      created_by: { type: "api_actor", api_key_id: apiKeyId },
      redacted_by: { type: "api_actor", api_key_id: apiKeyId },
    });
    expect(redacted.redacted_at).not.toBeNull();
    const again = await versions().retrieve(oldest.id, { memory_store_id: store.id });
    expect(again.redacted_at).toBe(redacted.redacted_at);
    expect(again.content).toBeNull();
    // the memory itself is untouched
    expect((await memories().retrieve(m.id, { memory_store_id: store.id })).content).toBe("v2");
  });
});
