/**
 * `npm run bench` (load): 500 sessions × 10 steps at once on the embedded stack (data on disk, SQLite
 * by default or BENCH_STORE=dynalite), a 0 ms scripted model: each session's model calls `write` nine
 * times, then answers "done" — ten model calls, nine tools. All 500 user messages are sent together;
 * the stack runs its steps at its default concurrency.
 * Reported: steps per second (from the first send until every step committed), the step latency
 * under load (p50/p99: the time between two model calls of one session — commit, tool, enqueue,
 * queue wait, load), the turn latency, and a check that nothing was lost or duplicated: every
 * session made exactly ten model calls, its log holds nine tool uses each answered once by its own
 * result, one closing message, ends idle on `end_turn`, with no event twice and no session.error,
 * and the queue's dead letters are empty.
 * Baselines in the same run, on the same mock server and workload: the official SDK in a plain
 * in-memory loop (no durability) and LangGraph.js + SqliteSaver (durable), 500 sessions at once.
 * Then a short sequential pass counts the store calls a step makes (one model call + one tool).
 * Target: ≥ 200 steps/s. Knobs: LOAD_SESSIONS (500), LOAD_STEPS (10), LOAD_BASELINES (1 = run them).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { type MockStep, mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { startHarness } from "../fixtures/reverie-harness.js";
import { startDirectSdk } from "./direct-sdk.js";
import { startLangGraph } from "./langgraph.js";
import { instrument, type ReverieSystem } from "./reverie.js";
import { percentile, round } from "./stats.js";
import { FILE_CONTENT, userText } from "./workload.js";

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const SESSIONS = envInt("LOAD_SESSIONS", 500);
const STEPS = envInt("LOAD_STEPS", 10);
const BASELINES = process.env.LOAD_BASELINES !== "0";
const TARGET_STEPS_PER_SECOND = 200;
const log = (line = "") => process.stderr.write(`${line}\n`);

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;

/** The tag of a request's session (`bench <tag>: …` in its first user message). */
function tagOf(messages: Anthropic.Messages.MessageParam[]): string {
  const first = messages[0]?.content;
  const text =
    typeof first === "string"
      ? first
      : Array.isArray(first) && first[0]?.type === "text"
        ? first[0].text
        : "";
  return /^bench (\S+):/.exec(text)?.[1] ?? "untagged";
}

/**
 * The scripted model of a `STEPS`-step session: `write` until it has seen STEPS − 1 tool results,
 * then "done". Records when each session's calls arrive.
 */
function loadModel(calls: Map<string, number[]>): MockStep {
  return (request) => {
    const messages = request.body.messages;
    const tag = tagOf(messages);
    const times = calls.get(tag) ?? [];
    times.push(performance.now());
    calls.set(tag, times);
    const results = messages.filter(
      (m) => m.role === "user" && Array.isArray(m.content) && m.content.some((b) => b.type === "tool_result"),
    ).length;
    if (results >= STEPS - 1) return mockText("done");
    return mockToolUse("write", { file_path: `out/${tag}-${results}.txt`, content: FILE_CONTENT });
  };
}

interface LoadResult {
  system: string;
  wallMs: number;
  stepsPerSecond: number;
  stepP50: number;
  stepP99: number;
  turnP50: number;
  turnP99: number;
}

/** Step latency: the gaps between a session's model calls; turn: first send → its last model call. */
function latencies(calls: Map<string, number[]>, tags: string[], sentAt: number) {
  const gaps: number[] = [];
  const turns: number[] = [];
  for (const tag of tags) {
    const times = calls.get(tag) ?? [];
    for (let i = 1; i < times.length; i++) gaps.push((times[i] as number) - (times[i - 1] as number));
    if (times.length) turns.push((times.at(-1) as number) - sentAt);
  }
  return {
    stepP50: round(percentile(gaps, 50), 1),
    stepP99: round(percentile(gaps, 99), 1),
    turnP50: round(percentile(turns, 50), 0),
    turnP99: round(percentile(turns, 99), 0),
  };
}

