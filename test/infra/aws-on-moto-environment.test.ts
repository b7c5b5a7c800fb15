/**
 * The AWS-on-moto tests give each function the environment the CDK stack gives it: the names are a
 * copy of the stack's wiring (test/moto/aws-on-moto-stack.ts, `functionEnvironments`). This keeps the
 * copy honest, comparing the variable names function by function with a synthesized ReverieStack
 * (bundling skipped).
 */
import { App, type Stack } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { ReverieStack } from "../../infra/aws/reverie-stack.js";
import { functionEnvironments } from "../moto/aws-on-moto-stack.js";
import type { AwsResources } from "../moto/aws-resources.js";
import { stackFunctions } from "../moto/iam-policies.js";
import type { LambdaFunctionName } from "../moto/lambda-bundles.js";
import { cdkJsonContext } from "./infra-helpers.js";

/** Set by the harness only: where the mock model is (on AWS, the SDK's default). */
const HARNESS_ONLY = new Set(["ANTHROPIC_BASE_URL"]);

let stack: ReverieStack;

beforeAll(() => {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  stack = new ReverieStack(app, "MotoEnvironmentCheck");
}, 120_000);

function variablesOf(owner: Stack, fn: lambda.IFunction): string[] {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  const environment = owner.resolve(cfn.environment) as { variables?: Record<string, unknown> } | undefined;
  return Object.keys(environment?.variables ?? {}).sort();
}

describe("the AWS-on-moto harness's function environments", () => {
  it("name exactly the variables CDK sets on each function", () => {
    const deployed: Record<LambdaFunctionName | "sandbox", lambda.IFunction> = stackFunctions(stack);
    const placeholder = "x";
    const queue = {
      url: placeholder,
      arn: placeholder,
      deadLetterUrl: placeholder,
      deadLetterArn: placeholder,
    };
    const resources: AwsResources = {
      tables: { resources: placeholder, events: placeholder },
      queues: { "agent-steps": queue, grader: queue, webhooks: queue, "dream-jobs": queue },
      bucket: placeholder,
      outcomesTopicArn: placeholder,
      eventBusName: placeholder,
      scheduleGroup: placeholder,
      deploymentScheduleGroup: placeholder,
      stateMachineArn: placeholder,
      secretsKeyArn: placeholder,
      anthropicSecretArn: placeholder,
      serviceRoleArn: placeholder,
      roleArns: { workflowRuns: placeholder, dreamScheduler: placeholder, deploymentScheduler: placeholder },
      probes: { notifications: placeholder, busEvents: placeholder },
    };
    const names = Object.fromEntries(Object.keys(deployed).map((n) => [n, n])) as Record<
      LambdaFunctionName | "sandbox",
      string
    >;
    const harness = functionEnvironments(resources, names, { anthropicBaseUrl: placeholder });
    // Every function of the stack is composed by the harness.
    expect(Object.keys(stack.runtime.functions).filter((n) => !(n in deployed))).toEqual([]);
    const mismatches: string[] = [];
    for (const [name, fn] of Object.entries(deployed) as Array<
      [LambdaFunctionName | "sandbox", lambda.IFunction]
    >) {
      const cdk = variablesOf(stack, fn);
      const copy = Object.keys(harness[name])
        .filter((k) => !HARNESS_ONLY.has(k))
        .sort();
      const missing = cdk.filter((k) => !copy.includes(k));
      const extra = copy.filter((k) => !cdk.includes(k));
      if (missing.length || extra.length) {
        mismatches.push(
          `${name}: missing ${JSON.stringify(missing)}, not set by CDK ${JSON.stringify(extra)}`,
        );
      }
    }
    expect(mismatches).toEqual([]);
  });
});
