/**
 * Tool effects exactly once under `kill -9` (runtime/tool-intents.ts): the embedded stack runs in a
 * child process (`npm start`'s entry point) and is SIGKILLed the moment append-style `edit`s have
 * changed their files — in the workspace, or through a memory mount — which is most often before
 * the tools' results reached the event log. After a restart each step is re-run from its record;
 * every file must hold the appended line once, every log one tool_use / tool_result pair, and every
 * session must reach idle.
 *
 * A trial is one session whose edit is cut off by a kill. To keep restarts (seconds each) few, a
 * kill cuts off a batch of sessions whose model answers are released together, so that their steps
 * run side by side; the kill comes once every file of the batch has changed. A trial "hits the
 * window" when, inspected between the kill and the restart, its file is changed but its event log
 * holds no tool result yet — the case that doubled lines before the intents.
 *
 * `REVERIE_KILL_TRIALS` trials per kind (default 10), `REVERIE_KILL_BATCH` sessions per kill (default 5).
 */
import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalDynamoDb } from "../../shared/adapters/local/dynalite-in-process.js";
import {
  type MockMessagesServer,
  type MockResponse,
  mockText,
  mockToolUse,
  type ReceivedRequest,
  startMockMessagesServer,
} from "../fixtures/mock-messages-server.js";
import { freePort, restartableStack } from "../fixtures/stack-process.js";

type SessionEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;
type ToolResultEvent = Extract<SessionEvent, { type: "agent.tool_result" }>;
type Kind = "workspace" | "memory";

const TRIALS = Number(process.env.REVERIE_KILL_TRIALS ?? 10);
const BATCH = Number(process.env.REVERIE_KILL_BATCH ?? 5);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));

/** Trial `n`'s lines: the edit inserts `L12` after `L11`, and `L11` is still there afterwards. */
const lines = (n: number) => ({
  original: `T${n} L11\nT${n} L13\n`,
  edited: `T${n} L11\nT${n} L12\nT${n} L13\n`,
  edit: { old_string: `T${n} L11\n`, new_string: `T${n} L11\nT${n} L12\n` },
  appended: `T${n} L12`,
});

interface TrialResult {
  kind: Kind;
  hit: boolean;
  doubled: boolean;
  stuck: boolean;
  /** From the restart (spawn) until the session is idle again. */
  idleAfterRestartMs: number;
  /** Of which the stack took this long to start serving. */
  startMs: number;
}

/** One session of a batch. */
interface Trial {
  n: number;
  sessionId: string;
  /** Whether the edit has landed (looked at until it has). */
  changed: () => boolean;
  content: () => Promise<string | undefined>;
}

