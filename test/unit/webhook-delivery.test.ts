/** Webhook outbox, delivery and sweep over an in-memory store, a fake transport and recording queues. */
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { checkWebhookUrl, GuardedWebhookSender } from "../../shared/adapters/http/webhook-sender.js";
import { AesSecretSealer } from "../../shared/adapters/local/aes-secret-sealer.js";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import { TimeSortableIds } from "../../shared/contract/ids.js";
import type { DomainEvent, MessageQueue } from "../../shared/core/ports.js";
import { deliverWebhook, type WebhookDeliveryDeps } from "../../shared/core/webhooks/webhook-delivery.js";
import { leavePendingIndex } from "../../shared/core/webhooks/webhook-nudges.js";
import { WebhookOutbox } from "../../shared/core/webhooks/webhook-outbox.js";
import { endpointKey, type WebhookMessage } from "../../shared/core/webhooks/webhook-records.js";
import { sweepWebhookDeliveries } from "../../shared/core/webhooks/webhook-sweeper.js";
import { WebhooksService } from "../../shared/core/webhooks/webhooks-service.js";

class Recording implements MessageQueue<WebhookMessage> {
  sent: Array<{ message: WebhookMessage; delaySeconds?: number }> = [];
  async send(message: WebhookMessage, options: { delaySeconds?: number } = {}) {
    this.sent.push({ message, delaySeconds: options.delaySeconds });
  }
}

const quiet = { info() {}, warn() {}, error() {} };

async function until(check: () => boolean | Promise<boolean>) {
  for (let i = 0; i < 100 && !(await check()); i++) await new Promise((r) => setImmediate(r));
  expect(await check()).toBe(true);
}
const event = (id: string, type = "session.status_idled", subject = "sesn_1"): DomainEvent => ({
  type,
  id,
  workspaceId: "wrkspc_1",
  createdAt: "2026-11-23T00:00:00.000Z",
  data: { id: subject },
});

/** Settable: a test moves it to let leases run out, retries come due and nudges look lost. */
const clockAt = (ms = Date.now()) => ({
  ms,
  now() {
    return this.ms;
  },
});

