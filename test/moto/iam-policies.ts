/**
 * Each function's IAM policy as the real stack deploys it: ReverieStack synthesized (bundling
 * skipped, as the infra tests do), then for every function the statements of the policies attached
 * to its execution role — `AWS::IAM::Policy` and `AWS::IAM::ManagedPolicy` resources naming the
 * role, and the role's own inline `Policies` — with CloudFormation's intrinsics (`Ref`,
 * `Fn::GetAtt`, `Fn::Join`, pseudo parameters) resolved to the names and ARNs the AWS-on-moto
 * harness gave the same resources. The stack is synthesized under the harness's prefix as its name,
 * so the names CDK derives from the stack's name (the workflow runs' `<stack>-wf-*`, the schedule
 * groups) are the harness's too.
 *
 * A logical id this file does not map resolves to `<unresolved Id.Attr>`, which matches no request:
 * a call that needs it fails and says so, a statement never used costs nothing.
 */
import { App, type CfnElement } from "aws-cdk-lib";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type { IConstruct } from "constructs";
import { ReverieStack } from "../../infra/aws/reverie-stack.js";
import { cdkJsonContext } from "../infra/infra-helpers.js";
import { queueArnOfUrl } from "./aws-request-actions.js";
import type { AwsResources } from "./aws-resources.js";
import type { LambdaFunctionName } from "./lambda-bundles.js";
import { MOTO_ACCOUNT, MOTO_REGION } from "./moto-server.js";

/** An identity-policy statement with every intrinsic resolved. */
export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

/** The role's statements, with where each came from (for the report). */
export interface FunctionPolicy {
  role: string;
  statements: Array<PolicyStatement & { source: string }>;
}

type HarnessFunction = LambdaFunctionName | "sandbox";

/** What `Ref` and `Fn::GetAtt` of one resource come to on moto. */
interface Resolved {
  Ref: string;
  Arn?: string;
}

const lambdaArn = (name: string) => `arn:aws:lambda:${MOTO_REGION}:${MOTO_ACCOUNT}:function:${name}`;

/** Each function the harness runs, as the stack defines it. */
export function stackFunctions(stack: ReverieStack): Record<HarnessFunction, lambda.IFunction> {
  const r = stack.runtime;
  return {
    api: r.functions.api,
    "api-memory": r.functions["api-memory"],
    "api-workspace": r.functions["api-workspace"],
    "api-stream": r.functions["api-stream"],
    authorizer: r.functions.authorizer,
    "agent-step": r.functions["agent-step"],
    sweeper: r.functions.sweeper,
    "dream-worker": r.functions["dream-worker"],
    "dream-scheduler": r.functions["dream-scheduler"],
    "deployment-runner": r.functions["deployment-runner"],
    grader: r.outcomes.functions.grader,
    "webhook-deliver": r.outcomes.functions["webhook-deliver"],
    sandbox: r.sandbox.function,
  };
}

/**
 * Synthesizes ReverieStack as `prefix` and returns each harness function's policy, resolved
 * against `resources` (the harness's resources) and `physical` (its function names).
 */
