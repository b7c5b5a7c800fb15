/**
 * Reverie under the benchmark: the embedded stack with its data on disk (SQLite by default, dynalite
 * on LevelDB with BENCH_STORE=dynalite; the durable SQLite queue, directory workspaces), driven through the official SDK like a client would:
 * create a session, follow its SSE stream, send the user message, stop at `session.status_idle`.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import type { LocalQueueConsumer } from "../../shared/adapters/local/local-queue.js";
import type { DocumentStore, GroupedPut, PutOptions, StoredItem } from "../../shared/core/ports.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { now } from "./stats.js";
import { benchModel, userText } from "./workload.js";

type Session = Anthropic.Beta.Sessions.BetaManagedAgentsSession;
type EventStream = Awaited<ReturnType<Anthropic["beta"]["sessions"]["events"]["stream"]>>;

export interface PreparedSession {
  session: Session;
  stream: EventStream;
  tag: string;
}

export interface SessionTiming {
  /** events.send → `session.status_idle` seen on the SSE stream. */
  idleMs: number;
  /** events.send → the step queue drained (every write of the turn committed). */
  settledMs: number;
}

export interface ReverieSystem {
  harness: Harness;
  dataDir: string;
  /** Creates a session and opens its event stream (not timed: the per-turn cost is what is measured). */
  prepare(tag: string): Promise<PreparedSession>;
  /** Sends the user message and waits for idle on the stream; resolves with the idle time. */
  turn(prepared: PreparedSession, start?: number): Promise<number>;
  /** One whole timed turn on a fresh session, sequential mode, followed over SSE like a client would. */
  runSession(tag: string): Promise<SessionTiming>;
  /**
   * The same turn without an SSE client: send, then wait for the step queue to drain. Isolates the
   * step pipeline from the cost of serving event streams.
   */
  runSessionUnwatched(tag: string): Promise<number>;
  /** `count` turns at once, unwatched; returns wall ms from the first send until the queue drained. */
  concurrentUnwatched(count: number, prefix: string): Promise<number>;
  close(): Promise<void>;
}

