import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DynamoDbDocumentStore } from "../../shared/adapters/aws/dynamodb-document-store.js";
import { DynamoDbHttpTransport } from "../../shared/adapters/aws/dynamodb-http-transport.js";
import { startLocalDynamoDb } from "../../shared/adapters/local/dynalite-in-process.js";
import { type RunningDynalite, startDynalite } from "../../shared/adapters/local/dynalite-server.js";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import { SqliteDocumentStore } from "../../shared/adapters/local/sqlite-document-store.js";
import { ConditionFailedError, type DocumentStore, type StoredItem } from "../../shared/core/ports.js";

const tableNames = { resources: "resources", events: "events" } as const;

interface StoreHarness {
  setUp(): Promise<void>;
  store(): DocumentStore;
  tearDown(): Promise<void>;
}

/** Each test writes under its own partition key, so one store can serve the whole suite. */
const partition = (): string => `p_${randomUUID()}`;

async function putEach(
  store: DocumentStore,
  table: "resources" | "events",
  items: StoredItem[],
): Promise<void> {
  for (let start = 0; start < items.length; start += 25) {
    await Promise.all(items.slice(start, start + 25).map((item) => store.put(table, item)));
  }
}

const sortKeys = (items: StoredItem[]): Array<string | number> => items.map((item) => item.sk);

/**
 * Expects a call to have been refused as DynamoDB refuses it, in DynamoDB's words: by the store
 * itself (StoreValidationError) or, for what the DynamoDB adapter leaves to DynamoDB, by DynamoDB's
 * own ValidationException.
 */
function expectRefused(result: PromiseSettledResult<unknown> | undefined, message: RegExp): void {
  expect(result?.status).toBe("rejected");
  const error = (result as PromiseRejectedResult).reason as Error;
  expect(error.name).toMatch(/^(StoreValidationError|ValidationException)$/);
  expect(error.message).toMatch(message);
}

