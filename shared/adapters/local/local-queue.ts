/**
 * The embedded stack's stand-in for SQS + the Lambda SQS event source mapping (no npm SQS emulator
 * speaks the current SDK's protocol). Semantics follow SQS standard queues: at-least-once delivery,
 * `delaySeconds`, a visibility timeout after each receive, redelivery of failed messages once it
 * passes, partial batch failures (`ReportBatchItemFailures`), and a dead-letter queue after
 * `maxReceiveCount` receives.
 *
 * Durability: with a `dir`, every message is a row of the SQLite database `queues.sqlite` in the
 * directory above it, shared by the queues beside it (local-queue-database.ts says why one file).
 * A send, a receive and an acknowledgement each commit before they return, so a killed process
 * never loses an accepted message (a process crash, that is: with `synchronous = NORMAL` a power
 * loss may lose the latest commits). The queue's name in the database is the last segment of `dir`;
 * its dead letters are the queue `<name>-dlq`, so a LocalQueue on the sibling `<dir>-dlq` sees them
 * after a restart, as SQS's DLQ would. One process uses a database at a time. Message files left in
 * `dir` and `<dir>-dlq` by the earlier file-per-message queue are moved into the database on open
 * (local-queue-file-migration.ts).
 *
 * Restart policy: messages that were in flight when the previous process died become visible
 * immediately on load (their consumer died with it); delayed messages keep their delay. Their receive
 * count is kept, so a message that keeps crashing the process still ends in the DLQ.
 *
 * Timing: a send wakes idle consumers at once; timers are used only for delays and visibility expiry.
 * Durations are in seconds and may be fractional (tests use short ones).
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { MessageQueue } from "../../core/ports.js";
import type { QueueSpec } from "../../infra-spec/queues.js";
import { LocalQueueDatabase, type StoredMessage } from "./local-queue-database.js";
import { migrateMessageFiles } from "./local-queue-file-migration.js";

export interface LocalQueueOptions {
  spec: QueueSpec;
  /**
   * Names the queue and where it is kept: `<dir>/../queues.sqlite`, as the queue `basename(dir)`
   * (e.g. `.reverie/queues/agent-steps`). Undefined keeps messages in memory only.
   */
  dir?: string;
  /** Epoch milliseconds. */
  clock?: () => number;
}

/** Shaped like aws-lambda's `SQSHandler`, so the Lambda entry itself can be the consumer. */
// biome-ignore lint/suspicious/noConfusingVoidType: mirrors aws-lambda's SQSHandler return type.
export type LocalQueueConsumer = (event: SQSEvent) => Promise<SQSBatchResponse | void>;

export interface LocalQueueStartOptions {
  /** Batches delivered at the same time, like concurrent Lambda invocations. Default 1. */
  concurrency?: number;
  /** Overrides `spec.visibilityTimeoutSeconds`. */
  visibilityTimeoutSeconds?: number;
}

export interface QueueDepth {
  visible: number;
  inFlight: number;
  delayed: number;
}

export interface DeadLetter<M> {
  messageId: string;
  message: M;
  receiveCount: number;
  sentAt: number;
  deadAt: number;
}

/** Where a durable queue is kept: its database and its own and its DLQ's names in it. */
interface Persistence {
  database: LocalQueueDatabase;
  queue: string;
  deadLetterQueue: string;
}

const region = "us-east-1";
const accountId = "000000000000";
/** Node's setTimeout limit (~24.8 days). */
const maxTimerMs = 2 ** 31 - 1;

export class LocalQueue<M> implements MessageQueue<M> {
  private readonly spec: QueueSpec;
  private readonly clock: () => number;
  /** Undefined: in memory only. */
  private readonly persistence: Persistence | undefined;
  private closed = false;
  private readonly eventSourceARN: string;

  /** Live messages in send order. */
  private readonly messages = new Map<string, StoredMessage>();
  private readonly dead: StoredMessage[] = [];

  private consumer: LocalQueueConsumer | undefined;
  private concurrency = 1;
  private visibilityTimeoutMs: number;
  private readonly runningBatches = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private pumpRequested = false;
  private drainWaiters: Array<() => void> = [];

