/**
 * `ReverieDeployments`: the EventBridge Scheduler group and the role that may invoke only the
 * deployment-runner, the API's and the runner's scoped permission to manage schedules in that group,
 * the runner's grants and its failed-firings destination — cdk-nag clean. Bundling is skipped.
 */
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { ReverieStack } from "../../infra/aws/reverie-stack.js";
import { actionsOf, cdkJsonContext, logicalIdOf, nagFindings, statementsOf } from "./infra-helpers.js";

let stack: ReverieStack;
let template: Template;

beforeAll(() => {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  stack = new ReverieStack(app, "Deploys");
  template = Template.fromStack(stack);
}, 120_000);

const envOf = (fn: Parameters<typeof logicalIdOf>[0]) =>
  template.findResources("AWS::Lambda::Function")[logicalIdOf(fn)]?.Properties.Environment
    .Variables as Record<string, unknown>;

describe("ReverieDeployments", () => {
  it("stays cdk-nag clean", () => {
    expect(nagFindings(stack.runtime.deployments)).toEqual([]);
    // The runner's function and its role (created beside the other functions' roles).
    expect(nagFindings(stack).filter((finding) => /Deployment/.test(finding))).toEqual([]);
  });

  it("has one schedule group, whose schedules only EventBridge Scheduler of this account runs", () => {
    const deployments = stack.runtime.deployments;
    template.hasResourceProperties("AWS::Scheduler::ScheduleGroup", {
      Name: Match.stringLikeRegexp("-deployments$"),
    });
    expect(Object.keys(template.findResources("AWS::Scheduler::ScheduleGroup"))).toContain(
      stack.getLogicalId(deployments.scheduleGroup),
    );
    template.hasResource("AWS::IAM::Role", {
      Properties: {
        Description: "EventBridge Scheduler invokes the Reverie deployment-runner function",
        AssumeRolePolicyDocument: {
          Statement: [
            Match.objectLike({
              Action: "sts:AssumeRole",
              Principal: { Service: "scheduler.amazonaws.com" },
              Condition: { StringEquals: { "aws:SourceAccount": Match.anyValue() } },
            }),
          ],
        },
      },
    });
  });

  it("lets that role invoke the deployment-runner and nothing else", () => {
    const role = stack.runtime.deployments.schedulerRole;
    const policies = template.findResources("AWS::IAM::Policy", {
      Properties: { Roles: [{ Ref: logicalIdOf(role) }] },
    });
    const statements = Object.values(policies).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>,
    );
    expect(statements.flatMap((s) => actionsOf(s as never))).toEqual(["lambda:InvokeFunction"]);
    const runner = logicalIdOf(stack.runtime.functions["deployment-runner"]);
    expect(JSON.stringify(statements[0]?.Resource)).toContain(runner);
    for (const other of ["api", "api-workspace", "agent-step", "dream-scheduler", "sweeper"] as const)
      expect(JSON.stringify(statements[0]?.Resource)).not.toContain(
        logicalIdOf(stack.runtime.functions[other]),
      );
  });

  it("lets the API (api-workspace) and the runner manage schedules in that group only, and pass only that role", () => {
    const group = stack.runtime.deployments.scheduleGroup.name as string;
    for (const fn of [
      stack.runtime.functions["api-workspace"],
      stack.runtime.functions["deployment-runner"],
    ]) {
      const statements = statementsOf(template, fn);
      const manage = statements.filter((s) => actionsOf(s).includes("scheduler:CreateSchedule"));
      const ours = manage.find((s) => JSON.stringify(s.Resource).includes(`${group}/*`));
      expect(actionsOf(ours as never).sort()).toEqual([
        "scheduler:CreateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:UpdateSchedule",
      ]);
      const passes = statements.filter((s) => actionsOf(s).includes("iam:PassRole"));
      // CDK merges the PassRole statements of one role into one (dream and deployment roles).
      expect(passes.flatMap((s) => [s.Resource].flat())).toContainEqual({
        "Fn::GetAtt": [logicalIdOf(stack.runtime.deployments.schedulerRole), "Arn"],
      });
    }
    // The runner never manages the dream schedules.
    const runnerStatements = statementsOf(template, stack.runtime.functions["deployment-runner"]);
    expect(JSON.stringify(runnerStatements)).not.toContain("-dreams/*");
  });

  it("tells the API where schedules go and the runner its group and role", () => {
    const api = envOf(stack.runtime.functions["api-workspace"]);
    expect(api).toMatchObject({
      REVERIE_DEPLOYMENT_SCHEDULE_GROUP: "Deploys-deployments",
      REVERIE_DEPLOYMENT_RUNNER_FUNCTION_ARN: {
        "Fn::GetAtt": [logicalIdOf(stack.runtime.functions["deployment-runner"]), "Arn"],
      },
      REVERIE_DEPLOYMENT_SCHEDULER_ROLE_ARN: {
        "Fn::GetAtt": [logicalIdOf(stack.runtime.deployments.schedulerRole), "Arn"],
      },
    });
    const runner = envOf(stack.runtime.functions["deployment-runner"]);
    expect(runner).toHaveProperty("REVERIE_DEPLOYMENT_SCHEDULE_GROUP");
    expect(runner).toHaveProperty("REVERIE_WEBHOOKS_QUEUE_URL");
    expect(runner).not.toHaveProperty("REVERIE_ANTHROPIC_SECRET_ARN");
  });

  it("grants the runner what a run needs (tables, step queue, webhooks, bus, workspace bucket), no model", () => {
    const statements = statementsOf(template, stack.runtime.functions["deployment-runner"]);
    const actions = new Set(statements.flatMap(actionsOf));
    for (const action of [
      "dynamodb:PutItem",
      "dynamodb:Query",
      "sqs:SendMessage",
      "events:PutEvents",
      "s3:PutObject",
    ])
      expect(actions.has(action), action).toBe(true);
    // It calls no model and invokes no function.
    expect(actions.has("lambda:InvokeFunction")).toBe(false);
    expect([...actions].some((a) => a.startsWith("bedrock:") || a.startsWith("secretsmanager:"))).toBe(false);
  });

  it("retries a failed firing twice, then parks it in an alarmed queue", () => {
    const queue = stack.runtime.deployments.failedFirings;
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: logicalIdOf(stack.runtime.functions["deployment-runner"]) },
      MaximumRetryAttempts: 2,
      DestinationConfig: {
        OnFailure: { Destination: { "Fn::GetAtt": [logicalIdOf(queue), "Arn"] } },
      },
    });
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": [logicalIdOf(queue), "QueueName"] } }],
    });
  });
});
