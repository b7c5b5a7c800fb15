/**
 * Tool effects exactly once (runtime/tool-intents.ts): a step that dies after its tool changed a file
 * but before the tool's result was written is re-run, and the re-run must not apply the change again.
 * Crashes are injected into the in-memory runtime: a step "dies" when a write it makes never returns
 * (nothing after it runs, as with `kill -9`); the lease then expires, the sweeper re-nudges and the
 * retried step replays the stored record.
 */
import { describe, expect, it } from "vitest";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import type { Session, SessionEvent } from "../../shared/contract/sdk-types.js";
import type { LoggedEvent } from "../../shared/core/events/event-log.js";
import { EventsService } from "../../shared/core/events/events-service.js";
import { MemoriesService } from "../../shared/core/memory/memories-service.js";
import { MemoryStoresService } from "../../shared/core/memory/memory-stores-service.js";
import type { GroupedPut } from "../../shared/core/ports.js";
import { runAgentStep } from "../../shared/core/runtime/agent-step.js";
import { sweepStalledSessions } from "../../shared/core/runtime/sweeper.js";
import {
  fileIntentLog,
  interruptedOutcome,
  runOnce,
  toolIntentKey,
} from "../../shared/core/runtime/tool-intents.js";
import { purgeRunData } from "../../shared/core/sessions/session-purge.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { contentSha256 } from "../../shared/core/tools/file-tools.js";
import { inMemoryDeps, ScriptedModel, sessionFixture, text, toolUse } from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_test";
const SESSION = "sesn_1";
const ORIGINAL = "L11\nL13\n";
/** Append-style: `old_string` is still there after the edit, so a second application doubles L12. */
const APPEND = { old_string: "L11\n", new_string: "L11\nL12\n" };
const EDITED = "L11\nL12\nL13\n";

type Runtime = ReturnType<typeof inMemoryDeps> & { advance(ms: number): void };

async function start(
  replies: ConstructorParameters<typeof ScriptedModel>[0],
  resources: Session["resources"] = [],
) {
  let clock = 1_000_000;
  const rt = inMemoryDeps(new ScriptedModel(replies), () => clock);
  await rt.deps.sessions.create({
    workspaceId: WS,
    session: { ...sessionFixture(SESSION), resources },
    run: newRunState(),
  });
  const advance = (ms: number) => {
    clock += ms;
  };
  return Object.assign(rt, { advance }) as Runtime;
}

async function send(rt: Runtime, message = "go") {
  await new EventsService(rt.deps).send(WS, SESSION, [
    { type: "user.message", content: [{ type: "text", text: message }] },
  ]);
}

/** Delivers queued step messages until the queue is empty. */
async function drain(rt: Runtime) {
  for (let message = rt.queue.take(); message; message = rt.queue.take())
    await runAgentStep(rt.deps, message);
}

/**
 * Runs the first queued step until it "dies" (`dies` resolves when it hangs), then lets its lease run
 * out, has the sweeper re-nudge the session and drains the retried step and whatever follows it.
 */
async function crashAndRecover(rt: Runtime, dies: Promise<void>, beforeRestart?: () => Promise<void>) {
  const first = rt.queue.take();
  if (!first) throw new Error("no step queued");
  void runAgentStep(rt.deps, first);
  await dies;
  await beforeRestart?.();
  rt.advance(rt.deps.leaseMs + 60_000);
  expect((await sweepStalledSessions(rt.deps)).nudged).toBe(1);
  await drain(rt);
}

/** The process dies as it is about to write a tool result: the tool ran, its result is never written. */
function dieBeforeToolResult(rt: Runtime): Promise<void> {
  const write = rt.deps.events.write.bind(rt.deps.events);
  return new Promise((died) => {
    let dead = false;
    rt.deps.events.write = (sessionId: string, entries: LoggedEvent[], guard?: GroupedPut) => {
      if (!dead && entries.some((e) => e.event.type === "agent.tool_result")) {
        dead = true;
        rt.deps.events.write = write;
        died();
        return new Promise(() => {});
      }
      return write(sessionId, entries, guard);
    };
  });
}

/** The workspace dies on its next write: `after` says whether the write landed before it died. */
function dieAtWorkspaceWrite(rt: Runtime, when: "before" | "after"): Promise<void> {
  const write = rt.workspace.write.bind(rt.workspace);
  return new Promise((died) => {
    rt.workspace.write = async (workspaceId, path, content) => {
      rt.workspace.write = write;
      if (when === "after") await write(workspaceId, path, content);
      died();
      return new Promise(() => {});
    };
  });
}