/** What a finished session's log must be: returns the problems found (none: nothing lost or doubled). */
function checkSession(tag: string, events: Event[], modelCalls: number): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const event of events) {
    if (ids.has(event.id)) problems.push(`${tag}: event ${event.id} twice`);
    ids.add(event.id);
  }
  if (modelCalls !== STEPS) problems.push(`${tag}: ${modelCalls} model calls, expected ${STEPS}`);
  const uses = events.filter((e) => e.type === "agent.tool_use");
  const results = events.filter((e) => e.type === "agent.tool_result");
  if (uses.length !== STEPS - 1) problems.push(`${tag}: ${uses.length} tool uses, expected ${STEPS - 1}`);
  const useIds = new Set(uses.map((e) => e.id));
  const answered = results.map((e) => (e as { tool_use_id?: string }).tool_use_id);
  if (answered.length !== useIds.size || new Set(answered).size !== answered.length)
    problems.push(`${tag}: ${answered.length} tool results for ${useIds.size} tool uses`);
  for (const id of answered)
    if (!id || !useIds.has(id)) problems.push(`${tag}: a result for unknown tool use ${id}`);
  const messages = events.filter((e) => e.type === "agent.message");
  if (messages.length !== 1) problems.push(`${tag}: ${messages.length} agent messages, expected 1`);
  for (const error of events.filter((e) => e.type === "session.error"))
    problems.push(`${tag}: session.error ${JSON.stringify((error as { error?: unknown }).error)}`);
  const last = events.filter((e) => e.type.startsWith("session.status_")).at(-1);
  if (last?.type !== "session.status_idle" || last.stop_reason.type !== "end_turn")
    problems.push(`${tag}: ends ${last?.type ?? "without a status"}`);
  return problems;
}

async function runReverie(): Promise<{ result: LoadResult; problems: string[]; storeCallsPerStep: number }> {
  const dataDir = await mkdtemp(join(tmpdir(), "reverie-load-"));
  const store = process.env.BENCH_STORE;
  // The product's model timeout (90 s), not the test harness's fail-fast 5 s: with 500 sessions
  // sent at once, a 0 ms model's answer can wait seconds for the event loop, and a timeout would
  // measure that backlog twice (the retry). The step p99 shows the backlog.
  const harness = await startHarness({
    dataDir,
    env: { REVERIE_MODEL_TIMEOUT_SECONDS: "90", ...(store ? { REVERIE_STORE: store } : {}) },
  });
  const calls = new Map<string, number[]>();
  harness.upstream.fallback = loadModel(calls);
  try {
    const { client, stack } = harness;
    const environment = await client.beta.environments.create({ name: "load" });
    const agent = await client.beta.agents.create({
      name: "load",
      model: "claude-sonnet-4-6",
      system: "You are a careful test agent.",
      tools: [
        {
          type: "agent_toolset_20260401",
          default_config: { enabled: false },
          configs: [{ name: "write", enabled: true }],
        },
      ],
    });
    const tags = Array.from({ length: SESSIONS }, (_, i) => `load${i}`);
    // Sessions are created first (not timed, in batches: the client's sockets are not the subject).
    const sessions: string[] = [];
    for (let i = 0; i < SESSIONS; i += 50) {
      const batch = await Promise.all(
        tags
          .slice(i, i + 50)
          .map(() => client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })),
      );
      sessions.push(...batch.map((s) => s.id));
    }
    log(`· Reverie: ${SESSIONS} sessions × ${STEPS} steps at once (store ${stack.store.kind})`);
    const started = performance.now();
    await Promise.all(
      sessions.map((id, i) =>
        client.beta.sessions.events.send(id, {
          events: [{ type: "user.message", content: [{ type: "text", text: userText(tags[i] as string) }] }],
        }),
      ),
    );
    await stack.queue.drained();
    const wallMs = performance.now() - started;
    const result: LoadResult = {
      system: `Reverie (embedded stack, ${stack.store.kind})`,
      wallMs: round(wallMs, 0),
      stepsPerSecond: round((SESSIONS * STEPS * 1000) / wallMs, 1),
      ...latencies(calls, tags, started),
    };
    // Nothing lost, nothing doubled (not timed).
    const problems: string[] = [];
    for (let i = 0; i < sessions.length; i += 25) {
      const checks = await Promise.all(
        sessions.slice(i, i + 25).map(async (id, k) => {
          const events: Event[] = [];
          for await (const event of client.beta.sessions.events.list(id, { limit: 100 })) events.push(event);
          const tag = tags[i + k] as string;
          return checkSession(tag, events, calls.get(tag)?.length ?? 0);
        }),
      );
      problems.push(...checks.flat());
    }
    const dead = stack.queue.deadLetters().length;
    if (dead > 0) problems.push(`${dead} step messages in the dead-letter queue`);

    // Store calls per step: a few sessions one after another, instrumented (not part of the load).
    const probe = instrument({ harness } as unknown as ReverieSystem);
    probe.reset();
    const probeSessions = 10;
    for (let i = 0; i < probeSessions; i++) {
      const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
      await client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: userText(`probe${i}`) }] }],
      });
      await stack.queue.drained();
    }
    const profile = probe.profile(probeSessions);
    return { result, problems, storeCallsPerStep: round(profile.storeCallsPerStep, 2) };
  } finally {
    await harness.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}

