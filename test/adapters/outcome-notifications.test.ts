/** The SNS topic and EventBridge bus adapters, and the fan-out that feeds them, on mocked AWS clients. */
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { PublishCommand, SNSClient } from "@aws-sdk/client-sns";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { EventBridgeEventBus } from "../../shared/adapters/aws/eventbridge-event-bus.js";
import { SnsNotificationTopic } from "../../shared/adapters/aws/sns-notification-topic.js";
import { DomainEventFanout } from "../../shared/core/events/domain-event-fanout.js";
import type { DomainEvent } from "../../shared/core/ports.js";

const sns = mockClient(SNSClient);
const events = mockClient(EventBridgeClient);
const topicArn = "arn:aws:sns:us-east-1:123456789012:reverie-outcomes";

afterEach(() => {
  sns.reset();
  events.reset();
});

const outcomeEnded = (result: string): DomainEvent => ({
  type: "session.outcome_evaluation_ended",
  id: "wevt_1",
  workspaceId: "wrkspc_1",
  createdAt: "2026-11-23T00:00:00.000Z",
  data: { id: "sesn_1", outcome_id: "outc_1", agent_id: "agent_1", result, iteration: 0 },
});

function fanout() {
  return new DomainEventFanout({
    topic: new SnsNotificationTopic({ client: new SNSClient({}), topicArn }),
    bus: new EventBridgeEventBus({ client: new EventBridgeClient({}), busName: "reverie" }),
  });
}

describe("outcome notifications on AWS", () => {
  it("publishes to SNS with workspace, agent, session and outcome attributes when an outcome is satisfied", async () => {
    sns.on(PublishCommand).resolves({ MessageId: "m-1" });
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] });
    await fanout().publish(outcomeEnded("satisfied"));
    const [publish] = sns.commandCalls(PublishCommand).map((c) => c.args[0].input);
    expect(publish).toMatchObject({
      TopicArn: topicArn,
      MessageAttributes: {
        workspace: { DataType: "String", StringValue: "wrkspc_1" },
        agent: { DataType: "String", StringValue: "agent_1" },
        session: { DataType: "String", StringValue: "sesn_1" },
        outcome: { DataType: "String", StringValue: "outc_1" },
      },
    });
    expect(JSON.parse(publish?.Message ?? "{}")).toMatchObject({
      outcome: "outc_1",
      type: "session.outcome_evaluation_ended",
    });
  });

  it("does not publish to SNS for other verdicts, but puts every event on the bus", async () => {
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] });
    await fanout().publish(outcomeEnded("needs_revision"));
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
    const [put] = events.commandCalls(PutEventsCommand).map((c) => c.args[0].input);
    expect(put?.Entries).toEqual([
      expect.objectContaining({
        EventBusName: "reverie",
        Source: "reverie",
        DetailType: "session.outcome_evaluation_ended",
      }),
    ]);
    expect(JSON.parse(put?.Entries?.[0]?.Detail ?? "{}")).toMatchObject({
      id: "sesn_1",
      result: "needs_revision",
    });
  });

  it("throws when EventBridge rejects an entry, so the publisher's caller retries", async () => {
    events
      .on(PutEventsCommand)
      .resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: "X", ErrorMessage: "throttled" }] });
    await expect(fanout().publish(outcomeEnded("failed"))).rejects.toThrow(/throttled/);
  });
});
