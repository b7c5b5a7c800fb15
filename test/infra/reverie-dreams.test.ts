/**
 * `ReverieDreams`: the dream-jobs queue feeding dream-worker, the EventBridge Scheduler group and
 * invoke role for dream schedules, the API's scoped permission to manage them — cdk-nag clean.
 * Bundling is skipped here; reverie-stack.test.ts measures the dream functions' bundles.
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
  stack = new ReverieStack(app, "Dreams");
  template = Template.fromStack(stack);
}, 120_000);

describe("ReverieDreams", () => {
  it("stays cdk-nag clean", () => {
    expect(nagFindings(stack.runtime.dreams)).toEqual([]);
  });

  it("feeds dream-worker from the dream-jobs queue with a DLQ and partial batch failures", () => {
    const spec = queueSpecs["dream-jobs"];
    const dreams = stack.runtime.dreams;
    template.hasResourceProperties("AWS::SQS::Queue", {
      VisibilityTimeout: spec.visibilityTimeoutSeconds,
      RedrivePolicy: {
        deadLetterTargetArn: { "Fn::GetAtt": [logicalIdOf(dreams.jobsDeadLetterQueue), "Arn"] },
        maxReceiveCount: spec.maxReceiveCount,
      },
    });
    expect(spec.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * spec.consumerTimeoutSeconds);
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: logicalIdOf(stack.runtime.functions["dream-worker"]) },
      EventSourceArn: { "Fn::GetAtt": [logicalIdOf(dreams.jobsQueue), "Arn"] },
      BatchSize: spec.batchSize,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("lets EventBridge Scheduler (this account only) invoke dream-scheduler, and nothing else", () => {
    template.hasResourceProperties("AWS::Scheduler::ScheduleGroup", {
      Name: Match.stringLikeRegexp("dreams$"),
    });
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: "scheduler.amazonaws.com" },
            Condition: { StringEquals: { "aws:SourceAccount": Match.anyValue() } },
          }),
        ],
      },
    });
    const role = stack.runtime.dreams.schedulerRole;
    const policies = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: logicalIdOf(role) }] },
    });
    const actions = Object.values(policies).flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>).flatMap((s) =>
        Array.isArray(s.Action) ? s.Action : [s.Action],
      ),
    );
    expect(actions).toEqual(["lambda:InvokeFunction"]);
  });

  it("lets the API (api-memory) manage schedules in its own group only and pass only the invoke role", () => {
    const api = statementsOf(template, stack.runtime.functions["api-memory"]);
    const manage = api.find((s) => actionsOf(s).includes("scheduler:CreateSchedule"));
    expect(actionsOf(manage as never).sort()).toEqual([
      "scheduler:CreateSchedule",
      "scheduler:DeleteSchedule",
      "scheduler:UpdateSchedule",
    ]);
    expect(JSON.stringify(manage?.Resource)).toContain("-dreams/*");
    const pass = api.find((s) => actionsOf(s).includes("iam:PassRole"));
    // One PassRole statement per role: CDK merges the dream and deployment Scheduler roles into it.
    expect([pass?.Resource].flat()).toContainEqual({
      "Fn::GetAtt": [logicalIdOf(stack.runtime.dreams.schedulerRole), "Arn"],
    });
    for (const role of [pass?.Resource].flat()) expect(JSON.stringify(role)).toMatch(/SchedulerInvokeRole/);
  });

  it("gives the model settings to dream-worker, not to dream-scheduler", () => {
    const envOf = (name: "dream-worker" | "dream-scheduler") =>
      template.findResources("AWS::Lambda::Function")[logicalIdOf(stack.runtime.functions[name])]?.Properties
        .Environment.Variables;
    expect(envOf("dream-worker")).toHaveProperty("REVERIE_ANTHROPIC_SECRET_ARN");
    expect(envOf("dream-scheduler")).not.toHaveProperty("REVERIE_ANTHROPIC_SECRET_ARN");
    expect(envOf("dream-scheduler")).toHaveProperty("REVERIE_DREAM_JOBS_QUEUE_URL");
  });
});
