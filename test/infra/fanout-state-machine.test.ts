/**
 * The fan-out state machine: the ASL in shared/infra-spec is valid (asl-validator), is exactly what
 * the CDK template deploys, and the construct has logging ALL, X-Ray and least privilege (cdk-nag
 * clean). That the embedded stack executes this same object is asserted in
 * test/conformance/threads.test.ts.
 */
import validator from "asl-validator";
import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { FanoutStateMachine } from "../../infra/aws/fanout-state-machine.js";
import {
  FANOUT_MAX_CONCURRENCY,
  fanoutStateMachineDefinition,
} from "../../shared/infra-spec/fanout-state-machine.js";
import { actionsOf, nagFindings, type Statement } from "./infra-helpers.js";

let stack: Stack;
let template: Template;
let fn: lambda.Function;

beforeAll(() => {
  const app = new App();
  stack = new Stack(app, "FanoutTest");
  const queue = new sqs.Queue(stack, "Steps", { enforceSSL: true });
  fn = new lambda.Function(stack, "Step", {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: "index.handler",
    code: lambda.Code.fromInline("export const handler = async () => {};"),
  });
  new FanoutStateMachine(stack, "Fanout", { queue, callers: [fn] });
  template = Template.fromStack(stack);
});

describe("fan-out ASL", () => {
  it("passes asl-validator", () => {
    // The validator annotates what it checks; give it a copy.
    const result = validator(structuredClone(fanoutStateMachineDefinition) as never);
    expect(result.errors).toEqual([]);
    expect(result.isValid).toBe(true);
  });

  it("maps over threads at most 25 at a time, each a waitForTaskToken send with its own Catch", () => {
    const map = fanoutStateMachineDefinition.States.RunThreads;
    expect(map.MaxConcurrency).toBe(FANOUT_MAX_CONCURRENCY);
    expect(FANOUT_MAX_CONCURRENCY).toBeLessThanOrEqual(25);
    const task = map.ItemProcessor.States.RunThread;
    expect(task.Resource).toBe("arn:aws:states:::sqs:sendMessage.waitForTaskToken");
    expect(task.Catch[0]?.ErrorEquals).toEqual(["States.ALL"]);
    expect(task.Parameters.MessageBody["taskToken.$"]).toBe("$$.Task.Token");
  });

  it("retries the resume's send with backoff (a throttled SendMessage must not fail the execution)", () => {
    const resume = fanoutStateMachineDefinition.States.ResumeCoordinator;
    expect(resume.Resource).toBe("arn:aws:states:::sqs:sendMessage");
    expect(resume.Retry).toEqual([
      expect.objectContaining({ ErrorEquals: ["States.ALL"], BackoffRate: 2, JitterStrategy: "FULL" }),
    ]);
    expect(resume.Retry[0]?.MaxAttempts).toBeGreaterThanOrEqual(3);
  });

  it("is exactly the definition the CDK template deploys", () => {
    const machines = Object.values(template.findResources("AWS::StepFunctions::StateMachine"));
    expect(machines).toHaveLength(1);
    const deployed = JSON.parse(machines[0]?.Properties.DefinitionString as string);
    expect(deployed).toEqual(fanoutStateMachineDefinition);
  });
});

describe("FanoutStateMachine construct", () => {
  it("is a Standard workflow with logging ALL and X-Ray tracing", () => {
    template.hasResourceProperties("AWS::StepFunctions::StateMachine", {
      StateMachineType: "STANDARD",
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: "ALL", IncludeExecutionData: true }),
    });
  });

  it("grants the state machine only sends to the queue, and the step only start and task answers", () => {
    const policies = template.findResources("AWS::IAM::Policy");
    const statements = Object.values(policies).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as Statement[],
    );
    const actions = statements.flatMap(actionsOf);
    expect(actions).toEqual(
      expect.arrayContaining([
        "sqs:SendMessage",
        "states:StartExecution",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "states:SendTaskHeartbeat",
      ]),
    );
    expect(actions.some((a) => a === "states:*" || a === "sqs:*" || a === "*")).toBe(false);
    expect(fn.node.tryFindChild("ServiceRole")).toBeDefined();
    template.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: { REVERIE_FANOUT_STATE_MACHINE_ARN: Match.anyValue() } },
    });
  });

  it("is cdk-nag clean (the construct; the full stack is checked in reverie-stack.test.ts)", () => {
    expect(nagFindings(stack.node.findChild("Fanout"))).toEqual([]);
  });
});
