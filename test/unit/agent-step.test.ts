import { describe, expect, it, vi } from "vitest";
import type { SessionEvent } from "../../shared/contract/sdk-types.js";
import { EventsService } from "../../shared/core/events/events-service.js";
import { ModelCallError, type StoredItem } from "../../shared/core/ports.js";
import { runAgentStep } from "../../shared/core/runtime/agent-step.js";
import { leaveRunningIndex, wakeSession } from "../../shared/core/runtime/session-status.js";
import { sweepStalledSessions } from "../../shared/core/runtime/sweeper.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { threadRepository } from "../../shared/core/threads/thread-record.js";
import { inMemoryDeps, ScriptedModel, sessionFixture, text, toolUse } from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_test";

async function start(model: ScriptedModel, now?: () => number) {
  const rt = inMemoryDeps(model, now);
  await rt.deps.sessions.create({ workspaceId: WS, session: sessionFixture("sesn_1"), run: newRunState() });
  await new EventsService(rt.deps).send(WS, "sesn_1", [
    { type: "user.message", content: [{ type: "text", text: "go" }] },
  ]);
  return rt;
}

/** Delivers queued step messages until the queue is empty. */
async function drain(rt: Awaited<ReturnType<typeof start>>, deliver = 1) {
  for (let message = rt.queue.take(); message; message = rt.queue.take()) {
    const current = message;
    await Promise.all(Array.from({ length: deliver }, () => runAgentStep(rt.deps, current)));
  }
}

/** Sends a user message (waking the idle session) right before the first delete of a running-index entry. */
function wakeBeforeTheIndexDelete(rt: Awaited<ReturnType<typeof start>>) {
  const store = rt.deps.store;
  const remove = store.delete.bind(store);
  const wake = { done: false };
  store.delete = async (table, pk, sk) => {
    if (pk === "running" && !wake.done) {
      wake.done = true;
      await new EventsService(rt.deps).send(WS, "sesn_1", [
        { type: "user.message", content: [{ type: "text", text: "again" }] },
      ]);
    }
    return remove(table, pk, sk);
  };
  return wake;
}

const types = async (rt: Awaited<ReturnType<typeof start>>) =>
  (await rt.deps.events.read("sesn_1")).map((e) => e.event.type as SessionEvent["type"]);

