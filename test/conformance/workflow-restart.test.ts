/**
 * A workflow run survives `kill -9` of the embedded stack: its execution lived in memory, but the run,
 * its calls and its threads are in the store; at start the sweep recovers the run's execution (a call
 * whose thread had answered answers again at once; the call whose thread was working gets a fresh
 * attempt), and the run ends with its result returned to the agent.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type MockMessagesServer,
  type MockResponse,
  mockText,
  type ReceivedRequest,
  startMockMessagesServer,
} from "../fixtures/mock-messages-server.js";
import { freePort, type StackProcess, startStackProcess } from "../fixtures/stack-process.js";

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");
const lastText = (r: ReceivedRequest) => {
  const content = r.body.messages.at(-1)?.content;
  return Array.isArray(content)
    ? content
        .map((b) =>
          b.type === "text"
            ? b.text
            : b.type === "tool_result" && Array.isArray(b.content)
              ? b.content.map((x) => (x.type === "text" ? x.text : "")).join("")
              : "",
        )
        .join("")
    : String(content ?? "");
};

const plan = {
  name: "Survivor",
  phases: [
    { name: "First", steps: [{ type: "agent", id: "one", agent: "worker", input: "step one" }] },
    { name: "Second", steps: [{ type: "agent", id: "two", agent: "worker", input: "after {{steps.one}}" }] },
  ],
};

describe("a workflow run across kill -9", () => {
  const apiKey = `sk-ant-rev-wfrestart-${randomUUID()}`;
  let upstream: MockMessagesServer;
  let dataDir: string;
  let port: number;
  const stacks: StackProcess[] = [];

  beforeAll(async () => {
    upstream = await startMockMessagesServer({
      fallback: (r): MockResponse => {
        if (systemOf(r) === "LEAD") {
          if (/Workflow run wfrun_\S+ \(".*"\) completed/.test(lastText(r))) return mockText("final answer");
          if (r.body.messages.length === 1)
            return {
              stop_reason: "tool_use",
              content: [{ type: "tool_use", name: "start_workflow_run", input: plan }],
            };
          return mockText("waiting for the run");
        }
        return { content: `did ${lastText(r)}`, delayMs: 2_500 };
      },
    });
    dataDir = mkdtempSync(join(tmpdir(), "reverie-wf-restart-"));
    port = await freePort();
  });
  afterAll(async () => {
    for (const stack of stacks) await stack.kill();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    const stack = await startStackProcess(port, {
      REVERIE_DATA_DIR: dataDir,
      REVERIE_API_KEY: apiKey,
      REVERIE_MODEL_PROVIDER: "anthropic",
      ANTHROPIC_API_KEY: "x",
      ANTHROPIC_BASE_URL: upstream.url,
      REVERIE_MODEL_MAX_RETRIES: "0",
    });
    stacks.push(stack);
    return stack;
  };

  it("recovers the run's execution at start and ends the run", async () => {
    const client = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey, maxRetries: 3 });
    const stack = await start();
    const environment = await client.beta.environments.create({ name: "wf-restart" });
    const worker = await client.beta.agents.create({
      name: "worker",
      model: "claude-haiku-4-5",
      system: "WORKER",
    });
    const lead = await client.beta.agents.create({
      name: "lead",
      model: "claude-sonnet-4-6",
      system: "LEAD",
      multiagent: {
        type: "multiagent_20261001",
        subagents: { type: "disabled" },
        workflows: { type: "enabled", predefined_agents: [worker.id] },
      },
    });
    const session = await client.beta.sessions.create({ agent: lead.id, environment_id: environment.id });
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    const events = async () => {
      const out: Event[] = [];
      for await (const e of client.beta.sessions.events.list(session.id, { limit: 100 })) out.push(e);
      return out;
    };
    // Killed while the second call's thread works (the first answered).
    for (let i = 0; i < 200; i++) {
      if ((await events()).filter((e) => e.type === "session.thread_status_running").length >= 2) break;
      await sleep(50);
    }
    expect(
      (await events()).filter((e) => e.type === "session.thread_status_running").length,
    ).toBeGreaterThanOrEqual(2);
    await stack.kill();

    await start();
    let ended: Event | undefined;
    for (let i = 0; i < 600 && !ended; i++) {
      ended = (await events()).find((e) => e.type === "workflow_run.status_ended");
      if (!ended) await sleep(50);
    }
    expect(ended).toMatchObject({ result: { type: "completed" } });
    for (let i = 0; i < 200; i++) {
      if (
        (await events()).some((e) => e.type === "agent.message" && JSON.stringify(e).includes("final answer"))
      )
        break;
      await sleep(50);
    }
    const final = upstream.received.find(
      (r) => systemOf(r) === "LEAD" && /Workflow run wfrun_\S+ \(".*"\) completed/.test(lastText(r)),
    );
    expect(lastText(final as ReceivedRequest)).toContain("## two\ndid after did step one");
    // Each event group once: one created, two phase starts, one end.
    const all = await events();
    expect(all.filter((e) => e.type === "workflow_run.created")).toHaveLength(1);
    expect(all.filter((e) => e.type === "workflow_run.phase_started")).toHaveLength(2);
    expect(all.filter((e) => e.type === "workflow_run.status_ended")).toHaveLength(1);
  });
});
