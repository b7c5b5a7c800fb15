/**
 * Multiagent threads through the official SDK: a coordinator fans out to three specialists in one
 * turn (Step Functions ASL run locally), gets every result, follows up one thread (which kept its
 * history), and the threads API lists, retrieves and archives them. Failure isolation: a failed and
 * a timed-out thread become error results without losing the sibling's reply.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { sweepStalledSessions } from "../../shared/core/runtime/sweeper.js";
import { metaOf, threadRepository } from "../../shared/core/threads/thread-record.js";
import { fanoutStateMachineDefinition } from "../../shared/infra-spec/fanout-state-machine.js";
import type { MockResponse, ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

let h: Harness;
/** How far ahead of the wall clock the stack's clock stands (the deadline test moves it hours on). */
let skewMs = 0;
beforeAll(async () => {
  h = await startHarness({
    env: { REVERIE_MODEL_MAX_RETRIES: "0" },
    clock: { now: () => Date.now() + skewMs },
  });
});
afterAll(async () => h.close());

type Tool = { name: string; input: unknown };
/** What the coordinator answers next: tool calls, or (once results are in) a summary. */
let coordinatorNext: Tool[] = [];
/** How long the coordinator's dispatching call takes. */
let coordinatorDelayMs = 0;
/** How each worker answers, by its system prompt's name. */
let workers: Record<string, (r: ReceivedRequest) => MockResponse> = {};

const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");
const lastUser = (r: ReceivedRequest) => r.body.messages.at(-1);
const hasToolResults = (r: ReceivedRequest) => {
  const content = lastUser(r)?.content;
  return Array.isArray(content) && content.some((b) => b.type === "tool_result");
};

beforeEach(() => {
  h.upstream.reset();
  h.upstream.fallback = (r) => {
    const system = systemOf(r);
    if (system.startsWith("COORDINATOR")) {
      if (hasToolResults(r)) return { content: "summary done" };
      const calls = coordinatorNext;
      coordinatorNext = [];
      return {
        stop_reason: "tool_use",
        delayMs: coordinatorDelayMs,
        content: calls.map((c) => ({ type: "tool_use" as const, name: c.name, input: c.input })),
      };
    }
    const name = system.replace(/^WORKER /, "");
    return workers[name]?.(r) ?? { content: `${name} did it` };
  };
});

async function coordinatorSetup() {
  const { environmentId } = await h.setup();
  const worker = (name: string) =>
    h.client.beta.agents.create({
      name,
      model: "claude-haiku-4-5",
      system: `WORKER ${name}`,
      tools: [{ type: "agent_toolset_20260401" }],
    });
  const [a, b, c] = await Promise.all([worker("alpha"), worker("beta"), worker("gamma")]);
  const coordinator = await h.client.beta.agents.create({
    name: "lead",
    model: "claude-sonnet-4-6",
    system: "COORDINATOR",
    multiagent: { type: "coordinator", agents: [a.id, b.id, { type: "agent", id: c.id }] },
  });
  return { environmentId, coordinator, workers: [a, b, c] };
}

const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });
const send = (agent_name: string, message: string, extra: Record<string, unknown> = {}) => ({
  name: "send_to_agent",
  input: { agent_name, message, ...extra },
});
const resultsOf = (r: ReceivedRequest) =>
  ((lastUser(r)?.content ?? []) as Anthropic.Messages.ToolResultBlockParam[]).filter(
    (b) => b.type === "tool_result",
  );
const textOf = (b: Anthropic.Messages.ToolResultBlockParam) =>
  Array.isArray(b.content)
    ? b.content.map((x) => (x.type === "text" ? x.text : "")).join("")
    : String(b.content);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Until the stack's queue holds nothing: every thread has settled, whatever a crash left. */
const waitForQueueToSettle = () =>
  waitFor("the thread to settle", async () => {
    const depth = h.stack.queue.depth();
    return depth.inFlight + depth.visible + depth.delayed === 0 ? true : undefined;
  });

