/**
 * The MessageQueue port on SQS: a message is its JSON body; delays are whole seconds, at most 15
 * minutes. The SendMessage request goes through a transport: signed HTTP without the SDK
 * (sqs-http-transport.ts, what the Lambda functions use) or the SDK's client, imported on first use.
 */
import type { SQSClient } from "@aws-sdk/client-sqs";
import type { MessageQueue } from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

/** SendMessage's input, as both SQS's JSON protocol and the SDK's command take it. */
export interface SqsSendMessageInput {
  QueueUrl: string;
  MessageBody: string;
  DelaySeconds?: number;
}

/** Sends one SendMessage request. */
export interface SqsTransport {
  sendMessage(input: SqsSendMessageInput): Promise<void>;
}

export type SqsQueueOptions = { queueUrl: string } & (
  | { transport: SqsTransport; client?: undefined }
  | { client: SdkClient<SQSClient>; transport?: undefined }
);

/**
 * The SDK's SQS client as a transport; `@aws-sdk/client-sqs` (its command) is imported on the first
 * message, so this module imports nothing of the SDK at load.
 */
export function sqsSdkTransport(client: SdkClient<SQSClient>): SqsTransport {
  const sqs = sdkClientGetter(client);
  return {
    async sendMessage(input) {
      const { SendMessageCommand } = await import("@aws-sdk/client-sqs");
      await (await sqs()).send(new SendMessageCommand(input));
    },
  };
}

/** SQS's per-message delay limit. */
const maxDelaySeconds = 900;

export class SqsQueue<M> implements MessageQueue<M> {
  private readonly transport: SqsTransport;
  private readonly queueUrl: string;

  constructor(options: SqsQueueOptions) {
    this.transport = options.transport ?? sqsSdkTransport(options.client);
    this.queueUrl = options.queueUrl;
  }

  async send(message: M, options: { delaySeconds?: number } = {}): Promise<void> {
    await this.transport.sendMessage({
      QueueUrl: this.queueUrl,
      MessageBody: JSON.stringify(message),
      DelaySeconds: options.delaySeconds === undefined ? undefined : clampDelay(options.delaySeconds),
    });
  }
}

/** SQS takes whole seconds in 0..900; round up so a backoff is never shortened. */
function clampDelay(seconds: number): number {
  if (!Number.isFinite(seconds)) return seconds > 0 ? maxDelaySeconds : 0;
  return Math.min(maxDelaySeconds, Math.max(0, Math.ceil(seconds)));
}
