import { createHash } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { afterEach, describe, expect, it } from "vitest";
import { LocalQueue } from "../../shared/adapters/local/local-queue.js";
import { type QueueSpec, queueSpecs } from "../../shared/infra-spec/queues.js";

interface Nudge {
  n: number;
}

const spec = (overrides: Partial<QueueSpec> = {}): QueueSpec => ({
  ...queueSpecs["agent-steps"],
  ...overrides,
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves when `predicate` holds, polling briefly; fails the test after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("condition not reached in time");
    await sleep(5);
  }
}

const bodies = (records: SQSRecord[]): number[] =>
  records.map((record) => (JSON.parse(record.body) as Nudge).n);

const queues: Array<LocalQueue<Nudge>> = [];
const dirs: string[] = [];

function queue(options: ConstructorParameters<typeof LocalQueue<Nudge>>[0]): LocalQueue<Nudge> {
  const created = new LocalQueue<Nudge>(options);
  queues.push(created);
  return created;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "reverie-queue-"));
  dirs.push(dir);
  return join(dir, "agent-steps");
}

afterEach(async () => {
  await Promise.all(queues.splice(0).map((q) => q.stop()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

describe("LocalQueue", () => {
  describe("delivery", () => {
    it("delivers a message as a Lambda SQS record and then forgets it", async () => {
      // Prepare
      const q = queue({ spec: spec() });
      const events: SQSEvent[] = [];
      q.start(async (event) => {
        events.push(event);
      });
      // Act
      await q.send({ n: 1 });
      await q.drained();
      // Assess
      expect(events).toHaveLength(1);
      const [record] = events[0]?.Records ?? [];
      expect(record).toMatchObject({
        messageId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        receiptHandle: expect.any(String),
        body: '{"n":1}',
        md5OfBody: createHash("md5").update('{"n":1}').digest("hex"),
        messageAttributes: {},
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:agent-steps",
        awsRegion: "us-east-1",
        attributes: {
          ApproximateReceiveCount: "1",
          SentTimestamp: expect.stringMatching(/^\d+$/),
          SenderId: expect.any(String),
          ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
        },
      });
      expect(q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });

    it("wakes an idle consumer immediately on send", async () => {
      // Prepare
      const q = queue({ spec: spec() });
      let deliveredAt = 0;
      q.start(async () => {
        deliveredAt = performance.now();
      });
      await sleep(20);
      // Act
      const sentAt = performance.now();
      await q.send({ n: 1 });
      await q.drained();
      // Assess
      expect(deliveredAt - sentAt).toBeLessThan(50);
    });

    it("delivers batches of at most spec.batchSize in send order", async () => {
      // Prepare
      const q = queue({ spec: spec({ batchSize: 3 }) });
      for (let n = 1; n <= 7; n++) await q.send({ n });
      const batches: number[][] = [];
      // Act
      q.start(async (event) => {
        batches.push(bodies(event.Records));
      });
      await q.drained();
      // Assess
      expect(batches).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
    });

    it("holds a delayed message back until its delay passes", async () => {
      // Prepare
      const q = queue({ spec: spec() });
      let deliveredAt = 0;
      q.start(async () => {
        deliveredAt = Date.now();
      });
      // Act
      const sentAt = Date.now();
      await q.send({ n: 1 }, { delaySeconds: 0.3 });
      const depthWhileDelayed = q.depth();
      await sleep(150);
      const deliveredEarly = deliveredAt !== 0;
      await q.drained();
      // Assess
      expect(depthWhileDelayed).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
      expect(deliveredEarly).toBe(false);
      expect(deliveredAt - sentAt).toBeGreaterThanOrEqual(290);
    });
  });

  describe("failures", () => {
    it("redelivers every message of a batch whose consumer threw, after the visibility timeout", async () => {
      // Prepare
      const q = queue({ spec: spec() });
      const deliveries: Array<{ at: number; counts: string[]; n: number[] }> = [];
      q.start(
        async (event) => {
          deliveries.push({
            at: Date.now(),
            counts: event.Records.map((r) => r.attributes.ApproximateReceiveCount),
            n: bodies(event.Records),
          });
          if (deliveries.length === 1) throw new Error("consumer crashed");
        },
        { visibilityTimeoutSeconds: 0.2 },
      );
      // Act
      await q.send({ n: 1 });
      await until(() => deliveries.length === 1);
      await sleep(20);
      const depthAfterFailure = q.depth();
      await q.drained();
      // Assess
      expect(depthAfterFailure).toEqual({ visible: 0, inFlight: 1, delayed: 0 });
      expect(deliveries.map((d) => d.counts)).toEqual([["1"], ["2"]]);
      expect((deliveries[1]?.at ?? 0) - (deliveries[0]?.at ?? 0)).toBeGreaterThanOrEqual(190);
    });

    it("redelivers only the messages reported in batchItemFailures", async () => {
      // Prepare
      const q = queue({ spec: spec({ batchSize: 5 }) });
      for (let n = 1; n <= 3; n++) await q.send({ n });
      const deliveries: Array<{ n: number; count: string }> = [];
      // Act
      q.start(
        async (event) => {
          for (const record of event.Records) {
            deliveries.push({
              n: (JSON.parse(record.body) as Nudge).n,
              count: record.attributes.ApproximateReceiveCount,
            });
          }
          const second = event.Records.find((record) => record.body === '{"n":2}');
          return {
            batchItemFailures: second && deliveries.length <= 3 ? [{ itemIdentifier: second.messageId }] : [],
          };
        },
        { visibilityTimeoutSeconds: 0.05 },
      );
      await q.drained();
      // Assess
      expect(deliveries).toEqual([
        { n: 1, count: "1" },
        { n: 2, count: "1" },
        { n: 3, count: "1" },
        { n: 2, count: "2" },
      ]);
    });

    it("retries the whole batch when batchItemFailures names an unknown message, as Lambda does", async () => {
      // Prepare
      const q = queue({ spec: spec() });
      await q.send({ n: 1 });
      await q.send({ n: 2 });
      let calls = 0;
      // Act
      q.start(
        async () => {
          calls++;
          return { batchItemFailures: calls === 1 ? [{ itemIdentifier: "not-a-message" }] : [] };
        },
        { visibilityTimeoutSeconds: 0.05 },
      );
      await q.drained();
      // Assess
      expect(calls).toBe(2);
    });

    it("moves a message to the DLQ after maxReceiveCount receives, durably", async () => {
      // Prepare
      const dir = await tempDir();
      const q = queue({ spec: spec({ maxReceiveCount: 3 }), dir });
      let receives = 0;
      q.start(
        async () => {
          receives++;
          throw new Error("always fails");
        },
        { visibilityTimeoutSeconds: 0.05 },
      );
      // Act
      await q.send({ n: 42 });
      await q.drained();
      const reopened = queue({ spec: spec({ maxReceiveCount: 3 }), dir });
      // Assess
      expect(receives).toBe(3);
      expect(q.deadLetters()).toEqual([expect.objectContaining({ message: { n: 42 }, receiveCount: 3 })]);
      expect(await readdir(dir)).toEqual([]);
      expect(await readdir(`${dir}-dlq`)).toHaveLength(1);
      expect(reopened.deadLetters()).toEqual(q.deadLetters());
      expect(reopened.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
    });
  });

  describe("durability", () => {
    it("delivers messages sent to an instance that was dropped without stop", async () => {
      // Prepare
      const dir = await tempDir();
      const crashed = new LocalQueue<Nudge>({ spec: spec(), dir });
      await crashed.send({ n: 1 });
      await crashed.send({ n: 2 }, { delaySeconds: 0.1 });
      // Act
      const restarted = queue({ spec: spec(), dir });
      const received: number[] = [];
      restarted.start(async (event) => {
        received.push(...bodies(event.Records));
      });
      await restarted.drained();
      // Assess
      expect(received).toEqual([1, 2]);
      expect(await readdir(dir)).toEqual([]);
    });

    it("makes messages that were in flight at the crash visible at once, keeping their receive count", async () => {
      // Prepare
      const dir = await tempDir();
      const crashed = new LocalQueue<Nudge>({ spec: spec(), dir });
      let crashedReceived = false;
      crashed.start(() => {
        crashedReceived = true;
        return new Promise(() => {}); // the process "dies" mid-batch
      });
      await crashed.send({ n: 1 });
      await until(() => crashedReceived);
      // Act
      const restarted = queue({ spec: spec(), dir });
      const counts: string[] = [];
      restarted.start(async (event) => {
        counts.push(...event.Records.map((record) => record.attributes.ApproximateReceiveCount));
      });
      await restarted.drained();
      // Assess
      expect(counts).toEqual(["2"]);
    });

    it("ignores and removes a half-written temporary file", async () => {
      // Prepare
      const dir = await tempDir();
      const first = new LocalQueue<Nudge>({ spec: spec(), dir });
      await first.send({ n: 1 });
      await writeFile(join(dir, "00000000-0000-0000-0000-000000000000.json.abc.tmp"), '{"messageId":"00');
      // Act
      const restarted = queue({ spec: spec(), dir });
      const received: number[] = [];
      restarted.start(async (event) => {
        received.push(...bodies(event.Records));
      });
      await restarted.drained();
      // Assess
      expect(received).toEqual([1]);
      expect(await readdir(dir)).toEqual([]);
    });
  });

  describe("consumption", () => {
    it("never runs more batches at once than the concurrency limit, and uses it", async () => {
      // Prepare
      const q = queue({ spec: spec({ batchSize: 1 }) });
      for (let n = 1; n <= 8; n++) await q.send({ n });
      let active = 0;
      let maxActive = 0;
      // Act
      q.start(
        async () => {
          active++;
          maxActive = Math.max(maxActive, active);
          await sleep(20);
          active--;
        },
        { concurrency: 3 },
      );
      await q.drained();
      // Assess
      expect(maxActive).toBe(3);
    });

    it("drained() resolves at once for an empty queue and after the last message otherwise", async () => {
      // Prepare
      const q = queue({ spec: spec() });
      await q.drained();
      let finished = false;
      q.start(async () => {
        await sleep(50);
        finished = true;
      });
      // Act
      await q.send({ n: 1 });
      await q.drained();
      // Assess
      expect(finished).toBe(true);
    });

    it("stop() waits for the batch in flight and delivers nothing afterwards", async () => {
      // Prepare
      const q = queue({ spec: spec() });
      const received: number[] = [];
      let finished = false;
      q.start(async (event) => {
        received.push(...bodies(event.Records));
        await sleep(50);
        finished = true;
      });
      await q.send({ n: 1 });
      await until(() => received.length === 1);
      // Act
      await q.stop();
      const finishedAtStop = finished;
      await q.send({ n: 2 });
      await sleep(30);
      // Assess
      expect(finishedAtStop).toBe(true);
      expect(received).toEqual([1]);
      expect(q.depth()).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
    });
  });
});
