/**
 * Lambda's SQS event source mapping, for one queue and one function: long-polls the queue, hands
 * each batch to the function as an `SQSEvent`, and with `ReportBatchItemFailures` (what CDK's
 * consumeQueue sets) deletes exactly the records the function did not report as failed. A failed
 * record, or every record of a failed invocation, is left alone: it comes back when its visibility
 * timeout ends, and the queue's redrive policy moves it to the DLQ after `maxReceiveCount` receives.
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import type { InvokeOutcome, LambdaFunction } from "./lambda-service.js";
import { MOTO_REGION } from "./moto-server.js";

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  fn: Pick<LambdaFunction, "invoke">;
  /** Records per invocation (shared/infra-spec's batchSize). */
  batchSize: number;
  /** Concurrent pollers, each with at most one batch in flight (the mapping's maxConcurrency, scaled down). */
  concurrency: number;
  /** Long-poll wait, seconds (Lambda uses 20). */
  waitTimeSeconds?: number;
  /** Called with each invocation that did not succeed as a whole (the test reports them). */
  onFailure?: (outcome: InvokeOutcome, records: SQSRecord[]) => void;
}

/** An SQS message as Lambda puts it in an event record. */
export function sqsRecordOf(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId as string,
    receiptHandle: message.ReceiptHandle as string,
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? "",
      ApproximateFirstReceiveTimestamp: attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(attributes.AWSTraceHeader ? { AWSTraceHeader: attributes.AWSTraceHeader } : {}),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(
        ([name, value]: [string, MessageAttributeValue]) => [
          name,
          {
            stringValue: value.StringValue,
            binaryValue: value.BinaryValue ? Buffer.from(value.BinaryValue).toString("base64") : undefined,
            stringListValues: value.StringListValues ?? [],
            binaryListValues: (value.BinaryListValues ?? []).map((b) => Buffer.from(b).toString("base64")),
            dataType: value.DataType as string,
          },
        ],
      ),
    ),
    md5OfBody: message.MD5OfBody as string,
    ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: MOTO_REGION,
  } as SQSRecord;
}

/**
 * The records to delete after an invocation, by Lambda's rules for `ReportBatchItemFailures`: a
 * function error fails the whole batch; a null or empty response, or an empty `batchItemFailures`,
 * succeeds it; a response naming an empty or unknown `itemIdentifier` fails the whole batch.
 */
export function recordsToDelete(records: SQSRecord[], outcome: InvokeOutcome): SQSRecord[] {
  if (outcome.kind !== "result") return [];
  const response = JSON.parse(outcome.payload) as Partial<SQSBatchResponse> | null;
  const failures = response?.batchItemFailures ?? [];
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const failure of failures) {
    const id = failure?.itemIdentifier;
    if (typeof id !== "string" || id === "" || !ids.has(id)) return [];
    failed.add(id);
  }
  return records.filter((r) => !failed.has(r.messageId));
}

export class SqsEventSource {
  /**
   * Fault injection: hand every batch to the function twice at once, as SQS's at-least-once delivery
   * may (two pollers holding one message). A record is deleted when either invocation succeeded.
   */
  duplicateDeliveries = false;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private busy = 0;
  /** Batches handed to the function, and records deleted after success. */
  readonly stats = { batches: 0, deleted: 0, failedBatches: 0 };

  constructor(private readonly options: SqsEventSourceOptions) {}

  /** Batches being processed right now. */
  get inFlight(): number {
    return this.busy;
  }

  start(): void {
    for (let i = 0; i < this.options.concurrency; i++) this.loops.push(this.poll());
  }

  /** Stops polling; waits for the batches in flight to finish. */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async poll(): Promise<void> {
    const { sqs, queueUrl, queueArn, fn, batchSize } = this.options;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        const received = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: batchSize,
            WaitTimeSeconds: this.options.waitTimeSeconds ?? 20,
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (signal.aborted) return;
        // Like the mapping, keep polling through a transient receive error.
        await new Promise((r) => setTimeout(r, 200));
        void error;
        continue;
      }
      if (messages.length === 0) continue;
      this.busy++;
      try {
        const records = messages.map((m) => sqsRecordOf(m, queueArn));
        const event: SQSEvent = { Records: records };
        this.stats.batches++;
        const outcomes = await Promise.all(
          Array.from({ length: this.duplicateDeliveries ? 2 : 1 }, () => fn.invoke(event)),
        );
        const succeeded = new Set(outcomes.flatMap((o) => recordsToDelete(records, o)));
        const done = records.filter((r) => succeeded.has(r));
        const failed = outcomes.find((o) => recordsToDelete(records, o).length < records.length);
        if (failed && done.length < records.length) {
          this.stats.failedBatches++;
          this.options.onFailure?.(
            failed,
            records.filter((r) => !done.includes(r)),
          );
        }
        for (let i = 0; i < done.length; i += 10) {
          const slice = done.slice(i, i + 10);
          await sqs.send(
            new DeleteMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: slice.map((r, n) => ({ Id: String(n), ReceiptHandle: r.receiptHandle })),
            }),
          );
          this.stats.deleted += slice.length;
        }
      } finally {
        this.busy--;
      }
    }
  }
}