function documentStoreBehaviour(name: string, harness: StoreHarness): void {
  describe(name, () => {
    beforeAll(() => harness.setUp());
    afterAll(() => harness.tearDown());

    describe("get/put/delete", () => {
      it("returns undefined for a missing item and the stored item after a put", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        // Act
        const before = await store.get("resources", pk, "a");
        await store.put("resources", { pk, sk: "a", name: "x", nested: { list: [1, 2], flag: true } });
        const after = await store.get("resources", pk, "a");
        // Assess
        expect(before).toBeUndefined();
        expect(after).toEqual({ pk, sk: "a", name: "x", nested: { list: [1, 2], flag: true } });
      });

      it("drops undefined attributes and never shares objects with callers", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        const item = { pk, sk: "a", gone: undefined, nested: { list: [1, undefined, 3] } };
        // Act
        await store.put("resources", item);
        item.nested.list.push(4);
        const first = await store.get("resources", pk, "a");
        (first?.nested as { list: number[] } | undefined)?.list.push(5);
        const second = await store.get("resources", pk, "a");
        // Assess
        expect(second).toEqual({ pk, sk: "a", nested: { list: [1, 3] } });
        expect(second).not.toHaveProperty("gone");
      });

      it("deletes an item, and deleting a missing item is not an error", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "a" });
        // Act
        await store.delete("resources", pk, "a");
        await store.delete("resources", pk, "never-there");
        // Assess
        expect(await store.get("resources", pk, "a")).toBeUndefined();
      });
    });

    describe("conditional put", () => {
      it("ifNotExists fails with ConditionFailedError when the key exists and keeps the first item", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "a", v: 1 }, { ifNotExists: true });
        // Act
        const second = store.put("resources", { pk, sk: "a", v: 2 }, { ifNotExists: true });
        // Assess
        await expect(second).rejects.toBeInstanceOf(ConditionFailedError);
        expect(await store.get("resources", pk, "a")).toEqual({ pk, sk: "a", v: 1 });
      });

      it("ifNotExists on events distinguishes numeric sort keys", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        await store.put("events", { pk, sk: 1 }, { ifNotExists: true });
        // Act
        await store.put("events", { pk, sk: 2 }, { ifNotExists: true });
        const duplicate = store.put("events", { pk, sk: 1 }, { ifNotExists: true });
        // Assess
        await expect(duplicate).rejects.toBeInstanceOf(ConditionFailedError);
      });

      it("expectedRev 0 means the item must not exist", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        // Act
        await store.put("resources", { pk, sk: "s", rev: 1 }, { expectedRev: 0 });
        const again = store.put("resources", { pk, sk: "s", rev: 1 }, { expectedRev: 0 });
        // Assess
        await expect(again).rejects.toBeInstanceOf(ConditionFailedError);
      });

      it("expectedRev n succeeds only when the stored rev is n", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "s", rev: 1, state: "a" }, { expectedRev: 0 });
        // Act
        await store.put("resources", { pk, sk: "s", rev: 2, state: "b" }, { expectedRev: 1 });
        const stale = store.put("resources", { pk, sk: "s", rev: 2, state: "c" }, { expectedRev: 1 });
        const missing = store.put("resources", { pk, sk: "other", rev: 2 }, { expectedRev: 1 });
        // Assess
        await expect(stale).rejects.toBeInstanceOf(ConditionFailedError);
        await expect(missing).rejects.toBeInstanceOf(ConditionFailedError);
        expect(await store.get("resources", pk, "s")).toEqual({ pk, sk: "s", rev: 2, state: "b" });
        expect(await store.get("resources", pk, "other")).toBeUndefined();
      });

      it("of racing writers with the same expectedRev exactly one wins", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "s", rev: 1 });
        // Act
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, writer) =>
            store.put("resources", { pk, sk: "s", rev: 2, writer }, { expectedRev: 1 }),
          ),
        );
        // Assess
        expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(1);
        for (const result of results.filter((r) => r.status === "rejected")) {
          expect(result.reason).toBeInstanceOf(ConditionFailedError);
        }
      });
    });

    describe("query", () => {
      const keys = ["a#1", "a#2", "a#3", "b#1", "b#2", "b#3", "c#1"];
      let pk: string;

      beforeAll(async () => {
        pk = partition();
        await putEach(
          harness.store(),
          "resources",
          keys.map((sk) => ({ pk, sk })),
        );
        await harness.store().put("resources", { pk: partition(), sk: "b#9" });
      });

      it("returns the whole partition in ascending order by default", async () => {
        // Act
        const items = await harness.store().query("resources", pk);
        // Assess
        expect(sortKeys(items)).toEqual(keys);
      });

      it("returns nothing for an unknown partition", async () => {
        // Act
        const items = await harness.store().query("resources", partition());
        // Assess
        expect(items).toEqual([]);
      });

      it("applies after and before strictly", async () => {
        // Act
        const after = await harness.store().query("resources", pk, { after: "b#2" });
        const before = await harness.store().query("resources", pk, { before: "a#3" });
        const between = await harness.store().query("resources", pk, { after: "a#2", before: "b#3" });
        const betweenDesc = await harness.store().query("resources", pk, {
          after: "a#2",
          before: "b#3",
          order: "desc",
        });
        const crossed = await harness.store().query("resources", pk, { after: "b#3", before: "a#1" });
        const touching = await harness.store().query("resources", pk, { after: "b#1", before: "b#1" });
        // Assess
        expect(sortKeys(after)).toEqual(["b#3", "c#1"]);
        expect(sortKeys(before)).toEqual(["a#1", "a#2"]);
        expect(sortKeys(between)).toEqual(["a#3", "b#1", "b#2"]);
        expect(sortKeys(betweenDesc)).toEqual(["b#2", "b#1", "a#3"]);
        expect(crossed).toEqual([]);
        expect(touching).toEqual([]);
      });

      it("filters by prefix in both orders", async () => {
        // Act
        const asc = await harness.store().query("resources", pk, { beginsWith: "b#" });
        const desc = await harness.store().query("resources", pk, { beginsWith: "b#", order: "desc" });
        // Assess
        expect(sortKeys(asc)).toEqual(["b#1", "b#2", "b#3"]);
        expect(sortKeys(desc)).toEqual(["b#3", "b#2", "b#1"]);
      });

      it("filters by a prefix with characters beyond the basic plane (a memory path with an emoji)", async () => {
        // Prepare
        const store = harness.store();
        const emojiPk = `${pk}#emoji`;
        for (const sk of ["/😀", "/😀/notes.md", "/😀/a/b.md", "/😁/x.md"])
          await store.put("resources", { pk: emojiPk, sk });
        // Act
        const folder = await store.query("resources", emojiPk, { beginsWith: "/😀/" });
        const all = await store.query("resources", emojiPk, { beginsWith: "/😀" });
        // Assess
        expect(sortKeys(folder)).toEqual(["/😀/a/b.md", "/😀/notes.md"]);
        expect(sortKeys(all)).toEqual(["/😀", "/😀/a/b.md", "/😀/notes.md"]);
      });

      it("combines a prefix with after and before, wherever the bounds lie", async () => {
        // Prepare
        const store = harness.store();
        const cases = [
          [{ beginsWith: "b#", after: "b#1" }, ["b#2", "b#3"]],
          [{ beginsWith: "b#", after: "a#9" }, ["b#1", "b#2", "b#3"]],
          [{ beginsWith: "b#", after: "b#9" }, []],
          [{ beginsWith: "b#", before: "b#3" }, ["b#1", "b#2"]],
          [{ beginsWith: "b#", before: "c" }, ["b#1", "b#2", "b#3"]],
          [{ beginsWith: "b#", before: "b#1" }, []],
          [{ beginsWith: "b#", after: "b#1", order: "desc" }, ["b#3", "b#2"]],
          [{ beginsWith: "b#", before: "b#3", order: "desc" }, ["b#2", "b#1"]],
          [{ beginsWith: "b#", before: "z", order: "desc" }, ["b#3", "b#2", "b#1"]],
          [{ beginsWith: "b#", after: "a", before: "z", order: "desc", limit: 2 }, ["b#3", "b#2"]],
          [{ beginsWith: "b#", after: "b#1", before: "b#3" }, ["b#2"]],
        ] as const;
        // Act
        const results = await Promise.all(cases.map(([options]) => store.query("resources", pk, options)));
        // Assess
        expect(results.map(sortKeys)).toEqual(cases.map(([, expected]) => expected));
      });

      it("applies limit after order", async () => {
        // Act
        const first = await harness.store().query("resources", pk, { limit: 2 });
        const last = await harness.store().query("resources", pk, { limit: 2, order: "desc" });
        const page = await harness.store().query("resources", pk, { after: "a#2", limit: 3 });
        // Assess
        expect(sortKeys(first)).toEqual(["a#1", "a#2"]);
        expect(sortKeys(last)).toEqual(["c#1", "b#3"]);
        expect(sortKeys(page)).toEqual(["a#3", "b#1", "b#2"]);
      });

      it("orders strings by UTF-8 bytes, as DynamoDB does", async () => {
        // Prepare
        const store = harness.store();
        const utf8 = partition();
        // U+FFFF sorts before U+1F600 in UTF-8 but after it in UTF-16 code units.
        await putEach(store, "resources", [
          { pk: utf8, sk: "\u{1F600}" },
          { pk: utf8, sk: "\uFFFF" },
          { pk: utf8, sk: "z" },
        ]);
        // Act
        const items = await store.query("resources", utf8);
        const after = await store.query("resources", utf8, { after: "\uFFFF" });
        // Assess
        expect(sortKeys(items)).toEqual(["z", "\uFFFF", "\u{1F600}"]);
        expect(sortKeys(after)).toEqual(["\u{1F600}"]);
      });

      it("orders numeric sort keys on events by value", async () => {
        // Prepare
        const store = harness.store();
        const session = partition();
        await putEach(
          store,
          "events",
          [100, 2, 10, 1, 20].map((sk) => ({ pk: session, sk, type: `e${sk}` })),
        );
        // Act
        const all = await store.query("events", session);
        const after = await store.query("events", session, { after: 2 });
        const window = await store.query("events", session, { after: 1, before: 100, order: "desc" });
        const latest = await store.query("events", session, { order: "desc", limit: 1 });
        // Assess
        expect(sortKeys(all)).toEqual([1, 2, 10, 20, 100]);
        expect(sortKeys(after)).toEqual([10, 20, 100]);
        expect(sortKeys(window)).toEqual([20, 10, 2]);
        expect(latest).toEqual([{ pk: session, sk: 100, type: "e100" }]);
      });

      it("pages through large partitions until the limit or the end", async () => {
        // Prepare: 300 items of ~5 kB make DynamoDB split the partition into 1 MB pages.
        const store = harness.store();
        const big = partition();
        const padding = "x".repeat(5_000);
        await putEach(
          store,
          "events",
          Array.from({ length: 300 }, (_, seq) => ({ pk: big, sk: seq + 1, padding })),
        );
        // Act
        const all = await store.query("events", big);
        const first250 = await store.query("events", big, { limit: 250 });
        const last250 = await store.query("events", big, { limit: 250, order: "desc" });
        const tail = await store.query("events", big, { after: 100, limit: 250 });
        // Assess
        expect(sortKeys(all)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
        expect(sortKeys(first250)).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
        expect(sortKeys(last250)).toEqual(Array.from({ length: 250 }, (_, i) => 300 - i));
        expect(sortKeys(tail)).toEqual(Array.from({ length: 200 }, (_, i) => i + 101));
      });
    });

    describe("putMany", () => {
      it("writes more items than one batch holds, overwriting existing ones", async () => {
        const store = harness.store();
        const pk = partition();
        await store.put("events", { pk, sk: 3, v: "old" });
        const items = Array.from({ length: 60 }, (_, i) => ({
          pk,
          sk: i + 1,
          v: `n${i + 1}`,
          nested: { constructor: i },
        }));
        await store.putMany("events", items);
        const stored = await store.query("events", pk);
        expect(stored).toHaveLength(60);
        expect(stored[2]).toEqual({ pk, sk: 3, v: "n3", nested: { constructor: 2 } });
        expect(stored.at(-1)?.sk).toBe(60);
      });
    });

    describe("putAll", () => {
      it("puts a guarded group in order, across tables, each under its own condition", async () => {
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "session", rev: 1, state: "old" });
        const events = Array.from({ length: 30 }, (_, i) => ({ pk, sk: i + 1, type: "event" }));
        await store.putAll([
          { table: "resources", item: { pk, sk: "marker", seq: 1 }, options: { ifNotExists: true } },
          ...events.map((item) => ({ table: "events" as const, item })),
          {
            table: "resources",
            item: { pk, sk: "session", rev: 2, state: "new" },
            options: { expectedRev: 1 },
          },
          { table: "resources", item: { pk, sk: "plain", n: 1 } },
        ]);
        expect(await store.get("resources", pk, "marker")).toEqual({ pk, sk: "marker", seq: 1 });
        expect(sortKeys(await store.query("events", pk))).toEqual(events.map((e) => e.sk));
        expect(await store.get("resources", pk, "session")).toEqual({
          pk,
          sk: "session",
          rev: 2,
          state: "new",
        });
        expect(await store.get("resources", pk, "plain")).toEqual({ pk, sk: "plain", n: 1 });
      });

      it("writes nothing of a group whose leading guard fails", async () => {
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "marker", seq: 1 });
        const attempt = store.putAll([
          { table: "resources", item: { pk, sk: "marker", seq: 2 }, options: { ifNotExists: true } },
          { table: "events", item: { pk, sk: 1, type: "event" } },
          { table: "events", item: { pk, sk: 2, type: "event" } },
        ]);
        await expect(attempt).rejects.toBeInstanceOf(ConditionFailedError);
        expect(await store.get("resources", pk, "marker")).toEqual({ pk, sk: "marker", seq: 1 });
        expect(await store.query("events", pk)).toEqual([]);
      });

      it("writes nothing after a failed condition", async () => {
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "session", rev: 3 });
        const attempt = store.putAll([
          { table: "events", item: { pk, sk: 1, type: "event" } },
          { table: "resources", item: { pk, sk: "session", rev: 2 }, options: { expectedRev: 1 } },
          { table: "events", item: { pk, sk: 2, type: "event" } },
        ]);
        await expect(attempt).rejects.toBeInstanceOf(ConditionFailedError);
        expect(await store.get("resources", pk, "session")).toEqual({ pk, sk: "session", rev: 3 });
        expect(sortKeys(await store.query("events", pk)).filter((sk) => sk === 2)).toEqual([]);
      });
    });

    describe("refuses what DynamoDB refuses, writing nothing", () => {
      it("a sort key of the other type than its table's, in every call", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        // Act
        const [numberOnStrings, stringOnNumbers, ...others] = await Promise.allSettled([
          store.put("resources", { pk, sk: 1 }),
          store.put("events", { pk, sk: "1" }),
          store.putMany("resources", [
            { pk, sk: "a" },
            { pk, sk: 2 },
          ]),
          store.putMany("events", [{ pk, sk: "3" }]),
          store.putAll([
            { table: "resources", item: { pk, sk: "b" } },
            { table: "resources", item: { pk, sk: 4 }, options: { ifNotExists: true } },
          ]),
          store.putAll([{ table: "events", item: { pk, sk: "5" } }]),
          store.get("resources", pk, 6),
          store.get("events", pk, "7"),
          store.delete("resources", pk, 8),
          store.delete("events", pk, "9"),
          store.increment("resources", pk, 10, "n", 1),
          store.increment("events", pk, "11", "n", 1),
        ]);
        // Assess
        expectRefused(numberOnStrings, /Type mismatch for key sk expected: S actual: N/);
        expectRefused(stringOnNumbers, /Type mismatch for key sk expected: N actual: S/);
        for (const result of others)
          expectRefused(
            result,
            /Type mismatch for key sk|The provided key element does not match the schema/,
          );
        expect(await store.query("resources", pk)).toEqual([]);
        expect(await store.query("events", pk)).toEqual([]);
      });

      it("a query bound of the other type than the table's sort keys, or a prefix on numeric keys", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "a" });
        await store.put("events", { pk, sk: 1 });
        // Act
        const results = await Promise.allSettled([
          store.query("resources", pk, { after: 0 }),
          store.query("resources", pk, { before: 9, order: "desc" }),
          store.query("resources", pk, { after: 0, before: "z" }),
          // a bound that the DynamoDB adapter's key condition leaves out for the prefix
          store.query("resources", pk, { after: 0, beginsWith: "a" }),
          store.query("events", pk, { after: "0" }),
          store.query("events", pk, { before: "9", order: "desc" }),
          store.query("events", pk, { beginsWith: "1" }),
        ]);
        // Assess
        for (const result of results)
          expectRefused(result, /Condition parameter type does not match schema type/);
      });

      it("a query limit below 1 or not an integer", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "a" });
        // Act
        const results = await Promise.allSettled([
          store.query("resources", pk, { limit: 0 }),
          // with a bound in its key condition, the DynamoDB adapter asks for more than the limit
          store.query("resources", pk, { after: " ", limit: 0 }),
          store.query("resources", pk, { limit: -1, order: "desc" }),
          store.query("resources", pk, { limit: 1.5 }),
          store.query("resources", pk, { limit: Number.NaN }),
        ]);
        const one = await store.query("resources", pk, { limit: 1 });
        // Assess
        for (const result of results) expectRefused(result, /at 'limit'/);
        expect(sortKeys(one)).toEqual(["a"]);
      });

      it("two items of one key in a putMany, even in different batches", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        const items = Array.from({ length: 30 }, (_, i) => ({ pk, sk: i + 1 }));
        // Act
        const [adjacent, apart] = await Promise.allSettled([
          store.putMany("events", [...items.slice(0, 2), { pk, sk: 2, v: "again" }]),
          store.putMany("events", [...items, { pk, sk: 1, v: "again" }]),
        ]);
        // Assess
        expectRefused(adjacent, /Provided list of item keys contains duplicates/);
        expectRefused(apart, /Provided list of item keys contains duplicates/);
        expect(await store.query("events", pk)).toEqual([]);
      });

      it("two puts of one key in a putAll group, however the store splits it into requests", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        // Act
        const [batched, alone] = await Promise.allSettled([
          store.putAll([
            { table: "resources", item: { pk, sk: "marker" }, options: { ifNotExists: true } },
            { table: "events", item: { pk, sk: 1 } },
            { table: "events", item: { pk, sk: 2 } },
            { table: "events", item: { pk, sk: 1, v: "again" } },
          ]),
          store.putAll([
            { table: "resources", item: { pk, sk: "s", rev: 1 }, options: { expectedRev: 0 } },
            { table: "resources", item: { pk, sk: "s", rev: 1, v: "again" } },
          ]),
        ]);
        // Assess
        expectRefused(batched, /Provided list of item keys contains duplicates/);
        expectRefused(alone, /Provided list of item keys contains duplicates/);
        expect(await store.query("resources", pk)).toEqual([]);
        expect(await store.query("events", pk)).toEqual([]);
      });

      it("but takes one key in two tables, or one sort key in two partitions, as no duplicate", async () => {
        // Prepare
        const store = harness.store();
        const [pk, other] = [partition(), partition()];
        // Act
        await store.putAll([
          { table: "resources", item: { pk, sk: "1" } },
          { table: "events", item: { pk, sk: 1 } },
          { table: "events", item: { pk: other, sk: 1 } },
        ]);
        await store.putMany("resources", [
          { pk, sk: "2" },
          { pk: other, sk: "2" },
        ]);
        // Assess
        expect(sortKeys(await store.query("resources", pk))).toEqual(["1", "2"]);
        expect(sortKeys(await store.query("events", pk))).toEqual([1]);
        expect(sortKeys(await store.query("resources", other))).toEqual(["2"]);
        expect(sortKeys(await store.query("events", other))).toEqual([1]);
      });

      it("ifNotExists with an expectedRev other than 0, as a TypeError before anything is written", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        // Act
        const [single, grouped] = await Promise.allSettled([
          store.put("resources", { pk, sk: "a", rev: 2 }, { ifNotExists: true, expectedRev: 1 }),
          store.putAll([
            { table: "resources", item: { pk, sk: "b" } },
            {
              table: "resources",
              item: { pk, sk: "c", rev: 2 },
              options: { ifNotExists: true, expectedRev: 1 },
            },
          ]),
        ]);
        await store.put("resources", { pk, sk: "d", rev: 1 }, { ifNotExists: true, expectedRev: 0 });
        // Assess
        expect(single).toMatchObject({ status: "rejected", reason: expect.any(TypeError) });
        expect(grouped).toMatchObject({ status: "rejected", reason: expect.any(TypeError) });
        expect(sortKeys(await store.query("resources", pk))).toEqual(["d"]);
      });
    });

    describe("increment", () => {
      it("creates the attribute at 0 and returns the new value", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        // Act
        const first = await store.increment("resources", pk, "counter", "next", 1);
        const second = await store.increment("resources", pk, "counter", "next", 5);
        // Assess
        expect([first, second]).toEqual([1, 6]);
        expect(await store.get("resources", pk, "counter")).toEqual({ pk, sk: "counter", next: 6 });
      });

      it("keeps the item's other attributes", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        await store.put("resources", { pk, sk: "s", rev: 3, name: "kept" });
        // Act
        const value = await store.increment("resources", pk, "s", "seq", 2);
        // Assess
        expect(value).toBe(2);
        expect(await store.get("resources", pk, "s")).toEqual({ pk, sk: "s", rev: 3, name: "kept", seq: 2 });
      });

      it("gives 50 concurrent increments 50 distinct values", async () => {
        // Prepare
        const store = harness.store();
        const pk = partition();
        // Act
        const values = await Promise.all(
          Array.from({ length: 50 }, () => store.increment("resources", pk, "counter", "seq", 1)),
        );
        // Assess
        expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      });
    });
  });
}