async function runBaseline(
  name: string,
  start: (url: string) => Promise<{ runSession(tag: string): Promise<void>; close(): Promise<void> }>,
): Promise<LoadResult> {
  const { startMockMessagesServer } = await import("../fixtures/mock-messages-server.js");
  const calls = new Map<string, number[]>();
  const upstream = await startMockMessagesServer({ fallback: loadModel(calls) });
  const system = await start(upstream.url);
  try {
    log(`· ${name}: ${SESSIONS} sessions × ${STEPS} steps at once`);
    const tags = Array.from({ length: SESSIONS }, (_, i) => `base${i}`);
    const started = performance.now();
    await Promise.all(tags.map((tag) => system.runSession(tag)));
    const wallMs = performance.now() - started;
    for (const tag of tags)
      if (calls.get(tag)?.length !== STEPS)
        throw new Error(`${name}: ${tag} made ${calls.get(tag)?.length} calls`);
    return {
      system: name,
      wallMs: round(wallMs, 0),
      stepsPerSecond: round((SESSIONS * STEPS * 1000) / wallMs, 1),
      ...latencies(calls, tags, started),
    };
  } finally {
    await system.close();
    await upstream.close();
  }
}

async function main() {
  log(
    `load: ${SESSIONS} sessions × ${STEPS} steps, 0 ms model, ${availableParallelism()} cores, node ${process.version}`,
  );
  const results: LoadResult[] = [];
  if (BASELINES) {
    results.push(await runBaseline("direct SDK loop (in memory, not durable)", startDirectSdk));
    results.push(
      await runBaseline("LangGraph + SqliteSaver (durable)", (url) => startLangGraph(url, { steps: STEPS })),
    );
  }
  const reverie = await runReverie();
  results.push(reverie.result);
  log("");
  log(
    `${"system".padEnd(44)}${"wall".padStart(9)}${"steps/s".padStart(10)}${"step p50".padStart(10)}${"step p99".padStart(10)}${"turn p50".padStart(10)}${"turn p99".padStart(10)}`,
  );
  for (const r of results)
    log(
      `${r.system.padEnd(44)}${`${r.wallMs} ms`.padStart(9)}${String(r.stepsPerSecond).padStart(10)}${`${r.stepP50} ms`.padStart(10)}${`${r.stepP99} ms`.padStart(10)}${`${r.turnP50} ms`.padStart(10)}${`${r.turnP99} ms`.padStart(10)}`,
    );
  const lost = reverie.problems;
  log("");
  log(
    `nothing lost or duplicated: ${lost.length === 0 ? `yes (${SESSIONS} sessions: ${SESSIONS * STEPS} model calls, ${SESSIONS * (STEPS - 1)} tool uses each answered once, every session idle on end_turn, no dead letters)` : `NO — ${lost.length} problems: ${lost.slice(0, 10).join("; ")}`}`,
  );
  log(`store calls per step (sequential probe, one model call + one tool): ${reverie.storeCallsPerStep}`);
  const ratios = results
    .filter((r) => r !== reverie.result)
    .map((r) => `${round(reverie.result.stepsPerSecond / r.stepsPerSecond, 2)}× ${r.system}'s`)
    .join(", ");
  const met = reverie.result.stepsPerSecond >= TARGET_STEPS_PER_SECOND && lost.length === 0;
  log(
    `load: ${reverie.result.stepsPerSecond} steps/s (target ≥ ${TARGET_STEPS_PER_SECOND}${ratios ? `; ${ratios} throughput` : ""}), step p99 ${reverie.result.stepP99} ms, ${lost.length === 0 ? "nothing lost or duplicated" : "LOST OR DUPLICATED WORK"} — ${met ? "MET" : "NOT MET"}`,
  );
  if (lost.length > 0) process.exitCode = 1;
}

await main();
