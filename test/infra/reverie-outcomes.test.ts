/**
 * The outcomes and webhooks part of the deployed shape: grader and webhooks queues with DLQs, their
 * consumers, the outcomes topic, the event bus, alarms and grants. Synthesized without bundling
 * (bundle sizes are checked in reverie-stack.test.ts, which bundles every entry once).
 */
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { ReverieStack } from "../../infra/aws/reverie-stack.js";
import { queueSpecs } from "../../shared/infra-spec/queues.js";
import { actionsOf, cdkJsonContext, logicalIdOf, nagFindings, statementsOf } from "./infra-helpers.js";

let stack: ReverieStack;
let template: Template;

beforeAll(() => {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  stack = new ReverieStack(app, "ReverieOutcomesTest");
  template = Template.fromStack(stack);
}, 120_000);

const outcomes = () => stack.runtime.outcomes;
const actions = (fn: Parameters<typeof statementsOf>[1]) => statementsOf(template, fn).flatMap(actionsOf);

describe("grader and webhooks queues", () => {
  it.each([
    [
      "grader",
      () => outcomes().graderQueue,
      () => outcomes().graderDeadLetterQueue,
      () => outcomes().functions.grader,
    ],
    [
      "webhooks",
      () => outcomes().webhooksQueue,
      () => outcomes().webhooksDeadLetterQueue,
      () => outcomes().functions["webhook-deliver"],
    ],
  ] as const)(
    "%s: spec'd visibility ≥ 6× timeout, redrive to its DLQ, consumed with partial failures",
    (name, queue, dlq, fn) => {
      const spec = queueSpecs[name];
      expect(spec.maxReceiveCount).toBeGreaterThanOrEqual(5);
      expect(spec.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * spec.consumerTimeoutSeconds);
      const resource = template.findResources("AWS::SQS::Queue")[logicalIdOf(queue())];
      expect(resource?.Properties).toMatchObject({
        VisibilityTimeout: spec.visibilityTimeoutSeconds,
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: { "Fn::GetAtt": [logicalIdOf(dlq()), "Arn"] },
          maxReceiveCount: spec.maxReceiveCount,
        },
      });
      const consumer = template.findResources("AWS::Lambda::Function")[logicalIdOf(fn())];
      expect(consumer?.Properties.Timeout).toBe(spec.consumerTimeoutSeconds);
      template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
        FunctionName: { Ref: logicalIdOf(fn()) },
        EventSourceArn: { "Fn::GetAtt": [logicalIdOf(queue()), "Arn"] },
        BatchSize: spec.batchSize,
        FunctionResponseTypes: ["ReportBatchItemFailures"],
      });
    },
  );

  it("alarms on both DLQs and on the grader queue's age", () => {
    for (const dlq of [outcomes().graderDeadLetterQueue, outcomes().webhooksDeadLetterQueue]) {
      template.hasResourceProperties("AWS::CloudWatch::Alarm", {
        MetricName: "ApproximateNumberOfMessagesVisible",
        Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [logicalIdOf(dlq), "QueueName"] } }],
        Threshold: 0,
      });
    }
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateAgeOfOldestMessage",
      Dimensions: [
        { Name: "QueueName", Value: { "Fn::GetAtt": [logicalIdOf(outcomes().graderQueue), "QueueName"] } },
      ],
    });
  });
});

describe("outcomes topic and event bus", () => {
  it("the topic is encrypted and TLS-only; the bus exists; both are wired into every function", () => {
    template.hasResourceProperties("AWS::SNS::Topic", { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties("AWS::SNS::TopicPolicy", {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      }),
    });
    template.resourceCountIs("AWS::Events::EventBus", 1);
    const functions = template.findResources("AWS::Lambda::Function");
    for (const fn of [...Object.values(stack.runtime.functions), ...Object.values(outcomes().functions)]) {
      expect(functions[logicalIdOf(fn)]?.Properties.Environment.Variables).toMatchObject({
        REVERIE_GRADER_QUEUE_URL: { Ref: logicalIdOf(outcomes().graderQueue) },
        REVERIE_WEBHOOKS_QUEUE_URL: { Ref: logicalIdOf(outcomes().webhooksQueue) },
        REVERIE_OUTCOMES_TOPIC_ARN: { Ref: logicalIdOf(outcomes().outcomesTopic) },
        REVERIE_EVENT_BUS_NAME: { Ref: logicalIdOf(outcomes().eventBus) },
      });
    }
    template.hasOutput("OutcomesTopicArn", Match.anyValue());
    template.hasOutput("EventBusName", Match.anyValue());
  });
});

describe("grants", () => {
  it("only the grader publishes to the topic, reads the secret and the workspace among the new functions", () => {
    const grader = actions(outcomes().functions.grader);
    expect(grader).toEqual(
      expect.arrayContaining(["sns:Publish", "events:PutEvents", "secretsmanager:GetSecretValue"]),
    );
    expect(grader.some((a) => a.startsWith("s3:Get"))).toBe(true);
    expect(grader.some((a) => /^s3:(Put|Delete)/.test(a))).toBe(false);
    const deliver = actions(outcomes().functions["webhook-deliver"]);
    expect(deliver.some((a) => /^(s3|secretsmanager|sns|events):/.test(a))).toBe(false);
    expect(actions(stack.runtime.functions.api)).not.toContain("sns:Publish");
  });

  it("publishers of domain events may enqueue webhooks and put events; the sweeper may re-nudge the grader", () => {
    for (const fn of [stack.runtime.functions.api, stack.runtime.functions["agent-step"]]) {
      expect(actions(fn)).toEqual(expect.arrayContaining(["events:PutEvents", "sqs:SendMessage"]));
    }
    const sweeper = statementsOf(template, stack.runtime.functions.sweeper);
    expect(
      sweeper.some(
        (s) =>
          actionsOf(s).includes("sqs:SendMessage") &&
          JSON.stringify(s.Resource).includes(logicalIdOf(outcomes().graderQueue)),
      ),
    ).toBe(true);
  });
});

describe("cdk-nag", () => {
  it("reports nothing unacknowledged for the outcomes resources", () => {
    expect(nagFindings(stack).filter((f) => f.includes("Outcomes"))).toEqual([]);
  });
});
