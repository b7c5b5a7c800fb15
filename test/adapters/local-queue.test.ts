import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { afterEach, describe, expect, it } from "vitest";
import { LocalQueue } from "../../shared/adapters/local/local-queue.js";
import { LocalQueueDatabase, type StoredMessage } from "../../shared/adapters/local/local-queue-database.js";
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

const md5 = (text: string): string => createHash("md5").update(text).digest("hex");

/** Writes `<dir>/<id>.json` as the file-per-message queue did, and returns what it wrote. */
async function fileQueueMessage(dir: string, n: number, fields: Partial<StoredMessage> = {}) {
  const body = JSON.stringify({ n });
  const message: StoredMessage = {
    messageId: randomUUID(),
    body,
    md5OfBody: md5(body),
    sentAt: Date.now() - 10_000 + n,
    visibleAt: Date.now() - 10_000,
    receiveCount: 0,
    ...fields,
  };
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${message.messageId}.json`), JSON.stringify(message));
  return message;
}

/** Receives everything `q` holds, as [n, ApproximateReceiveCount] in delivery order. */
async function consumeAll(q: LocalQueue<Nudge>): Promise<Array<[number, string]>> {
  const received: Array<[number, string]> = [];
  q.start(async (event) => {
    for (const record of event.Records)
      received.push([(JSON.parse(record.body) as Nudge).n, record.attributes.ApproximateReceiveCount]);
  });
  await q.drained();
  return received;
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
      const deadLetterQueue = queue({ spec: spec(), dir: `${dir}-dlq` });
      // Assess
      expect(receives).toBe(3);
      expect(q.deadLetters()).toEqual([expect.objectContaining({ message: { n: 42 }, receiveCount: 3 })]);
      expect(reopened.deadLetters()).toEqual(q.deadLetters());
      expect(reopened.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      // As on SQS, the DLQ is a queue of its own: the sibling queue holds the message.
      expect(deadLetterQueue.depth()).toEqual({ visible: 1, inFlight: 0, delayed: 0 });
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
      expect(queue({ spec: spec(), dir }).depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
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
  });

  describe("restarts", () => {
    it("keeps a delayed message's delay across a restart", async () => {
      // Prepare
      const dir = await tempDir();
      const sentAt = Date.now();
      await new LocalQueue<Nudge>({ spec: spec(), dir }).send({ n: 1 }, { delaySeconds: 0.3 });
      // Act
      const restarted = queue({ spec: spec(), dir });
      const depthAtRestart = restarted.depth();
      let deliveredAt = 0;
      restarted.start(async () => {
        deliveredAt = Date.now();
      });
      await restarted.drained();
      // Assess
      expect(depthAtRestart).toEqual({ visible: 0, inFlight: 0, delayed: 1 });
      expect(deliveredAt - sentAt).toBeGreaterThanOrEqual(290);
    });

    it("keeps receive counts, so a message that takes every process down ends in the DLQ", async () => {
      // Prepare: three processes each die while holding the message.
      const dir = await tempDir();
      await new LocalQueue<Nudge>({ spec: spec({ maxReceiveCount: 3 }), dir }).send({ n: 7 });
      const counts: string[] = [];
      for (let life = 0; life < 3; life++) {
        const doomed = new LocalQueue<Nudge>({ spec: spec({ maxReceiveCount: 3 }), dir });
        doomed.start((event) => {
          counts.push(...event.Records.map((record) => record.attributes.ApproximateReceiveCount));
          return new Promise(() => {});
        });
        await until(() => counts.length === life + 1);
      }
      // Act
      const survivor = queue({ spec: spec({ maxReceiveCount: 3 }), dir });
      const received = await consumeAll(survivor);
      // Assess
      expect(counts).toEqual(["1", "2", "3"]);
      expect(received).toEqual([]);
      expect(survivor.deadLetters()).toEqual([
        expect.objectContaining({ message: { n: 7 }, receiveCount: 3 }),
      ]);
    });

    it("keeps the queues of one directory apart in their shared database file", async () => {
      // Prepare
      const steps = await tempDir();
      const grader = join(dirname(steps), "grader");
      await new LocalQueue<Nudge>({ spec: spec(), dir: steps }).send({ n: 1 });
      await new LocalQueue<Nudge>({ spec: spec(), dir: grader }).send({ n: 2 });
      // Act
      const received = [
        await consumeAll(queue({ spec: spec(), dir: steps })),
        await consumeAll(queue({ spec: spec(), dir: grader })),
      ];
      // Assess
      expect(received).toEqual([[[1, "1"]], [[2, "1"]]]);
      expect((await readdir(dirname(steps))).filter((name) => !/-(wal|shm)$/.test(name))).toEqual([
        "queues.sqlite",
      ]);
    });

    it("refuses sends once closed", async () => {
      // Prepare
      const q = new LocalQueue<Nudge>({ spec: spec(), dir: await tempDir() });
      // Act
      await q.close();
      // Assess
      await expect(q.send({ n: 1 })).rejects.toThrow("queue agent-steps is closed");
    });

    it("loses no send, acknowledgement or receive count to kill -9", { timeout: 30_000 }, async () => {
      // Prepare: a process sends 20 messages, acknowledges 1 and 2 and is killed while holding 3.
      const dir = await tempDir();
      const script = join(dirname(dir), "queue-child.mts");
      const module = (path: string) => JSON.stringify(pathToFileURL(resolve(path)).href);
      await writeFile(
        script,
        `import { LocalQueue } from ${module("shared/adapters/local/local-queue.ts")};
import { queueSpecs } from ${module("shared/infra-spec/queues.ts")};
const q = new LocalQueue<{ n: number }>({ spec: { ...queueSpecs["agent-steps"], batchSize: 1 }, dir: process.argv[2] });
for (let n = 1; n <= 20; n++) await q.send({ n });
q.start(async (event) => {
  const { n } = JSON.parse(event.Records[0]?.body ?? "{}");
  if (n === 3) {
    process.stdout.write("holding 3\\n");
    return new Promise(() => {});
  }
});
`,
      );
      const child = spawn(process.execPath, ["--import", "tsx", script, dir], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (chunk) => {
        output += chunk;
      });
      child.stderr.on("data", (chunk) => {
        output += chunk;
      });
      const exited = new Promise((resolve) => child.once("exit", resolve));
      await until(() => output.includes("holding 3") || child.exitCode !== null, 20_000);
      expect(output).toContain("holding 3");
      // Act
      child.kill("SIGKILL");
      await exited;
      const received = await consumeAll(queue({ spec: spec(), dir }));
      // Assess
      expect(received).toEqual([
        [3, "2"],
        ...Array.from({ length: 17 }, (_, i): [number, string] => [i + 4, "1"]),
      ]);
    });
  });

  describe("data dirs of the file-per-message queue", () => {
    it("moves pending, in-flight, delayed and dead messages into the database, keeping what restarts keep", async () => {
      // Prepare
      const dir = await tempDir();
      const now = Date.now();
      await fileQueueMessage(dir, 1);
      await fileQueueMessage(dir, 2, {
        receiveCount: 2,
        visibleAt: now + 60_000,
        firstReceivedAt: now - 5_000,
      });
      await fileQueueMessage(dir, 3, { visibleAt: now + 300 });
      const dead = await fileQueueMessage(`${dir}-dlq`, 4, { receiveCount: 6, deadAt: now - 1_000 });
      await writeFile(join(dir, `${randomUUID()}.json.${randomUUID()}.tmp`), '{"messageId":"00');
      await writeFile(join(dir, "broken.json"), "not json");
      // Act
      const q = queue({ spec: spec(), dir });
      const depth = q.depth();
      const deadLetters = q.deadLetters();
      const received = await consumeAll(q);
      const reopened = queue({ spec: spec(), dir });
      // Assess
      expect(depth).toEqual({ visible: 2, inFlight: 0, delayed: 1 });
      expect(received).toEqual([
        [1, "1"],
        [2, "3"],
        [3, "1"],
      ]);
      expect(deadLetters).toEqual([
        {
          messageId: dead.messageId,
          message: { n: 4 },
          receiveCount: 6,
          sentAt: dead.sentAt,
          deadAt: dead.deadAt,
        },
      ]);
      expect(await readdir(dir)).toEqual(["broken.json.unreadable"]);
      expect(await readdir(dirname(dir))).not.toContain("agent-steps-dlq");
      expect(reopened.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      expect(reopened.deadLetters()).toEqual(deadLetters);
    });

    it("neither loses nor duplicates a message when the move was cut between its commit and the file removals", async () => {
      // Prepare: the state a crash leaves after the insert committed and two of four files were removed.
      const dir = await tempDir();
      const messages = [];
      for (let n = 1; n <= 4; n++) messages.push(await fileQueueMessage(dir, n));
      const database = LocalQueueDatabase.open(join(dirname(dir), "queues.sqlite"));
      database.insertIfAbsent("agent-steps", messages);
      database.release();
      for (const message of messages.slice(0, 2)) await unlink(join(dir, `${message.messageId}.json`));
      // Act
      const received = await consumeAll(queue({ spec: spec(), dir }));
      // Assess
      expect(received).toEqual([
        [1, "1"],
        [2, "1"],
        [3, "1"],
        [4, "1"],
      ]);
      expect(await readdir(dirname(dir))).not.toContain("agent-steps");
    });

    it("keeps only the dead letter of a message the file queue left in both the queue and its DLQ", async () => {
      // Prepare: the file queue died between writing the dead letter and removing the original.
      const dir = await tempDir();
      const original = await fileQueueMessage(dir, 5, { receiveCount: 6 });
      await mkdir(`${dir}-dlq`);
      await writeFile(
        join(`${dir}-dlq`, `${original.messageId}.json`),
        JSON.stringify({ ...original, deadAt: Date.now() }),
      );
      // Act
      const q = queue({ spec: spec(), dir });
      // Assess
      expect(q.depth()).toEqual({ visible: 0, inFlight: 0, delayed: 0 });
      expect(q.deadLetters()).toEqual([
        expect.objectContaining({ messageId: original.messageId, message: { n: 5 } }),
      ]);
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