  constructor(options: LocalQueueOptions) {
    this.spec = options.spec;
    this.clock = options.clock ?? Date.now;
    this.visibilityTimeoutMs = options.spec.visibilityTimeoutSeconds * 1000;
    this.eventSourceARN = `arn:aws:sqs:${region}:${accountId}:${options.spec.name}`;
    if (options.dir !== undefined) this.persistence = this.open(resolve(options.dir));
  }

  async send(message: M, options: { delaySeconds?: number } = {}): Promise<void> {
    if (this.closed) throw new Error(`queue ${this.persistence?.queue ?? this.spec.name} is closed`);
    const body = JSON.stringify(message);
    const now = this.clock();
    const stored: StoredMessage = {
      messageId: randomUUID(),
      body,
      md5OfBody: createHash("md5").update(body).digest("hex"),
      sentAt: now,
      visibleAt: now + Math.max(0, options.delaySeconds ?? 0) * 1000,
      receiveCount: 0,
    };
    this.persistence?.database.insert(this.persistence.queue, stored);
    this.messages.set(stored.messageId, stored);
    this.requestPump();
  }

  /** Delivers batches to `consumer` until `stop()`. */
  start(consumer: LocalQueueConsumer, options: LocalQueueStartOptions = {}): void {
    if (this.consumer !== undefined) throw new Error(`queue ${this.spec.name} already has a consumer`);
    this.consumer = consumer;
    this.concurrency = Math.max(1, options.concurrency ?? 1);
    this.visibilityTimeoutMs =
      (options.visibilityTimeoutSeconds ?? this.spec.visibilityTimeoutSeconds) * 1000;
    this.requestPump();
  }

  /** Stops delivering and waits for the batches in flight (their results are still applied). */
  async stop(): Promise<void> {
    this.consumer = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    await Promise.all(this.runningBatches);
  }

  /** Stops, and gives up the database (closed with the last queue using it); no sends afterwards. */
  async close(): Promise<void> {
    await this.stop();
    if (this.closed) return;
    this.closed = true;
    this.persistence?.database.release();
  }

  depth(): QueueDepth {
    const now = this.clock();
    const depth = { visible: 0, inFlight: 0, delayed: 0 };
    for (const message of this.messages.values()) {
      if (message.visibleAt <= now) depth.visible++;
      else if (message.receiveCount > 0) depth.inFlight++;
      else depth.delayed++;
    }
    return depth;
  }

  /** Resolves once no message is visible, in flight or delayed (every write commits as it is made). */
  async drained(): Promise<void> {
    while (this.messages.size > 0) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
  }

  deadLetters(): DeadLetter<M>[] {
    return this.dead.map((message) => ({
      messageId: message.messageId,
      message: JSON.parse(message.body) as M,
      receiveCount: message.receiveCount,
      sentAt: message.sentAt,
      deadAt: message.deadAt ?? message.sentAt,
    }));
  }

  /** Coalesces the wake-ups of one tick (e.g. several sends) into one pass. */
  private requestPump(): void {
    if (this.pumpRequested) return;
    this.pumpRequested = true;
    queueMicrotask(() => {
      this.pumpRequested = false;
      this.pump();
    });
  }

  /** Starts as many batches as concurrency allows, then arms the timer for the next message due. */
  private pump(): void {
    while (this.consumer !== undefined && this.runningBatches.size < this.concurrency) {
      const batch = this.receive();
      if (batch.length === 0) break;
      const running: Promise<void> = this.deliver(this.consumer, batch).finally(() => {
        this.runningBatches.delete(running);
        this.requestPump();
      });
      this.runningBatches.add(running);
    }
    this.armTimer();
    this.notifyIfDrained();
  }

  /** Takes up to a batch of visible messages, moving those that exhausted their receives to the DLQ. */
  private receive(): StoredMessage[] {
    const now = this.clock();
    const batch: StoredMessage[] = [];
    for (const message of this.messages.values()) {
      if (batch.length >= this.spec.batchSize) break;
      if (message.visibleAt > now) continue;
      if (message.receiveCount >= this.spec.maxReceiveCount) {
        this.moveToDeadLetters(message, now);
        continue;
      }
      message.receiveCount++;
      message.firstReceivedAt ??= now;
      message.visibleAt = now + this.visibilityTimeoutMs;
      message.receiptHandle = randomUUID();
      batch.push(message);
    }
    if (batch.length === 0 || this.persistence === undefined) return batch;
    try {
      // The receive count must be stored before the consumer runs, or a crash loop would never end.
      this.persistence.database.saveReceives(batch);
      return batch;
    } catch {
      return []; // Undelivered; the messages reappear when their visibility timeout passes.
    }
  }

