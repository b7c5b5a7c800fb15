/**
 * Self-hosted environments served by the official SDK's `EnvironmentWorker`, unchanged, in a child
 * process: the scripted upstream model calls bash, write, read, edit, glob and grep; every result
 * comes back through the worker; a mounted memory store round-trips a write; a worker killed with
 * SIGKILL is replaced by a second one after its lease lapses, with no tool result lost or doubled.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import {
  createSelfHostedEnvironment,
  spawnEnvironmentWorker,
  toolResultText,
  waitFor,
} from "../fixtures/self-hosted.js";

let h: Harness;
const workers: ChildProcess[] = [];
const cleanup: string[] = [];

beforeAll(async () => {
  h = await startHarness({ env: { REVERIE_WORK_LEASE_SECONDS: "3", REVERIE_WORKER_TIMEOUT_SECONDS: "60" } });
});
afterEach(() => {
  for (const w of workers.splice(0)) w.kill("SIGKILL");
});
afterAll(async () => {
  await h.close();
  for (const path of cleanup) rmSync(path, { recursive: true, force: true });
});

const selfHostedEnvironment = () => createSelfHostedEnvironment(h.client, "self-hosted");

function startWorker(environmentId: string, key: string, workdir: string, id: string): ChildProcess {
  const child = spawnEnvironmentWorker({ baseURL: h.stack.url, environmentId, key, workdir, id });
  workers.push(child);
  return child;
}

const resultText = toolResultText;

describe("self-hosted environment served by the SDK's EnvironmentWorker", () => {
  it("runs bash, write, read, edit, glob and grep through the worker and round-trips a memory store", async () => {
    const { environmentId, key } = await selfHostedEnvironment();
    const agent = await h.client.beta.agents.create({
      name: "worker-agent",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const store = await h.client.beta.memoryStores.create({ name: `worker notes ${Date.now()}` });
    await h.client.beta.memoryStores.memories.create(store.id, {
      path: "/seed.md",
      content: "seeded fact\n",
    });
    const session = await h.client.beta.sessions.create({
      agent: agent.id,
      environment_id: environmentId,
      resources: [{ type: "memory_store", memory_store_id: store.id, access: "read_write" }],
    });
    const mount = (session.resources[0] as { mount_path: string }).mount_path;
    cleanup.push(mount);
    const workdir = mkdtempSync(join(tmpdir(), "reverie-worker-"));
    cleanup.push(workdir);

    h.upstream.script(
      mockToolUse("bash", { command: "echo $((6*7))" }),
      mockToolUse("write", { file_path: "notes.txt", content: "alpha\nline two\n" }),
      mockToolUse("read", { file_path: "notes.txt" }),
      mockToolUse("edit", { file_path: "notes.txt", old_string: "alpha", new_string: "beta" }),
      mockToolUse("glob", { pattern: "*.txt" }),
      mockToolUse("grep", { pattern: "beta" }),
      mockToolUse("read", { file_path: `${mount}/seed.md` }),
      mockToolUse("write", { file_path: `${mount}/learned.md`, content: "the worker wrote this\n" }),
      mockText("all done"),
    );
    startWorker(environmentId, key, workdir, "worker-a");
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "use every tool" }] }],
    });
    await waitFor("the turn to end", async () => {
      const s = await h.client.beta.sessions.retrieve(session.id);
      const events = await h.allEvents(session.id);
      return s.status === "idle" && events.some((e) => e.type === "session.status_idle") ? s : undefined;
    });

    const events = await h.allEvents(session.id);
    const uses = events.filter((e) => e.type === "agent.tool_use");
    expect(uses.map((u) => u.name)).toEqual([
      "bash",
      "write",
      "read",
      "edit",
      "glob",
      "grep",
      "read",
      "write",
    ]);
    for (const use of uses) expect(use.evaluated_permission).toBe("allow");
    // Every call answered exactly once, by the worker (user.tool_result), never by the server.
    expect(events.filter((e) => e.type === "agent.tool_result")).toEqual([]);
    const results = events.filter((e) => e.type === "user.tool_result");
    expect(results.map((r) => (r as { tool_use_id: string }).tool_use_id)).toEqual(uses.map((u) => u.id));
    const byUse = (i: number) =>
      results.find((r) => (r as { tool_use_id: string }).tool_use_id === uses[i]?.id);
    expect(resultText(byUse(0))).toBe("42");
    expect(resultText(byUse(2))).toContain("alpha");
    expect(resultText(byUse(4))).toContain("notes.txt");
    expect(resultText(byUse(5))).toContain("beta");
    expect(resultText(byUse(6))).toContain("seeded fact");
    for (const r of results) expect((r as { is_error?: boolean }).is_error).toBeFalsy();
    expect(readFileSync(join(workdir, "notes.txt"), "utf8")).toBe("beta\nline two\n");
    // The model saw each worker result in its next request.
    const lastRequest = h.upstream.requests.at(-1);
    expect(JSON.stringify(lastRequest?.messages)).toContain("42");

    // The worker's memory sync lands in the store as the session, with provenance.
    const learned = await waitFor("the memory sync", async () => {
      for await (const m of h.client.beta.memoryStores.memories.list(store.id))
        if (m.type === "memory" && m.path === "/learned.md") return m;
      return undefined;
    });
    const full = await h.client.beta.memoryStores.memories.retrieve(learned.id, {
      memory_store_id: store.id,
    });
    expect(full.content).toBe("the worker wrote this\n");
    const versions: Anthropic.Beta.MemoryStores.BetaManagedAgentsMemoryVersion[] = [];
    for await (const v of h.client.beta.memoryStores.memoryVersions.list(store.id, { memory_id: learned.id }))
      versions.push(v);
    expect(versions[0]?.created_by).toEqual({ type: "session_actor", session_id: session.id });
    // What bash printed and what read showed entered the context: the synced write carries that taint.
    const reverie = (
      versions[0] as unknown as {
        reverie: { tainted: boolean; taint_sources: string[]; tool_use_event_id: string };
      }
    ).reverie;
    expect(reverie.tainted).toBe(true);
    expect(reverie.taint_sources).toEqual(expect.arrayContaining(["bash", "file"]));
    expect(reverie.tool_use_event_id).toBe(uses.at(-1)?.id);

    // The work item was handed out, acknowledged, heartbeated and stopped by the worker.
    const items = await h.client.beta.environments.work.list(environmentId);
    const item = items.data.find((w) => w.data.id === session.id);
    expect(item?.acknowledged_at).toBeTruthy();
    expect(item?.latest_heartbeat_at).toBeTruthy();
    await waitFor("the worker to stop its item", async () => {
      const w = await h.client.beta.environments.work.retrieve(item?.id as string, {
        environment_id: environmentId,
      });
      return w.state === "stopped" ? w : undefined;
    });
  });

  it("survives a worker killed with SIGKILL: a second worker takes the item after its lease lapses", async () => {
    const { environmentId, key } = await selfHostedEnvironment();
    const agent = await h.client.beta.agents.create({
      name: "kill-agent",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const workdir = mkdtempSync(join(tmpdir(), "reverie-worker-kill-"));
    cleanup.push(workdir);

    let killed = false;
    const first = startWorker(environmentId, key, workdir, "worker-1");
    h.upstream.script(
      mockToolUse("bash", { command: "echo one >> log.txt && cat log.txt" }),
      // While the model "thinks" about the second call, the first worker dies (and its connections
      // close) before the call is made: it never saw the call, so the second worker runs it. (One that
      // dies while running a call: test/conformance/self-hosted-worker-faults.test.ts.)
      async () => {
        const exited = new Promise((resolve) => first.once("exit", resolve));
        first.kill("SIGKILL");
        await exited;
        await new Promise((r) => setTimeout(r, 200));
        killed = true;
        return mockToolUse("bash", { command: "echo two >> log.txt && cat log.txt" });
      },
      mockText("done"),
    );
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "append twice" }] }],
    });
    await waitFor("the first worker's death", async () => (killed ? true : undefined));
    startWorker(environmentId, key, workdir, "worker-2");
    await waitFor(
      "the turn to end",
      async () => {
        const events = await h.allEvents(session.id);
        return events.some((e) => e.type === "session.status_idle") ? true : undefined;
      },
      40_000,
    );

    const events = await h.allEvents(session.id);
    const uses = events.filter((e) => e.type === "agent.tool_use");
    const results = events.filter((e) => e.type === "user.tool_result");
    expect(uses).toHaveLength(2);
    expect(results.map((r) => (r as { tool_use_id: string }).tool_use_id)).toEqual(uses.map((u) => u.id));
    expect(readFileSync(join(workdir, "log.txt"), "utf8")).toBe("one\ntwo\n");
    expect(resultText(results[1])).toBe("one\ntwo");
    // Two lease generations: the item was handed to a second worker.
    const items = await h.client.beta.environments.work.list(environmentId);
    expect(items.data.filter((w) => w.data.id === session.id)).toHaveLength(1);
  });
});

describe("permission policies with a worker", () => {
  it("holds an always_ask call until the user allows it, then the worker runs it; a denied call never runs", async () => {
    const { environmentId, key } = await selfHostedEnvironment();
    const agent = await h.client.beta.agents.create({
      name: "asking-agent",
      model: "claude-sonnet-4-6",
      tools: [
        { type: "agent_toolset_20260401", default_config: { permission_policy: { type: "always_ask" } } },
      ],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const workdir = mkdtempSync(join(tmpdir(), "reverie-worker-ask-"));
    cleanup.push(workdir);
    h.upstream.script(
      mockToolUse("bash", { command: "echo allowed > allowed.txt && echo ran" }),
      mockToolUse("bash", { command: "echo denied > denied.txt" }),
      mockText("done"),
    );
    startWorker(environmentId, key, workdir, "worker-ask");
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "run two commands" }] }],
    });
    const confirm = async (n: number, result: "allow" | "deny") => {
      const use = await waitFor(`tool call ${n} to wait for confirmation`, async () => {
        const s = await h.client.beta.sessions.retrieve(session.id);
        const uses = (await h.allEvents(session.id)).filter((e) => e.type === "agent.tool_use");
        return s.status === "idle" && uses.length === n ? uses[n - 1] : undefined;
      });
      expect(use).toMatchObject({ name: "bash", evaluated_permission: "ask" });
      await h.client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.tool_confirmation", tool_use_id: use?.id as string, result }],
      });
      return use?.id as string;
    };
    const first = await confirm(1, "allow");
    const second = await confirm(2, "deny");
    await waitFor("the turn to end", async () => {
      const events = await h.allEvents(session.id);
      return events.at(-1)?.type === "session.status_idle" && events.some((e) => e.type === "agent.message")
        ? true
        : undefined;
    });
    const events = await h.allEvents(session.id);
    const answer = (id: string) =>
      events.filter(
        (e) => (e as { tool_use_id?: string }).tool_use_id === id && e.type.endsWith("tool_result"),
      );
    expect(answer(first)).toEqual([expect.objectContaining({ type: "user.tool_result" })]);
    expect(resultText(answer(first)[0])).toBe("ran");
    expect(answer(second)).toEqual([expect.objectContaining({ type: "agent.tool_result", is_error: true })]);
    expect(readFileSync(join(workdir, "allowed.txt"), "utf8")).toBe("allowed\n");
    expect(() => readFileSync(join(workdir, "denied.txt"))).toThrow();
  });
});

describe("the work API's guards", () => {
  it("an environment key may only poll its own environment, and nothing else", async () => {
    const a = await selfHostedEnvironment();
    const b = await selfHostedEnvironment();
    const worker = new Anthropic({ baseURL: h.stack.url, apiKey: a.key, maxRetries: 0 });
    expect(await worker.beta.environments.work.poll(a.environmentId)).toBeNull();
    await expect(worker.beta.environments.work.poll(b.environmentId)).rejects.toBeInstanceOf(
      Anthropic.NotFoundError,
    );
    await expect(worker.beta.agents.list()).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
    await expect(worker.beta.sessions.list()).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
    // A revoked key stops working.
    const keys = (await h.client.get(`/v1/environments/${a.environmentId}/keys`)) as {
      data: { id: string }[];
    };
    await h.client.delete(`/v1/environments/${a.environmentId}/keys/${keys.data[0]?.id}`);
    await expect(worker.beta.environments.work.poll(a.environmentId)).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
  });

  it("a sessions token serves only its session, dies with its lease, and a stale heartbeat is a 412", async () => {
    const { environmentId, key } = await selfHostedEnvironment();
    const agent = await h.client.beta.agents.create({
      name: "token-agent",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const other = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    h.upstream.script(mockToolUse("bash", { command: "true" }));
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    const poller = new Anthropic({ baseURL: h.stack.url, apiKey: key, maxRetries: 0 });
    const work = await waitFor(
      "a work item",
      async () => (await poller.beta.environments.work.poll(environmentId)) ?? undefined,
    );
    expect(work.data).toEqual({ type: "session", id: session.id });
    const secret = JSON.parse(Buffer.from(work.secret as string, "base64url").toString("utf8")) as {
      sessions_token: string;
    };
    const token = new Anthropic({ baseURL: h.stack.url, apiKey: secret.sessions_token, maxRetries: 0 });
    await token.beta.environments.work.ack(work.id, { environment_id: environmentId });
    expect((await token.beta.sessions.retrieve(session.id)).id).toBe(session.id);
    await expect(token.beta.sessions.retrieve(other.id)).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(
      token.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "impersonate the user" }] }],
      }),
    ).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
    await expect(token.beta.agents.list()).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);

    const beat = await token.beta.environments.work.heartbeat(work.id, {
      environment_id: environmentId,
      expected_last_heartbeat: "NO_HEARTBEAT",
    });
    expect(beat).toMatchObject({
      type: "work_heartbeat",
      lease_extended: true,
      state: "active",
      ttl_seconds: 3,
    });
    await expect(
      token.beta.environments.work.heartbeat(work.id, {
        environment_id: environmentId,
        expected_last_heartbeat: "NO_HEARTBEAT",
      }),
    ).rejects.toMatchObject({ status: 412, errorCode: "heartbeat_precondition_failed" });

    // The lease lapses; the item is handed out again with a new token; the old one is dead.
    await new Promise((r) => setTimeout(r, 3500));
    const again = await waitFor(
      "the re-offered item",
      async () => (await poller.beta.environments.work.poll(environmentId)) ?? undefined,
    );
    expect(again.id).toBe(work.id);
    await expect(token.beta.sessions.retrieve(session.id)).rejects.toBeInstanceOf(
      Anthropic.AuthenticationError,
    );
    await expect(
      token.beta.environments.work.heartbeat(work.id, {
        environment_id: environmentId,
        expected_last_heartbeat: beat.last_heartbeat,
      }),
    ).rejects.toMatchObject({ status: 412 });
    const stats = await h.client.beta.environments.work.stats(environmentId);
    expect(stats).toMatchObject({ type: "work_queue_stats", pending: 1 });
    await h.client.beta.environments.work.stop(work.id, { environment_id: environmentId, force: true });
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    await h.waitIdle(session.id);
  });

  it("an interrupt ends a turn that waits for a worker at once", async () => {
    const { environmentId } = await selfHostedEnvironment();
    const agent = await h.client.beta.agents.create({
      name: "interrupted",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    h.upstream.script(mockToolUse("bash", { command: "sleep 1" }));
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "wait for it" }] }],
    });
    await waitFor("the call to be dispatched", async () => {
      const events = await h.allEvents(session.id);
      return events.some((e) => e.type === "agent.tool_use") ? true : undefined;
    });
    expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("running");
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    const idle = await h.waitIdle(session.id, 5_000);
    expect(idle.status).toBe("idle");
    const events = await h.allEvents(session.id);
    expect(events.findLast((e) => e.type === "session.status_idle")).toMatchObject({
      stop_reason: { type: "end_turn" },
    });
    // The interrupted call is answered (it must not run later), so the next turn does not wait on it:
    // as a user.tool_result, the answer the SDK's worker reads (test/conformance/self-hosted-worker-faults.test.ts).
    const use = events.find((e) => e.type === "agent.tool_use");
    expect(events.filter((e) => (e as { tool_use_id?: string }).tool_use_id === use?.id)).toEqual([
      expect.objectContaining({ type: "user.tool_result", is_error: true }),
    ]);
    const before = h.upstream.requests.length;
    h.upstream.script(mockText("fresh turn"));
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "something else" }] }],
    });
    await waitFor(
      "the next turn's model call",
      async () => (h.upstream.requests.length > before ? true : undefined),
      10_000,
    );
    expect((await h.waitIdle(session.id, 10_000)).status).toBe("idle");
  });

  it("takes a large worker result (a 200 KB read) and stores it cut to size", async () => {
    const { environmentId, key } = await selfHostedEnvironment();
    const agent = await h.client.beta.agents.create({
      name: "big-reader",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const workdir = mkdtempSync(join(tmpdir(), "reverie-worker-big-"));
    cleanup.push(workdir);
    writeFileSync(join(workdir, "big.txt"), `${"\u0001".repeat(999)}\n`.repeat(200));
    h.upstream.script(mockToolUse("read", { file_path: "big.txt" }), mockText("read it"));
    startWorker(environmentId, key, workdir, "worker-big");
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "read big.txt" }] }],
    });
    await waitFor("the turn to end", async () => {
      const events = await h.allEvents(session.id);
      return events.some((e) => e.type === "session.status_idle") ? true : undefined;
    });
    const events = await h.allEvents(session.id);
    expect(events.findLast((e) => e.type === "session.status_idle")).toMatchObject({
      stop_reason: { type: "end_turn" },
    });
    const result = events.find((e) => e.type === "user.tool_result");
    expect(resultText(result)).toMatch(/\[output truncated: the result was \d+ bytes stored/);
  });

  it("a session whose worker never comes ends its turn after the timeout, never stuck running", async () => {
    const timeoutHarness = await startHarness({
      env: { REVERIE_WORKER_TIMEOUT_SECONDS: "1", REVERIE_SWEEP_INTERVAL_SECONDS: "0.5" },
    });
    try {
      const environment = await timeoutHarness.client.beta.environments.create({
        name: "nobody-home",
        config: { type: "self_hosted" },
      });
      const agent = await timeoutHarness.client.beta.agents.create({
        name: "lonely",
        model: "claude-sonnet-4-6",
        tools: [{ type: "agent_toolset_20260401" }],
      });
      const session = await timeoutHarness.client.beta.sessions.create({
        agent: agent.id,
        environment_id: environment.id,
      });
      timeoutHarness.upstream.script(mockToolUse("bash", { command: "ls" }));
      await timeoutHarness.client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "list files" }] }],
      });
      const idle = await timeoutHarness.waitIdle(session.id, 20_000);
      expect(idle.status).toBe("idle");
      const events = await timeoutHarness.allEvents(session.id);
      const stop = events.findLast((e) => e.type === "session.status_idle");
      expect(stop).toMatchObject({ stop_reason: { type: "retries_exhausted" } });
      expect(events.find((e) => e.type === "session.error")).toMatchObject({
        error: { type: "unknown_error", retry_status: { type: "terminal" } },
      });
      const result = events.find((e) => e.type === "user.tool_result");
      expect(result).toMatchObject({ is_error: true });
    } finally {
      await timeoutHarness.close();
    }
  });
});