export async function startReverie(options: { stepConcurrency?: number } = {}): Promise<ReverieSystem> {
  const dataDir = await mkdtemp(join(tmpdir(), "reverie-bench-stack-"));
  const store = process.env.BENCH_STORE;
  const harness = await startHarness({
    dataDir,
    ...(store ? { env: { REVERIE_STORE: store } } : {}),
    ...(options.stepConcurrency !== undefined ? { stepConcurrency: options.stepConcurrency } : {}),
  });
  harness.upstream.fallback = benchModel;
  const { client, stack } = harness;
  const environment = await client.beta.environments.create({ name: "bench" });
  const agent = await client.beta.agents.create({
    name: "bench",
    model: "claude-sonnet-4-6",
    system: "You are a careful test agent.",
    // Only `write`, like the baselines: the same tool definition goes to the model.
    tools: [
      {
        type: "agent_toolset_20260401",
        default_config: { enabled: false },
        configs: [{ name: "write", enabled: true }],
      },
    ],
  });

  async function prepare(tag: string): Promise<PreparedSession> {
    const session = await create();
    const stream = await client.beta.sessions.events.stream(session.id);
    return { session, stream, tag };
  }

  async function create() {
    return client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
  }

  async function send(sessionId: string, tag: string) {
    await client.beta.sessions.events.send(sessionId, {
      events: [{ type: "user.message", content: [{ type: "text", text: userText(tag) }] }],
    });
  }

  async function turn(prepared: PreparedSession, start = now()): Promise<number> {
    await send(prepared.session.id, prepared.tag);
    for await (const event of prepared.stream) {
      if (event.type === "session.error")
        throw new Error(`session ${prepared.tag}: ${JSON.stringify(event)}`);
      if (event.type === "session.status_idle") {
        const elapsed = now() - start;
        prepared.stream.controller.abort();
        if (event.stop_reason.type !== "end_turn")
          throw new Error(`session ${prepared.tag} stopped with ${event.stop_reason.type}`);
        return elapsed;
      }
    }
    throw new Error(`session ${prepared.tag}: stream ended before idle`);
  }

  /** After the queue drained, the turn must have ended idle with end_turn (not timed). */
  async function expectIdle(sessionId: string, tag: string) {
    const session = await client.beta.sessions.retrieve(sessionId);
    if (session.status !== "idle")
      throw new Error(`session ${tag} is ${session.status} after the queue drained`);
  }

  return {
    harness,
    dataDir,
    prepare,
    turn,
    async runSession(tag) {
      const prepared = await prepare(tag);
      const start = now();
      const idleMs = await turn(prepared, start);
      await stack.queue.drained();
      return { idleMs, settledMs: now() - start };
    },
    async runSessionUnwatched(tag) {
      const session = await create();
      const start = now();
      await send(session.id, tag);
      await stack.queue.drained();
      const elapsed = now() - start;
      await expectIdle(session.id, tag);
      return elapsed;
    },
    async concurrentUnwatched(count, prefix) {
      const sessions = await Promise.all(Array.from({ length: count }, () => create()));
      const start = now();
      await Promise.all(sessions.map((session, i) => send(session.id, `${prefix}${i}`)));
      await stack.queue.drained();
      const elapsed = now() - start;
      await Promise.all(sessions.map((session, i) => expectIdle(session.id, `${prefix}${i}`)));
      return elapsed;
    },
    async close() {
      await harness.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/* ------------------------------------------------------------------------------------------------ */
/* Profiling: where a step's time goes.                                                             */
/* ------------------------------------------------------------------------------------------------ */

type Phase = "step" | `api ${string}`;

interface CallStat {
  count: number;
  totalMs: number;
}

export interface StepProfile {
  /** Steps (model calls made in the step consumer). */
  steps: number;
  /** Step-queue messages the consumer handled (chained steps share one). */
  messages: number;
  sessions: number;
  /** Wall time inside the step consumer, per step. */
  handlerMsPerStep: number;
  /** Store round trips made by steps, per step, and their summed latency. */
  storeCallsPerStep: number;
  storeMsPerStep: number;
  modelCallsPerStep: number;
  modelMsPerStep: number;
  toolMsPerStep: number;
  queueSendsPerStep: number;
  queueSendMsPerStep: number;
  /** Handler time not spent waiting on the store, the model, the tool or the queue. */
  otherMsPerStep: number;
  /** Step-side store calls by operation, table and key shape, per step. */
  stepCalls: Array<{ call: string; perStep: number; avgMs: number }>;
  /** Step-side store calls by the core function that made them, per step. */
  stepCallSites: Array<{ site: string; perStep: number }>;
  /** Store calls made by API requests and the SSE follower, per session (i.e. per 2 steps). */
  apiCallsPerSession: Array<{ phase: string; perSession: number; avgMs: number }>;
}

/** Collapses ids so calls group by shape: `once#sesn_01…` → `once#<id>`. */
function keyShape(value: string | number): string {
  if (typeof value === "number") return "<n>";
  return value
    .replace(/[a-z]+_[0-9A-Za-z]{10,}/g, "<id>")
    .replace(/#\d+(#\d+)?$/, "#<n>")
    .replace(/^\d{10}$/, "<n>");
}

/** The innermost shared/core function on the (async) stack, e.g. `commitStep`. */
function callSite(stack: string | undefined): string {
  const frames = (stack ?? "").split("\n").slice(1);
  const names: string[] = [];
  for (const frame of frames) {
    if (!frame.includes("/shared/core/")) continue;
    const name = /at (?:async )?([^\s(]+)/.exec(frame)?.[1];
    if (name && !names.includes(name)) names.push(name);
  }
  // innermost two distinct core functions give enough context ("emitOnce < commitStep")
  return names.slice(0, 2).join(" < ") || "(outside core)";
}

/**
 * Wraps the stack's store, model, workspace and queue with counters and timers, attributing each
 * call to the step consumer or to the API route that made it. Use with sequential sessions.
 */
export function instrument(system: ReverieSystem) {
  const { stack } = system.harness;
  const deps = stack.services.deps;
  const context = new AsyncLocalStorage<{ phase: Phase }>();
  const calls = new Map<string, CallStat>();
  const sites = new Map<string, CallStat>();
  const totals = {
    messages: 0,
    handlerMs: 0,
    storeCalls: 0,
    storeMs: 0,
    modelCalls: 0,
    modelMs: 0,
    toolMs: 0,
    queueSends: 0,
    queueSendMs: 0,
  };
  const add = (map: Map<string, CallStat>, key: string, ms: number) => {
    const stat = map.get(key) ?? { count: 0, totalMs: 0 };
    stat.count += 1;
    stat.totalMs += ms;
    map.set(key, stat);
  };

  const store = deps.store as DocumentStore & Record<string, unknown>;
  const putShape = (item: { pk: string; sk: string | number }, options?: PutOptions) =>
    `${keyShape(item.pk)} / ${keyShape(item.sk)}${
      options?.ifNotExists ? " (if absent)" : options?.expectedRev !== undefined ? " (rev check)" : ""
    }`;
  for (const method of ["get", "put", "putMany", "putAll", "delete", "query", "increment"] as const) {
    const original = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
    store[method] = (async (...args: unknown[]) => {
      const phase = context.getStore()?.phase ?? "sse follow / other";
      const stackText = phase === "step" ? new Error().stack : undefined;
      const started = now();
      try {
        return await original(...args);
      } finally {
        const ms = now() - started;
        const [table, a, b] = args as [string, unknown, unknown];
        let key: string;
        if (method === "putAll") {
          // a group: its leading put, then how many items follow it
          const [lead, ...rest] = table as unknown as GroupedPut[];
          key = lead ? `${lead.table} ${putShape(lead.item, lead.options)} + ${rest.length} more` : "(empty)";
        } else
          key = `${table} ${
            method === "put"
              ? putShape(a as StoredItem, b as PutOptions | undefined)
              : method === "putMany"
                ? `${keyShape((a as StoredItem[])[0]?.pk ?? "")} × ${(a as StoredItem[]).length}`
                : method === "query"
                  ? keyShape(String(a))
                  : `${keyShape(String(a))} / ${keyShape(b as string | number)}`
          }`;
        add(calls, `${phase}|${method} ${key}`, ms);
        if (phase === "step") {
          totals.storeCalls += 1;
          totals.storeMs += ms;
          add(sites, callSite(stackText), ms);
        }
      }
    }) as never;
  }

  const model = deps.model;
  const createMessage = model.createMessage.bind(model);
  model.createMessage = async (request) => {
    const started = now();
    try {
      return await createMessage(request);
    } finally {
      totals.modelCalls += 1;
      totals.modelMs += now() - started;
    }
  };
  const workspace = deps.workspace;
  const write = workspace.write.bind(workspace);
  workspace.write = async (...args) => {
    const started = now();
    try {
      return await write(...args);
    } finally {
      totals.toolMs += now() - started;
    }
  };
  const queue = stack.queue;
  const send = queue.send.bind(queue);
  queue.send = async (...args) => {
    const started = now();
    try {
      return await send(...args);
    } finally {
      totals.queueSends += 1;
      totals.queueSendMs += now() - started;
    }
  };
  // The consumer the stack registered (a private field: this is a benchmark probe, not an API).
  const consumerHolder = queue as unknown as { consumer: LocalQueueConsumer };
  const consumer = consumerHolder.consumer;
  consumerHolder.consumer = (event) =>
    context.run({ phase: "step" }, async () => {
      const started = now();
      try {
        return await consumer(event);
      } finally {
        totals.messages += event.Records.length;
        totals.handlerMs += now() - started;
      }
    });
  const api = stack.services.api as NonNullable<typeof stack.services.api>;
  const handle = api.handle;
  api.handle = (request) => {
    const route = `${request.method} ${request.path.replace(/[a-z]+_[0-9A-Za-z]{10,}/g, ":id")}`;
    return context.run({ phase: `api ${route}` }, () => handle(request));
  };

  return {
    reset() {
      calls.clear();
      sites.clear();
      for (const key of Object.keys(totals) as Array<keyof typeof totals>) totals[key] = 0;
    },
    profile(sessions: number): StepProfile {
      const steps = totals.modelCalls;
      const per = (n: number) => (steps === 0 ? 0 : n / steps);
      const stepCalls: StepProfile["stepCalls"] = [];
      const apiCalls = new Map<string, CallStat>();
      for (const [key, stat] of calls) {
        const [phase, call] = key.split("|") as [string, string];
        if (phase === "step") {
          stepCalls.push({ call, perStep: per(stat.count), avgMs: stat.totalMs / stat.count });
        } else {
          const merged = apiCalls.get(phase) ?? { count: 0, totalMs: 0 };
          merged.count += stat.count;
          merged.totalMs += stat.totalMs;
          apiCalls.set(phase, merged);
        }
      }
      stepCalls.sort((a, b) => b.perStep - a.perStep || a.call.localeCompare(b.call));
      return {
        steps,
        messages: totals.messages,
        sessions,
        handlerMsPerStep: per(totals.handlerMs),
        storeCallsPerStep: per(totals.storeCalls),
        storeMsPerStep: per(totals.storeMs),
        modelCallsPerStep: per(totals.modelCalls),
        modelMsPerStep: per(totals.modelMs),
        toolMsPerStep: per(totals.toolMs),
        queueSendsPerStep: per(totals.queueSends),
        queueSendMsPerStep: per(totals.queueSendMs),
        otherMsPerStep: per(
          totals.handlerMs - totals.storeMs - totals.modelMs - totals.toolMs - totals.queueSendMs,
        ),
        stepCalls,
        stepCallSites: [...sites]
          .map(([site, stat]) => ({ site, perStep: per(stat.count) }))
          .sort((a, b) => b.perStep - a.perStep),
        apiCallsPerSession: [...apiCalls]
          .map(([phase, stat]) => ({
            phase,
            perSession: stat.count / sessions,
            avgMs: stat.totalMs / stat.count,
          }))
          .sort((a, b) => b.perSession - a.perSession),
      };
    },
  };
}
