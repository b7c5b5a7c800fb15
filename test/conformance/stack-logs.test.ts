/**
 * The stack's log says what happens (issue 14): `npm start`'s entry as a child process, driven by the
 * official SDK through a session with an outcome, a webhook endpoint and a dream; its stdout holds one
 * structured INFO line per API request, per agent step and per grader, dream and webhook job — with
 * ids, never the message's content or the API key.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, type StackProcess, startStackProcess } from "../fixtures/stack-process.js";

const API_KEY = "sk-reverie-logtest-0123456789abcdef";
/** Words that appear only in what the user sent: none of them may reach the log. */
const SECRET_WORDS = "PLUMAGE-7731-LOGTEST";

let stack: StackProcess;
let client: Anthropic;
let receiver: Server;
let dataDir: string;
const deliveries: string[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      deliveries.push(String(req.headers["webhook-id"]));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  dataDir = mkdtempSync(join(tmpdir(), "reverie-logs-"));
  const port = await freePort();
  stack = await startStackProcess(port, {
    REVERIE_DATA_DIR: dataDir,
    REVERIE_API_KEY: API_KEY,
    REVERIE_WEBHOOK_ALLOW_PRIVATE: "1",
  });
  client = new Anthropic({ baseURL: `http://127.0.0.1:${port}`, apiKey: API_KEY, maxRetries: 0 });
});
afterAll(async () => {
  await stack?.kill();
  await new Promise((resolve) => receiver?.close(resolve));
  rmSync(dataDir, { recursive: true, force: true });
});

type WebhookEvents = Anthropic.Beta.Organization.WebhookCreateParams["enabled_events"];
type LogLine = Record<string, unknown> & { level: string; message: string };

