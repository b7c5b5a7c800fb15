/**
 * The `reverie` CLI, run as its real binary (a child process) against the embedded stack: sessions
 * listed and tailed live (until the turn ends, or across turns with --follow), `--json` output for
 * scripts, exit codes for every kind of failure, a dream reviewed file by file in the terminal
 * (answers on stdin, or flags) and applied, keys created, and a self-hosted environment served by
 * `reverie worker` (the SDK's EnvironmentWorker).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import type { ModelProvider } from "../../shared/core/ports.js";
import { jsonLines, repoRoot, runCli, startCli } from "../fixtures/cli-process.js";
import type { ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { waitFor } from "../fixtures/self-hosted.js";

/** The simulated model, slowed down so that a turn is still running when the CLI looks at it. */
const simulated = new SimulatedModel();
const pace = { ms: 0 };
const pacedModel: ModelProvider = {
  name: "simulated",
  async createMessage(request) {
    await new Promise((r) => setTimeout(r, pace.ms));
    return simulated.createMessage(request);
  },
};

let h: Harness;
let env: Record<string, string>;
const cleanup: string[] = [];

beforeAll(async () => {
  h = await startHarness({ model: pacedModel });
  env = { REVERIE_BASE_URL: h.stack.url, REVERIE_API_KEY: h.stack.apiKey };
});
afterAll(async () => {
  await h.close();
  for (const path of cleanup) rmSync(path, { recursive: true, force: true });
});

const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });

async function newSession(environmentId?: string) {
  const setup = await h.setup();
  return h.client.beta.sessions.create({
    agent: setup.agentId,
    environment_id: environmentId ?? setup.environmentId,
  });
}