export function functionPolicies(
  prefix: string,
  resources: AwsResources,
  physical: (name: HarnessFunction) => string,
): Record<HarnessFunction, FunctionPolicy> {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  const stack = new ReverieStack(app, prefix);
  const r = stack.runtime;
  const functions: Record<HarnessFunction, IConstruct & { role?: IConstruct }> = stackFunctions(stack);
  const idOf = (construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);

  // The stack's resources that the functions' policies name, as the harness created them.
  const resolved = new Map<string, Resolved>();
  const table = (name: string): Resolved => ({
    Ref: name,
    Arn: `arn:aws:dynamodb:${MOTO_REGION}:${MOTO_ACCOUNT}:table/${name}`,
  });
  const queue = (url: string): Resolved => ({ Ref: url, Arn: queueArnOfUrl(url) });
  /** Resources the harness does not create (nothing calls them there): their would-be names. */
  const absentQueue = (name: string): Resolved => queue(`http://moto/${MOTO_ACCOUNT}/${prefix}-${name}`);
  resolved.set(idOf(r.tables.resources), table(resources.tables.resources));
  resolved.set(idOf(r.tables.events), table(resources.tables.events));
  const q = resources.queues;
  resolved.set(idOf(r.agentStepsQueue), queue(q["agent-steps"].url));
  resolved.set(idOf(r.agentStepsDeadLetterQueue), queue(q["agent-steps"].deadLetterUrl));
  resolved.set(idOf(r.outcomes.graderQueue), queue(q.grader.url));
  resolved.set(idOf(r.outcomes.graderDeadLetterQueue), queue(q.grader.deadLetterUrl));
  resolved.set(idOf(r.outcomes.webhooksQueue), queue(q.webhooks.url));
  resolved.set(idOf(r.outcomes.webhooksDeadLetterQueue), queue(q.webhooks.deadLetterUrl));
  resolved.set(idOf(r.dreams.jobsQueue), queue(q["dream-jobs"].url));
  resolved.set(idOf(r.dreams.jobsDeadLetterQueue), queue(q["dream-jobs"].deadLetterUrl));
  resolved.set(idOf(r.sweeperFailureQueue), absentQueue("sweeper-failures"));
  resolved.set(idOf(r.deployments.failedFirings), absentQueue("deployment-failed-firings"));
  resolved.set(idOf(r.workspaceBucket), { Ref: resources.bucket, Arn: `arn:aws:s3:::${resources.bucket}` });
  resolved.set(idOf(r.outcomes.outcomesTopic), { Ref: resources.outcomesTopicArn });
  resolved.set(idOf(r.outcomes.eventBus), {
    Ref: resources.eventBusName,
    Arn: `arn:aws:events:${MOTO_REGION}:${MOTO_ACCOUNT}:event-bus/${resources.eventBusName}`,
  });
  resolved.set(idOf(r.fanout.stateMachine), { Ref: resources.stateMachineArn });
  resolved.set(idOf(r.vaults.key), {
    Ref: resources.secretsKeyArn.split("/").pop() as string,
    Arn: resources.secretsKeyArn,
  });
  if (r.anthropicSecret) resolved.set(idOf(r.anthropicSecret), { Ref: resources.anthropicSecretArn });
  resolved.set(idOf(r.workflowRuns.role), { Ref: "workflow-runs", Arn: resources.roleArns.workflowRuns });
  resolved.set(idOf(r.dreams.schedulerRole), {
    Ref: "dream-scheduler",
    Arn: resources.roleArns.dreamScheduler,
  });
  resolved.set(idOf(r.deployments.schedulerRole), {
    Ref: "deployment-scheduler",
    Arn: resources.roleArns.deploymentScheduler,
  });
  for (const [name, fn] of Object.entries(functions) as Array<[HarnessFunction, IConstruct]>) {
    resolved.set(idOf(fn), { Ref: physical(name), Arn: lambdaArn(physical(name)) });
  }
  const pseudo: Record<string, string> = {
    "AWS::Partition": "aws",
    "AWS::Region": MOTO_REGION,
    "AWS::AccountId": MOTO_ACCOUNT,
    "AWS::StackName": prefix,
    "AWS::URLSuffix": "amazonaws.com",
  };

  const resolve = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(resolve);
    if (value === null || typeof value !== "object") return value;
    const entries = Object.entries(value as Record<string, unknown>);
    const [first] = entries;
    if (entries.length === 1 && first) {
      const [fnName, arg] = first;
      if (fnName === "Ref") {
        const id = arg as string;
        return pseudo[id] ?? resolved.get(id)?.Ref ?? `<unresolved ${id}>`;
      }
      if (fnName === "Fn::GetAtt") {
        const [id, attribute] = (typeof arg === "string" ? arg.split(".") : arg) as [string, string];
        const hit = resolved.get(id);
        const out = attribute === "Arn" ? hit?.Arn : undefined;
        return out ?? `<unresolved ${id}.${attribute}>`;
      }
      if (fnName === "Fn::Join") {
        const [separator, parts] = arg as [string, unknown[]];
        return parts.map((p) => String(resolve(p))).join(separator);
      }
      if (fnName.startsWith("Fn::")) throw new Error(`iam-policies.ts: no resolution for ${fnName}`);
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  };

  const template = app.synth().getStackByName(stack.stackName).template as {
    Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
  };
  const attachedTo = (roleId: string, roles: unknown) =>
    Array.isArray(roles) && roles.some((role) => (role as { Ref?: string }).Ref === roleId);
  const policyOf = (fn: IConstruct & { role?: IConstruct }): FunctionPolicy => {
    if (!fn.role) throw new Error(`${fn.node.path} has no role`);
    const roleId = idOf(fn.role);
    const role = template.Resources[roleId];
    const statements: FunctionPolicy["statements"] = [];
    const add = (source: string, document: unknown) => {
      const doc = resolve(document) as { Statement: PolicyStatement[] };
      for (const s of doc.Statement) statements.push({ ...s, source });
    };
    const own = role?.Properties ?? {};
    for (const p of (own.Policies as Array<{ PolicyName: string; PolicyDocument: unknown }>) ?? []) {
      add(`${roleId} inline ${p.PolicyName}`, p.PolicyDocument);
    }
    const managedArns = (own.ManagedPolicyArns as unknown[]) ?? [];
    for (const [id, resource] of Object.entries(template.Resources)) {
      const props = resource.Properties ?? {};
      if (resource.Type === "AWS::IAM::Policy" && attachedTo(roleId, props.Roles))
        add(id, props.PolicyDocument);
      if (resource.Type === "AWS::IAM::ManagedPolicy" && attachedTo(roleId, props.Roles)) {
        add(id, props.PolicyDocument);
      }
    }
    for (const arn of managedArns) {
      const ref = (arn as { Ref?: string }).Ref;
      const managed = ref ? template.Resources[ref] : undefined;
      if (managed?.Type === "AWS::IAM::ManagedPolicy") add(ref as string, managed.Properties?.PolicyDocument);
      // An AWS-managed policy's statements are not in the template: refuse to guess them.
      else throw new Error(`${roleId} has a managed policy this check cannot read: ${JSON.stringify(arn)}`);
    }
    return { role: roleId, statements };
  };
  return Object.fromEntries(
    (Object.entries(functions) as Array<[HarnessFunction, IConstruct & { role?: IConstruct }]>).map(
      ([name, fn]) => [name, policyOf(fn)],
    ),
  ) as Record<HarnessFunction, FunctionPolicy>;
}