const memoryStore = new MemoryDocumentStore();
documentStoreBehaviour("MemoryDocumentStore", {
  store: () => memoryStore,
  async setUp() {},
  async tearDown() {},
});

let dynalite: RunningDynalite | undefined;
let dynamoStore: DynamoDbDocumentStore | undefined;
documentStoreBehaviour("DynamoDbDocumentStore on dynalite", {
  async setUp() {
    dynalite = await startDynalite({});
    dynamoStore = new DynamoDbDocumentStore({ client: dynalite.client, tableNames });
  },
  store() {
    if (dynamoStore === undefined) throw new Error("dynalite not started");
    return dynamoStore;
  },
  async tearDown() {
    await dynalite?.close();
  },
});

let signedDynalite: RunningDynalite | undefined;
let signedStore: DynamoDbDocumentStore | undefined;
documentStoreBehaviour(
  "DynamoDbDocumentStore over signed HTTP without the SDK client (every Lambda function's), on dynalite",
  {
    async setUp() {
      signedDynalite = await startDynalite({});
      const transport = new DynamoDbHttpTransport({
        region: "us-east-1",
        endpoint: signedDynalite.endpoint,
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      });
      signedStore = new DynamoDbDocumentStore({ transport, tableNames });
    },
    store() {
      if (signedStore === undefined) throw new Error("dynalite not started");
      return signedStore;
    },
    async tearDown() {
      await signedDynalite?.close();
    },
  },
);

