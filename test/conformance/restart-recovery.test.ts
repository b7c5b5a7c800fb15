/**
 * Recovery at start: after `kill -9`, the restarted embedded stack releases every lease the dead
 * process held and resumes those sessions at once (with a log line each), rather than when the dead
 * leases expire (150 s by default), and the downtime is not counted as active time.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type MockMessagesServer,
  mockText,
  startMockMessagesServer,
} from "../fixtures/mock-messages-server.js";
import { freePort, type StackProcess, startStackProcess } from "../fixtures/stack-process.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("restart after kill -9", () => {
  const apiKey = `sk-ant-rev-restart-${randomUUID()}`;
  let upstream: MockMessagesServer;
  let dataDir: string;
  let port: number;
  const stacks: StackProcess[] = [];

  beforeAll(async () => {
    upstream = await startMockMessagesServer({ delayMs: 1_500, fallback: mockText("done") });
    dataDir = mkdtempSync(join(tmpdir(), "reverie-restart-"));
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
      REVERIE_LOG_LEVEL: "INFO",
      // The defaults that made recovery wait for the dead process's leases: 150 s leases, 30 s sweeps.
    });
    stacks.push(stack);
    return stack;
  };

  it("resumes every interrupted session within 10 s of the restart", async () => {
    const client = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey, maxRetries: 3 });
    let stack = await start();
    const environment = await client.beta.environments.create({ name: "restart-env" });
    const agent = await client.beta.agents.create({ name: "patient", model: "claude-sonnet-4-6" });
    const sessions = await Promise.all(
      [1, 2, 3].map(() => client.beta.sessions.create({ agent: agent.id, environment_id: environment.id })),
    );
    for (const session of sessions)
      await client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "take your time" }] }],
      });
    // Every session is mid model call (the upstream answers after 1.5 s) when the stack dies.
    const deadline = Date.now() + 10_000;
    while (upstream.received.length < sessions.length) {
      if (Date.now() > deadline) throw new Error(`model calls did not start:\n${stack.output()}`);
      await sleep(20);
    }
    await stack.kill();
    await sleep(2_000); // down for a while: this must not count as active time
    stack = await start();
    // From the moment the new process serves: how long it takes to boot is the machine's (4.4 s at
    // load 5 on CI), how long it takes to pick up the interrupted runs is Reverie's.
    const restartedAt = Date.now();
    for (const session of sessions) {
      for (;;) {
        const current = await client.beta.sessions.retrieve(session.id);
        if (current.status === "idle") {
          expect(current.stats.active_seconds ?? 0).toBeLessThan(5);
          break;
        }
        if (Date.now() - restartedAt > 10_000)
          throw new Error(
            `session ${session.id} still ${current.status} 10 s after the restart:\n${stack.output()}`,
          );
        await sleep(100);
      }
    }
    const resumedLines = stack
      .output()
      .split("\n")
      .filter((line) => line.includes("resuming a run"));
    for (const session of sessions) expect(resumedLines.some((line) => line.includes(session.id))).toBe(true);
  });
});