async function setup(statuses: number[] = []) {
  const store = new MemoryDocumentStore();
  const queue = new Recording();
  const dead = new Recording();
  const clock = clockAt();
  const posts: Array<{ body: string; headers: Record<string, string> }> = [];
  const sealer = new AesSecretSealer();
  const service = new WebhooksService(store, new TimeSortableIds(), clock, queue, sealer);
  const endpoint = await service.create("wrkspc_1", {
    url: "https://hooks.example.com/x",
    enabled_events: ["session.status_idled", "session.status_run_started"],
  });
  const deps: WebhookDeliveryDeps = {
    store,
    sealer,
    queue,
    deadLetters: dead,
    clock,
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
  const outbox = new WebhookOutbox(store, queue, quiet, clock);
  return { store, queue, dead, clock, posts, service, endpoint, deps, outbox };
}

describe("webhook outbox", () => {
  it("signs with an endpoint's secret stored in clear before secrets were sealed, and seals it at its next update", async () => {
    const { outbox, queue, deps, posts, service, endpoint, store } = await setup();
    // An endpoint as stored before: the secret in clear, no envelope.
    const key = ["resources", endpointKey("wrkspc_1"), endpoint.id] as const;
    const { sealedSigningSecret: _sealed, ...legacy } = (await store.get(...key)) as Record<string, unknown>;
    await store.put("resources", { ...legacy, signingSecret: endpoint.signing_secret } as never);
    await outbox.publish(event("wevt_legacy"));
    await deliverWebhook(deps, queue.sent[0]?.message as WebhookMessage);
    const first = posts[0] as { body: string; headers: Record<string, string> };
    expect(new Webhook(endpoint.signing_secret).verify(first.body, first.headers)).toBeTruthy();
    // Its next update seals it: the same secret, no longer in clear.
    await service.update("wrkspc_1", endpoint.id, { name: "renamed" });
    const updated = JSON.stringify(await store.get(...key));
    expect(updated).not.toContain(endpoint.signing_secret);
    expect(updated).toContain("sealedSigningSecret");
    await outbox.publish(event("wevt_after"));
    await deliverWebhook(deps, queue.sent.at(-1)?.message as WebhookMessage);
    const second = posts[1] as { body: string; headers: Record<string, string> };
    expect(new Webhook(endpoint.signing_secret).verify(second.body, second.headers)).toBeTruthy();
    // Regenerated: sealed as well.
    const { signing_secret } = await service.regenerateSigningSecret("wrkspc_1", endpoint.id);
    const stored = JSON.stringify(await store.get(...key));
    expect(stored).not.toContain(endpoint.signing_secret);
    expect(stored).not.toContain(signing_secret);
    expect(stored).toContain("sealedSigningSecret");
  });

  it("records one delivery per (endpoint, event) however often the event is published", async () => {
    const { outbox, queue, store, endpoint } = await setup();
    await outbox.publish(event("wevt_1"));
    await outbox.publish(event("wevt_1"));
    await outbox.publish(event("wevt_2", "agent.created"));
    expect(queue.sent.map((s) => s.message.eventId)).toEqual(["wevt_1"]);
    expect(await store.query("resources", `whdlv#${endpoint.id}`)).toHaveLength(1);
  });

  it("a republish nudges again only a delivery whose nudge looks lost", async () => {
    const { outbox, queue, clock } = await setup();
    await outbox.publish(event("wevt_1"));
    clock.ms += 30_000;
    await outbox.publish(event("wevt_1")); // a retried grader or step: its first nudge is still due
    expect(queue.sent).toHaveLength(1);
    clock.ms += 40_000;
    await outbox.publish(event("wevt_1")); // over a minute without an attempt: the nudge was lost
    await outbox.publish(event("wevt_1")); // and that re-nudge was just sent
    expect(queue.sent.map((s) => s.message.eventId)).toEqual(["wevt_1", "wevt_1"]);
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

  it("counts a signing secret that does not open as a failed attempt, and dead-letters in the end", async () => {
    const { outbox, queue, dead, deps, posts, clock, store } = await setup();
    // The key the secrets were sealed under is gone (a disabled KMS key, a lost secrets.key).
    deps.sealer = new AesSecretSealer();
    await outbox.publish(event("wevt_1"));
    const message = queue.sent[0]?.message as WebhookMessage;
    for (let i = 0; i < 3; i++) {
      expect(await deliverWebhook(deps, message)).toMatchObject({ attempt: i + 1 });
      clock.ms += (queue.sent.at(-1)?.delaySeconds ?? 0) * 1000;
    }
    expect(posts).toEqual([]);
    expect(dead.sent.map((s) => s.message)).toEqual([message]);
    expect((await store.query("resources", `whdlv#${message.endpointId}`))[0]).toMatchObject({
      status: "failed",
      attempts: 3,
    });
  });

  it("backs off exponentially, then dead-letters after the last attempt", async () => {
    const { outbox, queue, dead, deps, posts, clock } = await setup([500, 502, 503]);
    await outbox.publish(event("wevt_1"));
    const message = queue.sent[0]?.message as WebhookMessage;
    for (let i = 0; i < 3; i++) {
      await deliverWebhook(deps, message);
      clock.ms += (queue.sent.at(-1)?.delaySeconds ?? 0) * 1000; // the queue holds the retry that long
    }
    expect(posts).toHaveLength(3);
    expect(queue.sent.slice(1).map((s) => s.delaySeconds)).toEqual([10, 20]);
    expect(dead.sent.map((s) => s.message)).toEqual([message]);
  });

  it("drops a duplicate nudge that arrives before the retry it duplicates is due", async () => {
    const { outbox, queue, deps, posts, clock } = await setup([500]);
    await outbox.publish(event("wevt_1"));
    const message = queue.sent[0]?.message as WebhookMessage;
    expect(await deliverWebhook(deps, message)).toMatchObject({ outcome: "retrying", attempt: 1 });
    clock.ms += 2_000;
    expect(await deliverWebhook(deps, message)).toEqual({ outcome: "skipped" });
    expect(posts).toHaveLength(1);
    clock.ms += 8_000; // the retry's 10 s have passed
    expect(await deliverWebhook(deps, message)).toMatchObject({ outcome: "delivered", attempt: 2 });
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

  it("two nudges at once make one POST: the second comes back when the first attempt's lease ends", async () => {
    const { outbox, queue, dead, deps, store, endpoint } = await setup();
    await outbox.publish(event("wevt_1"));
    const message = queue.sent[0]?.message as WebhookMessage;
    let answer = (_status: number) => {};
    const statuses = [200, 503];
    let posts = 0;
    deps.maxAttempts = 2;
    // The first POST hangs on a slow receiver until the test answers it; any other gets a 503.
    deps.transport = {
      post: async () => {
        const status = statuses[posts++] as number;
        if (posts > 1) return { status };
        return new Promise((resolve) => {
          answer = (s) => resolve({ status: s });
        });
      },
    };
    const first = deliverWebhook(deps, message);
    await until(() => posts === 1);
    // A duplicate of the message (SQS, a batch's parallel records) while the first POST is in flight.
    expect(await deliverWebhook(deps, message)).toEqual({ outcome: "in_flight" });
    expect(queue.sent.at(-1)).toEqual({ message, delaySeconds: 21 }); // the lease: POST timeout + 20 s
    answer(200);
    expect(await first).toMatchObject({ outcome: "delivered", attempt: 1, status: 200 });
    expect(posts).toBe(1);
    expect(dead.sent).toEqual([]);
    const [stored] = await store.query("resources", `whdlv#${endpoint.id}`);
    expect(stored).toMatchObject({ status: "delivered", attempts: 1, lastStatus: 200 });
    expect(stored).not.toHaveProperty("leaseUntil");
    // The re-sent duplicate, back after the lease: nothing left to do.
    expect(await deliverWebhook(deps, message)).toEqual({ outcome: "skipped" });
  });

  it("a 2xx is kept over a failure written after its lease ran out; a late failure changes nothing", async () => {
    const { outbox, queue, dead, deps, store, endpoint, clock } = await setup();
    deps.maxAttempts = 2;
    const answers: Array<(status: number) => void> = [];
    deps.transport = {
      post: () => new Promise((resolve) => answers.push((status) => resolve({ status }))),
    };
    await outbox.publish(event("wevt_1"));
    await outbox.publish(event("wevt_2", "session.status_idled", "sesn_2"));
    const [one, two] = queue.sent.map((s) => s.message) as [WebhookMessage, WebhookMessage];
    const stored = async (eventId: string) => store.get("resources", `whdlv#${endpoint.id}`, eventId);

    // wevt_1: the first attempt stalls past its lease; a redelivered nudge makes the last attempt,
    // which fails and dead-letters; then the first attempt's 200 arrives.
    const slow = deliverWebhook(deps, one);
    await until(() => answers.length === 1);
    clock.ms += 22_000;
    const last = deliverWebhook(deps, one);
    await until(() => answers.length === 2);
    answers[1]?.(503);
    expect(await last).toMatchObject({ outcome: "failed", attempt: 2 });
    answers[0]?.(200);
    expect(await slow).toMatchObject({ outcome: "delivered", attempt: 1 });
    expect(await stored("wevt_1")).toMatchObject({ status: "delivered", lastStatus: 200 });
    expect(dead.sent.map((s) => s.message)).toEqual([one]); // sent before the 200 came: a stale alarm

    // wevt_2: the same, but the stalled attempt fails after the later one delivered.
    const stalled = deliverWebhook(deps, two);
    await until(() => answers.length === 3);
    clock.ms += 22_000;
    const next = deliverWebhook(deps, two);
    await until(() => answers.length === 4);
    answers[3]?.(200);
    expect(await next).toMatchObject({ outcome: "delivered", attempt: 2 });
    const nudges = queue.sent.length;
    answers[2]?.(503);
    expect(await stalled).toMatchObject({ outcome: "superseded", attempt: 1, status: 503 });
    expect(await stored("wevt_2")).toMatchObject({ status: "delivered", attempts: 2, lastStatus: 200 });
    expect(queue.sent).toHaveLength(nudges); // no retry scheduled
    expect(dead.sent).toHaveLength(1);
  });

  it("a replay while an attempt is in flight waits for it; the old attempt's result leaves the replay alone", async () => {
    const { outbox, queue, deps, service, endpoint, store, clock, posts } = await setup();
    // The first POST hangs on a slow receiver until the test answers it; later ones are answered at once.
    const post = deps.transport.post;
    let answer: ((status: number) => void) | undefined;
    deps.transport = {
      post: (...args) =>
        answer ? post(...args) : new Promise((resolve) => (answer = (status) => resolve({ status }))),
    };
    await outbox.publish(event("wevt_1"));
    const old = deliverWebhook(deps, queue.sent[0]?.message as WebhookMessage);
    await until(() => answer !== undefined);
    await service.replay("wrkspc_1", endpoint.id, "wevt_1");
    const replayed = queue.sent.at(-1)?.message as WebhookMessage;
    expect(replayed.generation).toBe(1);
    expect(await deliverWebhook(deps, replayed)).toEqual({ outcome: "in_flight" });
    answer?.(200);
    expect(await old).toMatchObject({ outcome: "superseded", attempt: 1 });
    expect(await store.get("resources", `whdlv#${endpoint.id}`, "wevt_1")).toMatchObject({
      status: "pending",
      generation: 1,
      attempts: 0,
    });
    expect(posts).toHaveLength(0);
    clock.ms += 21_000; // the old lease ends; the replay's nudge is back
    expect(await deliverWebhook(deps, replayed)).toMatchObject({ outcome: "delivered", attempt: 1 });
    expect(posts).toHaveLength(1);
  });
});

describe("sweepWebhookDeliveries", () => {
  it("re-nudges a delivery whose publisher died before sending its nudge, then drops it from the index", async () => {
    const { outbox, queue, deps, clock, posts } = await setup();
    const send = queue.send.bind(queue);
    queue.send = async () => {
      throw new Error("the process dies here");
    };
    await expect(outbox.publish(event("wevt_1"))).rejects.toThrow(/dies/);
    queue.send = send;
    clock.ms += 30_000;
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 1, nudged: 0 }); // may still be in flight
    clock.ms += 31_000;
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 1, nudged: 1 });
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 1, nudged: 0 }); // just nudged
    expect(queue.sent.map((s) => s.message)).toEqual([
      { schemaVersion: 1, endpointId: expect.any(String), eventId: "wevt_1", generation: 0 },
    ]);
    await deliverWebhook(deps, queue.sent[0]?.message as WebhookMessage);
    expect(posts).toHaveLength(1);
    expect(await sweepWebhookDeliveries(deps)).toEqual({ checked: 0, nudged: 0, dropped: 0, failed: 0 });
  });

  it("re-nudges a retry whose nudge was lost once it is a minute overdue, never before it is due", async () => {
    const { outbox, queue, deps, clock, posts } = await setup([500]);
    await outbox.publish(event("wevt_1"));
    const message = queue.sent[0]?.message as WebhookMessage;
    const send = queue.send.bind(queue);
    queue.send = async () => {
      throw new Error("the process dies before the retry's nudge");
    };
    await expect(deliverWebhook(deps, message)).rejects.toThrow(/dies/);
    queue.send = send;
    clock.ms += 65_000; // the retry was due 10 s in: not yet a minute overdue
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ nudged: 0 });
    clock.ms += 6_000;
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ nudged: 1 });
    await deliverWebhook(deps, queue.sent.at(-1)?.message as WebhookMessage);
    expect(posts).toHaveLength(2);
  });

  it("re-nudges the earlier delivery of a subject first, and leaves the one waiting behind it", async () => {
    const { outbox, queue, deps, clock, posts } = await setup();
    await outbox.publish(event("wevt_1", "session.status_run_started"));
    await outbox.publish(event("wevt_2", "session.status_idled"));
    const [first, second] = queue.sent.map((s) => s.message);
    queue.sent.length = 0; // the first delivery's message is lost
    await deliverWebhook(deps, second as WebhookMessage);
    expect(queue.sent).toEqual([{ message: second, delaySeconds: 1 }]); // it circles, waiting
    clock.ms += 120_000;
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 2, nudged: 1 });
    expect(queue.sent.map((s) => s.message)).toEqual([second, first]);
    for (const { message } of queue.sent.splice(0).reverse()) await deliverWebhook(deps, message);
    expect(posts.map((p) => JSON.parse(p.body).id)).toEqual(["wevt_1", "wevt_2"]);
  });

  it("a lane waiting on an earlier delivery with no index entry (recorded before the index) nudges and indexes it", async () => {
    const { outbox, queue, deps, clock, posts, store, endpoint } = await setup();
    await outbox.publish(event("wevt_1", "session.status_run_started"));
    await outbox.publish(event("wevt_2", "session.status_idled"));
    const [first, second] = queue.sent.map((s) => s.message);
    queue.sent.length = 0; // the first delivery's message is lost...
    await store.delete("resources", "whpending", `${endpoint.id}#wevt_1`); // ...and it has no entry
    await deliverWebhook(deps, second as WebhookMessage);
    expect(queue.sent.map((s) => s.message)).toEqual([second]);
    clock.ms += 61_000;
    await deliverWebhook(deps, second as WebhookMessage);
    expect(queue.sent.map((s) => s.message)).toEqual([second, first, second]);
    expect((await store.query("resources", "whpending")).map((e) => e.sk)).toContain(`${endpoint.id}#wevt_1`);
    for (const message of [first, second]) await deliverWebhook(deps, message as WebhookMessage);
    expect(posts.map((p) => JSON.parse(p.body).id)).toEqual(["wevt_1", "wevt_2"]);
  });

  it("a delivery circling behind a retrying one never looks lost to the one behind it", async () => {
    const { outbox, queue, deps, clock } = await setup([500]);
    deps.retryBaseSeconds = 100; // the head's retry is due in 100 s
    for (const id of ["wevt_1", "wevt_2", "wevt_3"]) await outbox.publish(event(id, "session.status_idled"));
    const [head, middle, last] = queue.sent.map((s) => s.message as WebhookMessage);
    const sentFor = (id: string) => queue.sent.filter((s) => s.message.eventId === id).length;
    expect(await deliverWebhook(deps, head as WebhookMessage)).toMatchObject({ outcome: "retrying" });
    // The middle and the last circle, each re-sending its own message every second.
    for (let second = 0; second <= 61; second++) {
      for (const message of [middle, last]) await deliverWebhook(deps, message as WebhookMessage);
      clock.ms += 1_000;
    }
    // Each re-sent only its own message: nobody took the circling middle for a lost one.
    expect(sentFor("wevt_2")).toBe(1 + 62);
    expect(sentFor("wevt_3")).toBe(1 + 62);
  });

  it("a replay written just after an ended attempt left the index still leaves the delivery in it", async () => {
    const { outbox, queue, deps, service, endpoint, store } = await setup();
    await outbox.publish(event("wevt_1"));
    await deliverWebhook(deps, queue.sent[0]?.message as WebhookMessage);
    // The attempt's leave of the index runs between the replay's entry and its record write: its
    // delete takes the replay's entry, and its second look still sees the delivery delivered.
    const put = store.put.bind(store);
    store.put = async (table, item, options) => {
      if (item.pk === `whdlv#${endpoint.id}` && item.status === "pending") {
        store.put = put;
        await leavePendingIndex(deps, endpoint.id, "wevt_1");
      }
      return put(table, item, options);
    };
    await service.replay("wrkspc_1", endpoint.id, "wevt_1");
    expect(store.put).toBe(put);
    expect((await store.query("resources", "whpending")).map((e) => e.sk)).toEqual([`${endpoint.id}#wevt_1`]);
  });

  it("nudges a disabled endpoint's pending delivery once it is enabled again; drops a deleted endpoint's", async () => {
    const { outbox, queue, deps, service, endpoint, clock } = await setup();
    await outbox.publish(event("wevt_1"));
    queue.sent.length = 0; // lost
    await service.update("wrkspc_1", endpoint.id, { state: "disabled" });
    clock.ms += 61_000;
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 1, nudged: 0, dropped: 0 });
    await service.update("wrkspc_1", endpoint.id, { state: "enabled" });
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 1, nudged: 1 });
    await service.delete("wrkspc_1", endpoint.id);
    clock.ms += 61_000;
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 1, dropped: 1 });
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 0 });
  });

  it("puts a replayed delivery back in the index, and drops entries of ended or never-written deliveries", async () => {
    const { outbox, queue, deps, service, endpoint, store, clock, posts } = await setup();
    await outbox.publish(event("wevt_1"));
    await deliverWebhook(deps, queue.sent[0]?.message as WebhookMessage);
    // A crash after the delivered write leaves its entry; a publisher that died before its record
    // leaves one that points at nothing (dropped once no live publisher can still write the record).
    await store.put("resources", {
      pk: "whpending",
      sk: `${endpoint.id}#wevt_1`,
      endpointId: endpoint.id,
      eventId: "wevt_1",
      at: clock.ms,
    });
    await store.put("resources", {
      pk: "whpending",
      sk: `${endpoint.id}#wevt_9`,
      endpointId: endpoint.id,
      eventId: "wevt_9",
      at: clock.ms,
    });
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 2, dropped: 1 });
    clock.ms += 16 * 60_000;
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 1, dropped: 1 });

    const send = queue.send.bind(queue);
    queue.send = async () => {
      throw new Error("the process dies before the replay's nudge");
    };
    await expect(service.replay("wrkspc_1", endpoint.id, "wevt_1")).rejects.toThrow(/dies/);
    queue.send = send;
    clock.ms += 61_000;
    expect(await sweepWebhookDeliveries(deps)).toMatchObject({ checked: 1, nudged: 1 });
    await deliverWebhook(deps, queue.sent.at(-1)?.message as WebhookMessage);
    expect(posts).toHaveLength(2);
    expect(await store.query("resources", "whpending")).toEqual([]);
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
