/** Webhook outbox and delivery over an in-memory store, a fake transport and recording queues. */
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { checkWebhookUrl, GuardedWebhookSender } from "../../shared/adapters/http/webhook-sender.js";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import { TimeSortableIds } from "../../shared/contract/ids.js";
import type { DomainEvent, MessageQueue } from "../../shared/core/ports.js";
import { deliverWebhook, type WebhookDeliveryDeps } from "../../shared/core/webhooks/webhook-delivery.js";
import { WebhookOutbox } from "../../shared/core/webhooks/webhook-outbox.js";
import type { WebhookMessage } from "../../shared/core/webhooks/webhook-records.js";
import { WebhooksService } from "../../shared/core/webhooks/webhooks-service.js";

class Recording implements MessageQueue<WebhookMessage> {
  sent: Array<{ message: WebhookMessage; delaySeconds?: number }> = [];
  async send(message: WebhookMessage, options: { delaySeconds?: number } = {}) {
    this.sent.push({ message, delaySeconds: options.delaySeconds });
  }
}

const quiet = { info() {}, warn() {}, error() {} };
const event = (id: string, type = "session.status_idled", subject = "sesn_1"): DomainEvent => ({
  type,
  id,
  workspaceId: "wrkspc_1",
  createdAt: "2026-11-23T00:00:00.000Z",
  data: { id: subject },
});

async function setup(statuses: number[] = []) {
  const store = new MemoryDocumentStore();
  const queue = new Recording();
  const dead = new Recording();
  const posts: Array<{ body: string; headers: Record<string, string> }> = [];
  const service = new WebhooksService(store, new TimeSortableIds(), { now: () => 0 }, queue);
  const endpoint = await service.create("wrkspc_1", {
    url: "https://hooks.example.com/x",
    enabled_events: ["session.status_idled", "session.status_run_started"],
  });
  const deps: WebhookDeliveryDeps = {
    store,
    queue,
    deadLetters: dead,
    clock: { now: () => Date.now() },
    logger: quiet,
    transport: {
      post: async (_url, body, headers) => {
        posts.push({ body, headers });
        return { status: statuses.shift() ?? 200 };
      },
    },
    maxAttempts: 3,
    retryBaseSeconds: 10,
    orderWaitSeconds: 1,
    timeoutMs: 1000,
  };
  return { store, queue, dead, posts, endpoint, deps, outbox: new WebhookOutbox(store, queue, quiet) };
}

describe("webhook outbox", () => {
  it("records one delivery per (endpoint, event) however often the event is published", async () => {
    const { outbox, queue, store, endpoint } = await setup();
    await outbox.publish(event("wevt_1"));
    await outbox.publish(event("wevt_1"));
    await outbox.publish(event("wevt_2", "agent.created"));
    expect(queue.sent.map((s) => s.message.eventId)).toEqual(["wevt_1", "wevt_1"]);
    expect(await store.query("resources", `whdlv#${endpoint.id}`)).toHaveLength(1);
  });
});

describe("deliverWebhook", () => {
  it("signs the thin payload so Standard Webhooks verifies it, then marks the delivery delivered", async () => {
    const { outbox, queue, deps, posts, endpoint, store } = await setup();
    await outbox.publish(event("wevt_1"));
    await deliverWebhook(deps, queue.sent[0]?.message as WebhookMessage);
    expect(posts).toHaveLength(1);
    const verified = new Webhook(endpoint.signing_secret).verify(
      posts[0]?.body ?? "",
      posts[0]?.headers ?? {},
    );
    expect(verified).toEqual({
      type: "event",
      id: "wevt_1",
      created_at: "2026-11-23T00:00:00.000Z",
      data: {
        type: "session.status_idled",
        id: "sesn_1",
        workspace_id: "wrkspc_1",
        organization_id: "wrkspc_1",
      },
    });
    expect(posts[0]?.headers["webhook-id"]).toBe("wevt_1");
    const [stored] = await store.query("resources", `whdlv#${endpoint.id}`);
    expect(stored).toMatchObject({ status: "delivered", attempts: 1 });
    // A duplicate message for a delivered event sends nothing.
    await deliverWebhook(deps, queue.sent[0]?.message as WebhookMessage);
    expect(posts).toHaveLength(1);
  });

  it("backs off exponentially, then dead-letters after the last attempt", async () => {
    const { outbox, queue, dead, deps, posts } = await setup([500, 502, 503]);
    await outbox.publish(event("wevt_1"));
    const message = queue.sent[0]?.message as WebhookMessage;
    for (let i = 0; i < 3; i++) await deliverWebhook(deps, message);
    expect(posts).toHaveLength(3);
    expect(queue.sent.slice(1).map((s) => s.delaySeconds)).toEqual([10, 20]);
    expect(dead.sent.map((s) => s.message)).toEqual([message]);
  });

  it("keeps order per subject: a later event waits while an earlier one is pending", async () => {
    const { outbox, queue, deps, posts } = await setup();
    await outbox.publish(event("wevt_1", "session.status_run_started"));
    await outbox.publish(event("wevt_2", "session.status_idled"));
    const [first, second] = queue.sent.map((s) => s.message);
    await deliverWebhook(deps, second as WebhookMessage);
    expect(posts).toHaveLength(0);
    expect(queue.sent.at(-1)).toEqual({ message: second, delaySeconds: 1 });
    await deliverWebhook(deps, first as WebhookMessage);
    await deliverWebhook(deps, second as WebhookMessage);
    expect(posts.map((p) => JSON.parse(p.body).id)).toEqual(["wevt_1", "wevt_2"]);
  });

  it("re-nudges an earlier delivery whose queue message was lost, instead of waiting on it forever", async () => {
    const { outbox, queue, deps, posts } = await setup();
    await outbox.publish(event("wevt_1", "session.status_run_started"));
    await outbox.publish(event("wevt_2", "session.status_idled"));
    const [first, second] = queue.sent.map((s) => s.message);
    queue.sent.length = 0; // the first delivery's message is lost
    const created = Date.parse("2026-11-23T00:00:00.000Z");
    let now = created + 10_000;
    deps.clock = { now: () => now };
    await deliverWebhook(deps, second as WebhookMessage);
    expect(queue.sent).toEqual([{ message: second, delaySeconds: 1 }]); // too recent to call lost
    queue.sent.length = 0;
    now = created + 120_000;
    await deliverWebhook(deps, second as WebhookMessage);
    expect(queue.sent.map((s) => s.message)).toEqual([first, second]);
    for (const { message } of queue.sent.splice(0)) await deliverWebhook(deps, message);
    expect(posts.map((p) => JSON.parse(p.body).id)).toEqual(["wevt_1", "wevt_2"]);
  });
});

describe("webhook SSRF guard", () => {
  it("refuses private and loopback targets unless allowed", async () => {
    expect(() => checkWebhookUrl("http://127.0.0.1/x", false)).toThrow(/private or loopback/);
    expect(() => checkWebhookUrl("http://[::1]/x", false)).toThrow();
    expect(() => checkWebhookUrl("http://localhost/x", false)).toThrow();
    expect(() => checkWebhookUrl("http://127.0.0.1/x", true)).not.toThrow();
    const sender = new GuardedWebhookSender({
      resolve: async () => [{ address: "169.254.169.254", family: 4 }],
    });
    await expect(sender.post("https://metadata.example.com/", "{}", {}, 1000)).rejects.toThrow(/non-public/);
  });
});