async function results(rt: Runtime) {
  const events = (await rt.deps.events.read(SESSION)).map((e) => e.event);
  const uses = events.filter((e) => e.type === "agent.tool_use");
  const toolResults = events.filter((e) => e.type === "agent.tool_result") as Array<
    Extract<SessionEvent, { type: "agent.tool_result" }>
  >;
  return {
    events,
    uses,
    results: toolResults.map((r) => ({
      isError: r.is_error,
      text: (r.content as Array<{ text: string }>)[0]?.text ?? "",
      toolUseId: r.tool_use_id,
    })),
  };
}

const count = (haystack: string, needle: string) => haystack.split(needle).length - 1;

async function expectIdle(rt: Runtime) {
  const record = await rt.deps.sessions.get(WS, SESSION);
  expect(record?.session.status).toBe("idle");
  const { events } = await results(rt);
  expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
  expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
}

describe("write and edit in the workspace after a crash", () => {
  const editCall = () => toolUse("edit", { file_path: "f.txt", ...APPEND });

  it("an append-style edit whose result was lost is applied once, with the first attempt's result", async () => {
    const rt = await start([editCall(), text("done")]);
    await rt.workspace.seed(SESSION, { "f.txt": ORIGINAL });
    await send(rt);
    await crashAndRecover(rt, dieBeforeToolResult(rt));

    expect(await rt.workspace.read(SESSION, "f.txt")).toBe(EDITED);
    expect(rt.workspace.writes).toHaveLength(1);
    const { uses, results: out } = await results(rt);
    expect(uses).toHaveLength(1);
    expect(out).toEqual([
      { isError: false, text: "Replaced 1 occurrence in /workspace/f.txt", toolUseId: uses[0]?.id },
    ]);
    await expectIdle(rt);
  });

  it("a replace edit whose result was lost reports success, not that old_string is gone", async () => {
    const rt = await start([
      toolUse("edit", { file_path: "f.txt", old_string: "a", new_string: "b" }),
      text("ok"),
    ]);
    await rt.workspace.seed(SESSION, { "f.txt": "a\n" });
    await send(rt);
    await crashAndRecover(rt, dieBeforeToolResult(rt));
    expect(await rt.workspace.read(SESSION, "f.txt")).toBe("b\n");
    expect((await results(rt)).results).toEqual([
      expect.objectContaining({ isError: false, text: "Replaced 1 occurrence in /workspace/f.txt" }),
    ]);
    await expectIdle(rt);
  });

  it("dying right after the workspace write: the re-run finds the 'after' hash and writes nothing", async () => {
    const rt = await start([editCall(), text("done")]);
    await rt.workspace.seed(SESSION, { "f.txt": ORIGINAL });
    await send(rt);
    await crashAndRecover(rt, dieAtWorkspaceWrite(rt, "after"));
    expect(await rt.workspace.read(SESSION, "f.txt")).toBe(EDITED);
    expect(rt.workspace.writes).toHaveLength(1);
    expect((await results(rt)).results.map((r) => r.isError)).toEqual([false]);
    await expectIdle(rt);
  });

  it("dying after the intent but before the write: the re-run finds the 'before' hash and applies it", async () => {
    const rt = await start([editCall(), text("done")]);
    await rt.workspace.seed(SESSION, { "f.txt": ORIGINAL });
    await send(rt);
    await crashAndRecover(rt, dieAtWorkspaceWrite(rt, "before"));
    expect(await rt.workspace.read(SESSION, "f.txt")).toBe(EDITED);
    expect((await results(rt)).results).toEqual([
      expect.objectContaining({ isError: false, text: "Replaced 1 occurrence in /workspace/f.txt" }),
    ]);
    const intent = await rt.store.get(
      "resources",
      toolIntentKey(SESSION),
      (await results(rt)).uses[0]?.id ?? "",
    );
    expect(intent).toMatchObject({
      kind: "file_change",
      tool: "edit",
      path: "/workspace/f.txt",
      before: contentSha256(ORIGINAL),
      after: contentSha256(EDITED),
    });
    await expectIdle(rt);
  });

  it("a file changed by someone else in between gets an is_error conflict result, never a second edit", async () => {
    const rt = await start([editCall(), text("done")]);
    await rt.workspace.seed(SESSION, { "f.txt": ORIGINAL });
    await send(rt);
    await crashAndRecover(rt, dieBeforeToolResult(rt), () =>
      rt.workspace.write(SESSION, "f.txt", "L11\nsomeone else\nL13\n"),
    );
    expect(await rt.workspace.read(SESSION, "f.txt")).toBe("L11\nsomeone else\nL13\n");
    const { results: out } = await results(rt);
    expect(out).toHaveLength(1);
    expect(out[0]?.isError).toBe(true);
    expect(out[0]?.text).toMatch(/\/workspace\/f\.txt changed since this edit call was started/);
    await expectIdle(rt);
  });

  it("a write whose result was lost is not reported as anything but its first result", async () => {
    const rt = await start([toolUse("write", { file_path: "new.txt", content: "one\n" }), text("done")]);
    await send(rt);
    await crashAndRecover(rt, dieBeforeToolResult(rt));
    expect(await rt.workspace.read(SESSION, "new.txt")).toBe("one\n");
    expect(rt.workspace.writes).toHaveLength(1);
    expect((await results(rt)).results).toEqual([
      expect.objectContaining({ isError: false, text: "Wrote 1 lines (4 bytes) to /workspace/new.txt" }),
    ]);
    await expectIdle(rt);
  });

  it("a step that runs once records the intent without reading it first", async () => {
    const rt = await start([editCall(), text("done")]);
    await rt.workspace.seed(SESSION, { "f.txt": ORIGINAL });
    await send(rt);
    const gets: string[] = [];
    const get = rt.store.get.bind(rt.store);
    rt.store.get = (table, pk, sk) => {
      gets.push(String(pk));
      return get(table, pk, sk);
    };
    await drain(rt);
    expect(gets.filter((pk) => pk.startsWith("intent#"))).toEqual([]);
    expect(await rt.store.query("resources", toolIntentKey(SESSION))).toHaveLength(1);
    expect(await rt.workspace.read(SESSION, "f.txt")).toBe(EDITED);
  });
});