describe("reverie sessions", () => {
  it("ls lists sessions as a table and as JSON", async () => {
    const session = await newSession();
    const human = await runCli(["sessions", "ls"], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^ID\s+STATUS\s+AGENT\s+AGE/);
    expect(human.stdout).toContain(session.id);
    const json = await runCli(["sessions", "ls", "--json", "--limit", "5"], env);
    expect(json.code).toBe(0);
    const listed = JSON.parse(json.stdout) as Anthropic.Beta.Sessions.BetaManagedAgentsSession[];
    expect(listed.length).toBeLessThanOrEqual(5);
    expect(listed[0]?.id).toBe(session.id);
    expect(listed[0]?.status).toBe("idle");
  });

  it("tail follows a running turn live and exits 0 when it ends", async () => {
    const session = await newSession();
    pace.ms = 1500;
    try {
      await h.client.beta.sessions.events.send(session.id, {
        events: [say('write "hi" to live.txt then read live.txt')],
      });
      const tail = startCli(["sessions", "tail", session.id], env);
      // It was started while the model was still working: what follows arrived live.
      expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("running");
      expect(await tail.exited).toBe(0);
      const out = tail.stdout();
      expect(out).toContain('user     write "hi" to live.txt then read live.txt');
      expect(out).toMatch(/tool {5}write \{"file_path":"live.txt"/);
      expect(out).toContain("↳ Wrote 1 lines");
      expect(out).toMatch(/agent {4}\[simulated model\] Done\./);
      expect(out.trimEnd().split("\n").at(-1)).toMatch(/— idle \(end_turn\)$/);
      // Each event once, although history and the live stream overlap.
      expect(out.match(/user {5}write "hi"/g)).toHaveLength(1);
    } finally {
      pace.ms = 0;
    }
  });

  it("tail --follow --json prints one event per line across turns, until stopped", async () => {
    const session = await newSession();
    const tail = startCli(["sessions", "tail", session.id, "--follow", "--json"], env);
    await new Promise((r) => setTimeout(r, 1500)); // its stream is open
    for (const text of ['write "one" to a.txt', 'write "two" to b.txt']) {
      await h.client.beta.sessions.events.send(session.id, { events: [say(text)] });
      await h.waitIdle(session.id);
    }
    await waitFor("two idle events", async () =>
      tail.stdout().split("session.status_idle").length > 2 ? true : undefined,
    );
    tail.child.kill("SIGTERM");
    expect(await tail.exited).toBe(0);
    const events = jsonLines(tail.stdout());
    const ids = events.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    const listed = await h.allEvents(session.id);
    expect(ids).toEqual(listed.map((e) => e.id));
    expect(events.filter((e) => e.type === "user.message")).toHaveLength(2);
  });

  it("tail of an idle session prints its history and exits", async () => {
    const session = await newSession();
    await h.client.beta.sessions.events.send(session.id, { events: [say('write "x" to x.txt')] });
    await h.waitIdle(session.id);
    const { code, stdout } = await runCli(["sessions", "tail", session.id, "--json"], env);
    expect(code).toBe(0);
    expect(jsonLines(stdout).at(-1)?.type).toBe("session.status_idle");
  });
});

describe("reverie exit codes", () => {
  it("says what failed, with a code per kind of failure and a JSON error with --json", async () => {
    const missing = await runCli(["sessions", "tail", "sesn_doesnotexist", "--json"], env);
    expect(missing.code).toBe(4);
    expect(JSON.parse(missing.stdout)).toMatchObject({ type: "error", error: { type: "not_found_error" } });
    expect(missing.stderr).toContain("reverie:");

    const badKey = await runCli(["sessions", "ls"], { ...env, REVERIE_API_KEY: "sk-wrong-key-0000000000" });
    expect(badKey.code).toBe(3);
    expect(badKey.stderr).toContain("authentication_error");

    const noKey = await runCli(["sessions", "ls", "--data-dir", "/nonexistent"], {
      REVERIE_BASE_URL: h.stack.url,
    });
    expect(noKey.code).toBe(3);
    expect(noKey.stderr).toContain("no API key");

    const down = await runCli(["sessions", "ls", "--json"], {
      ...env,
      REVERIE_BASE_URL: "http://127.0.0.1:9",
    });
    expect(down.code).toBe(5);
    expect(JSON.parse(down.stdout).error.type).toBe("connection_error");

    expect((await runCli(["sessions", "frobnicate"], env)).code).toBe(2);
    expect((await runCli(["sessions", "ls", "--limit", "zero"], env)).code).toBe(2);
    expect((await runCli(["sessions", "ls", "--no-such-flag"], env)).code).toBe(2);
    const help = await runCli(["--help"], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("sessions tail");
  });
});

describe("reverie dreams review", () => {
  const storeFiles = {
    "/notes/build.md": "Run npm test before pushing.\n",
    "/notes/build-again.md": "Run npm test before pushing.\n",
    "/notes/people.md": "Ada owns the billing service.\n",
  };

  /** A completed dream over three sessions whose changes wait for review. */
  async function dreamInReview(): Promise<{ dreamId: string; storeId: string }> {
    const store = await h.client.beta.memoryStores.create({ name: `cli-dream-${Date.now()}` });
    for (const [path, content] of Object.entries(storeFiles))
      await h.client.beta.memoryStores.memories.create(store.id, { path, content });
    const sessionIds: string[] = [];
    for (const n of [1, 2, 3]) {
      const session = await newSession();
      await h.client.beta.sessions.events.send(session.id, {
        events: [
          say(
            `write "note ${n}" to notes${n}.md then read missing${n}.md then read notes${n}.md. Always run the linter before committing.`,
          ),
        ],
      });
      await h.waitIdle(session.id);
      sessionIds.push(session.id);
    }
    const dream = await h.client.beta.dreams.create({
      inputs: [
        { type: "memory_store", memory_store_id: store.id },
        { type: "sessions", session_ids: sessionIds },
      ],
      model: "claude-sonnet-4-6",
    });
    return { dreamId: dream.id, storeId: store.id };
  }

  async function memoryPaths(storeId: string) {
    const paths: string[] = [];
    for await (const item of h.client.beta.memoryStores.memories.list(storeId))
      if (item.type === "memory") paths.push(item.path);
    return paths.sort();
  }

  it("shows each change as a diff, takes y/n answers on stdin and applies the accepted ones", async () => {
    const { dreamId, storeId } = await dreamInReview();
    const preview = await runCli(["dreams", "review", dreamId, "--wait", "--json"], env);
    expect(preview.code).toBe(0);
    const review = JSON.parse(preview.stdout) as {
      changes: Array<{ path: string; change: string }>;
      result: null;
    };
    expect(review.result).toBeNull(); // --json without decisions applies nothing
    const paths = review.changes.map((c) => c.path);
    const note = paths.find((p) => p.startsWith("/dreams/preferences/"));
    expect(note).toBeDefined();
    expect(paths).toContain("/notes/build.md");

    // Accept the preference note, reject everything else (answers in the order shown).
    const answers = review.changes.map((c) => (c.path === note ? "y" : "n")).join("\n");
    const run = await runCli(["dreams", "review", dreamId], env, { stdin: `${answers}\n` });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`ADDED ${note}`);
    expect(run.stdout).toContain("+# User preference");
    expect(run.stdout).toContain("DELETED /notes/build.md");
    expect(run.stdout).toMatch(/evidence: sesn_/);
    expect(run.stdout).toContain(`applied   ${note}`);
    expect(run.stdout).toContain("rejected /notes/build.md");
    expect(run.stderr).toContain("accept added");
    const live = await memoryPaths(storeId);
    expect(live).toContain(note);
    expect(live).toContain("/notes/build.md"); // rejected: not deleted

    // What was rejected is still reviewable: accept it by flag, as a script would.
    const scripted = await runCli(
      ["dreams", "review", dreamId, "--accept", "/notes/build.md", "--json"],
      env,
    );
    expect(scripted.code).toBe(0);
    const applied = JSON.parse(scripted.stdout) as {
      result: { results: Array<{ path: string; outcome: string }> };
    };
    expect(applied.result.results).toEqual([{ path: "/notes/build.md", outcome: "applied" }]);
    expect(await memoryPaths(storeId)).not.toContain("/notes/build.md");
  });

  it("exits 6 when an accepted change conflicts with a concurrent edit, and overwrites nothing", async () => {
    const { dreamId, storeId } = await dreamInReview();
    await runCli(["dreams", "review", dreamId, "--wait", "--json"], env);
    let memoryId = "";
    for await (const item of h.client.beta.memoryStores.memories.list(storeId))
      if (item.type === "memory" && item.path === "/notes/build.md") memoryId = item.id;
    await h.client.beta.memoryStores.memories.update(memoryId, {
      memory_store_id: storeId,
      content: "Run npm test and lint before pushing.\n",
    });
    const run = await runCli(["dreams", "review", dreamId, "--accept", "/notes/build.md"], env);
    expect(run.code).toBe(6);
    expect(run.stdout).toContain("conflict  /notes/build.md");
    const kept = await h.client.beta.memoryStores.memories.retrieve(memoryId, { memory_store_id: storeId });
    expect(kept.content).toBe("Run npm test and lint before pushing.\n");
    const unknown = await runCli(["dreams", "review", dreamId, "--accept", "/no/such.md"], env);
    expect(unknown.code).toBe(2);
  });
});

describe("reverie keys and worker", () => {
  it("keys create --environment makes the key `reverie worker` serves a self-hosted session with", async () => {
    const environment = await h.client.beta.environments.create({
      name: `cli-self-hosted-${Date.now()}`,
      config: { type: "self_hosted" },
    });
    const created = await runCli(["keys", "create", "--environment", environment.id, "--json"], env);
    expect(created.code).toBe(0);
    const key = JSON.parse(created.stdout) as { key: string; id: string };
    expect(key.key).toMatch(/^sk-ant-env-/);

    const workdir = mkdtempSync(join(tmpdir(), "reverie-cli-worker-"));
    cleanup.push(workdir);
    const worker = startCli(
      ["worker", "--environment", environment.id, "--workdir", workdir, "--worker-id", "cli-test"],
      { REVERIE_BASE_URL: h.stack.url, REVERIE_ENVIRONMENT_KEY: key.key },
    );
    try {
      const session = await newSession(environment.id);
      await h.client.beta.sessions.events.send(session.id, {
        events: [say('write "from the worker" to served.txt then read served.txt')],
      });
      await h.waitIdle(session.id, 60_000);
      const events = await h.allEvents(session.id);
      const results = events.filter((e) => e.type === "user.tool_result");
      expect(results.length).toBeGreaterThanOrEqual(2); // answered by the worker, not the stack
      expect(readFileSync(join(workdir, "served.txt"), "utf8")).toBe("from the worker");
    } finally {
      worker.child.kill("SIGTERM");
    }
    expect(await worker.exited).toBe(0);
    expect(worker.stderr()).toContain(`worker: serving ${environment.id}`);
  });

  it("keys create --local writes a workspace key into a data dir, on the project's Node 24 from any Node", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "reverie-cli-keys-"));
    cleanup.push(dataDir);
    // The system Node (older than 24 on this project's CI) must hand over to the pinned one:
    // the embedded stack's store needs node:sqlite.
    const systemNode = ["/usr/bin/node", "/usr/local/bin/node"].find((p) => existsSync(p));
    const run = await runCli(
      ["keys", "create", "--local", "--data-dir", dataDir, "--json"],
      {},
      systemNode ? { node: systemNode } : {},
    );
    expect(run.code, run.stderr).toBe(0);
    const key = JSON.parse(run.stdout) as { type: string; key: string; workspace_id: string };
    expect(key.type).toBe("api_key");
    expect(key.workspace_id).toMatch(/^wrkspc_/);
    expect(existsSync(join(dataDir, "reverie.sqlite"))).toBe(true);
    expect((await runCli(["keys", "create", "--local", "--table", "t"], {})).code).toBe(2);
  });

  it("is the package's bin", () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as {
      bin?: Record<string, string>;
    };
    expect(pkg.bin?.reverie).toBe("infra/cli/reverie.mjs");
  });
});