describe("multiagent threads", () => {
  it("runs the fan-out with the very ASL object that CDK deploys", () => {
    expect(h.stack.orchestrator.definition).toBe(fanoutStateMachineDefinition);
  });

  it("fans out to three threads, resumes the coordinator with three results, and keeps thread history", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [
      { name: "list_agents", input: {} },
      send("alpha", "task A"),
      send("beta", "task B"),
      send("gamma", "task C"),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("split the work")] });
    await h.waitIdle(session.id);

    const coordinatorCalls = h.upstream.received.filter((r) => systemOf(r).startsWith("COORDINATOR"));
    expect(coordinatorCalls).toHaveLength(2);
    // The coordinator was offered its tools, and got four results: the roster and three replies.
    expect(coordinatorCalls[0]?.body.tools?.map((t) => (t as { name: string }).name)).toEqual(
      expect.arrayContaining(["list_agents", "send_to_agent"]),
    );
    const results = resultsOf(coordinatorCalls[1] as ReceivedRequest);
    expect(results).toHaveLength(4);
    expect(results.every((b) => !b.is_error)).toBe(true);
    expect(results.map(textOf).slice(1).sort()).toEqual(["alpha did it", "beta did it", "gamma did it"]);
    expect(textOf(results[0] as Anthropic.Messages.ToolResultBlockParam)).toContain('"name": "alpha"');
    // Each thread ran with its own agent's model and system prompt.
    const workerCalls = h.upstream.received.filter((r) => systemOf(r).startsWith("WORKER"));
    expect(workerCalls).toHaveLength(3);
    expect(new Set(workerCalls.map((r) => r.body.model))).toEqual(new Set(["claude-haiku-4-5"]));

    const primary = await h.allEvents(session.id);
    const count = (type: string) => primary.filter((e) => e.type === type).length;
    for (const type of [
      "session.thread_created",
      "agent.thread_message_sent",
      "session.thread_status_running",
      "session.thread_status_idle",
      "agent.thread_message_received",
    ])
      expect(count(type), type).toBe(3);
    expect(primary.at(-1)?.type).toBe("session.status_idle");
    // Working threads heartbeat the execution that waits on them.
    expect(h.stack.orchestrator.heartbeats.size).toBeGreaterThanOrEqual(3);

    const threads: Anthropic.Beta.Sessions.Threads.BetaManagedAgentsSessionThread[] = [];
    for await (const t of h.client.beta.sessions.threads.list(session.id)) threads.push(t);
    expect(threads).toHaveLength(3);
    expect(
      threads.every((t) => t.id.startsWith("sthr_") && t.status === "idle" && t.session_id === session.id),
    ).toBe(true);
    const alpha = threads.find(
      (t) => (t.agent as { name?: string }).name === "alpha",
    ) as (typeof threads)[number];
    expect(alpha.usage?.output_tokens).toBeGreaterThan(0);
    const retrieved = await h.client.beta.sessions.threads.retrieve(alpha.id, { session_id: session.id });
    expect(retrieved.id).toBe(alpha.id);

    // The thread's own events are in its own log, not the primary one.
    const own: string[] = [];
    for await (const e of h.client.beta.sessions.threads.events.list(alpha.id, { session_id: session.id }))
      own.push(e.type);
    expect(own).toEqual(expect.arrayContaining(["user.message", "agent.message", "session.status_idle"]));
    expect(primary.filter((e) => e.type === "agent.message").length).toBe(1);

    // A follow-up to the same thread: the worker sees its earlier turn.
    coordinatorNext = [{ name: "send_to_agent", input: { thread_id: alpha.id, message: "one more thing" } }];
    await h.client.beta.sessions.events.send(session.id, { events: [say("follow up with alpha")] });
    await h.waitIdle(session.id);
    const followUp = h.upstream.received
      .filter((r) => systemOf(r) === "WORKER alpha")
      .at(-1) as ReceivedRequest;
    expect(followUp.body.messages).toHaveLength(3);
    expect(JSON.stringify(followUp.body.messages[0])).toContain("task A");
    const after: Anthropic.Beta.Sessions.Threads.BetaManagedAgentsSessionThread[] = [];
    for await (const t of h.client.beta.sessions.threads.list(session.id)) after.push(t);
    expect(after).toHaveLength(3);

    // Archive: the thread takes no more messages.
    const archived = await h.client.beta.sessions.threads.archive(alpha.id, { session_id: session.id });
    expect(archived.archived_at).not.toBeNull();
    coordinatorNext = [{ name: "send_to_agent", input: { thread_id: alpha.id, message: "again" } }];
    await h.client.beta.sessions.events.send(session.id, { events: [say("again")] });
    await h.waitIdle(session.id);
    const refused = resultsOf(
      h.upstream.received.filter((r) => systemOf(r).startsWith("COORDINATOR")).at(-1) as ReceivedRequest,
    );
    expect(refused[0]?.is_error).toBe(true);
    expect(textOf(refused[0] as Anthropic.Messages.ToolResultBlockParam)).toMatch(/archived/);

    // Deleting the session deletes its threads.
    await h.client.beta.sessions.delete(session.id);
    const threadsLeft = await h.stack.services.deps.store.query("resources", `thread#${session.id}`);
    expect(threadsLeft).toHaveLength(0);
    expect(await h.stack.services.deps.events.read(alpha.id)).toHaveLength(0);
  });

  it("keeps the sibling's result when one thread fails and one times out", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = {
      beta: () => ({ fault: 400, message: "upstream says no" }),
      gamma: () => ({ content: "too late", delayMs: 3_000 }),
    };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [
      send("alpha", "task A"),
      send("beta", "task B"),
      send("gamma", "task C", { timeout_seconds: 1 }),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const resumed = await waitFor("the coordinator's resume", async () =>
      h.upstream.received.find((r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r)),
    );
    const results = resultsOf(resumed);
    expect(results).toHaveLength(3);
    const [alpha, beta, gamma] = results as Anthropic.Messages.ToolResultBlockParam[];
    expect(alpha?.is_error).toBeFalsy();
    expect(textOf(alpha as Anthropic.Messages.ToolResultBlockParam)).toBe("alpha did it");
    expect(beta?.is_error).toBe(true);
    expect(textOf(beta as Anthropic.Messages.ToolResultBlockParam)).toMatch(/failed/);
    expect(gamma?.is_error).toBe(true);
    expect(textOf(gamma as Anthropic.Messages.ToolResultBlockParam)).toMatch(/timed out/);
    await h.waitIdle(session.id);
    workers = {};
  });

  it("changes nothing when a resume, a dispatch or a step message is delivered twice", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [send("alpha", "task A"), send("beta", "task B")];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    const threadIds: string[] = [];
    for await (const t of h.client.beta.sessions.threads.list(session.id)) threadIds.push(t.id);
    const snapshot = async () => ({
      primary: (await h.allEvents(session.id)).map((e) => e.id),
      threads: await Promise.all(
        threadIds.map(async (id) => {
          const ids: string[] = [];
          for await (const e of h.client.beta.sessions.threads.events.list(id, { session_id: session.id }))
            ids.push(e.id);
          return ids;
        }),
      ),
      requests: h.upstream.received.length,
    });
    const before = await snapshot();
    const store = h.stack.services.deps.store;
    const [plan] = await store.query("resources", `fanout#${session.id}`);
    const fanoutStep = Number(plan?.sk);
    const ws = "wrkspc_local";
    const redeliver = [
      {
        schemaVersion: 1,
        kind: "fanout_resume",
        workspaceId: ws,
        sessionId: session.id,
        fanoutStep,
        results: [],
      },
      {
        schemaVersion: 1,
        kind: "thread_dispatch",
        workspaceId: ws,
        sessionId: session.id,
        threadId: threadIds[0],
        toolUseEventId: "sevt_unknown",
        fanoutKey: String(fanoutStep),
        timeoutSeconds: 60,
        taskToken: "stale-token",
      },
      { schemaVersion: 1, workspaceId: ws, sessionId: session.id, stepSeq: fanoutStep },
      { schemaVersion: 1, workspaceId: ws, sessionId: session.id, threadId: threadIds[0], stepSeq: 0 },
    ];
    for (const message of redeliver) await h.stack.queue.send(message as never);
    await h.waitIdle(session.id);
    expect(await snapshot()).toEqual(before);
  });

  it("lets the sweeper re-nudge a stalled thread with a thread step message", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [send("alpha", "task A")];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    const [thread] = (await h.client.beta.sessions.threads.list(session.id)).data;
    const threadId = (thread as { id: string }).id;
    // A thread whose step message was lost: running, no lease, its nudge time passed.
    const deps = h.stack.services.deps;
    const stalled = await threadRepository(deps.store, session.id).mutate("wrkspc_local", threadId, (t) => {
      t.session.status = "running";
      t.run.nudgeAfter = 0;
      return t;
    });
    await deps.store.put("resources", {
      pk: "running",
      sk: threadId,
      workspaceId: "wrkspc_local",
      sessionId: session.id,
    });
    const sent: unknown[] = [];
    const result = await sweepStalledSessions({ ...deps, steps: { send: async (m) => void sent.push(m) } });
    expect(result.nudged).toBeGreaterThanOrEqual(1);
    expect(sent).toContainEqual({
      schemaVersion: 1,
      workspaceId: "wrkspc_local",
      sessionId: session.id,
      threadId,
      stepSeq: stalled?.after.run.stepSeq,
    });
    await deps.store.delete("resources", "running", threadId);
  });

  it("refuses a fan-out that cannot fit the session budget (cost preflight) with a clear tool error", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
      budget: { type: "limit", max_list_cost: { amount: "0.01", currency: "USD" } },
    });
    coordinatorNext = [send("alpha", "a"), send("beta", "b"), send("gamma", "c")];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    const resumed = h.upstream.received.find(
      (r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r),
    );
    const results = resultsOf(resumed as ReceivedRequest);
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.is_error).toBe(true);
      expect(textOf(r)).toMatch(/cost preflight/);
    }
    expect(h.upstream.received.filter((r) => systemOf(r).startsWith("WORKER"))).toHaveLength(0);
    expect((await h.client.beta.sessions.threads.list(session.id)).data).toHaveLength(0);
  });

  it("stops a thread at its token_budget and reports it as an error result", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = {
      alpha: () => ({
        stop_reason: "tool_use",
        content: [{ type: "tool_use", name: "write", input: { file_path: "a.txt", content: "x" } }],
      }),
    };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [send("alpha", "loop forever", { token_budget: 1 })];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    workers = {};
    const resumed = h.upstream.received.find(
      (r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r),
    );
    const [result] = resultsOf(resumed as ReceivedRequest);
    expect(result?.is_error).toBe(true);
    expect(textOf(result as Anthropic.Messages.ToolResultBlockParam)).toMatch(
      /budget_reached: token_budget 1/,
    );
    expect(h.upstream.received.filter((r) => systemOf(r) === "WORKER alpha")).toHaveLength(1);
  });

  it("cancels the siblings when a thread with failure_policy cancel_siblings fails", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = {
      beta: () => ({ fault: 400, message: "no", delayMs: 300 }),
      gamma: () => ({ content: "slow answer", delayMs: 1_500 }),
    };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [
      send("alpha", "quick"),
      send("beta", "fails", { failure_policy: "cancel_siblings" }),
      send("gamma", "slow"),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    workers = {};
    const resumed = h.upstream.received.find(
      (r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r),
    );
    const [alpha, beta, gamma] = resultsOf(resumed as ReceivedRequest);
    expect(alpha?.is_error).toBeFalsy();
    expect(beta?.is_error).toBe(true);
    expect(gamma?.is_error).toBe(true);
    expect(textOf(gamma as Anthropic.Messages.ToolResultBlockParam)).toMatch(/cancelled/);
  });

  it("streams a thread's own events over SSE (threads.events.stream)", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [send("alpha", "first")];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    const [thread] = (await h.client.beta.sessions.threads.list(session.id)).data;
    const threadId = (thread as { id: string }).id;
    const stream = await h.client.beta.sessions.threads.events.stream(threadId, { session_id: session.id });
    coordinatorNext = [{ name: "send_to_agent", input: { thread_id: threadId, message: "second" } }];
    await h.client.beta.sessions.events.send(session.id, { events: [say("again")] });
    const seen: string[] = [];
    for await (const event of stream) {
      seen.push(event.type);
      if (event.type === "session.status_idle") break;
    }
    expect(seen).toEqual(expect.arrayContaining(["user.message", "session.status_running", "agent.message"]));
    expect(seen).not.toContain("agent.thread_message_sent");
    await h.waitIdle(session.id);
  });

  it("lets the sweeper finish a thread's report when a crash cut it short before the task was answered", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const orchestrator = h.stack.orchestrator;
    const original = orchestrator.sendTaskSuccess.bind(orchestrator);
    let lost = 0;
    orchestrator.sendTaskSuccess = async (token, output) => {
      if (lost++ === 0) throw new Error("process died before SendTaskSuccess");
      return original(token, output);
    };
    try {
      const session = await h.client.beta.sessions.create({
        agent: coordinator.id,
        environment_id: environmentId,
      });
      coordinatorNext = [send("alpha", "task A")];
      await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
      await waitFor("the lost answer", async () => (lost > 0 ? true : undefined));
      await waitForQueueToSettle();
      expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("running");
      await sweepStalledSessions(h.stack.services.deps);
      const done = await h.waitIdle(session.id);
      expect(done.status).toBe("idle");
      const resumed = h.upstream.received.find(
        (r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r),
      );
      const [result] = resultsOf(resumed as ReceivedRequest);
      expect(result?.is_error).toBeFalsy();
      expect(textOf(result as Anthropic.Messages.ToolResultBlockParam)).toBe("alpha did it");
    } finally {
      orchestrator.sendTaskSuccess = original;
    }
  });
  it("lets the sweeper finish a thread's report when a crash came right after the thread's idle commit", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const store = h.stack.services.deps.store;
    const put = store.put.bind(store);
    // A thread's running-index entry is written with its wake (in the wake's group), then put again
    // by its report: the process "dies" on the report's, the first write after the idle commit.
    let died = false;
    store.put = async (table, item, options) => {
      if (item.pk === "running" && typeof item.sessionId === "string" && !died) {
        died = true;
        throw new Error("process died after the thread's idle commit");
      }
      return put(table, item, options);
    };
    try {
      const session = await h.client.beta.sessions.create({
        agent: coordinator.id,
        environment_id: environmentId,
      });
      coordinatorNext = [send("alpha", "task A")];
      await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
      await waitFor("the crash", async () => (died ? true : undefined));
      await waitForQueueToSettle();
      store.put = put;
      expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("running");
      // The idle thread is still in the sweeper's index, so the sweeper finds it and finishes its report.
      await sweepStalledSessions(h.stack.services.deps);
      const done = await h.waitIdle(session.id);
      expect(done.status).toBe("idle");
      const resumed = h.upstream.received.find(
        (r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r),
      );
      expect(
        textOf(resultsOf(resumed as ReceivedRequest)[0] as Anthropic.Messages.ToolResultBlockParam),
      ).toBe("alpha did it");
    } finally {
      store.put = put;
    }
  });
  /** A worker that never ends its turn: every (slow) call asks for one more tool. */
  const endless = (delayMs: number) => (): MockResponse => ({
    stop_reason: "tool_use",
    content: [{ type: "tool_use", name: "glob", input: { pattern: "*.nothing" } }],
    delayMs,
  });
  const callsOf = (name: string) =>
    h.upstream.received.filter((r) => systemOf(r) === `WORKER ${name}`).length;
  const threadsOf = async (sessionId: string) => {
    const out: Anthropic.Beta.Sessions.Threads.BetaManagedAgentsSessionThread[] = [];
    for await (const t of h.client.beta.sessions.threads.list(sessionId)) out.push(t);
    return out;
  };

  it("stops the fan-out when the user interrupts a waiting coordinator; the session can then be deleted", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = { alpha: endless(1_000) };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [send("alpha", "work forever")];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await waitFor("the thread's first call", async () => (callsOf("alpha") > 0 ? true : undefined));
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    const idle = await h.waitIdle(session.id, 6_000);
    expect(idle.status).toBe("idle");
    const primary = await h.allEvents(session.id);
    const last = primary.at(-1);
    expect(last?.type).toBe("session.status_idle");
    expect((last as { stop_reason?: { type: string } }).stop_reason?.type).toBe("end_turn");
    // The coordinator honoured the interrupt without another model call.
    expect(h.upstream.received.filter((r) => systemOf(r).startsWith("COORDINATOR"))).toHaveLength(1);
    const [thread] = await threadsOf(session.id);
    expect(thread?.status).toBe("idle");
    const calls = callsOf("alpha");
    await new Promise((r) => setTimeout(r, 1_500));
    expect(callsOf("alpha")).toBe(calls);
    workers = {};
    await h.client.beta.sessions.delete(session.id);
    await rejection(h.client.beta.sessions.retrieve(session.id), Anthropic.NotFoundError);
  });

  it("stops a thread that timed out once the coordinator resumes; it makes no further calls", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = { alpha: endless(2_000) };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [send("alpha", "slow", { timeout_seconds: 1 })];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id, 8_000);
    const [thread] = await threadsOf(session.id);
    expect(thread?.status).toBe("idle");
    expect(callsOf("alpha")).toBe(1);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(callsOf("alpha")).toBe(1);
    workers = {};
  });

  it("refuses to delete or archive a session while one of its threads still runs (409)", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = { alpha: endless(3_000) };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [send("alpha", "slow", { timeout_seconds: 1 })];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    // The coordinator gives up on the thread after 1 s and ends its turn; the thread is still in its call.
    await waitFor("the coordinator idle", async () =>
      (await h.client.beta.sessions.retrieve(session.id)).status === "idle" ? true : undefined,
    );
    const [running] = await threadsOf(session.id);
    expect(running?.status).toBe("running");
    const conflict = await rejection(h.client.beta.sessions.delete(session.id), Anthropic.ConflictError);
    expect(messageOf(conflict)).toMatch(/thread .* is running/);
    await rejection(h.client.beta.sessions.archive(session.id), Anthropic.ConflictError);
    expect((await threadsOf(session.id)).length).toBe(1);
    await h.waitIdle(session.id, 8_000);
    workers = {};
    await h.client.beta.sessions.delete(session.id);
  });

  it("resumes a coordinator whose resume message was lost, from its threads' outcomes, exactly once", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    coordinatorNext = [send("alpha", "task A"), send("beta", "task B")];
    // Every resume the execution sends is lost (failed send, dead letter): only the store knows.
    const queue = h.stack.queue;
    const original = queue.send;
    const lost: unknown[] = [];
    queue.send = (async (body: { kind?: string }, ...rest: unknown[]) => {
      if (body?.kind === "fanout_resume") return void lost.push(body);
      return (original as (...a: unknown[]) => Promise<void>).call(queue, body, ...rest);
    }) as never;
    try {
      const session = await h.client.beta.sessions.create({
        agent: coordinator.id,
        environment_id: environmentId,
      });
      await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
      await waitFor("the resume to be lost", async () => (lost.length > 0 ? true : undefined));
      await waitForQueueToSettle();
      expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("running");
      // The sweeper, hours later (past the fan-out's deadline), three times.
      const deps = h.stack.services.deps;
      for (let i = 1; i <= 3; i++) {
        await sweepStalledSessions({ ...deps, clock: { now: () => Date.now() + i * 3 * 3600_000 } });
        await waitForQueueToSettle();
      }
      const idle = await h.waitIdle(session.id, 8_000);
      expect(idle.status).toBe("idle");
      const coordinatorCalls = () => h.upstream.received.filter((r) => systemOf(r).startsWith("COORDINATOR"));
      expect(coordinatorCalls()).toHaveLength(2);
      const results = resultsOf(coordinatorCalls()[1] as ReceivedRequest);
      expect(results.map(textOf).sort()).toEqual(["alpha did it", "beta did it"]);
      expect(results.every((r) => !r.is_error)).toBe(true);
      // The lost resume arriving after all, twice: nothing changes.
      const before = (await h.allEvents(session.id)).map((e) => e.id);
      await original.call(queue, lost[0] as never);
      await original.call(queue, lost[0] as never);
      await waitForQueueToSettle();
      expect((await h.allEvents(session.id)).map((e) => e.id)).toEqual(before);
      expect(coordinatorCalls()).toHaveLength(2);
      await h.client.beta.sessions.delete(session.id);
    } finally {
      queue.send = original;
    }
  });

  it("honours an interrupt sent during the coordinator's dispatching model call: no thread runs", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = { alpha: endless(1_000) };
    coordinatorNext = [send("alpha", "do the long task"), send("beta", "and this")];
    coordinatorDelayMs = 1_500;
    try {
      const session = await h.client.beta.sessions.create({
        agent: coordinator.id,
        environment_id: environmentId,
      });
      await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
      const coordinatorCalls = () =>
        h.upstream.received.filter((r) => systemOf(r).startsWith("COORDINATOR")).length;
      await waitFor("the coordinator's call", async () => (coordinatorCalls() > 0 ? true : undefined));
      await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
      const idle = await h.waitIdle(session.id, 8_000);
      expect(idle.status).toBe("idle");
      await waitForQueueToSettle();
      const primary = await h.allEvents(session.id);
      const last = primary.at(-1) as { type: string; stop_reason?: { type: string } };
      expect(last.type).toBe("session.status_idle");
      expect(last.stop_reason?.type).toBe("end_turn");
      expect(coordinatorCalls()).toBe(1);
      expect(callsOf("alpha") + callsOf("beta")).toBe(0);
      const results = primary.filter((e) => e.type === "agent.tool_result") as Array<{
        is_error: boolean;
        content: Array<{ text: string }>;
      }>;
      expect(results).toHaveLength(2);
      for (const r of results) {
        expect(r.is_error).toBe(true);
        expect(r.content[0]?.text).toMatch(/cancelled: the coordinator was interrupted/);
      }
      for (const t of await threadsOf(session.id)) expect(t.status).toBe("idle");
      await h.client.beta.sessions.delete(session.id);
    } finally {
      coordinatorDelayMs = 0;
      workers = {};
    }
  });

  it("answers a follow-up to a thread still in its timed-out task's turn with the follow-up's reply", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const flatten = (content: unknown): string =>
      typeof content === "string"
        ? content
        : Array.isArray(content)
          ? content
              .map((b: { type: string; text?: string; content?: unknown }) =>
                b.type === "text" ? (b.text ?? "") : b.type === "tool_result" ? flatten(b.content) : "",
              )
              .join("\n")
          : "";
    let coordinatorCall = 0;
    h.upstream.fallback = (r) => {
      if (systemOf(r).startsWith("COORDINATOR")) {
        coordinatorCall++;
        if (coordinatorCall === 1)
          return {
            stop_reason: "tool_use",
            content: [
              {
                type: "tool_use",
                name: "send_to_agent",
                input: { agent_name: "alpha", message: "OLD TASK", timeout_seconds: 1 },
              },
            ],
          };
        if (coordinatorCall === 2) {
          // The thread timed out (its model call is still in flight): follow it up at once.
          const threadId = /Thread (sthr_\w+)/.exec(flatten(lastUser(r)?.content))?.[1];
          return {
            stop_reason: "tool_use",
            content: [
              {
                type: "tool_use",
                name: "send_to_agent",
                input: { thread_id: threadId, message: "NEW FOLLOW-UP TASK" },
              },
            ],
          };
        }
        return { content: "summary done" };
      }
      return flatten(lastUser(r)?.content).includes("NEW FOLLOW-UP")
        ? { content: "answer to the follow-up" }
        : { content: "answer to the OLD task", delayMs: 2_000 };
    };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await waitFor("the coordinator's third call", async () => (coordinatorCall >= 3 ? true : undefined));
    await h.waitIdle(session.id, 8_000);
    const results = (await h.allEvents(session.id)).filter((e) => e.type === "agent.tool_result") as Array<{
      is_error: boolean;
      content: Array<{ text: string }>;
    }>;
    expect(results.map((r) => r.is_error)).toEqual([true, false]);
    expect(results[1]?.content[0]?.text).toBe("answer to the follow-up");
    // The thread read the follow-up after its earlier turn's reply, in a turn of its own.
    const [thread] = await threadsOf(session.id);
    const log: string[] = [];
    for await (const e of h.client.beta.sessions.threads.events.list(thread?.id as string, {
      session_id: session.id,
    }))
      if (e.type === "user.message" || e.type === "agent.message") log.push(flatten(e.content));
    expect(log).toEqual([
      "OLD TASK",
      "answer to the OLD task",
      "NEW FOLLOW-UP TASK",
      "answer to the follow-up",
    ]);
    expect(callsOf("alpha")).toBe(2);
  });

  /**
   * Holds back the fan-out's dispatch messages of the threads `hold` picks (a dispatch still in the
   * queue, or delivered late): `release` delivers what was held, twice (at-least-once delivery).
   */
  const holdDispatches = (sessionId: string, hold: (agentName: string) => boolean) => {
    const queue = h.stack.queue;
    const original = queue.send;
    const held: unknown[] = [];
    const threads = threadRepository(h.stack.services.deps.store, sessionId);
    queue.send = (async (body: { kind?: string; threadId?: string }, ...rest: unknown[]) => {
      if (body?.kind === "thread_dispatch" && body.threadId) {
        const thread = await threads.get("wrkspc_local", body.threadId);
        if (thread && hold(metaOf(thread).agentName)) return void held.push(body);
      }
      return (original as (...a: unknown[]) => Promise<void>).call(queue, body, ...rest);
    }) as never;
    return {
      held,
      restore: () => {
        queue.send = original;
      },
      release: async () => {
        queue.send = original;
        for (const body of [...held, ...held]) await original.call(queue, body as never);
      },
    };
  };
  const threadLog = async (sessionId: string, threadId: string) => {
    const types: string[] = [];
    for await (const e of h.client.beta.sessions.threads.events.list(threadId, { session_id: sessionId }))
      types.push(e.type);
    return types;
  };
  const threadNamed = async (sessionId: string, name: string) =>
    (await threadsOf(sessionId)).find((t) => (t.agent as { name?: string }).name === name) as
      | Anthropic.Beta.Sessions.Threads.BetaManagedAgentsSessionThread
      | undefined;

  it("never starts a sibling whose dispatch arrives after a cancel_siblings failure", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = { beta: () => ({ fault: 400, message: "no" }) };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    // alpha's and gamma's dispatches are still in the queue when beta fails.
    const gate = holdDispatches(session.id, (name) => name !== "beta");
    try {
      coordinatorNext = [
        send("alpha", "task A"),
        send("beta", "fails", { failure_policy: "cancel_siblings" }),
        send("gamma", "task C"),
      ];
      await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
      const threads = threadRepository(h.stack.services.deps.store, session.id);
      await waitFor("beta's failure to be recorded", async () => {
        const beta = await threadNamed(session.id, "beta");
        const record = beta && (await threads.get("wrkspc_local", beta.id));
        return record && metaOf(record).dispatch?.outcome ? true : undefined;
      });
      await waitForQueueToSettle();
      expect(gate.held).toHaveLength(2);
      await gate.release();
      await h.waitIdle(session.id);
    } finally {
      gate.restore();
      workers = {};
    }
    // The cancelled siblings never ran: no model call, no message in their logs, no running status.
    expect(callsOf("alpha") + callsOf("gamma")).toBe(0);
    for (const name of ["alpha", "gamma"]) {
      const thread = await threadNamed(session.id, name);
      expect(thread?.status).toBe("idle");
      expect(await threadLog(session.id, thread?.id as string)).not.toContain("user.message");
    }
    const primary = await h.allEvents(session.id);
    expect(primary.filter((e) => e.type === "session.thread_status_running")).toHaveLength(1);
    const resumed = h.upstream.received.find(
      (r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r),
    );
    const [alpha, beta, gamma] = resultsOf(resumed as ReceivedRequest);
    expect(beta?.is_error).toBe(true);
    for (const r of [alpha, gamma]) {
      expect(r?.is_error).toBe(true);
      expect(textOf(r as Anthropic.Messages.ToolResultBlockParam)).toMatch(
        /cancelled: a sibling thread failed/,
      );
    }
  });

  it("does not wake a thread archived while its dispatch was in flight", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    coordinatorNext = [send("alpha", "task A")];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    const alpha = (await threadNamed(session.id, "alpha")) as { id: string };
    const logBefore = await threadLog(session.id, alpha.id);
    const gate = holdDispatches(session.id, () => true);
    try {
      coordinatorNext = [{ name: "send_to_agent", input: { thread_id: alpha.id, message: "more" } }];
      await h.client.beta.sessions.events.send(session.id, { events: [say("follow up")] });
      await waitFor("the follow-up's dispatch", async () => (gate.held.length > 0 ? true : undefined));
      // The plan accepted the follow-up; the thread is archived before its dispatch arrives.
      const archived = await h.client.beta.sessions.threads.archive(alpha.id, { session_id: session.id });
      expect(archived.archived_at).not.toBeNull();
      await gate.release();
      await h.waitIdle(session.id);
    } finally {
      gate.restore();
    }
    expect(callsOf("alpha")).toBe(1);
    expect(await threadLog(session.id, alpha.id)).toEqual(logBefore);
    const thread = await h.client.beta.sessions.threads.retrieve(alpha.id, { session_id: session.id });
    expect(thread.status).toBe("idle");
    expect(thread.archived_at).not.toBeNull();
    const resumed = h.upstream.received
      .filter((r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r))
      .at(-1) as ReceivedRequest;
    const [result] = resultsOf(resumed);
    expect(result?.is_error).toBe(true);
    expect(textOf(result as Anthropic.Messages.ToolResultBlockParam)).toMatch(/archived/);
  });

  it("does not wake a thread whose fan-out was interrupted while its dispatch was in flight", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    const gate = holdDispatches(session.id, () => true);
    try {
      coordinatorNext = [send("alpha", "task A"), send("beta", "task B")];
      await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
      await waitFor("both dispatches", async () => (gate.held.length === 2 ? true : undefined));
      await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
      await waitForQueueToSettle();
      await gate.release();
      const idle = await h.waitIdle(session.id, 8_000);
      expect(idle.status).toBe("idle");
    } finally {
      gate.restore();
    }
    expect(callsOf("alpha") + callsOf("beta")).toBe(0);
    for (const t of await threadsOf(session.id)) {
      expect(t.status).toBe("idle");
      expect(await threadLog(session.id, t.id)).toEqual([]);
    }
    const primary = await h.allEvents(session.id);
    expect(primary.filter((e) => e.type === "session.thread_status_running")).toHaveLength(0);
    const results = primary.filter((e) => e.type === "agent.tool_result") as Array<{
      is_error: boolean;
      content: Array<{ text: string }>;
    }>;
    expect(results).toHaveLength(2);
    for (const r of results) {
      expect(r.is_error).toBe(true);
      expect(r.content[0]?.text).toMatch(/cancelled: the coordinator was interrupted/);
    }
    // The coordinator honoured the interrupt without another model call.
    expect(h.upstream.received.filter((r) => systemOf(r).startsWith("COORDINATOR"))).toHaveLength(1);
  });

  it("resumes a coordinator from the store once its fan-out's deadline has passed, a thread still at work", async () => {
    const { environmentId, coordinator } = await coordinatorSetup();
    workers = { beta: endless(300) };
    const session = await h.client.beta.sessions.create({
      agent: coordinator.id,
      environment_id: environmentId,
    });
    try {
      coordinatorNext = [send("alpha", "task A"), send("beta", "never ends")];
      await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
      const store = h.stack.services.deps.store;
      const threads = threadRepository(store, session.id);
      await waitFor("alpha's outcome and beta at work", async () => {
        const alpha = await threadNamed(session.id, "alpha");
        const record = alpha && (await threads.get("wrkspc_local", alpha.id));
        return record && metaOf(record).dispatch?.outcome && callsOf("beta") > 0 ? true : undefined;
      });
      // The sweeper's nudge of the parked coordinator: its step message (the step after the park).
      const nudge = async () => {
        const parked = await h.stack.services.deps.sessions.get("wrkspc_local", session.id);
        expect(parked?.run.parkedBy).toBe("threads");
        await h.stack.queue.send({
          schemaVersion: 1,
          workspaceId: "wrkspc_local",
          sessionId: session.id,
          stepSeq: parked?.run.stepSeq as number,
        });
      };
      // A nudge before the deadline (the sweeper's, for a lost start) only starts the execution again.
      await nudge();
      await new Promise((r) => setTimeout(r, 300));
      expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("running");
      expect(h.upstream.received.filter((r) => systemOf(r).startsWith("COORDINATOR"))).toHaveLength(1);
      // Hours later (past the longest timeout plus the heartbeat interval), the sweeper's nudge.
      skewMs = 2 * 3600_000;
      await nudge();
      const resumed = await waitFor("the coordinator's resume", async () =>
        h.upstream.received.find((r) => systemOf(r).startsWith("COORDINATOR") && hasToolResults(r)),
      );
      const [alpha, beta] = resultsOf(resumed);
      expect(alpha?.is_error).toBeFalsy();
      expect(textOf(alpha as Anthropic.Messages.ToolResultBlockParam)).toBe("alpha did it");
      expect(beta?.is_error).toBe(true);
      expect(textOf(beta as Anthropic.Messages.ToolResultBlockParam)).toMatch(
        /no result was recorded by the fan-out's deadline/,
      );
      // The thread the fan-out gave up on is stopped; the coordinator ends its turn.
      const idle = await h.waitIdle(session.id, 8_000);
      expect(idle.status).toBe("idle");
      expect((await threadNamed(session.id, "beta"))?.status).toBe("idle");
      const calls = callsOf("beta");
      await new Promise((r) => setTimeout(r, 900));
      expect(callsOf("beta")).toBe(calls);
      expect(h.upstream.received.filter((r) => systemOf(r).startsWith("COORDINATOR"))).toHaveLength(2);
    } finally {
      skewMs = 0;
      workers = {};
    }
  });
});
