/**
 * Faults around self-hosted workers, driven through the official SDK's `EnvironmentWorker` (a child
 * process) against the embedded stack: a worker that dies while a tool call runs, and what the next
 * worker is handed.
 */
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

function startWorker(environmentId: string, key: string, workdir: string, id: string): ChildProcess {
  const child = spawnEnvironmentWorker({ baseURL: h.stack.url, environmentId, key, workdir, id });
  workers.push(child);
  return child;
}

describe("a worker that dies while a tool call runs", () => {
  it("the next worker takes the item, and the call that may have run is reported interrupted, not run again", async () => {
    const { environmentId, key } = await createSelfHostedEnvironment(h.client, "mid-tool");
    const agent = await h.client.beta.agents.create({
      name: "mid-tool-agent",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const workdir = mkdtempSync(join(tmpdir(), "reverie-worker-midtool-"));
    cleanup.push(workdir);
    h.upstream.script(
      mockToolUse("bash", { command: "echo started >> log.txt && sleep 8" }),
      mockToolUse("bash", { command: "echo after >> log.txt && cat log.txt" }),
      mockText("done"),
    );
    const first = startWorker(environmentId, key, workdir, "worker-dies");
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "run it" }] }],
    });
    await waitFor("the command to start", async () =>
      existsSync(join(workdir, "log.txt")) ? true : undefined,
    );
    first.kill("SIGKILL");
    startWorker(environmentId, key, workdir, "worker-takes-over");
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
    expect(uses).toHaveLength(2);
    const answers = (id: string | undefined) =>
      events.filter(
        (e) => e.type.endsWith("tool_result") && (e as { tool_use_id?: string }).tool_use_id === id,
      );
    // The call the dead worker was running: answered once, as interrupted.
    expect(answers(uses[0]?.id)).toEqual([
      expect.objectContaining({ type: "user.tool_result", is_error: true }),
    ]);
    expect(JSON.stringify(answers(uses[0]?.id))).toMatch(/Interrupted: the worker running this call stopped/);
    // It never ran a second time; the next call ran on the new worker.
    expect(readFileSync(join(workdir, "log.txt"), "utf8")).toBe("started\nafter\n");
    expect(toolResultText(answers(uses[1]?.id)[0])).toBe("started\nafter");
  });
});

describe("a call the server answered (interrupted) before a worker came", () => {
  it("is not run by the worker that serves the next turn, and does not hold that turn up", async () => {
    const { environmentId, key } = await createSelfHostedEnvironment(h.client, "answered");
    const agent = await h.client.beta.agents.create({
      name: "answered-agent",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const workdir = mkdtempSync(join(tmpdir(), "reverie-worker-answered-"));
    cleanup.push(workdir);
    h.upstream.script(mockToolUse("bash", { command: "echo interrupted-call >> log.txt" }));
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "first" }] }],
    });
    await waitFor("the call to be dispatched", async () =>
      (await h.allEvents(session.id)).some((e) => e.type === "agent.tool_use") ? true : undefined,
    );
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    await h.waitIdle(session.id, 5_000);

    h.upstream.script(
      mockToolUse("bash", { command: "echo next-turn >> log.txt && cat log.txt" }),
      mockText("ok"),
    );
    startWorker(environmentId, key, workdir, "worker-next-turn");
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "second" }] }],
    });
    await waitFor("the second turn to end", async () => {
      const events = await h.allEvents(session.id);
      return events.filter((e) => e.type === "session.status_idle").length >= 2 &&
        events.at(-1)?.type === "session.status_idle"
        ? true
        : undefined;
    });
    expect(readFileSync(join(workdir, "log.txt"), "utf8")).toBe("next-turn\n");
  });
});