describe("runAgentStep", () => {
  it("runs a tool turn to idle, counting usage once per model call", async () => {
    const rt = await start(
      new ScriptedModel([toolUse("write", { file_path: "a.txt", content: "x" }), text("done")]),
    );
    await drain(rt);
    expect(await types(rt)).toEqual([
      "user.message",
      "session.status_running",
      "span.model_request_start",
      "agent.tool_use",
      "span.model_request_end",
      "agent.tool_result",
      "span.model_request_start",
      "agent.message",
      "span.model_request_end",
      "session.usage",
      "session.status_idle",
    ]);
    const record = await rt.deps.sessions.get(WS, "sesn_1");
    expect(record?.session.status).toBe("idle");
    expect(record?.session.usage.input_tokens).toBe(20);
    expect(await rt.workspace.read("sesn_1", "a.txt")).toBe("x");
  });

  it("stamps span.model_request_start when the request is sent and the end when the answer came", async () => {
    const clock = { t: 1_000_000 };
    const model = new ScriptedModel([text("done")]);
    const answer = model.createMessage.bind(model);
    // The model takes 1.5 s to answer.
    model.createMessage = async (request) => {
      clock.t += 1_500;
      return answer(request);
    };
    const rt = await start(model, () => clock.t);
    await drain(rt);
    const events = (await rt.deps.events.read("sesn_1")).map((e) => e.event);
    const start_ = events.find((e) => e.type === "span.model_request_start");
    const end = events.find((e) => e.type === "span.model_request_end");
    expect(Date.parse(end?.processed_at ?? "") - Date.parse(start_?.processed_at ?? "")).toBe(1_500);
  });

  it("records a tool input the model sent as a JSON string as the object the SDK types, and junk as {}", async () => {
    const rt = await start(
      new ScriptedModel([
        toolUse("write", JSON.stringify({ file_path: "s.txt", content: "from a string" }) as never),
        toolUse("write", 42 as never),
        text("done"),
      ]),
    );
    await drain(rt);
    const uses = (await rt.deps.events.read("sesn_1")).filter((e) => e.event.type === "agent.tool_use");
    expect(uses.map((u) => (u.event as { input: unknown }).input)).toEqual([
      { file_path: "s.txt", content: "from a string" },
      {},
    ]);
    expect(await rt.workspace.read("sesn_1", "s.txt")).toBe("from a string");
  });

  it("delivers every message twice concurrently without duplicating events, tool runs or model calls", async () => {
    const model = new ScriptedModel([toolUse("write", { file_path: "a.txt", content: "x" }), text("done")]);
    const rt = await start(model);
    await drain(rt, 2);
    const events = await rt.deps.events.read("sesn_1");
    expect(new Set(events.map((e) => e.event.id)).size).toBe(events.length);
    expect(events.filter((e) => e.event.type === "agent.tool_result")).toHaveLength(1);
    expect(model.requests).toHaveLength(2);
    expect(rt.workspace.writes).toHaveLength(1);
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.usage.output_tokens).toBe(10);
  });

  it("keeps sweeping past an entry it cannot handle", async () => {
    let clock = 1_000_000;
    const rt = await start(new ScriptedModel([text("done")]), () => clock);
    rt.queue.take(); // the step message is lost
    // An entry that sorts first and whose handling fails (a storage error, a missing grant).
    await rt.deps.store.put("resources", { pk: "running", sk: "sesn_0broken", workspaceId: WS });
    const mutate = rt.deps.sessions.mutate.bind(rt.deps.sessions);
    rt.deps.sessions.mutate = (ws, id, change) =>
      id === "sesn_0broken" ? Promise.reject(new Error("AccessDenied")) : mutate(ws, id, change);
    clock += 120_000;
    expect(await sweepStalledSessions(rt.deps)).toEqual({ checked: 2, nudged: 1, failed: 1 });
    expect(rt.queue.sent).toHaveLength(1);
  });

  it("a send whose process dies right after the session turned running leaves it for the sweeper", async () => {
    let clock = 1_000_000;
    const rt = inMemoryDeps(new ScriptedModel([text("done")]), () => clock);
    await rt.deps.sessions.create({ workspaceId: WS, session: sessionFixture("sesn_1"), run: newRunState() });
    // The process dies once the session's record says running: nothing it writes after that lands.
    const store = rt.deps.store;
    const put = store.put.bind(store);
    const putAll = store.putAll.bind(store);
    let dead = false;
    const dieAfter = (written: boolean) => {
      if (written) dead = true;
    };
    const turnedRunning = (item: StoredItem) =>
      (item.session as { status?: string } | undefined)?.status === "running";
    store.put = async (table, item, options) => {
      if (dead) throw new Error("process died");
      await put(table, item, options);
      dieAfter(turnedRunning(item));
    };
    store.putAll = async (puts) => {
      if (dead) throw new Error("process died");
      await putAll(puts);
      dieAfter(puts.some((p) => turnedRunning(p.item)));
    };
    const send = rt.deps.steps.send.bind(rt.deps.steps);
    rt.deps.steps.send = async (message, options) => {
      if (dead) throw new Error("process died");
      await send(message, options);
    };
    // The wake committed with the save; what fails after it is logged, not thrown at the client
    // (whose SDK would send the message again).
    await new EventsService(rt.deps).send(WS, "sesn_1", [
      { type: "user.message", content: [{ type: "text", text: "go" }] },
    ]);
    expect(rt.queue.sent).toHaveLength(0);
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("running");

    // Restarted: once the session's grace has passed, the sweeper finds it and the turn runs.
    dead = false;
    store.put = put;
    store.putAll = putAll;
    rt.deps.steps.send = send;
    clock += 120_000;
    expect((await sweepStalledSessions(rt.deps)).nudged).toBe(1);
    for (let message = rt.queue.take(); message; message = rt.queue.take())
      await runAgentStep(rt.deps, message);
    expect((await rt.deps.events.read("sesn_1")).at(-1)?.event).toMatchObject({
      type: "session.status_idle",
      stop_reason: { type: "end_turn" },
    });
  });

  it("keeps a session woken between its idle commit and leaving the running index in the index", async () => {
    const rt = await start(new ScriptedModel([text("first"), text("second")]));
    // A user message arrives right after the turn's idle commit, before its index entry is dropped.
    const store = rt.deps.store;
    const wake = wakeBeforeTheIndexDelete(rt);
    await runAgentStep(rt.deps, rt.queue.take() as never);
    expect(wake.done).toBe(true);
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("running");
    // Still where the sweeper looks, should the new turn's step message be lost.
    expect(await store.get("resources", "running", "sesn_1")).toMatchObject({ workspaceId: WS });

    await drain(rt);
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("idle");
    expect(await store.get("resources", "running", "sesn_1")).toBeUndefined();
  });

  it("keeps a woken session in the running index when the last turn left it between the wake's entry and its save", async () => {
    const rt = await start(new ScriptedModel([text("first"), text("second")]));
    await drain(rt);
    // DynamoDB writes a wake's group one item after the other. The turn before leaves the index in
    // that gap: it deletes the entry just put and reads the session still idle, so it keeps it out.
    const store = rt.deps.store;
    const put = store.put.bind(store);
    let leftBetween = false;
    store.put = async (table, item, options) => {
      await put(table, item, options);
      if (item.pk === "running" && !leftBetween) {
        leftBetween = true;
        await leaveRunningIndex(rt.deps, WS, "sesn_1");
        expect(await store.get("resources", "running", "sesn_1")).toBeUndefined();
      }
    };
    // And the step message is not sent (the queue is down): only the sweeper can start the turn now.
    // The send still succeeds: the input is in, and the wake committed.
    rt.deps.steps.send = async () => {
      throw new Error("queue unavailable");
    };
    await new EventsService(rt.deps).send(WS, "sesn_1", [
      { type: "user.message", content: [{ type: "text", text: "again" }] },
    ]);
    expect(leftBetween).toBe(true);
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("running");
    expect(await store.get("resources", "running", "sesn_1")).toEqual({
      pk: "running",
      sk: "sesn_1",
      workspaceId: WS,
    });
  });

  it("a late leave of the running index does not touch the entry of a run that is running again", async () => {
    const rt = await start(new ScriptedModel([text("first"), text("second")]));
    await drain(rt);
    await new EventsService(rt.deps).send(WS, "sesn_1", [
      { type: "user.message", content: [{ type: "text", text: "again" }] },
    ]);
    // The turn before leaves the index late, and its process dies right after any delete it makes.
    const store = rt.deps.store;
    const remove = store.delete.bind(store);
    store.delete = async (table, pk, sk) => {
      await remove(table, pk, sk);
      throw new Error("killed");
    };
    await leaveRunningIndex(rt.deps, WS, "sesn_1");
    expect(await store.get("resources", "running", "sesn_1")).toEqual({
      pk: "running",
      sk: "sesn_1",
      workspaceId: WS,
    });
  });

  it("a child thread's wake puts an index entry that names its session", async () => {
    const rt = await start(new ScriptedModel([]));
    const threads = threadRepository(rt.deps.store, "sesn_1");
    await threads.create({ workspaceId: WS, session: sessionFixture("sthr_1"), run: newRunState() });
    const puts: StoredItem[] = [];
    const store = rt.deps.store;
    const put = store.put.bind(store);
    store.put = async (table, item, options) => {
      if (item.pk === "running") puts.push(item);
      return put(table, item, options);
    };
    await wakeSession({ ...rt.deps, sessions: threads }, WS, "sthr_1", 1);
    expect((await threads.get(WS, "sthr_1"))?.session.status).toBe("running");
    // Every entry ever written for it: the sweeper reads one without a session as a session's.
    expect(puts.length).toBeGreaterThan(0);
    for (const item of puts)
      expect(item).toEqual({ pk: "running", sk: "sthr_1", workspaceId: WS, sessionId: "sesn_1" });
  });

  it("the sweeper dropping an idle session's entry keeps it when input woke the session meanwhile", async () => {
    const rt = await start(new ScriptedModel([text("first"), text("second")]));
    await drain(rt);
    // An entry left for an idle session (a crash before the turn left the index).
    await rt.deps.store.put("resources", { pk: "running", sk: "sesn_1", workspaceId: WS });
    const store = rt.deps.store;
    const wake = wakeBeforeTheIndexDelete(rt);
    expect((await sweepStalledSessions(rt.deps)).nudged).toBe(0);
    expect(wake.done).toBe(true);
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("running");
    expect(await store.get("resources", "running", "sesn_1")).toMatchObject({ workspaceId: WS });
  });

  it("re-runs a step whose process died after its model call from the stored record, not a new call", async () => {
    const model = new ScriptedModel([toolUse("write", { file_path: "a.txt", content: "x" }), text("done")]);
    let clock = 1_000_000;
    const rt = await start(model, () => clock);
    const first = rt.queue.take();
    // The process dies at its commit: the save never returns (events written, tool already run).
    const save = rt.deps.sessions.save.bind(rt.deps.sessions);
    let frozen = false;
    rt.deps.sessions.save = (record) => {
      if (record.run.stepSeq === 1 && !frozen) {
        frozen = true;
        return new Promise(() => {});
      }
      return save(record);
    };
    void runAgentStep(rt.deps, first as never);
    await vi.waitFor(() => expect(frozen).toBe(true));
    // Redelivery while the lease is live is dropped; after it expires the sweeper re-nudges.
    await runAgentStep(rt.deps, first as never);
    expect(rt.queue.sent).toHaveLength(0);
    clock += 120_000;
    expect((await sweepStalledSessions(rt.deps)).nudged).toBe(1);
    await drain(rt);
    expect(model.requests).toHaveLength(2);
    expect(rt.workspace.writes).toHaveLength(1);
    const events = await rt.deps.events.read("sesn_1");
    expect(new Set(events.map((e) => e.event.id)).size).toBe(events.length);
    expect(events.filter((e) => e.event.type === "span.model_request_start")).toHaveLength(2);
    expect(events.at(-1)?.event).toMatchObject({
      type: "session.status_idle",
      stop_reason: { type: "end_turn" },
    });
  });

  it("retries a step that fails after its claim, then ends the turn with unknown_error (never stuck running)", async () => {
    const rt = await start(new ScriptedModel([text("a"), text("b"), text("c")]));
    const put = rt.deps.store.put.bind(rt.deps.store);
    rt.deps.store.put = async (table, item, options) => {
      if (String(item.pk).startsWith("step#")) throw new Error("storage unavailable");
      return put(table, item, options);
    };
    for (let sent = rt.queue.sent.shift(); sent; sent = rt.queue.sent.shift())
      await runAgentStep(rt.deps, sent.message);
    const events = await rt.deps.events.read("sesn_1");
    const errors = events
      .filter((e) => e.event.type === "session.error")
      .map((e) => (e.event as { error: { type: string; retry_status: { type: string } } }).error);
    expect(errors.map((e) => [e.type, e.retry_status.type])).toEqual([
      ["unknown_error", "retrying"],
      ["unknown_error", "retrying"],
      ["unknown_error", "exhausted"],
    ]);
    expect(events.at(-1)?.event).toMatchObject({
      type: "session.status_idle",
      stop_reason: { type: "retries_exhausted" },
    });
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("idle");
  });

  it("reschedules retryable model failures with a delay, then ends with retries_exhausted", async () => {
    const overloaded = () => new ModelCallError("overloaded", "529 overloaded");
    const rt = await start(new ScriptedModel([overloaded(), overloaded(), overloaded()]));
    const delays: Array<number | undefined> = [];
    for (let sent = rt.queue.sent.shift(); sent; sent = rt.queue.sent.shift()) {
      delays.push(sent.delaySeconds);
      await runAgentStep(rt.deps, sent.message);
    }
    expect(delays).toHaveLength(3);
    expect(delays[1]).toBeGreaterThanOrEqual(0);
    const events = await rt.deps.events.read("sesn_1");
    const errors = events
      .filter((e) => e.event.type === "session.error")
      .map((e) => (e.event as { error: { retry_status: { type: string } } }).error.retry_status.type);
    expect(errors).toEqual(["retrying", "retrying", "exhausted"]);
    expect(events.filter((e) => e.event.type === "session.status_rescheduled")).toHaveLength(2);
    expect(events.at(-1)?.event).toMatchObject({
      type: "session.status_idle",
      stop_reason: { type: "retries_exhausted" },
    });
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("idle");
  });

  it("ends a non-retryable failure at once as terminal", async () => {
    const rt = await start(new ScriptedModel([new ModelCallError("invalid_request", "400 bad")]));
    await drain(rt);
    const events = await rt.deps.events.read("sesn_1");
    expect(events.find((e) => e.event.type === "session.error")?.event).toMatchObject({
      error: { retry_status: { type: "terminal" } },
    });
    expect(events.at(-1)?.event).toMatchObject({ stop_reason: { type: "retries_exhausted" } });
  });

  it("answers a custom tool call once when its result is sent twice at once", async () => {
    const model = new ScriptedModel([toolUse("lookup", { id: "42" }), text("shipped")]);
    const rt = inMemoryDeps(model);
    const lookup = {
      type: "custom" as const,
      name: "lookup",
      description: "d",
      input_schema: { type: "object" as const },
    };
    await rt.deps.sessions.create({
      workspaceId: WS,
      session: sessionFixture("sesn_1", { tools: [lookup] }),
      run: newRunState(),
    });
    const events = new EventsService(rt.deps);
    await events.send(WS, "sesn_1", [{ type: "user.message", content: [{ type: "text", text: "go" }] }]);
    await drain(rt);
    const use = (await rt.deps.events.read("sesn_1")).find((e) => e.event.type === "agent.custom_tool_use");
    // A double submit: both sends read the session still awaiting the call, and both are logged.
    const result = {
      type: "user.custom_tool_result" as const,
      custom_tool_use_id: String(use?.event.id),
      content: [{ type: "text" as const, text: "shipped" }],
    };
    await Promise.all([events.send(WS, "sesn_1", [result]), events.send(WS, "sesn_1", [result])]);
    expect((await types(rt)).filter((type) => type === "user.custom_tool_result")).toHaveLength(2);
    await drain(rt);
    // The model gets one result for its call (the Messages API refuses two), and the turn ends.
    const lastTurn = (model.requests.at(-1)?.messages.at(-1)?.content ?? []) as Array<{ type: string }>;
    const answers = lastTurn.filter((block) => block.type === "tool_result");
    expect(answers).toHaveLength(1);
    expect((await rt.deps.events.read("sesn_1")).at(-1)?.event).toMatchObject({
      type: "session.status_idle",
      stop_reason: { type: "end_turn" },
    });
  });

  it("continues the turn when a user message arrives while the model is answering", async () => {
    const rt = await start(new ScriptedModel([text("first"), text("second")]));
    const events = new EventsService(rt.deps);
    const message = rt.queue.take();
    // The user speaks between the model call and the commit: the step must not go idle on it.
    const create = rt.deps.model.createMessage.bind(rt.deps.model);
    rt.deps.model = {
      name: "scripted",
      createMessage: async (request) => {
        const reply = await create(request);
        if (request.messages.length === 1) {
          await events.send(WS, "sesn_1", [
            { type: "user.message", content: [{ type: "text", text: "and more" }] },
          ]);
        }
        return reply;
      },
    };
    await runAgentStep(rt.deps, message as never);
    await drain(rt);
    const messages = (await rt.deps.events.read("sesn_1")).filter((e) => e.event.type === "agent.message");
    expect(messages).toHaveLength(2);
    expect((await rt.deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("idle");
  });

  it("ends the turn with budget_reached once the session's list cost reaches its budget", async () => {
    // A tool call that costs $3 at Sonnet's list price: the turn stops instead of calling the model again.
    const expensive = {
      ...toolUse("write", { file_path: "a.txt", content: "x" }),
      usage: { input_tokens: 1_000_000, output_tokens: 0 },
    };
    const rt = inMemoryDeps(new ScriptedModel([expensive as never, text("never")]));
    const budgeted = {
      ...sessionFixture("sesn_1"),
      budget: { type: "limit" as const, max_list_cost: { amount: "0.5", currency: "USD" as const } },
    };
    await rt.deps.sessions.create({ workspaceId: WS, session: budgeted, run: newRunState() });
    await new EventsService(rt.deps).send(WS, "sesn_1", [
      { type: "user.message", content: [{ type: "text", text: "go" }] },
    ]);
    await drain(rt as never);
    const events = await rt.deps.events.read("sesn_1");
    expect(events.at(-1)?.event).toMatchObject({
      type: "session.status_idle",
      stop_reason: { type: "budget_reached" },
    });
    expect(events.filter((e) => e.event.type === "span.model_request_start")).toHaveLength(1);
  });
});