describe("kill -9 between a tool's effect and its result", () => {
  const apiKey = `sk-ant-rev-kill-${randomUUID()}`;
  let upstream: MockMessagesServer;
  let dataDir: string;
  let port: number;
  let child: ChildProcess | undefined;
  const outcomes: TrialResult[] = [];
  /** Model answers held until their whole batch asked (`edit <path> for trial <n> of batch <b> of <size>`). */
  const held = new Map<number, Array<() => void>>();

  const firstText = (request: ReceivedRequest) => {
    const first = request.body.messages[0]?.content;
    if (typeof first === "string") return first;
    return (first ?? []).map((b) => (b.type === "text" ? b.text : "")).join("");
  };
  const toolResultsIn = (request: ReceivedRequest) =>
    request.body.messages.flatMap((m) =>
      Array.isArray(m.content) ? m.content.filter((b) => b.type === "tool_result") : [],
    ).length;

  beforeAll(async () => {
    // The answer depends only on the transcript: the user message names the file and the trial.
    upstream = await startMockMessagesServer({
      fallback: async (request): Promise<MockResponse> => {
        const [, path, n, batch, size] =
          /^edit (\S+) for trial (\d+) of batch (\d+) of (\d+)$/.exec(firstText(request)) ?? [];
        if (!path || toolResultsIn(request) > 0) return mockText("edited");
        const waiting = held.get(Number(batch)) ?? [];
        held.set(Number(batch), waiting);
        await new Promise<void>((release) => {
          waiting.push(release);
          if (waiting.length >= Number(size)) for (const go of waiting.splice(0)) go();
          else setTimeout(release, 5_000);
        });
        return mockToolUse("edit", { file_path: path, ...lines(Number(n)).edit });
      },
    });
    dataDir = mkdtempSync(join(tmpdir(), "reverie-tool-kill-"));
    port = await freePort();
  });
  afterAll(async () => {
    if (child) await kill(child);
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
    if (outcomes.length > 0) {
      const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
      const summary = (kind: Kind) => {
        const of = outcomes.filter((o) => o.kind === kind);
        const idle = of.map((o) => o.idleAfterRestartMs);
        return (
          `${kind}: ${of.length} trials in ${Math.ceil(of.length / BATCH)} kills, ` +
          `${of.filter((o) => o.hit).length} cut off between effect and result, ` +
          `${of.filter((o) => o.doubled).length} doubled, ${of.filter((o) => o.stuck).length} stuck; ` +
          `idle after restart median ${median(idle)} ms (max ${Math.max(...idle)} ms), ` +
          `of which stack start median ${median(of.map((o) => o.startMs))} ms ` +
          `and recovery once it serves median ${median(of.map((o) => o.idleAfterRestartMs - o.startMs))} ms`
        );
      };
      process.stdout.write(`${summary("workspace")}\n${summary("memory")}\n`);
    }
  });

  const stack = restartableStack(
    () => port,
    () => ({
      REVERIE_DATA_DIR: dataDir,
      // dynalite: its slower writes leave a window between a memory write and the tool result that a
      // kill can hit often enough to prove something; on SQLite the two land within microseconds.
      // The intents are the same code on either store.
      REVERIE_STORE: "dynalite",
      REVERIE_API_KEY: apiKey,
      REVERIE_MODEL_PROVIDER: "anthropic",
      ANTHROPIC_API_KEY: "x",
      ANTHROPIC_BASE_URL: upstream.url,
      REVERIE_MODEL_RETRY_BASE_SECONDS: "0",
      REVERIE_STEP_LEASE_SECONDS: "1",
      REVERIE_SWEEP_INTERVAL_SECONDS: "0.1",
      REVERIE_LOG_LEVEL: "WARN",
    }),
  );
  const output = stack.output;

  /** Starts `npm start`'s entry point as a child process and waits until it serves requests. */
  async function startChild(): Promise<ChildProcess> {
    const child = await stack.start();
    return child;
  }

  async function kill(target: ChildProcess) {
    if (target.exitCode !== null || target.signalCode !== null) return;
    const exited = new Promise((r) => target.once("exit", r));
    target.kill("SIGKILL");
    await exited;
  }

  /**
   * Watches the dynalite LevelDB logs for bytes matching `pattern` (what a memory write leaves in its
   * item), reading only what was appended since the last look.
   */
  function levelDbWatcher(pattern: RegExp) {
    const dir = join(dataDir, "dynamodb");
    const offsets = new Map<string, number>();
    for (const name of readdirSync(dir).filter((f) => f.endsWith(".log")))
      offsets.set(name, statSync(join(dir, name)).size);
    let seen = false;
    return () => {
      if (seen) return true;
      for (const name of readdirSync(dir).filter((f) => f.endsWith(".log"))) {
        const file = join(dir, name);
        const from = Math.max(0, (offsets.get(name) ?? 0) - 256);
        const size = statSync(file).size;
        if (size <= from) continue;
        const buffer = Buffer.alloc(size - from);
        const fd = openSync(file, "r");
        try {
          readSync(fd, buffer, 0, buffer.length, from);
        } finally {
          closeSync(fd);
        }
        offsets.set(name, size);
        if (pattern.test(buffer.toString("latin1"))) seen = true;
      }
      return seen;
    };
  }

  /** Polls (yielding to I/O between looks: the upstream mock lives here) until every edit landed, then kills. */
  async function killWhenChanged(trials: Trial[]) {
    const deadline = Date.now() + 20_000;
    const pending = new Set(trials);
    while (pending.size > 0) {
      for (const trial of pending) if (trial.changed()) pending.delete(trial);
      if (Date.now() > deadline)
        throw new Error(`edits of trials ${[...pending].map((t) => t.n)} never landed:\n${output()}`);
      await tick();
    }
    await kill(child as ChildProcess);
  }

  /** Between kill and restart: the sessions whose event log already holds their tool result. */
  async function withResult(trials: Trial[]): Promise<Set<string>> {
    const db = await startLocalDynamoDb({ dataDir: join(dataDir, "dynamodb") });
    try {
      const done = new Set<string>();
      for (const { sessionId } of trials) {
        const items = await db.store.query("events", sessionId);
        if (items.some((item) => (item.event as { type?: string } | undefined)?.type === "agent.tool_result"))
          done.add(sessionId);
      }
      return done;
    } finally {
      await db.close();
    }
  }

  async function waitIdle(client: Anthropic, sessionId: string, restartedAt: number) {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const current = await client.beta.sessions.retrieve(sessionId);
      const idleAfterRestartMs = Date.now() - restartedAt;
      if (current.status === "idle") return { stuck: false, idleAfterRestartMs };
      if (Date.now() > deadline) return { stuck: true, idleAfterRestartMs };
      await sleep(25);
    }
  }

  async function checkLog(client: Anthropic, sessionId: string) {
    const events: SessionEvent[] = [];
    for await (const e of client.beta.sessions.events.list(sessionId, { limit: 100 })) events.push(e);
    const uses = events.filter((e) => e.type === "agent.tool_use");
    const results = events.filter((e) => e.type === "agent.tool_result") as ToolResultEvent[];
    expect.soft(new Set(events.map((e) => e.id)).size).toBe(events.length);
    expect.soft(uses).toHaveLength(1);
    expect.soft(results.map((r) => [r.tool_use_id, r.is_error])).toEqual([[uses[0]?.id, false]]);
    expect
      .soft(events.at(-1))
      .toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
  }

  it(`applies an append-style edit once in ${TRIALS} kills in the workspace and ${TRIALS} through a memory mount`, {
    timeout: 60_000 + Math.ceil((2 * TRIALS) / BATCH) * 20_000,
  }, async () => {
    const client = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey, maxRetries: 3 });
    child = await startChild();
    const environment = await client.beta.environments.create({ name: "kill-env" });
    const agent = await client.beta.agents.create({
      name: "editor",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const memoryStore = await client.beta.memoryStores.create({ name: "Kill Notes" });

    /** A session whose first message asks for trial `n`'s edit, and how to see the edit land. */
    async function prepare(kind: Kind, n: number): Promise<Trial & { path: string }> {
      const l = lines(n);
      if (kind === "workspace") {
        const session = await client.beta.sessions.create({
          agent: agent.id,
          environment_id: environment.id,
        });
        const dir = join(dataDir, "workspaces", session.id);
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, `t${n}.txt`), l.original);
        const read = () => {
          try {
            return readFileSync(join(dir, `t${n}.txt`), "utf8");
          } catch {
            return undefined;
          }
        };
        return {
          n,
          sessionId: session.id,
          path: `/workspace/t${n}.txt`,
          changed: () => read()?.includes(l.appended) ?? false,
          content: async () => read(),
        };
      }
      const memory = await client.beta.memoryStores.memories.create(memoryStore.id, {
        path: `/t${n}.md`,
        content: l.original,
      });
      const session = await client.beta.sessions.create({
        agent: agent.id,
        environment_id: environment.id,
        resources: [{ type: "memory_store", memory_store_id: memoryStore.id }],
      });
      const mount = (session.resources[0] as { mount_path: string }).mount_path;
      return {
        n,
        sessionId: session.id,
        path: `${mount}/t${n}.md`,
        // The edited content inside a stored item: newlines escaped by the document, then by the item.
        changed: levelDbWatcher(new RegExp(`T${n} L12(?:\\\\)+nT${n} L13`)),
        content: async () =>
          (
            (await client.beta.memoryStores.memories.retrieve(memory.id, {
              memory_store_id: memoryStore.id,
            })) as { content?: string | null }
          ).content ?? undefined,
      };
    }

    let batchNo = 0;
    for (const kind of ["workspace", "memory"] as const) {
      for (let first = 0; first < TRIALS; first += BATCH) {
        const batch = batchNo++;
        const size = Math.min(BATCH, TRIALS - first);
        const trials: Array<Trial & { path: string }> = [];
        for (let i = 0; i < size; i++) trials.push(await prepare(kind, batch * BATCH + i));
        await Promise.all(
          trials.map((t) =>
            client.beta.sessions.events.send(t.sessionId, {
              events: [
                {
                  type: "user.message",
                  content: [
                    { type: "text", text: `edit ${t.path} for trial ${t.n} of batch ${batch} of ${size}` },
                  ],
                },
              ],
            }),
          ),
        );
        await killWhenChanged(trials);
        const written = await withResult(trials);
        const restartedAt = Date.now();
        child = await startChild();
        const startMs = Date.now() - restartedAt;
        for (const trial of trials) {
          const { stuck, idleAfterRestartMs } = await waitIdle(client, trial.sessionId, restartedAt);
          const after = await trial.content();
          const l = lines(trial.n);
          const doubled = (after ?? "").split(l.appended).length - 1 > 1;
          const hit = !written.has(trial.sessionId);
          outcomes.push({ kind, hit, doubled, stuck, idleAfterRestartMs, startMs });
          // Soft: every trial runs, and the summary counts them all.
          expect.soft(stuck, `trial ${trial.n} (${kind}) stuck:\n${output()}`).toBe(false);
          expect.soft(after, `trial ${trial.n} (${kind})`).toBe(l.edited);
          await checkLog(client, trial.sessionId);
        }
      }
    }

    // Most kills land before the results are written; a run where none did would prove nothing.
    for (const kind of ["workspace", "memory"] as const)
      expect(outcomes.filter((o) => o.kind === kind && o.hit).length, kind).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o.doubled)).toEqual([]);
  });
});