describe("write and edit through a memory mount after a crash", () => {
  async function withMemory(replies: ConstructorParameters<typeof ScriptedModel>[0], content = ORIGINAL) {
    const rt = await start([]);
    const memoryDeps = { ...rt.deps, domainEvents: { publish: async () => {} } };
    const stores = new MemoryStoresService(memoryDeps);
    const memories = new MemoriesService(memoryDeps, stores);
    const store = await stores.create(WS, { name: "notes" });
    const api = { actor: { type: "api_actor" as const, api_key_id: "apikey_t" } };
    await memories.createMemory(store.id, { path: "/f.md", content }, api);
    const resources = [
      {
        id: "sesrsc_1",
        type: "memory_store",
        memory_store_id: store.id,
        access: "read_write",
        mount_path: "/mnt/memory/notes",
        name: "notes",
        description: "",
        instructions: null,
      },
    ] as unknown as Session["resources"];
    const record = await rt.deps.sessions.get(WS, SESSION);
    if (!record) throw new Error("no session");
    record.session.resources = resources;
    await rt.deps.sessions.save(record);
    rt.deps.model = new ScriptedModel(replies);
    const memory = async () => (await memories.findByPath(store.id, "/f.md"))?.content;
    const versions = async () =>
      (await rt.store.query("resources", `memstore#${store.id}#ver`)).filter((v) => v.path === "/f.md");
    return { rt, memory, versions, memories, storeId: store.id };
  }

  it("an append-style edit whose result was lost is applied once (content_sha256 alone did not stop it)", async () => {
    const { rt, memory, versions } = await withMemory([
      toolUse("edit", { file_path: "/mnt/memory/notes/f.md", ...APPEND }),
      text("done"),
    ]);
    await send(rt);
    await crashAndRecover(rt, dieBeforeToolResult(rt));
    expect(await memory()).toBe(EDITED);
    expect(count((await memory()) ?? "", "L12")).toBe(1);
    expect(await versions()).toHaveLength(2);
    expect((await results(rt)).results).toEqual([
      expect.objectContaining({ isError: false, text: "Replaced 1 occurrence in /mnt/memory/notes/f.md" }),
    ]);
    await expectIdle(rt);
  });

  it("dying right after the memory head was written: the version is repaired, the edit not repeated", async () => {
    const { rt, memory, versions } = await withMemory([
      toolUse("edit", { file_path: "/mnt/memory/notes/f.md", ...APPEND }),
      text("done"),
    ]);
    await send(rt);
    const put = rt.store.put.bind(rt.store);
    const died = new Promise<void>((resolve) => {
      rt.store.put = async (table, item, options) => {
        await put(table, item, options);
        if (String(item.pk).endsWith("#mem") && item.content === EDITED) {
          rt.store.put = put;
          resolve();
          return new Promise(() => {});
        }
      };
    });
    await crashAndRecover(rt, died);
    expect(await memory()).toBe(EDITED);
    expect((await results(rt)).results.map((r) => r.isError)).toEqual([false]);
    // the missing version of the first attempt's head is written by the next read of it
    expect((await versions()).length).toBeLessThanOrEqual(2);
    await expectIdle(rt);
  });

  it("a memory changed by someone else in between gets an is_error conflict result", async () => {
    const { rt, memory, memories, storeId } = await withMemory([
      toolUse("edit", { file_path: "/mnt/memory/notes/f.md", ...APPEND }),
      text("done"),
    ]);
    await send(rt);
    await crashAndRecover(rt, dieBeforeToolResult(rt), async () => {
      await memories.writeAtPath(storeId, "/f.md", "rewritten\n", {
        actor: { type: "api_actor", api_key_id: "apikey_t" },
      });
    });
    expect(await memory()).toBe("rewritten\n");
    const { results: out } = await results(rt);
    expect(out).toHaveLength(1);
    expect(out[0]?.isError).toBe(true);
    expect(out[0]?.text).toMatch(/changed since this edit call was started/);
    await expectIdle(rt);
  });

  it("a write that created a memory is not refused as a conflict when re-run", async () => {
    const { rt, memory } = await withMemory([
      toolUse("write", { file_path: "/mnt/memory/notes/new.md", content: "fresh\n" }),
      text("done"),
    ]);
    await send(rt);
    await crashAndRecover(rt, dieBeforeToolResult(rt));
    expect(await memory()).toBe(ORIGINAL);
    expect((await results(rt)).results).toEqual([
      expect.objectContaining({
        isError: false,
        text: "Wrote 1 lines (6 bytes) to /mnt/memory/notes/new.md",
      }),
    ]);
    await expectIdle(rt);
  });
});

