/**
 * The embedded stack's stand-in for SQS + the Lambda SQS event source mapping (no npm SQS emulator
 * speaks the current SDK's protocol). Semantics follow SQS standard queues: at-least-once delivery,
 * `delaySeconds`, a visibility timeout after each receive, redelivery of failed messages once it
 * passes, partial batch failures (`ReportBatchItemFailures`), and a dead-letter queue after
 * `maxReceiveCount` receives.
 *
 * Durability: with a `dir`, every message is one JSON file, written to a temporary name and renamed,
 * so a killed process never loses an accepted message nor leaves a half-written one (a process
 * crash, that is: files are not fsynced, so power loss may lose the latest sends). Dead letters go to
 * the sibling directory `<dir>-dlq`. One LocalQueue per directory at a time.
 *
 * Restart policy: messages that were in flight when the previous process died become visible
 * immediately on load (their consumer died with it); delayed messages keep their delay. Their receive
 * count is kept, so a message that keeps crashing the process still ends in the DLQ.
 *
 * Timing: a send wakes idle consumers at once; timers are used only for delays and visibility expiry.
 * Durations are in seconds and may be fractional (tests use short ones).
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync } from "node:fs";
import { rename, unlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { MessageQueue } from "../../core/ports.js";
import type { QueueSpec } from "../../infra-spec/queues.js";

export interface LocalQueueOptions {
  spec: QueueSpec;
  /** Directory holding one file per message; undefined keeps messages in memory only. */
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

/** A message as stored (also the JSON file's content). */
interface StoredMessage {
  messageId: string;
  /** The message as a JSON string, exactly what a record's `body` carries. */
  body: string;
  md5OfBody: string;
  sentAt: number;
  /** Not receivable before this instant (delay, or visibility timeout after a receive). */
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** The receipt of the latest receive; a result for an older receipt no longer counts. */
  receiptHandle?: string;
  deadAt?: number;
}

const region = "us-east-1";
const accountId = "000000000000";
/** Node's setTimeout limit (~24.8 days). */
const maxTimerMs = 2 ** 31 - 1;

export class LocalQueue<M> implements MessageQueue<M> {
  private readonly spec: QueueSpec;
  private readonly clock: () => number;
  private readonly dir: string | undefined;
  private readonly deadDir: string | undefined;
  private readonly eventSourceARN: string;

  /** Live messages in send order. */
  private readonly messages = new Map<string, StoredMessage>();
  private readonly dead: StoredMessage[] = [];
  /** Per-message chain of file operations, so a later write or delete never overtakes an earlier one. */
  private readonly fileOps = new Map<string, Promise<void>>();

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
    if (options.dir !== undefined) {
      this.dir = resolve(options.dir);
      this.deadDir = `${this.dir}-dlq`;
      this.load(this.dir, this.deadDir);
    }
  }

  async send(message: M, options: { delaySeconds?: number } = {}): Promise<void> {
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
    await this.persist(stored, this.dir);
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
    await this.fileOpsSettled();
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

  /** Resolves once no message is visible, in flight or delayed, and every file write has landed. */
  async drained(): Promise<void> {
    while (this.messages.size > 0) {
      await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
    }
    await this.fileOpsSettled();
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
    return batch;
  }

  private async deliver(consumer: LocalQueueConsumer, batch: StoredMessage[]): Promise<void> {
    const receipts = batch.map((message) => ({ message, receiptHandle: message.receiptHandle as string }));
    try {
      // The receive count must be on disk before the consumer runs, or a crash loop would never end.
      await Promise.all(batch.map((message) => this.persist(message, this.dir)));
    } catch {
      return; // Undelivered; the messages reappear when their visibility timeout passes.
    }
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
    for (const { message, receiptHandle } of receipts) {
      const current = this.messages.get(message.messageId);
      // A failure stays invisible until its visibility timeout passes; a result for a receipt that
      // was superseded by a redelivery is ignored, as SQS ignores stale receipt handles.
      if (failed.has(message.messageId) || current?.receiptHandle !== receiptHandle) continue;
      this.messages.delete(message.messageId);
      // If the file cannot be removed the message is delivered again after a restart: at least once.
      this.unpersist(message.messageId, this.dir).catch(() => undefined);
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
    const deadLetter = { ...message, deadAt: now };
    this.dead.push(deadLetter);
    // Written to the DLQ before it leaves the queue: a crash in between duplicates, never loses.
    this.persist(deadLetter, this.deadDir)
      .then(() => this.unpersist(message.messageId, this.dir))
      .catch(() => undefined);
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

  private persist(message: StoredMessage, dir: string | undefined): Promise<void> {
    if (dir === undefined) return Promise.resolve();
    const snapshot = JSON.stringify(message);
    return this.chainFileOp(message.messageId, async () => {
      const file = join(dir, `${message.messageId}.json`);
      const temporary = `${file}.${randomUUID()}.tmp`;
      await writeFile(temporary, snapshot);
      await rename(temporary, file);
    });
  }

  private unpersist(messageId: string, dir: string | undefined): Promise<void> {
    if (dir === undefined) return Promise.resolve();
    return this.chainFileOp(messageId, async () => {
      await unlink(join(dir, `${messageId}.json`)).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== "ENOENT") throw error;
      });
    });
  }

  private chainFileOp(messageId: string, operation: () => Promise<void>): Promise<void> {
    const result = (this.fileOps.get(messageId) ?? Promise.resolve()).then(operation);
    const settled = result.catch(() => undefined);
    this.fileOps.set(messageId, settled);
    void settled.then(() => {
      if (this.fileOps.get(messageId) === settled) this.fileOps.delete(messageId);
    });
    return result;
  }

  private async fileOpsSettled(): Promise<void> {
    while (this.fileOps.size > 0) await Promise.all(this.fileOps.values());
  }

  private load(dir: string, deadDir: string): void {
    mkdirSync(dir, { recursive: true });
    mkdirSync(deadDir, { recursive: true });
    const dead = readMessages(deadDir);
    this.dead.push(...dead);
    const deadIds = new Set(dead.map((message) => message.messageId));
    const now = this.clock();
    for (const message of readMessages(dir)) {
      if (deadIds.has(message.messageId)) {
        // The process died between writing the dead letter and removing the original.
        unlinkSync(join(dir, `${message.messageId}.json`));
        continue;
      }
      if (message.receiveCount > 0 && message.visibleAt > now) message.visibleAt = now;
      this.messages.set(message.messageId, message);
    }
  }
}

/** Reads the message files of a directory in send order, clearing leftovers of interrupted writes. */
function readMessages(dir: string): StoredMessage[] {
  const messages: StoredMessage[] = [];
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (name.endsWith(".tmp")) {
      unlinkSync(file);
      continue;
    }
    if (!name.endsWith(".json")) continue;
    try {
      messages.push(JSON.parse(readFileSync(file, "utf8")) as StoredMessage);
    } catch {
      // Renames are atomic, so this is not ours to delete; keep it out of the way for inspection.
      renameSync(file, `${file}.unreadable`);
    }
  }
  return messages.sort((a, b) => a.sentAt - b.sentAt || a.messageId.localeCompare(b.messageId));
}
