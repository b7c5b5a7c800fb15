/**
 * Durability (DESIGN.md §5, §8 "faults"): at-least-once delivery, crashes, model faults and lost
 * messages never duplicate an event, never lose a tool result and never leave a session stuck.
 * Driven through the official SDK against the embedded stack, with a real HTTP mock upstream.
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { MessageQueue } from "../../shared/core/ports.js";
import type { StepMessage } from "../../shared/core/runtime/step-message.js";
import { sweepStalledSessions } from "../../shared/core/runtime/sweeper.js";
import { createStepHandler } from "../../shared/runtime/handlers/step-handler.js";
import {
  type MockMessagesServer,
  type MockStep,
  mockText,
  mockToolUse,
  type ReceivedRequest,
  startMockMessagesServer,
} from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { freePort, restartableStack } from "../fixtures/stack-process.js";

type SessionEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;
type IdleEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionStatusIdleEvent;
type ToolResultEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsAgentToolResultEvent;
type ErrorEvent = Extract<SessionEvent, { type: "session.error" }>;

const text = (s: string) => ({
  type: "user.message" as const,
  content: [{ type: "text" as const, text: s }],
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An SQS event carrying one step message, as Lambda would deliver it. */
function sqsEvent(message: StepMessage): SQSEvent {
  const body = JSON.stringify(message);
  return {
    Records: [
      {
        messageId: randomUUID(),
        receiptHandle: randomUUID(),
        body,
        attributes: {
          ApproximateReceiveCount: "1",
          SentTimestamp: String(Date.now()),
          SenderId: "000000000000",
          ApproximateFirstReceiveTimestamp: String(Date.now()),
        },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:agent-steps",
        awsRegion: "us-east-1",
      },
    ],
  };
}

/** Every event id appears once. */
function expectUniqueIds(events: SessionEvent[]) {
  const ids = events.map((e) => e.id);
  expect(new Set(ids).size).toBe(ids.length);
}

/** Each builtin tool use has exactly one result, and every result answers a tool use. */
function expectOneResultPerToolUse(events: SessionEvent[]) {
  const uses = events.filter((e) => e.type === "agent.tool_use").map((e) => e.id);
  const results = (events.filter((e) => e.type === "agent.tool_result") as ToolResultEvent[]).map(
    (r) => r.tool_use_id,
  );
  expect(results.sort()).toEqual([...uses].sort());
}

const toolStep = [
  "span.model_request_start",
  "agent.tool_use",
  "span.model_request_end",
  "agent.tool_result",
] as const;
const textStep = ["span.model_request_start", "agent.message", "span.model_request_end"] as const;
const turnStart = ["user.message", "session.status_running"] as const;
const turnEnd = ["session.usage", "session.status_idle"] as const;

