/**
 * The WorkflowRuns construct: the role every run's state machine runs as sends only to the
 * agent-steps queue; callers may create, start, stop and delete only machines under the
 * deployment's workflow prefix and pass only that role, to Step Functions only; cdk-nag clean.
 */
import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { WorkflowRuns } from "../../infra/aws/workflow-runs.js";
import { actionsOf, nagFindings, type Statement, statementsOf } from "./infra-helpers.js";

let stack: Stack;
let template: Template;
let fn: lambda.Function;
let runs: WorkflowRuns;

beforeAll(() => {
  const app = new App();
  stack = new Stack(app, "WorkflowTest");
  const queue = new sqs.Queue(stack, "Steps", { enforceSSL: true });
  fn = new lambda.Function(stack, "Step", {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: "index.handler",
    code: lambda.Code.fromInline("export const handler = async () => {};"),
  });
  runs = new WorkflowRuns(stack, "Workflows", { queue, callers: [fn] });
  template = Template.fromStack(stack);
});

describe("WorkflowRuns construct", () => {
  it("gives the state machines' role sends to the queue only (plus log delivery and X-Ray)", () => {
    const roleId = stack.getLogicalId(runs.role.node.defaultChild as never);
    const policies = Object.values(template.findResources("AWS::IAM::Policy")).filter((p) =>
      (p.Properties.Roles as Array<{ Ref?: string }>).some((r) => r.Ref === roleId),
    );
    const actions = policies.flatMap((p) =>
      (p.Properties.PolicyDocument.Statement as Statement[]).flatMap(actionsOf),
    );
    expect(actions).toContain("sqs:SendMessage");
    expect(
      actions.filter((a) => !a.startsWith("logs:") && !a.startsWith("xray:") && !a.startsWith("sqs:")),
    ).toEqual([]);
    template.hasResourceProperties("AWS::IAM::Role", {
      AssumeRolePolicyDocument: Match.objectLike({
        Statement: [Match.objectLike({ Principal: { Service: "states.amazonaws.com" } })],
      }),
    });
  });

  it("lets the callers manage only machines and executions under the workflow prefix, and pass only this role", () => {
    const statements = statementsOf(template, fn);
    const actions = statements.flatMap(actionsOf);
    expect(actions).toEqual(
      expect.arrayContaining([
        "states:CreateStateMachine",
        "states:DeleteStateMachine",
        "states:StartExecution",
        "states:StopExecution",
        "states:SendTaskSuccess",
        "iam:PassRole",
      ]),
    );
    expect(actions.some((a) => a === "states:*" || a === "*" || a === "iam:*")).toBe(false);
    const serialized = JSON.stringify(statements);
    expect(serialized).toContain("stateMachine:WorkflowTest-wf-*");
    expect(serialized).toContain("execution:WorkflowTest-wf-*:*");
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          REVERIE_WORKFLOW_ROLE_ARN: Match.anyValue(),
          REVERIE_WORKFLOW_LOG_GROUP_ARN: Match.anyValue(),
          REVERIE_WORKFLOW_STATE_MACHINE_ARN_PREFIX: Match.anyValue(),
          REVERIE_WORKFLOW_NAME_PREFIX: "WorkflowTest-wf",
        }),
      },
    });
  });

  it("is cdk-nag clean (the construct, and the callers' grants it adds; the full stack in reverie-stack.test.ts)", () => {
    expect(nagFindings(stack.node.findChild("Workflows"))).toEqual([]);
    expect(nagFindings(stack).filter((f) => f.includes("IAM5"))).toEqual([]);
  });
});
