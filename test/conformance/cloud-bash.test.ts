/**
 * `bash` in cloud environments, through the official SDK against the embedded stack: the command runs
 * in the session's bubblewrap sandbox over its workspace (one filesystem with the file tools, a
 * persistent shell), a runaway command ends at its timeout and the session goes on, and the sandbox
 * sees none of the stack's secrets, data dir or port, and cannot write a read-only memory mount.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;

let h: Harness;
let dataDir: string;
const secret = `sk-ant-must-not-leak-${Date.now()}`;

beforeAll(async () => {
  process.env.ANTHROPIC_API_KEY = secret;
  process.env.REVERIE_API_KEY = secret;
  dataDir = mkdtempSync(join(tmpdir(), "reverie-bash-"));
  h = await startHarness({ dataDir });
});
afterAll(async () => {
  await h.close();
  delete process.env.ANTHROPIC_API_KEY;
  delete process.env.REVERIE_API_KEY;
  rmSync(dataDir, { recursive: true, force: true });
});

const text = (value: string) => ({ type: "text" as const, text: value });

/** Runs one turn whose model calls `bash` with each command in turn, and returns the results. */
async function runCommands(
  sessionId: string,
  calls: Array<{ name?: string; input: Record<string, unknown> }>,
): Promise<Array<{ isError: boolean; text: string }>> {
  h.upstream.script(...calls.map((c) => mockToolUse(c.name ?? "bash", c.input)), mockText("done"));
  await h.client.beta.sessions.events.send(sessionId, {
    events: [{ type: "user.message", content: [text("go")] }],
  });
  await h.waitIdle(sessionId, 60_000);
  const events = await h.allEvents(sessionId);
  const results = events.filter(
    (e): e is Extract<Event, { type: "agent.tool_result" }> => e.type === "agent.tool_result",
  );
  return results.slice(-calls.length).map((r) => ({
    isError: r.is_error ?? false,
    text: (r.content ?? []).map((b) => (b.type === "text" ? b.text : "")).join(""),
  }));
}

describe("bash in a cloud environment", () => {
  it("is offered to the model and runs in the session's sandbox, sharing the workspace with the file tools", async () => {
    expect(h.stack.bash.available).toBe(true);
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const results = await runCommands(session.id, [
      { input: { command: "echo $((6*7))" } },
      { input: { command: "mkdir -p sub && cd sub && export GREETING=hello && echo made > made.txt" } },
      { input: { command: "pwd; echo $GREETING" } },
      { name: "read", input: { file_path: "sub/made.txt" } },
      { name: "write", input: { file_path: "from-tool.txt", content: "written by the file tool\n" } },
      { input: { command: "cat /workspace/from-tool.txt" } },
    ]);
    expect(results.map((r) => r.isError)).toEqual([false, false, false, false, false, false]);
    expect(results[0]?.text).toBe("42");
    expect(results[2]?.text).toBe("/workspace/sub\nhello");
    expect(results[3]?.text).toContain("made");
    expect(results[5]?.text).toBe("written by the file tool");
    const request = h.upstream.requests.at(-1);
    expect(request?.tools?.map((t) => (t as { name?: string }).name)).toContain("bash");
  });

  it("ends a runaway command at its timeout and goes on with a fresh shell", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const results = await runCommands(session.id, [
      { input: { command: "sleep 999", timeout_ms: 1000 } },
      // A fork bomb in the foreground: capped by the sandbox's process limit, killed at its timeout.
      { input: { command: "bomb() { bomb | bomb; }; bomb", timeout_ms: 2000 } },
      { input: { command: "echo still here" } },
    ]);
    expect(results[0]).toMatchObject({
      isError: true,
      text: expect.stringContaining("timed out after 1000 ms"),
    });
    expect(results[1]?.isError).toBe(true);
    expect(results[2]).toEqual({ isError: false, text: "still here" });
    expect((await h.client.beta.sessions.retrieve(session.id)).status).toBe("idle");
  });

  it("keeps the stack's secrets, data dir and port out of reach", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const port = new URL(h.stack.url).port;
    const results = await runCommands(session.id, [
      { input: { command: "env" } },
      {
        input: { command: `ls ${dataDir} ${join(dataDir, "api-key")} 2>&1; cat ${join(dataDir, "api-key")}` },
      },
      { input: { command: `exec 3<>/dev/tcp/127.0.0.1/${port} && echo connected`, timeout_ms: 5000 } },
    ]);
    expect(results[0]?.text).not.toContain(secret);
    expect(results[0]?.text).not.toMatch(/ANTHROPIC|REVERIE|AWS_/);
    expect(results[1]?.text).not.toContain(h.stack.apiKey);
    expect(results[2]?.text).not.toContain("connected");
  });

  it("sees memory stores as directories: writes to read_write stores land as the session, read_only ones refuse", async () => {
    const { agentId, environmentId } = await h.setup();
    const rw = await h.client.beta.memoryStores.create({ name: "bash notes" });
    const ro = await h.client.beta.memoryStores.create({ name: "bash rules" });
    await h.client.beta.memoryStores.memories.create(ro.id, { path: "/rule.md", content: "be careful\n" });
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      resources: [
        { type: "memory_store", memory_store_id: rw.id, access: "read_write" },
        { type: "memory_store", memory_store_id: ro.id, access: "read_only" },
      ],
    });
    const [rwMount, roMount] = session.resources.map((r) => (r as { mount_path: string }).mount_path);
    // The write comes first: nothing untrusted is in the context before it but the command itself.
    const results = await runCommands(session.id, [
      { input: { command: `echo learned > ${rwMount}/from-bash.md && echo ok` } },
      { input: { command: `cat ${roMount}/rule.md` } },
      { input: { command: `echo nope > ${roMount}/rule.md` } },
    ]);
    expect(results[1]?.text).toBe("be careful");
    expect(results[0]).toEqual({ isError: false, text: "ok" });
    expect(results[2]?.isError).toBe(true);
    const memories: Array<{ path: string; id: string }> = [];
    for await (const m of h.client.beta.memoryStores.memories.list(rw.id))
      if (m.type === "memory") memories.push(m);
    const written = memories.find((m) => m.path === "/from-bash.md");
    expect(written).toBeDefined();
    const versions: Anthropic.Beta.MemoryStores.BetaManagedAgentsMemoryVersion[] = [];
    for await (const v of h.client.beta.memoryStores.memoryVersions.list(rw.id, { memory_id: written?.id }))
      versions.push(v);
    expect(versions[0]?.created_by).toEqual({ type: "session_actor", session_id: session.id });
    // Whatever the command wrote may come from what it read: the version is tainted by bash.
    expect(
      (versions[0] as unknown as { reverie: { tainted: boolean; taint_sources: string[] } }).reverie,
    ).toMatchObject({
      tainted: true,
      taint_sources: expect.arrayContaining(["bash"]),
    });
    const rule = await h.client.beta.memoryStores.memories.list(ro.id, { view: "full" });
    expect(rule.data.find((m) => m.type === "memory" && m.path === "/rule.md")).toMatchObject({
      content: "be careful\n",
    });
  });
});