// Each step its own queue message (as on AWS), and steps chained in one consumer (the embedded
// stack's default): either way, duplicates of every message change nothing. On both local stores:
// SQLite (the default) and dynalite, whose conditional writes are DynamoDB's own.
describe.each([
  { mode: "one message per step", chainSeconds: "0", stepMessages: 3, store: "sqlite" },
  { mode: "chained steps", chainSeconds: "2", stepMessages: 1, store: "sqlite" },
  { mode: "one message per step", chainSeconds: "0", stepMessages: 3, store: "dynalite" },
])("duplicate and concurrent delivery ($mode, $store store)", ({ chainSeconds, stepMessages, store }) => {
  let h: Harness;
  let original: MessageQueue<StepMessage>;
  const deliveries: Promise<SQSBatchResponse[]>[] = [];

  beforeAll(async () => {
    h = await startHarness({ env: { REVERIE_STEP_CHAIN_SECONDS: chainSeconds, REVERIE_STORE: store } });
    const deps = h.stack.services.deps;
    expect(deps.store.constructor.name).toBe(
      store === "sqlite" ? "SqliteDocumentStore" : "DynamoDbDocumentStore",
    );
    original = deps.steps;
    // A second consumer of the same queue: every message the runtime sends is also delivered to it
    // twice at once, while the queue delivers its own copy — three concurrent deliveries.
    const duplicate = createStepHandler(deps);
    deps.steps = {
      async send(message, options) {
        await original.send(message, options);
        const delayMs = (options?.delaySeconds ?? 0) * 1000;
        deliveries.push(
          sleep(delayMs).then(() =>
            Promise.all([duplicate(sqsEvent(message)), duplicate(sqsEvent(message))]),
          ),
        );
      },
    };
  });
  afterAll(async () => {
    await Promise.allSettled(deliveries);
    await h.close();
  });
  beforeEach(() => h.upstream.reset());

  it("writes every event once, counts usage once and calls the model once per step", async () => {
    const { agentId, environmentId } = await h.setup();
    const usages = [
      { input_tokens: 101, output_tokens: 11 },
      { input_tokens: 202, output_tokens: 22 },
      { input_tokens: 303, output_tokens: 33 },
    ];
    h.upstream.script(
      mockToolUse("write", { file_path: "dup/a.txt", content: "alpha" }, { usage: usages[0] }),
      mockToolUse("read", { file_path: "dup/a.txt" }, { usage: usages[1] }),
      mockText("all written and read", { usage: usages[2] }),
    );
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("write then read")] });
    const done = await h.waitIdle(session.id);
    const responses = (await Promise.all(deliveries)).flat();
    // Chained, the turn's one message (the wake-up) brought all three steps; else one per step.
    // Every duplicate delivery was acknowledged (a stale or held step is dropped, not failed).
    expect(responses.length).toBe(2 * stepMessages);
    for (const response of responses) expect(response.batchItemFailures).toEqual([]);
    // Nothing more arrives after the turn settled.
    await sleep(200);

    const events = await h.allEvents(session.id);
    expectUniqueIds(events);
    expect(events.map((e) => e.type)).toEqual([
      ...turnStart,
      ...toolStep,
      ...toolStep,
      ...textStep,
      ...turnEnd,
    ]);
    expectOneResultPerToolUse(events);
    const results = events.filter((e) => e.type === "agent.tool_result") as ToolResultEvent[];
    expect(results.map((r) => r.is_error)).toEqual([false, false]);
    expect(JSON.stringify(results[1]?.content)).toContain("alpha");
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });

    expect(h.upstream.requests).toHaveLength(3);
    const inputSum = usages.reduce((n, u) => n + u.input_tokens, 0);
    const outputSum = usages.reduce((n, u) => n + u.output_tokens, 0);
    expect(done.usage.input_tokens).toBe(inputSum);
    expect(done.usage.output_tokens).toBe(outputSum);
    const usageEvent = events.find((e) => e.type === "session.usage") as unknown as {
      usage: Record<string, number>;
    };
    expect(usageEvent.usage.input_tokens).toBe(inputSum);
    expect(usageEvent.usage.output_tokens).toBe(outputSum);
    // The transcript the model saw on its last call holds each tool result once.
    const last = h.upstream.requests.at(-1) as Anthropic.Messages.MessageCreateParams;
    const toolResults = last.messages.flatMap((m) =>
      Array.isArray(m.content) ? m.content.filter((b) => b.type === "tool_result") : [],
    );
    expect(toolResults).toHaveLength(2);
  });

  it("a second turn on the same session is also delivered exactly once", async () => {
    const { agentId, environmentId } = await h.setup();
    h.upstream.script(mockText("first"), mockToolUse("glob", { pattern: "**/*" }), mockText("second"));
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("one")] });
    await h.waitIdle(session.id);
    await h.client.beta.sessions.events.send(session.id, { events: [text("two")] });
    await h.waitIdle(session.id);
    await Promise.all(deliveries);
    const events = await h.allEvents(session.id);
    expectUniqueIds(events);
    expect(events.map((e) => e.type)).toEqual([
      ...turnStart,
      ...textStep,
      ...turnEnd,
      ...turnStart,
      ...toolStep,
      ...textStep,
      ...turnEnd,
    ]);
    expect(h.upstream.requests).toHaveLength(3);
  });
});