let sqlite: SqliteDocumentStore | undefined;
documentStoreBehaviour("SqliteDocumentStore", {
  async setUp() {
    sqlite = new SqliteDocumentStore(":memory:");
  },
  store() {
    if (sqlite === undefined) throw new Error("sqlite not opened");
    return sqlite;
  },
  async tearDown() {
    sqlite?.close();
  },
});

describe("SqliteDocumentStore on a file", () => {
  it("persists items across a reopen, and keeps DynamoDB's item and key limits", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "reverie-sqlite-"));
    try {
      const first = new SqliteDocumentStore(join(dataDir, "store.sqlite"));
      await first.put("resources", { pk: "agent", sk: "v1", name: "kept", nested: { list: [1, "a"] } });
      await first.put("events", { pk: "sesn", sk: 7, type: "user.message" });
      await expect(
        first.put("resources", { pk: "big", sk: "x", body: "a".repeat(410 * 1024) }),
      ).rejects.toThrow(/Item size has exceeded/);
      await expect(first.put("resources", { pk: "k".repeat(2049), sk: "x" })).rejects.toThrow(/hashkey/);
      await expect(first.put("resources", { pk: "p", sk: "s".repeat(1025) })).rejects.toThrow(/range keys/);
      await first.put("resources", { pk: "fits", sk: "x", body: "a".repeat(390 * 1024) });
      first.close();
      const second = new SqliteDocumentStore(join(dataDir, "store.sqlite"));
      expect(await second.get("resources", "agent", "v1")).toEqual({
        pk: "agent",
        sk: "v1",
        name: "kept",
        nested: { list: [1, "a"] },
      });
      expect(await second.query("events", "sesn")).toEqual([{ pk: "sesn", sk: 7, type: "user.message" }]);
      expect(await second.get("resources", "big", "x")).toBeUndefined();
      second.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("commits a group in one transaction: a failed condition anywhere leaves none of it", async () => {
    const store = new SqliteDocumentStore(":memory:");
    await store.put("resources", { pk: "p", sk: "session", rev: 3 });
    await expect(
      store.putAll([
        { table: "resources", item: { pk: "p", sk: "marker" }, options: { ifNotExists: true } },
        { table: "events", item: { pk: "p", sk: 1, type: "event" } },
        { table: "resources", item: { pk: "p", sk: "session", rev: 2 }, options: { expectedRev: 1 } },
      ]),
    ).rejects.toBeInstanceOf(ConditionFailedError);
    expect(await store.get("resources", "p", "marker")).toBeUndefined();
    expect(await store.query("events", "p")).toEqual([]);
    // the connection is usable afterwards: the failed group was rolled back, not left open
    await store.putAll([{ table: "events", item: { pk: "p", sk: 1, type: "event" } }]);
    expect(await store.query("events", "p")).toEqual([{ pk: "p", sk: 1, type: "event" }]);
    store.close();
  });

  it("keeps a `__proto__` key as data", async () => {
    const store = new SqliteDocumentStore(":memory:");
    await store.put("resources", JSON.parse('{"pk":"p","sk":"s","meta":{"__proto__":{"x":1}}}'));
    const item = await store.get("resources", "p", "s");
    expect(Object.keys(item?.meta as object)).toEqual(["__proto__"]);
    store.close();
  });
});