  private async deliver(consumer: LocalQueueConsumer, batch: StoredMessage[]): Promise<void> {
    const receipts = batch.map((message) => ({ message, receiptHandle: message.receiptHandle as string }));
    const records = receipts.map(({ message, receiptHandle }) => this.toRecord(message, receiptHandle));
    let failed: Set<string>;
    try {
      const response = await consumer({ Records: records });
      failed = new Set((response?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier));
      // Lambda fails the whole batch when a reported identifier is not one of its messages.
      if ([...failed].some((id) => !batch.some((message) => message.messageId === id))) {
        failed = new Set(batch.map((message) => message.messageId));
      }
    } catch {
      failed = new Set(batch.map((message) => message.messageId));
    }
    const done: string[] = [];
    for (const { message, receiptHandle } of receipts) {
      const current = this.messages.get(message.messageId);
      // A failure stays invisible until its visibility timeout passes; a result for a receipt that
      // was superseded by a redelivery is ignored, as SQS ignores stale receipt handles.
      if (failed.has(message.messageId) || current?.receiptHandle !== receiptHandle) continue;
      this.messages.delete(message.messageId);
      done.push(message.messageId);
    }
    if (done.length === 0 || this.persistence === undefined) return;
    try {
      this.persistence.database.delete(done);
    } catch {
      // Still stored, so delivered again after a restart: at least once.
    }
  }

  private toRecord(message: StoredMessage, receiptHandle: string): SQSRecord {
    return {
      messageId: message.messageId,
      receiptHandle,
      body: message.body,
      attributes: {
        ApproximateReceiveCount: String(message.receiveCount),
        SentTimestamp: String(message.sentAt),
        SenderId: accountId,
        ApproximateFirstReceiveTimestamp: String(message.firstReceivedAt ?? message.sentAt),
      },
      messageAttributes: {},
      md5OfBody: message.md5OfBody,
      eventSource: "aws:sqs",
      eventSourceARN: this.eventSourceARN,
      awsRegion: region,
    };
  }

  private moveToDeadLetters(message: StoredMessage, now: number): void {
    this.messages.delete(message.messageId);
    this.dead.push({ ...message, deadAt: now });
    if (this.persistence === undefined) return;
    const { database, deadLetterQueue } = this.persistence;
    try {
      database.moveToDeadLetters(message.messageId, deadLetterQueue, now);
    } catch {
      // Still stored in this queue with its receives spent: after a restart, its first receive moves it.
    }
  }

  private armTimer(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    // While every slot is busy, the next batch to finish pumps again; a timer would only spin.
    if (this.consumer === undefined || this.runningBatches.size >= this.concurrency) return;
    let next = Number.POSITIVE_INFINITY;
    for (const message of this.messages.values()) next = Math.min(next, message.visibleAt);
    if (next === Number.POSITIVE_INFINITY) return;
    const waitMs = Math.min(maxTimerMs, Math.max(0, next - this.clock()));
    this.timer = setTimeout(() => this.requestPump(), waitMs);
    this.timer.unref();
  }

  private notifyIfDrained(): void {
    if (this.messages.size > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Opens the queue's database, moves in the files of the file queue, and loads what it holds. */
  private open(dir: string): Persistence {
    mkdirSync(dirname(dir), { recursive: true });
    const database = LocalQueueDatabase.open(join(dirname(dir), "queues.sqlite"));
    const queue = basename(dir);
    const deadLetterQueue = `${queue}-dlq`;
    try {
      // Dead letters first: a message the file queue had in both (it died between writing the dead
      // letter and removing the original) is then a dead letter, and its live copy is dropped.
      migrateMessageFiles(database, deadLetterQueue, `${dir}-dlq`);
      migrateMessageFiles(database, queue, dir);
      this.dead.push(...database.load(deadLetterQueue));
      const now = this.clock();
      for (const message of database.load(queue)) {
        // In flight when the last process died: its consumer is gone, so it is visible at once.
        if (message.receiveCount > 0 && message.visibleAt > now) message.visibleAt = now;
        this.messages.set(message.messageId, message);
      }
    } catch (error) {
      database.release();
      throw error;
    }
    return { database, queue, deadLetterQueue };
  }
}
