/**
 * Webhooks through the official SDK: endpoint management on `client.beta.organization.webhooks`,
 * deliveries verified by a receiver with `client.beta.webhooks.unwrap`, exactly one webhook for a
 * duplicated grader message, retries then the DLQ for a failing receiver and a replay once it
 * recovers, a delivery whose nudge was lost sent by the stack's sweeper; plus the local SNS topic and
 * EventBridge bus.
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { LOCAL_WORKSPACE_ID } from "../../infra/local/embedded-stack.js";
import { graderMessage } from "../../shared/core/outcomes/grader-message.js";
import { endpointKey } from "../../shared/core/webhooks/webhook-records.js";
import {
  type MockRequestBody,
  mockText,
  mockToolUse,
  type ReceivedRequest,
} from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

interface Received {
  body: string;
  headers: Record<string, string>;
}

let h: Harness;
let receiver: Server;
let receiverUrl: string;
let received: Received[] = [];
let failWith: number | undefined;

const isGrader = (body: MockRequestBody) =>
  (body.tool_choice as { name?: string } | undefined)?.name === "submit_grade";
const satisfied = (delayMs = 0) =>
  mockToolUse(
    "submit_grade",
    {
      rubric_applies: true,
      criteria: [{ index: 0, satisfied: true, finding: "totals present" }],
      explanation: "ok",
    },
    { delayMs },
  );

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (failWith) {
        res.writeHead(failWith).end();
        return;
      }
      received.push({ body: Buffer.concat(chunks).toString("utf8"), headers: flat(req.headers) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  h = await startHarness({
    env: {
      REVERIE_WEBHOOK_ALLOW_PRIVATE: "1",
      REVERIE_WEBHOOK_RETRY_BASE_SECONDS: "0",
      REVERIE_WEBHOOK_MAX_ATTEMPTS: "3",
    },
  });
});
afterAll(async () => {
  await h.close();
  await new Promise((resolve) => receiver.close(resolve));
});
beforeEach(() => {
  h.upstream.reset();
  received = [];
  failWith = undefined;
});

function flat(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(
    Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : String(v)]),
  );
}

async function until<T>(check: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const events = (types: string[]) =>
  types as Anthropic.Beta.Organization.WebhookCreateParams["enabled_events"];

async function sessionWithOutcome(graderReply = satisfied()) {
  h.upstream.fallback = (request: ReceivedRequest) =>
    isGrader(request.body) ? graderReply : mockText("report done");
  const { agentId, environmentId } = await h.setup();
  const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
  const sent = await h.client.beta.sessions.events.send(session.id, {
    events: [
      {
        type: "user.define_outcome",
        description: "Write the report",
        rubric: { type: "text", content: "- The report states the totals" },
      },
    ],
  });
  return {
    sessionId: session.id,
    outcomeId: String((sent.data?.[0] as { outcome_id?: string } | undefined)?.outcome_id),
    agentId,
  };
}

describe("webhook endpoints", () => {
  it("create returns a whsec_ secret once; retrieve, update, list, regenerate and delete", async () => {
    const webhooks = h.client.beta.organization.webhooks;
    const created = await webhooks.create({
      url: "https://example.com/hooks",
      enabled_events: events(["session.status_idled"]),
      name: "ops",
    });
    expect(created.id).toMatch(/^whep_/);
    expect(created.signing_secret).toMatch(/^whsec_/);
    expect(created.state).toBe("enabled");
    // Write-only, and sealed at rest: the stored endpoint never holds the secret in clear.
    const stored = async () =>
      JSON.stringify(
        await h.stack.services.deps.store.get("resources", endpointKey(LOCAL_WORKSPACE_ID), created.id),
      );
    expect(await stored()).toContain("sealedSigningSecret");
    expect(await stored()).not.toContain(created.signing_secret);
    const retrieved = await webhooks.retrieve(created.id);
    expect(retrieved).not.toHaveProperty("signing_secret");
    expect(retrieved.name).toBe("ops");
    const updated = await webhooks.update(created.id, { state: "disabled", description: "paused" });
    expect(updated).toMatchObject({ state: "disabled", description: "paused" });
    const listed = [];
    for await (const endpoint of webhooks.list({ limit: 1 })) listed.push(endpoint.id);
    expect(listed).toContain(created.id);
    const regenerated = await webhooks.regenerateSigningSecret(created.id);
    expect(regenerated.signing_secret).toMatch(/^whsec_/);
    expect(regenerated.signing_secret).not.toBe(created.signing_secret);
    expect(await stored()).not.toContain(regenerated.signing_secret);
    expect(await webhooks.delete(created.id)).toEqual({ id: created.id, type: "webhook_endpoint_deleted" });
    await expect(webhooks.retrieve(created.id)).rejects.toMatchObject({ status: 404 });
  });

  it("refuses loopback targets unless private targets are allowed", async () => {
    const strict = await startHarness();
    try {
      await expect(
        strict.client.beta.organization.webhooks.create({
          url: "http://127.0.0.1:9/hooks",
          enabled_events: events(["session.status_idled"]),
        }),
      ).rejects.toMatchObject({ status: 400 });
    } finally {
      await strict.close();
    }
  });
});

describe("webhook deliveries", () => {
  it("delivers signed, thin, ordered session events that unwrap verifies; SNS and the bus see the outcome", async () => {
    const endpoint = await h.client.beta.organization.webhooks.create({
      url: receiverUrl,
      enabled_events: events([
        "session.status_run_started",
        "session.outcome_evaluation_ended",
        "session.status_idled",
      ]),
    });
    const notified: unknown[] = [];
    const unsubscribe = h.stack.notifications.subscribe((m) => notified.push(m));
    const busEvents: string[] = [];
    const unsubscribeBus = h.stack.eventBus.subscribe((e) => busEvents.push(e.detailType));
    try {
      const { sessionId, outcomeId, agentId } = await sessionWithOutcome();
      await h.waitIdle(sessionId);
      await until(() => received.length >= 3);
      const unwrapped = received.map((r) =>
        h.client.beta.webhooks.unwrap(r.body, { headers: r.headers, key: endpoint.signing_secret }),
      );
      expect(unwrapped.map((e) => e.data.type)).toEqual([
        "session.status_run_started",
        "session.outcome_evaluation_ended",
        "session.status_idled",
      ]);
      for (const [i, event] of unwrapped.entries()) {
        expect(event).toMatchObject({ type: "event", id: expect.stringMatching(/^wevt_/) });
        expect(event.data).toMatchObject({ id: sessionId, workspace_id: "wrkspc_local" });
        expect(received[i]?.headers["webhook-id"]).toBe(event.id);
      }
      expect(() =>
        h.client.beta.webhooks.unwrap(received[0]?.body ?? "", {
          headers: received[0]?.headers ?? {},
          key: "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        }),
      ).toThrow();
      expect(notified).toEqual([
        expect.objectContaining({
          attributes: { workspace: "wrkspc_local", agent: agentId, session: sessionId, outcome: outcomeId },
        }),
      ]);
      expect(busEvents).toEqual(
        expect.arrayContaining([
          "session.status_run_started",
          "session.outcome_evaluation_ended",
          "session.status_idled",
        ]),
      );
    } finally {
      unsubscribe();
      unsubscribeBus();
      await h.client.beta.organization.webhooks.delete(endpoint.id);
    }
  });

  it("delivers agent and session lifecycle events (created, updated, archived, deleted)", async () => {
    const endpoint = await h.client.beta.organization.webhooks.create({
      url: receiverUrl,
      enabled_events: events([
        "agent.created",
        "session.created",
        "session.status_run_started",
        "session.updated",
        "session.deleted",
      ]),
    });
    try {
      const { agentId, environmentId } = await h.setup();
      const session = await h.client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        initial_events: [{ type: "user.message", content: [{ type: "text", text: "hi" }] }],
      });
      await h.waitIdle(session.id);
      await h.client.beta.sessions.update(session.id, { title: "renamed" });
      await h.client.beta.sessions.delete(session.id);
      await until(() => received.length >= 5);
      const seen = received.map((r) => {
        const event = h.client.beta.webhooks.unwrap(r.body, {
          headers: r.headers,
          key: endpoint.signing_secret,
        });
        return [event.data.type, event.data.id];
      });
      // Ordered per subject: the session's events in order; the agent's lane is independent.
      expect(seen).toContainEqual(["agent.created", agentId]);
      expect(seen.filter(([, id]) => id === session.id)).toEqual([
        ["session.created", session.id],
        ["session.status_run_started", session.id],
        ["session.updated", session.id],
        ["session.deleted", session.id],
      ]);
    } finally {
      await h.client.beta.organization.webhooks.delete(endpoint.id);
    }
  });

  it("a grader message delivered twice produces one evaluation and one webhook", async () => {
    const endpoint = await h.client.beta.organization.webhooks.create({
      url: receiverUrl,
      enabled_events: events(["session.outcome_evaluation_ended"]),
    });
    try {
      const { sessionId, outcomeId } = await sessionWithOutcome(satisfied(400));
      await until(() => h.upstream.requests.some(isGrader));
      const duplicate = graderMessage("wrkspc_local", sessionId, outcomeId, 0);
      await Promise.all([h.stack.graderQueue.send(duplicate), h.stack.graderQueue.send(duplicate)]);
      await h.waitIdle(sessionId);
      await h.stack.graderQueue.drained();
      await h.stack.webhooksQueue.drained();
      const all = await h.allEvents(sessionId);
      expect(all.filter((e) => e.type === "span.outcome_evaluation_end")).toHaveLength(1);
      expect(received).toHaveLength(1);
      expect(JSON.parse(received[0]?.body ?? "{}").data.type).toBe("session.outcome_evaluation_ended");
    } finally {
      await h.client.beta.organization.webhooks.delete(endpoint.id);
    }
  });

  it("retries a failing receiver, dead-letters the delivery, and a replay delivers it once it recovers", async () => {
    const endpoint = await h.client.beta.organization.webhooks.create({
      url: receiverUrl,
      enabled_events: events(["session.outcome_evaluation_ended"]),
    });
    const deliveriesUrl = `${h.stack.url}/v1/organizations/webhooks/${endpoint.id}/deliveries`;
    const api = (url: string, method = "GET") =>
      fetch(url, { method, headers: { "x-api-key": h.stack.apiKey } }).then(
        async (r) =>
          (await r.json()) as { data: Array<{ id: string; status: string; attempts: number }> } & {
            id: string;
            status: string;
          },
      );
    try {
      failWith = 503;
      const deadBefore = h.stack.webhookDeadLetters.depth().visible;
      const { sessionId } = await sessionWithOutcome();
      await h.waitIdle(sessionId);
      await until(() => h.stack.webhookDeadLetters.depth().visible > deadBefore);
      const failed = (await api(deliveriesUrl)).data;
      expect(failed).toEqual([expect.objectContaining({ status: "failed", attempts: 3 })]);
      expect(received).toHaveLength(0);

      failWith = undefined;
      const replayed = await api(`${deliveriesUrl}/${failed[0]?.id}/replay`, "POST");
      expect(replayed.status).toBe("pending");
      await until(() => received.length === 1);
      const event = h.client.beta.webhooks.unwrap(received[0]?.body ?? "", {
        headers: received[0]?.headers ?? {},
        key: endpoint.signing_secret,
      });
      expect(event.id).toBe(failed[0]?.id);
      await h.stack.webhooksQueue.drained();
      expect((await api(deliveriesUrl)).data).toEqual([expect.objectContaining({ status: "delivered" })]);
    } finally {
      await h.client.beta.organization.webhooks.delete(endpoint.id);
    }
  });
});

describe("webhook sweep", () => {
  it("the stack's sweeper sends a delivery whose publisher died before nudging it", async () => {
    const swept = await startHarness({ env: { REVERIE_WEBHOOK_ALLOW_PRIVATE: "1" }, sweepIntervalMs: 100 });
    const queue = swept.stack.webhooksQueue;
    const send = queue.send;
    try {
      const endpoint = await swept.client.beta.organization.webhooks.create({
        url: receiverUrl,
        enabled_events: events(["agent.created"]),
      });
      // The publisher gets as far as the delivery record, then dies before the queue takes its nudge
      // (the API logs a control-plane publish that failed; nothing retries it).
      queue.send = async () => {
        throw new Error("the process dies here");
      };
      const { agentId } = await swept.setup();
      queue.send = send;
      const store = swept.stack.services.deps.store;
      const [delivery] = await store.query("resources", `whdlv#${endpoint.id}`);
      expect(delivery).toMatchObject({ status: "pending", attempts: 0 });
      await new Promise((r) => setTimeout(r, 300));
      expect(received).toHaveLength(0); // nothing nudges it until it looks lost
      // A minute and more passes (the record is backdated rather than the test kept waiting).
      if (delivery) await store.put("resources", { ...delivery, nudgedAt: Date.now() - 61_000 });
      await until(() => received.length === 1);
      const event = swept.client.beta.webhooks.unwrap(received[0]?.body ?? "", {
        headers: received[0]?.headers ?? {},
        key: endpoint.signing_secret,
      });
      expect(event.data).toMatchObject({ type: "agent.created", id: agentId });
    } finally {
      queue.send = send;
      await swept.close();
    }
  });
});