describe("model faults", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { REVERIE_MODEL_MAX_RETRIES: "3", REVERIE_MODEL_TIMEOUT_SECONDS: "1" } });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.upstream.reset());

  async function runTurn(script: MockStep[]) {
    const { agentId, environmentId } = await h.setup();
    h.upstream.script(...script);
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("go")] });
    const done = await h.waitIdle(session.id, 20_000);
    const events = await h.allEvents(session.id);
    expectUniqueIds(events);
    return { session: done, events };
  }

  const errorsOf = (events: SessionEvent[]) =>
    (events.filter((e) => e.type === "session.error") as ErrorEvent[]).map((e) => e.error);
  const retried = ["session.error", "session.status_rescheduled"] as const;

  it("retries 429, 500 and 529 with session.error (retrying) + rescheduled, then succeeds", async () => {
    const { session, events } = await runTurn([
      { fault: 429, retryAfter: 0 },
      { fault: 500 },
      { fault: 529 },
      mockText("recovered"),
    ]);
    expect(events.map((e) => e.type)).toEqual([
      ...turnStart,
      ...retried,
      ...retried,
      ...retried,
      ...textStep,
      ...turnEnd,
    ]);
    expect(errorsOf(events)).toEqual([
      expect.objectContaining({ type: "model_rate_limited_error", retry_status: { type: "retrying" } }),
      expect.objectContaining({ type: "model_request_failed_error", retry_status: { type: "retrying" } }),
      expect.objectContaining({ type: "model_overloaded_error", retry_status: { type: "retrying" } }),
    ]);
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    expect(session.status).toBe("idle");
    expect(h.upstream.requests).toHaveLength(4);
    // Only the successful call counts towards usage.
    const end = events.find((e) => e.type === "span.model_request_end") as {
      model_usage: { input_tokens: number };
    };
    expect(session.usage.input_tokens).toBe(end.model_usage.input_tokens);
  });

  it("retries timeouts and dropped connections, then succeeds", async () => {
    const { events } = await runTurn([{ fault: "timeout" }, { fault: "disconnect" }, mockText("made it")]);
    expect(events.map((e) => e.type)).toEqual([
      ...turnStart,
      ...retried,
      ...retried,
      ...textStep,
      ...turnEnd,
    ]);
    expect(errorsOf(events).map((e) => e.retry_status)).toEqual([{ type: "retrying" }, { type: "retrying" }]);
    expect(h.upstream.requests).toHaveLength(3);
  });

  it("ends the turn with exhausted + retries_exhausted when faults outlast REVERIE_MODEL_MAX_RETRIES", async () => {
    const { session, events } = await runTurn([
      { fault: 529 },
      { fault: 529 },
      { fault: 429 },
      { fault: 500 },
      mockText("too late"),
    ]);
    expect(events.map((e) => e.type)).toEqual([
      ...turnStart,
      ...retried,
      ...retried,
      ...retried,
      "session.error",
      ...turnEnd,
    ]);
    expect(errorsOf(events).map((e) => e.retry_status.type)).toEqual([
      "retrying",
      "retrying",
      "retrying",
      "exhausted",
    ]);
    expect((events.at(-1) as IdleEvent).stop_reason).toEqual({ type: "retries_exhausted" });
    expect(h.upstream.requests).toHaveLength(4);
    expect(h.upstream.pending).toBe(1);

    // The session is not stuck: the next message runs a normal turn.
    await h.client.beta.sessions.events.send(session.id, { events: [text("again")] });
    await h.waitIdle(session.id);
    const after = await h.allEvents(session.id);
    expectUniqueIds(after);
    expect(after.slice(events.length).map((e) => e.type)).toEqual([...turnStart, ...textStep, ...turnEnd]);
    expect(after.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
  });

  it("fails a 400 from upstream at once as terminal", async () => {
    const { events } = await runTurn([{ fault: 400, message: "messages: bad" }, mockText("unused")]);
    expect(events.map((e) => e.type)).toEqual([...turnStart, "session.error", ...turnEnd]);
    expect(errorsOf(events)).toEqual([
      expect.objectContaining({ type: "model_request_failed_error", retry_status: { type: "terminal" } }),
    ]);
    expect((events.at(-1) as IdleEvent).stop_reason).toEqual({ type: "retries_exhausted" });
    expect(h.upstream.requests).toHaveLength(1);
  });
});