describe("reverie sessions tail, with Claude's API (a mock upstream)", () => {
  let up: Harness;
  beforeAll(async () => {
    up = await startHarness();
    const systemOf = (r: ReceivedRequest) =>
      Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");
    const answered = (r: ReceivedRequest) => {
      const content = r.body.messages.at(-1)?.content;
      return Array.isArray(content) && content.some((b) => b.type === "tool_result");
    };
    up.upstream.fallback = (r) => {
      const system = systemOf(r);
      if (system.startsWith("COORDINATOR"))
        return answered(r)
          ? { content: "the team is done", delayMs: 300 }
          : {
              delayMs: 1500,
              content: [
                {
                  type: "tool_use",
                  name: "send_to_agent",
                  input: { agent_name: "alpha", message: "task A" },
                },
              ],
            };
      if (system.startsWith("WORKER")) return { content: "alpha did it", delayMs: 1500 };
      return {
        content: "A reply written a few words at a time, long enough to come in several fragments.",
        delayMs: 2500,
      };
    };
  });
  afterAll(async () => up?.close());
  const upEnv = () => ({ REVERIE_BASE_URL: up.stack.url, REVERIE_API_KEY: up.stack.apiKey });

  it("follows a coordinator's thread, its events indented under the session", async () => {
    const { environmentId } = await up.setup();
    const alpha = await up.client.beta.agents.create({
      name: "alpha",
      model: "claude-haiku-4-5",
      system: "WORKER alpha",
    });
    const lead = await up.client.beta.agents.create({
      name: "lead",
      model: "claude-sonnet-4-6",
      system: "COORDINATOR",
      multiagent: { type: "coordinator", agents: [alpha.id] },
    });
    const session = await up.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
    await up.client.beta.sessions.events.send(session.id, { events: [say("split the work")] });
    const tail = await runCli(["sessions", "tail", session.id], upEnv());
    expect(tail.code, tail.stderr).toBe(0);
    const lines = tail.stdout.split("\n");
    expect(lines.some((l) => /^\S.* {2}tool {5}send_to_agent /.test(l))).toBe(true);
    expect(lines.some((l) => /^\S.* {2}thread {3}sthr_\S+ started \(alpha\)/.test(l))).toBe(true);
    // The thread's own events, indented with its agent's name.
    expect(lines.some((l) => /^ {2}│ alpha {8}\S+ {2}agent {4}alpha did it$/.test(l))).toBe(true);
    expect(lines.some((l) => /^ {2}│ alpha {8}\S+ {2}user {5}task A$/.test(l))).toBe(true);
    expect(lines.some((l) => /^\S.* {2}agent {4}the team is done$/.test(l))).toBe(true);
    expect(lines.filter((l) => l.trim() !== "").at(-1)).toMatch(/— idle \(end_turn\)$/);
  });

  it("on a terminal, shows a progress line with the agent's text as the model writes it", async () => {
    const { agentId, environmentId } = await up.setup();
    const session = await up.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    // `script` gives the command a pseudo-terminal, as a person's shell would.
    const command = `stty cols 160; ${JSON.stringify(process.execPath)} infra/cli/reverie.mjs sessions tail ${session.id} --follow`;
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, TERM: "xterm", ...upEnv() },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let screen = "";
    child.stdout.on("data", (chunk: Buffer) => {
      screen += chunk.toString();
    });
    const exited = new Promise((r) => child.once("exit", r));
    try {
      // On a terminal the tail asks for previews: wait until its stream listens for them.
      const previews = up.stack.services.deps.notifier.previews;
      await waitFor("the tail's stream", async () => (previews?.listening(session.id) ? true : undefined));
      await up.client.beta.sessions.events.send(session.id, { events: [say("talk to me")] });
      await waitFor("the turn to end on screen", async () =>
        screen.includes("— idle (end_turn)") ? true : undefined,
      );
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
    // The progress line said the agent was working, then showed its words before the message landed.
    expect(screen).toContain("tester is working…");
    expect(screen).toMatch(/tester: …A reply written/);
    expect(screen.indexOf("tester: …A reply written")).toBeLessThan(
      screen.indexOf("agent    A reply written"),
    );
    expect(screen).toContain(
      "agent    A reply written a few words at a time, long enough to come in several fragments.",
    );
  });
});
