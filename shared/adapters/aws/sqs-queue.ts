/** The MessageQueue port on SQS: a message is its JSON body; delays are whole seconds, at most 15 minutes. */
import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { MessageQueue } from "../../core/ports.js";

export interface SqsQueueOptions {
  client: SQSClient;
  queueUrl: string;
}

/** SQS's per-message delay limit. */
const maxDelaySeconds = 900;

export class SqsQueue<M> implements MessageQueue<M> {
  private readonly client: SQSClient;
  private readonly queueUrl: string;

  constructor(options: SqsQueueOptions) {
    this.client = options.client;
    this.queueUrl = options.queueUrl;
  }

  async send(message: M, options: { delaySeconds?: number } = {}): Promise<void> {
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify(message),
        DelaySeconds: options.delaySeconds === undefined ? undefined : clampDelay(options.delaySeconds),
      }),
    );
  }
}

/** SQS takes whole seconds in 0..900; round up so a backoff is never shortened. */
function clampDelay(seconds: number): number {
  if (!Number.isFinite(seconds)) return seconds > 0 ? maxDelaySeconds : 0;
  return Math.min(maxDelaySeconds, Math.max(0, Math.ceil(seconds)));
}