/** The stack's structured log lines so far (the banner and other plain text left out). */
function logLines(): LogLine[] {
  return stack
    .output()
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as LogLine);
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 30_000,
) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}:\n${stack.output().slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the stack's log", () => {
  it("has a line per request, per step and per grader, webhook and dream job; ids only", async () => {
    const environment = await client.beta.environments.create({ name: "logs" });
    const agent = await client.beta.agents.create({
      name: "logged",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const endpoint = await client.beta.organization.webhooks.create({
      url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`,
      enabled_events: ["session.status_idled"] as unknown as WebhookEvents,
    });
    const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
    const { data: sent, request_id: sendRequestId } = await client.beta.sessions.events
      .send(session.id, {
        events: [
          {
            type: "user.define_outcome",
            description: `write "${SECRET_WORDS}" to notes.txt`,
            rubric: { type: "text", content: `- check: file notes.txt contains "${SECRET_WORDS}"` },
          },
        ],
      })
      .withResponse();
    expect(sent.data?.length).toBe(1);
    await until("the session to go idle", async () => {
      const s = await client.beta.sessions.retrieve(session.id);
      return s.status === "idle" && s.outcome_evaluations.length > 0 ? s : undefined;
    });

    // A request: the POST that sent the outcome, with the id the client was given.
    const request = await until("the events POST's line", () =>
      logLines().find((l) => l.message === "api request" && l.requestId === sendRequestId),
    );
    expect(request).toMatchObject({
      level: "INFO",
      method: "POST",
      route: "/v1/sessions/{session_id}/events",
      status: 200,
      workspaceId: "wrkspc_local",
    });
    expect(request.durationMs).toEqual(expect.any(Number));
    const missing = await client.beta.sessions
      .retrieve("sesn_nope")
      .catch((e: InstanceType<typeof Anthropic.APIError>) => e);
    const notFound = await until("the 404's line", () =>
      logLines().find(
        (l) =>
          l.message === "api request" &&
          l.requestId === (missing as InstanceType<typeof Anthropic.APIError>).requestID,
      ),
    );
    expect(notFound).toMatchObject({
      status: 404,
      errorType: "not_found_error",
      route: "/v1/sessions/{session_id}",
    });

    // A request refused before the API (an unknown key) has its line too, without the key.
    const WRONG_KEY = "sk-reverie-not-a-key-0000000000";
    const stranger = new Anthropic({ baseURL: client.baseURL, apiKey: WRONG_KEY, maxRetries: 0 });
    const refused = await stranger.beta.sessions
      .list()
      .catch((e: InstanceType<typeof Anthropic.APIError>) => e);
    const unauthorized = await until("the 401's line", () =>
      logLines().find(
        (l) =>
          l.message === "api request" &&
          l.requestId === (refused as InstanceType<typeof Anthropic.APIError>).requestID,
      ),
    );
    expect(unauthorized).toMatchObject({
      status: 401,
      errorType: "authentication_error",
      route: "/v1/sessions",
    });

    // The session's steps: each with its model, tokens, duration and why it stopped; the last one
    // of the turn hands it to the grader, which sends it idle.
    const steps = logLines().filter((l) => l.message === "agent step" && l.sessionId === session.id);
    expect(steps.length).toBeGreaterThanOrEqual(2);
    for (const step of steps) {
      expect(step).toMatchObject({ level: "INFO", model: "claude-sonnet-4-6", workspaceId: "wrkspc_local" });
      expect(step.inputTokens).toBeGreaterThan(0);
      expect(step.outputTokens).toBeGreaterThan(0);
      expect(step.durationMs).toEqual(expect.any(Number));
      expect(step.stopReason).toMatch(/^(tool_use|end_turn)$/);
    }
    expect(steps.map((l) => l.stepSeq)).toEqual(
      [...steps.keys()].map((i) => (steps[0]?.stepSeq as number) + i),
    );
    expect(steps[0]).toMatchObject({ stopReason: "tool_use", next: "continue", toolCalls: 1 });
    expect(steps.at(-1)).toMatchObject({ stopReason: "end_turn", next: "handed_off" });

    // The grader's job.
    const grader = await until("the grader's line", () =>
      logLines().find((l) => l.message === "grader job" && l.sessionId === session.id),
    );
    expect(grader).toMatchObject({
      level: "INFO",
      job: "grader",
      outcome: "graded",
      result: "satisfied",
      iteration: 0,
    });
    expect(grader.outcomeId).toMatch(/^outc_/);

    // The webhook delivery of session.status_idled.
    const webhook = await until("the webhook job's line", () =>
      logLines().find(
        (l) => l.message === "webhook job" && l.endpointId === endpoint.id && l.outcome === "delivered",
      ),
    );
    expect(webhook).toMatchObject({ level: "INFO", status: 204, attempt: 1 });
    expect(deliveries).toContain(webhook.eventId);

    // A dream over the session.
    const store = await client.beta.memoryStores.create({ name: "logged store" });
    await client.beta.memoryStores.memories.create(store.id, { path: "/a.md", content: `${SECRET_WORDS}\n` });
    const dream = await client.beta.dreams.create({
      inputs: [
        { type: "memory_store", memory_store_id: store.id },
        { type: "sessions", session_ids: [session.id] },
      ],
      model: "claude-sonnet-4-6",
    });
    const dreamLine = await until("the dream job's line", () =>
      logLines().find((l) => l.message === "dream job" && l.dreamId === dream.id && l.outcome === "done"),
    );
    expect(dreamLine).toMatchObject({ level: "INFO", job: "dream", workspaceId: "wrkspc_local" });
    expect(dreamLine.status).toMatch(/^(completed|failed)$/);

    // Ids, never content or secrets.
    const log = logLines()
      .map((l) => JSON.stringify(l))
      .join("\n");
    expect(log).not.toContain(SECRET_WORDS);
    expect(log).not.toContain(API_KEY);
    expect(log).not.toContain(WRONG_KEY);
    expect(log).not.toContain(endpoint.signing_secret);
  });
});