describe("runOnce", () => {
  const deps = () => ({ store: new MemoryDocumentStore() });
  const ok = { isError: false, content: "ran" };

  it("runs the tool and records its outcome", async () => {
    const d = deps();
    let runs = 0;
    const outcome = await runOnce(d, "sesn_1", "sevt_1", "bash", async () => {
      runs++;
      return ok;
    });
    expect(outcome).toEqual(ok);
    expect(runs).toBe(1);
    expect(await d.store.get("resources", "intent#sesn_1", "sevt_1")).toMatchObject({
      kind: "run_once",
      tool: "bash",
      outcome: ok,
    });
  });

  it("returns the recorded outcome without running again when only the result slot was lost", async () => {
    const d = deps();
    await runOnce(d, "sesn_1", "sevt_1", "bash", async () => ok);
    let runs = 0;
    const again = await runOnce(d, "sesn_1", "sevt_1", "bash", async () => {
      runs++;
      return { isError: false, content: "second" };
    });
    expect(again).toEqual(ok);
    expect(runs).toBe(0);
  });

  it("does not run a tool again that may have run: an interrupted is_error result instead", async () => {
    const d = deps();
    // the first attempt dies while the tool runs: an intent without an outcome
    void runOnce(d, "sesn_1", "sevt_1", "bash", () => new Promise(() => {}));
    await new Promise((r) => setTimeout(r, 0));
    let runs = 0;
    const again = await runOnce(d, "sesn_1", "sevt_1", "bash", async () => {
      runs++;
      return ok;
    });
    expect(runs).toBe(0);
    expect(again).toEqual(interruptedOutcome("bash"));
    expect(again.isError).toBe(true);
    expect(again.content).toMatch(/interrupted by a restart .* may or may not have taken effect/);
  });

  it("keeps the outcome when recording it fails", async () => {
    const d = deps();
    const put = d.store.put.bind(d.store);
    d.store.put = async (table, item, options) => {
      if (!options?.ifNotExists) throw new Error("storage unavailable");
      return put(table, item, options);
    };
    expect(await runOnce(d, "sesn_1", "sevt_1", "bash", async () => ok)).toEqual(ok);
  });

  it("two concurrent attempts run the tool once", async () => {
    const d = deps();
    let runs = 0;
    const run = async () => {
      runs++;
      await new Promise((r) => setTimeout(r, 5));
      return ok;
    };
    const outcomes = await Promise.all([
      runOnce(d, "sesn_1", "sevt_1", "bash", run),
      runOnce(d, "sesn_1", "sevt_1", "bash", run),
    ]);
    expect(runs).toBe(1);
    expect(outcomes).toContainEqual(ok);
  });
});

describe("file intents", () => {
  it("are keyed by run and tool use, recorded once, and purged with the run", async () => {
    const store = new MemoryDocumentStore();
    const log = fileIntentLog({ store }, "sesn_1", "sevt_1", "edit");
    const intent = { path: "/workspace/f.txt", before: null, after: contentSha256("x"), result: "Wrote" };
    expect(await log.recorded()).toBeUndefined();
    expect(await log.record(intent)).toBeUndefined();
    expect(await log.record({ ...intent, after: "other" })).toEqual(intent);
    expect(await log.recorded()).toEqual(intent);
    expect(
      await fileIntentLog({ store }, "sesn_1", "sevt_1", "edit", { fresh: true }).recorded(),
    ).toBeUndefined();
    await purgeRunData(store, { deleteAll: async () => {} }, "sesn_1");
    expect(await store.query("resources", toolIntentKey("sesn_1"))).toEqual([]);
  });
});
