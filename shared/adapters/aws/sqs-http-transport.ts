/**
 * An SqsTransport straight over HTTP(S), without the AWS SDK's SQS client: SQS's JSON protocol
 * (`X-Amz-Target: AmazonSQS.SendMessage`, the queue URL in the body) through an AwsJsonClient
 * (signing, retries, clock-skew correction: aws-json-client.ts). Like the SDK's client it checks the
 * MD5 of the body SQS says it stored.
 */
import { createHash } from "node:crypto";
import { AwsJsonClient, type AwsJsonClientOptions, type AwsJsonService } from "./aws-json-client.js";
import type { SqsSendMessageInput, SqsTransport } from "./sqs-queue.js";

export const SQS_SERVICE: AwsJsonService = {
  signingName: "sqs",
  targetPrefix: "AmazonSQS",
  contentType: "application/x-amz-json-1.0",
  endpointId: "SQS",
  hostPrefix: "sqs",
};

/** SQS stored something other than the body sent (the SDK's `middleware-sdk-sqs` check). */
export class SqsChecksumError extends Error {
  constructor(
    readonly queueUrl: string,
    readonly messageId: unknown,
  ) {
    super(`SendMessage to ${queueUrl}: the MD5 of message ${String(messageId)} is not the body's`);
    this.name = "SqsChecksumError";
  }
}

export class SqsHttpTransport implements SqsTransport {
  private readonly client: AwsJsonClient;

  constructor(options: Omit<AwsJsonClientOptions, "service">) {
    this.client = new AwsJsonClient({ ...options, service: SQS_SERVICE });
  }

  async sendMessage(input: SqsSendMessageInput): Promise<void> {
    const output = await this.client.call("SendMessage", input);
    const md5 = createHash("md5").update(input.MessageBody, "utf8").digest("hex");
    if (output.MD5OfMessageBody !== md5) throw new SqsChecksumError(input.QueueUrl, output.MessageId);
  }
}
