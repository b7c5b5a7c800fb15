/**
 * The work queue's lease state machine (WorkService) and what scoped credentials may reach
 * (ScopedAccess), on the in-memory store with a hand-driven clock.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import { ApiError } from "../../shared/contract/errors.js";
import { TimeSortableIds } from "../../shared/contract/ids.js";
import type { Environment } from "../../shared/contract/sdk-types.js";
import { ApiKeys, type CredentialScope } from "../../shared/core/auth/api-keys.js";
import { ScopedAccess } from "../../shared/core/auth/scoped-access.js";
import { WorkService } from "../../shared/core/environments/work-service.js";

const WS = "wrkspc_1";
const ENV = "env_self";

let now: number;
let store: MemoryDocumentStore;
let apiKeys: ApiKeys;
let work: WorkService;
/** What each hand-out asked to be answered as interrupted: [session, up to seq]. */
let interrupted: Array<[string, number]>;

const environment = (type: "self_hosted" | "cloud") =>
  ({ id: ENV, type: "environment", config: { type }, archived_at: null }) as unknown as Environment;

beforeEach(() => {
  now = Date.parse("2026-12-01T10:00:00Z");
  store = new MemoryDocumentStore();
  apiKeys = new ApiKeys(store, 0, () => now);
  const environments = {
    retrieve: async (ws: string, id: string) => {
      if (ws !== WS || id !== ENV) throw new ApiError("not_found_error", `environment ${id} not found`);
      return environment("self_hosted");
    },
  };
  interrupted = [];
  work = new WorkService(
    store,
    new TimeSortableIds(() => now),
    { now: () => now },
    apiKeys,
    environments,
    { leaseSeconds: 10, maxLeaseSeconds: 60 },
    async (_ws, sessionId, uptoSeq) => {
      interrupted.push([sessionId, uptoSeq]);
    },
  );
});

const tokenOf = (secret: string | null) =>
  (JSON.parse(Buffer.from(secret as string, "base64url").toString("utf8")) as { sessions_token: string })
    .sessions_token;

async function claimed(sessionId = "sesn_a") {
  const workId = await work.ensureWork(WS, ENV, sessionId);
  const item = await work.poll(WS, ENV, {});
  if (!item) throw new Error("nothing to poll");
  const principal = await apiKeys.resolve(tokenOf(item.secret));
  return { workId, item, scope: principal?.scope as Extract<CredentialScope, { kind: "session" }> };
}