describe("sweeper", () => {
  const leaseMs = 600;
  let h: Harness;
  const dropped: StepMessage[] = [];
  const sent = new Map<number, number>();

  beforeAll(async () => {
    // The timer sweeper is kept out of the way; the test calls sweepStalledSessions itself. Each
    // step is its own message here (the kill -9 test below covers a chained step that dies).
    h = await startHarness({
      leaseMs,
      sweepIntervalMs: 3_600_000,
      env: { REVERIE_STEP_CHAIN_SECONDS: "0" },
    });
    const deps = h.stack.services.deps;
    const original = deps.steps;
    // The first message for each step is lost (as if the process died between commit and send).
    deps.steps = {
      async send(message, options) {
        const count = (sent.get(message.stepSeq) ?? 0) + 1;
        sent.set(message.stepSeq, count);
        if (count === 1) {
          dropped.push(message);
          return;
        }
        await original.send(message, options);
      },
    };
  });
  afterAll(async () => h.close());

  it("re-nudges a session whose step messages were lost, once its lease has passed", async () => {
    const deps = h.stack.services.deps;
    const { agentId, environmentId } = await h.setup();
    h.upstream.script(mockToolUse("write", { file_path: "lost.txt", content: "x" }), mockText("finished"));
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("go")] });
    expect(dropped).toHaveLength(1);
    expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("running");

    // Before the grace period passes, the sweeper leaves the session alone.
    expect((await sweepStalledSessions(deps)).nudged).toBe(0);
    expect(h.upstream.requests).toHaveLength(0);

    const nudges: number[] = [];
    const deadline = Date.now() + 20_000;
    for (;;) {
      const current = await h.client.beta.sessions.retrieve(session.id);
      const depth = h.stack.queue.depth();
      if (current.status === "idle" && depth.visible + depth.inFlight + depth.delayed === 0) break;
      if (Date.now() > deadline) throw new Error(`session still ${current.status}`);
      await sleep(leaseMs + 50);
      nudges.push((await sweepStalledSessions(deps)).nudged);
    }
    // Step 0's wake-up and step 1's enqueue were both lost; each cost exactly one re-nudge.
    expect(dropped.map((m) => m.stepSeq)).toEqual([0, 1]);
    expect(nudges.filter((n) => n > 0)).toEqual([1, 1]);

    const events = await h.allEvents(session.id);
    expectUniqueIds(events);
    expect(events.map((e) => e.type)).toEqual([...turnStart, ...toolStep, ...textStep, ...turnEnd]);
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    expect(h.upstream.requests).toHaveLength(2);
    // Idle sessions leave the sweeper's index.
    expect(await sweepStalledSessions(deps)).toEqual({ checked: 0, nudged: 0, failed: 0 });
  });

  it("takes input once when the queue refuses the wake's step message: the SDK sends nothing twice, the sweeper starts the turn", async () => {
    const deps = h.stack.services.deps;
    const { agentId, environmentId } = await h.setup();
    h.upstream.reset();
    h.upstream.script(mockText("answered"));
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    // A client as users make it: the SDK's default retries resend a request that failed.
    const client = new Anthropic({ baseURL: h.stack.url, apiKey: h.stack.apiKey });
    const queue = deps.steps;
    let refused = 0;
    deps.steps = {
      async send(message, options) {
        if (refused++ === 0) throw new Error("queue unavailable");
        await queue.send(message, options);
      },
    };
    try {
      await client.beta.sessions.events.send(session.id, { events: [text("once")] });
    } finally {
      deps.steps = queue;
    }
    expect(refused).toBe(1);
    expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("running");

    const deadline = Date.now() + 20_000;
    while ((await h.client.beta.sessions.retrieve(session.id)).status !== "idle") {
      if (Date.now() > deadline) throw new Error("session never went idle");
      await sleep(leaseMs + 50);
      await sweepStalledSessions(deps);
    }
    const events = await h.allEvents(session.id);
    expectUniqueIds(events);
    expect(events.map((e) => e.type)).toEqual([...turnStart, ...textStep, ...turnEnd]);
    expect(h.upstream.requests).toHaveLength(1);
  });
});