let local: Awaited<ReturnType<typeof startLocalDynamoDb>> | undefined;
documentStoreBehaviour("DynamoDbDocumentStore on in-process dynalite", {
  async setUp() {
    local = await startLocalDynamoDb({});
  },
  store() {
    if (local === undefined) throw new Error("in-process dynalite not started");
    return local.store;
  },
  async tearDown() {
    await local?.close();
  },
});

describe("startLocalDynamoDb", () => {
  it("persists items across a restart on the same data dir", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "reverie-local-ddb-"));
    try {
      const first = await startLocalDynamoDb({ dataDir });
      await first.store.put("resources", { pk: "agent", sk: "v1", name: "kept", nested: { list: [1, "a"] } });
      await first.store.put("events", { pk: "sesn", sk: 7, type: "user.message" });
      await first.close();
      const second = await startLocalDynamoDb({ dataDir });
      const resource = await second.store.get("resources", "agent", "v1");
      const events = await second.store.query("events", "sesn");
      await second.close();
      expect(resource).toEqual({ pk: "agent", sk: "v1", name: "kept", nested: { list: [1, "a"] } });
      expect(events).toEqual([{ pk: "sesn", sk: 7, type: "user.message" }]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

describe("startDynalite", () => {
  it("persists items across a restart on the same data dir", async () => {
    // Prepare
    const dataDir = await mkdtemp(join(tmpdir(), "reverie-dynalite-"));
    try {
      const first = await startDynalite({ dataDir });
      const firstStore = new DynamoDbDocumentStore({ client: first.client, tableNames });
      await firstStore.put("resources", { pk: "agent", sk: "v1", name: "kept" });
      await firstStore.put("events", { pk: "sesn", sk: 7, type: "user.message" });
      await first.close();
      // Act
      const second = await startDynalite({ dataDir });
      const secondStore = new DynamoDbDocumentStore({ client: second.client, tableNames });
      const resource = await secondStore.get("resources", "agent", "v1");
      const events = await secondStore.query("events", "sesn");
      await second.close();
      // Assess
      expect(resource).toEqual({ pk: "agent", sk: "v1", name: "kept" });
      expect(events).toEqual([{ pk: "sesn", sk: 7, type: "user.message" }]);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it("serves on the requested host with the tables of the infra spec", async () => {
    // Act
    const running = await startDynalite({});
    const store = new DynamoDbDocumentStore({ client: running.client, tableNames });
    await store.put("events", { pk: "p", sk: 1 });
    const items = await store.query("events", "p");
    await running.close();
    // Assess
    expect(running.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(items).toEqual([{ pk: "p", sk: 1 }]);
  });
});