describe("WorkService", () => {
  it("records the calls a token was shown, and has them answered before the item goes to the next worker", async () => {
    const { workId, scope } = await claimed();
    await work.ack(WS, ENV, workId, scope);
    expect(await work.noteDelivered(WS, scope, 7)).toBe(true);
    expect(await work.noteDelivered(WS, scope, 5)).toBe(true); // never goes back
    expect(interrupted).toEqual([]);
    now += 11_000; // the lease lapses: the worker died
    const again = await work.poll(WS, ENV, {});
    expect(again?.id).toBe(workId);
    expect(interrupted).toEqual([["sesn_a", 7]]);
    // The dead worker's token is shown nothing more (its stream ends).
    expect(await work.noteDelivered(WS, scope, 9)).toBe(false);
    // A replacement item (the old one stopped) inherits what was shown.
    await work.stop(WS, ENV, workId, true);
    const next = await work.ensureWork(WS, ENV, "sesn_a");
    expect(next).not.toBe(workId);
    await work.poll(WS, ENV, {});
    expect(interrupted).toEqual([
      ["sesn_a", 7],
      ["sesn_a", 7],
    ]);
  });

  it("gives a session one live work item, and a new one only after the last stopped", async () => {
    const first = await work.ensureWork(WS, ENV, "sesn_a");
    expect(await work.ensureWork(WS, ENV, "sesn_a")).toBe(first);
    await work.stop(WS, ENV, first, true);
    const second = await work.ensureWork(WS, ENV, "sesn_a");
    expect(second).not.toBe(first);
    expect((await work.retrieve(WS, ENV, first)).state).toBe("stopped");
    expect((await work.retrieve(WS, ENV, second)).state).toBe("queued");
  });

  it("repairs a pointer whose item was never written (a crash between the two writes)", async () => {
    await store.put("resources", {
      pk: "worksess#sesn_a",
      sk: "current",
      workId: "work_lost",
      environmentId: ENV,
      rev: 1,
    });
    expect(await work.ensureWork(WS, ENV, "sesn_a")).toBe("work_lost");
    expect((await work.retrieve(WS, ENV, "work_lost")).data).toEqual({ type: "session", id: "sesn_a" });
  });

  it("hands an item out once per reclaim window, with a sessions token scoped to it", async () => {
    expect(await work.poll(WS, ENV, {})).toBeNull();
    const { workId, item, scope } = await claimed();
    expect(item).toMatchObject({ id: workId, state: "queued", data: { type: "session", id: "sesn_a" } });
    expect(scope).toEqual({
      kind: "session",
      environmentId: ENV,
      workId,
      sessionId: "sesn_a",
      generation: 1,
    });
    expect(await work.poll(WS, ENV, {})).toBeNull();
    now += 6_000; // past the default 5 s: nobody acknowledged it
    const again = await work.poll(WS, ENV, {});
    expect(again?.id).toBe(workId);
    expect(await work.tokenIsCurrent(WS, scope)).toBe(false);
    // The secret is only on the poll response.
    expect((await work.retrieve(WS, ENV, workId)).secret).toBeNull();
  });

  it("acks, heartbeats with the stored value (412 otherwise) and re-offers a lapsed lease", async () => {
    const { workId, scope } = await claimed();
    await expect(work.ack(WS, ENV, "work_other", scope)).rejects.toMatchObject({ status: 404 });
    expect((await work.ack(WS, ENV, workId, scope)).state).toBe("starting");
    expect((await work.ack(WS, ENV, workId, scope)).state).toBe("starting");
    const beat = await work.heartbeat(WS, ENV, workId, { expectedLastHeartbeat: "NO_HEARTBEAT" }, scope);
    expect(beat).toMatchObject({ lease_extended: true, state: "active", ttl_seconds: 10 });
    const wrong = await work
      .heartbeat(WS, ENV, workId, { expectedLastHeartbeat: "NO_HEARTBEAT" }, scope)
      .catch((e: ApiError) => e);
    expect(wrong).toMatchObject({ status: 412 });
    expect((wrong as ApiError).toBody("r").error).toMatchObject({
      details: {
        error_code: "heartbeat_precondition_failed",
        current_state: { state: "active", lease_extended: false },
      },
    });
    now += 5_000;
    const next = await work.heartbeat(
      WS,
      ENV,
      workId,
      { expectedLastHeartbeat: beat.last_heartbeat, desiredTtlSeconds: 500 },
      scope,
    );
    expect(next.ttl_seconds).toBe(60); // clamped to the maximum
    expect(next.last_heartbeat > beat.last_heartbeat).toBe(true);
    now += 61_000; // no heartbeat for longer than the lease
    const retaken = await work.poll(WS, ENV, {});
    expect(retaken?.id).toBe(workId);
    await expect(
      work.heartbeat(WS, ENV, workId, { expectedLastHeartbeat: next.last_heartbeat }, scope),
    ).rejects.toMatchObject({ status: 412 });
    await expect(work.stop(WS, ENV, workId, true, scope)).rejects.toMatchObject({ status: 409 });
  });

  it("stops: gracefully through `stopping`, at once with force; a stopped item's tokens are revoked", async () => {
    const { workId, item, scope } = await claimed();
    await work.ack(WS, ENV, workId, scope);
    await work.heartbeat(WS, ENV, workId, { expectedLastHeartbeat: "NO_HEARTBEAT" }, scope);
    expect((await work.stop(WS, ENV, workId, false)).state).toBe("stopping");
    const told = await work.heartbeat(WS, ENV, workId, { expectedLastHeartbeat: "anything" }, scope);
    expect(told).toMatchObject({ state: "stopping", lease_extended: false });
    expect((await work.stop(WS, ENV, workId, true, scope)).state).toBe("stopped");
    await expect(work.stop(WS, ENV, workId, true)).rejects.toMatchObject({ status: 409 });
    expect(await apiKeys.resolve(tokenOf(item.secret))).toBeUndefined();
    expect(await work.poll(WS, ENV, {})).toBeNull();
    expect(await store.query("resources", `workq#${ENV}`)).toEqual([]);
  });

  it("counts queued and handed-out items and recent pollers", async () => {
    await work.ensureWork(WS, ENV, "sesn_a");
    await work.ensureWork(WS, ENV, "sesn_b");
    await work.poll(WS, ENV, { workerId: "w1" });
    expect(await work.stats(WS, ENV)).toMatchObject({ depth: 1, pending: 1, workers_polling: 1 });
    now += 31_000;
    expect(await work.stats(WS, ENV)).toMatchObject({ depth: 2, pending: 0, workers_polling: 0 });
  });

  it("long-polls up to block_ms and returns null when nothing comes", async () => {
    const realClock = new WorkService(
      store,
      new TimeSortableIds(),
      { now: () => Date.now() },
      apiKeys,
      {
        retrieve: async () => environment("self_hosted"),
      },
      { leaseSeconds: 10, maxLeaseSeconds: 60 },
    );
    const started = Date.now();
    expect(await realClock.poll(WS, ENV, { blockMs: 300 })).toBeNull();
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });
});