describe("a step that keeps failing", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: { REVERIE_MODEL_MAX_RETRIES: "2" },
      leaseMs: 300,
      sweepIntervalMs: 100,
      visibilityTimeoutSeconds: 0.2,
    });
  });
  afterAll(async () => h.close());

  // A step that throws for a reason other than the model call (here: storage refuses its step
  // record) is retried like a model failure and then ends the turn — it never stays running.
  it("ends the turn with session.error when a step keeps failing outside the model call", async () => {
    const { agentId, environmentId } = await h.setup();
    const store = h.stack.services.deps.store;
    const put = store.put.bind(store);
    const putAll = store.putAll.bind(store);
    const refused = (pk: unknown) => String(pk).startsWith("step#");
    store.put = async (table, item, options) => {
      if (refused(item.pk)) throw new Error("storage unavailable");
      return put(table, item, options);
    };
    // a step record goes in one group with its events
    store.putAll = async (puts) => {
      if (puts.some(({ item }) => refused(item.pk))) throw new Error("storage unavailable");
      return putAll(puts);
    };
    try {
      h.upstream.fallback = mockText("never stored");
      const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
      await h.client.beta.sessions.events.send(session.id, { events: [text("go")] });
      const done = await h.waitIdle(session.id, 10_000);
      expect(done.status).toBe("idle");
      const events = await h.allEvents(session.id);
      const errors = events.filter((e) => e.type === "session.error");
      expect(errors.at(-1)).toMatchObject({
        error: { type: "unknown_error", retry_status: { type: "exhausted" } },
      });
      expect((events.at(-1) as IdleEvent).stop_reason).toEqual({ type: "retries_exhausted" });
    } finally {
      store.put = put;
      store.putAll = putAll;
    }
  });
});

