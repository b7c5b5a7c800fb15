import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { SqsQueue } from "../../shared/adapters/aws/sqs-queue.js";

const queueUrl = "https://sqs.us-east-1.amazonaws.com/123456789012/agent-steps";
const sqs = mockClient(SQSClient);

afterEach(() => {
  sqs.reset();
});

function sentInputs() {
  return sqs.commandCalls(SendMessageCommand).map((call) => call.args[0].input);
}

describe("SqsQueue", () => {
  it("sends the message as its JSON body to the queue URL, without a delay by default", async () => {
    // Prepare
    sqs.on(SendMessageCommand).resolves({ MessageId: "m-1" });
    const queue = new SqsQueue<{ sessionId: string; stepSeq: number }>({
      client: new SQSClient({}),
      queueUrl,
    });
    // Act
    await queue.send({ sessionId: "sesn_1", stepSeq: 3 });
    // Assess
    expect(sentInputs()).toEqual([
      { QueueUrl: queueUrl, MessageBody: '{"sessionId":"sesn_1","stepSeq":3}', DelaySeconds: undefined },
    ]);
  });

  it("passes DelaySeconds through, rounded up to whole seconds and clamped to 0..900", async () => {
    // Prepare
    sqs.on(SendMessageCommand).resolves({ MessageId: "m-1" });
    const queue = new SqsQueue<number>({ client: new SQSClient({}), queueUrl });
    // Act
    for (const delaySeconds of [0, 30, 2.2, -5, 900, 3_600, Number.POSITIVE_INFINITY]) {
      await queue.send(1, { delaySeconds });
    }
    // Assess
    expect(sentInputs().map((input) => input.DelaySeconds)).toEqual([0, 30, 3, 0, 900, 900, 900]);
  });

  it("propagates SQS errors to the caller", async () => {
    // Prepare
    sqs.on(SendMessageCommand).rejects(new Error("throttled"));
    const queue = new SqsQueue<number>({ client: new SQSClient({}), queueUrl });
    // Act
    const sending = queue.send(1);
    // Assess
    await expect(sending).rejects.toThrow("throttled");
  });
});