describe("ScopedAccess", () => {
  const resources = [
    { type: "memory_store", memory_store_id: "memstore_rw", access: "read_write" },
    { type: "memory_store", memory_store_id: "memstore_ro", access: "read_only" },
  ];
  const scope = {
    kind: "session",
    environmentId: ENV,
    workId: "work_1",
    sessionId: "sesn_a",
    generation: 2,
  } as const;
  let current = true;
  const access = new ScopedAccess({
    sessionResources: async (_ws, sid) => (sid === "sesn_a" ? (resources as never) : undefined),
    tokenIsCurrent: async () => current,
  });
  const token = { workspaceId: WS, apiKeyId: "work_1#2", scope };
  const route = (scopes: Array<"environment" | "session">, ownLeaseCheck = false) => ({
    scopes,
    ownLeaseCheck,
  });

  it("lets a workspace key through and keeps scoped keys to their routes and resources", async () => {
    current = true;
    await access.check({ workspaceId: WS, apiKeyId: "k" }, route([]), { session_id: "sesn_other" }, "GET");
    await expect(access.check(token, route([]), {}, "GET")).rejects.toMatchObject({ status: 403 });
    await expect(
      access.check(token, route(["session"]), { session_id: "sesn_b" }, "GET"),
    ).rejects.toMatchObject({
      status: 404,
    });
    await access.check(token, route(["session"]), { session_id: "sesn_a" }, "GET");
    await access.check(token, route(["session"]), { memory_store_id: "memstore_rw" }, "POST");
    await access.check(token, route(["session"]), { memory_store_id: "memstore_ro" }, "GET");
    await expect(
      access.check(token, route(["session"]), { memory_store_id: "memstore_ro" }, "POST"),
    ).rejects.toMatchObject({ status: 403 });
    await expect(
      access.check(token, route(["session"]), { memory_store_id: "memstore_elsewhere" }, "GET"),
    ).rejects.toMatchObject({ status: 404 });
    const envKey = {
      workspaceId: WS,
      apiKeyId: "envkey_1",
      scope: { kind: "environment", environmentId: ENV } as const,
    };
    await access.check(envKey, route(["environment"]), { environment_id: ENV }, "GET");
    await expect(
      access.check(envKey, route(["environment"]), { environment_id: "env_other" }, "GET"),
    ).rejects.toMatchObject({ status: 404 });
    await expect(access.check(envKey, route(["session"]), {}, "GET")).rejects.toMatchObject({ status: 403 });
  });

  it("refuses a sessions token whose lease generation has passed, except where the handler answers 412", async () => {
    current = false;
    await expect(
      access.check(token, route(["session"]), { session_id: "sesn_a" }, "GET"),
    ).rejects.toMatchObject({
      status: 401,
    });
    await access.check(token, route(["session"], true), { work_id: "work_1" }, "POST");
  });
});