describe.each(["sqlite", "dynalite"])("kill -9 and restart (%s store)", (store) => {
  const apiKey = `sk-ant-rev-durability-${randomUUID()}`;
  const toolSteps = 6;
  const replyDelayMs = 300;
  let upstream: MockMessagesServer;
  let dataDir: string;
  let port: number;
  const children = new Set<ChildProcess>();

  const toolResultsIn = (request: ReceivedRequest) =>
    request.body.messages.flatMap((m) =>
      Array.isArray(m.content) ? m.content.filter((b) => b.type === "tool_result") : [],
    ).length;

  beforeAll(async () => {
    // The answer depends only on the transcript, so a model call repeated after a crash gets the
    // same answer as the one that was lost.
    upstream = await startMockMessagesServer({
      delayMs: replyDelayMs,
      fallback: (request) => {
        const n = toolResultsIn(request);
        return n < toolSteps
          ? mockToolUse(
              "write",
              { file_path: `steps/${n}.txt`, content: `step ${n}` },
              { id: `toolu_step_${n}` },
            )
          : mockText("all steps written");
      },
    });
    dataDir = mkdtempSync(join(tmpdir(), "reverie-kill-"));
    port = await freePort();
  });
  afterAll(async () => {
    for (const child of children) child.kill("SIGKILL");
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const stack = restartableStack(
    () => port,
    () => ({
      REVERIE_DATA_DIR: dataDir,
      REVERIE_STORE: store,
      REVERIE_API_KEY: apiKey,
      REVERIE_MODEL_PROVIDER: "anthropic",
      ANTHROPIC_API_KEY: "x",
      ANTHROPIC_BASE_URL: upstream.url,
      REVERIE_MODEL_RETRY_BASE_SECONDS: "0",
      REVERIE_STEP_LEASE_SECONDS: "2",
      REVERIE_SWEEP_INTERVAL_SECONDS: "0.25",
      REVERIE_LOG_LEVEL: "WARN",
    }),
  );
  const output = stack.output;

  /** Starts `npm start`'s entry point as a child process and waits until it serves requests. */
  async function startChild(): Promise<ChildProcess> {
    const child = await stack.start();
    children.add(child);
    child.on("exit", () => children.delete(child));
    return child;
  }

  async function kill(child: ChildProcess) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }

  it("finishes the session with every step's events exactly once after SIGKILLs mid-turn", async () => {
    const client = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey, maxRetries: 3 });
    /** Resolves when the upstream receives the model call of step `n` (after `from` requests). */
    const stepCall = async (n: number, from: number) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const hit = upstream.received.slice(from).find((r) => toolResultsIn(r) === n);
        if (hit) return Date.now();
        if (Date.now() > deadline) throw new Error(`no model call for step ${n}:\n${output()}`);
        await sleep(2);
      }
    };
    let child = await startChild();
    const environment = await client.beta.environments.create({ name: "kill-env" });
    const agent = await client.beta.agents.create({
      name: "killer",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    await client.beta.sessions.events.send(session.id, { events: [text("write the steps")] });

    // Kill at different points of a step: mid model call, and a few ms after the model's answer
    // reached the stack (saving the step record, writing events, running the tool, committing).
    const kills = [
      { step: 1, afterRequestMs: 150 },
      { step: 2, afterRequestMs: replyDelayMs + 5 },
      { step: 3, afterRequestMs: replyDelayMs + 25 },
      { step: 4, afterRequestMs: replyDelayMs + 60 },
    ];
    // Requests are searched from before each kill: a restarted stack can recover (and make the next
    // step's call) before its health check answers, when the old lease has already run out.
    let from = upstream.received.length;
    for (const { step, afterRequestMs } of kills) {
      const arrived = await stepCall(step, from);
      await sleep(Math.max(0, arrived + afterRequestMs - Date.now()));
      from = upstream.received.length;
      await kill(child);
      child = await startChild();
    }

    const deadline = Date.now() + 30_000;
    for (;;) {
      const current = await client.beta.sessions.retrieve(session.id);
      if (current.status === "idle") break;
      if (Date.now() > deadline)
        throw new Error(`session still ${current.status} after restart:\n${output()}`);
      await sleep(100);
    }
    // Let any late redelivery or sweep run: it must change nothing.
    await sleep(1_000);
    const events: SessionEvent[] = [];
    for await (const e of client.beta.sessions.events.list(session.id, { limit: 100 })) events.push(e);

    expectUniqueIds(events);
    expect(events.map((e) => e.type)).toEqual([
      ...turnStart,
      ...Array.from({ length: toolSteps }, () => toolStep).flat(),
      ...textStep,
      ...turnEnd,
    ]);
    expectOneResultPerToolUse(events);
    expect(
      (events.filter((e) => e.type === "agent.tool_result") as ToolResultEvent[]).map((r) => r.is_error),
    ).toEqual(Array.from({ length: toolSteps }, () => false));
    expect(events.filter((e) => e.type === "session.status_idle")).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });

    // The first kill interrupted a model call, which was made again after the restart.
    expect(upstream.received.length).toBeGreaterThan(toolSteps + 1);
    // The model's last call saw each tool result once, in order.
    const last = upstream.received.at(-1) as ReceivedRequest;
    const ids = last.body.messages.flatMap((m) =>
      Array.isArray(m.content)
        ? m.content.flatMap((b) => (b.type === "tool_result" ? [b.tool_use_id] : []))
        : [],
    );
    expect(ids).toEqual(Array.from({ length: toolSteps }, (_, n) => `toolu_step_${n}`));
    // Every tool ran and left its file in the session's workspace.
    for (let n = 0; n < toolSteps; n++) {
      expect(readFileSync(join(dataDir, "workspaces", session.id, "steps", `${n}.txt`), "utf8")).toBe(
        `step ${n}`,
      );
    }
    // The store that was asked for held the state (a data dir holds only the one it was made with).
    expect(existsSync(join(dataDir, store === "sqlite" ? "reverie.sqlite" : "dynamodb"))).toBe(true);
    expect(existsSync(join(dataDir, store === "sqlite" ? "dynamodb" : "reverie.sqlite"))).toBe(false);
    await kill(child);
    // Five stack starts (one per kill) take 6–12 s each on a busy 2-core machine: more than the
    // default 60 s for the whole test, which is about recovery, not start-up speed.
  }, 150_000);
});
