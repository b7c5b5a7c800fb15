/**
 * The sandbox construct's deployed shape: its function(s), a role that can do nothing but write its
 * own logs, the invoke grant on the invoking function only, the isolated VPC variant, cdk-nag — and,
 * bundling the real entry once, that the sandbox bundle carries no AWS SDK and no Reverie config.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App, Duration, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as s3 from "aws-cdk-lib/aws-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReverieSandbox } from "../../infra/aws/reverie-sandbox.js";
import {
  actionsOf,
  cdkJsonContext,
  logicalIdOf,
  nagFindings,
  type Statement,
  statementsOf,
} from "./infra-helpers.js";

interface Fixture {
  stack: Stack;
  template: Template;
  sandbox: ReverieSandbox;
  invoker: lambda.Function;
  bystander: lambda.Function;
  bucket: s3.Bucket;
}

function synth(options: { isolatedNetwork?: boolean; outdir?: string; bundle?: boolean } = {}): Fixture {
  const app = new App({
    ...(options.outdir ? { outdir: options.outdir } : {}),
    context: { ...cdkJsonContext(), ...(options.bundle ? {} : { "aws:cdk:bundling-stacks": [] }) },
  });
  const stack = new Stack(app, "SandboxTest", { env: { account: "111122223333", region: "eu-west-1" } });
  const bucket = new s3.Bucket(stack, "Workspace", { enforceSSL: true });
  const inline = (id: string) =>
    new lambda.Function(stack, id, {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: "index.handler",
      code: lambda.Code.fromInline("exports.handler = async () => {};"),
    });
  const invoker = inline("AgentStep");
  const bystander = inline("Bystander");
  const sandbox = new ReverieSandbox(stack, "Sandbox", {
    workspaceBucket: bucket,
    invokers: [invoker],
    isolatedNetwork: options.isolatedNetwork,
    reservedConcurrency: 10,
  });
  return { stack, template: Template.fromStack(stack), sandbox, invoker, bystander, bucket };
}

const resourceOf = (f: Fixture, fn: lambda.IFunction) =>
  f.template.findResources("AWS::Lambda::Function")[logicalIdOf(fn)];

/** Every statement of every policy attached to the sandbox's role(s). */
function sandboxStatements(f: Fixture, fn: lambda.IFunction): Statement[] {
  return statementsOf(f.template, fn);
}

describe("ReverieSandbox (open egress)", () => {
  let f: Fixture;
  beforeAll(() => {
    f = synth();
  }, 120_000);

  it("creates one Node 24 arm64 function with its memory, timeout, /tmp, reserved concurrency and no env of Reverie's", () => {
    const props = resourceOf(f, f.sandbox.function)?.Properties;
    expect(props).toMatchObject({
      Runtime: "nodejs24.x",
      Architectures: ["arm64"],
      MemorySize: 2048,
      Timeout: 660,
      EphemeralStorage: { Size: 4096 },
      ReservedConcurrentExecutions: 10,
      LoggingConfig: { LogFormat: "JSON" },
    });
    expect(props?.VpcConfig).toBeUndefined();
    expect(props?.TracingConfig).toBeUndefined();
    // Nothing of Reverie's configuration: no table, queue, bucket or secret names.
    expect(Object.keys(props?.Environment?.Variables ?? {})).toEqual([]);
    f.template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: logicalIdOf(f.sandbox.function) },
      MaximumRetryAttempts: 0,
    });
  });

  it("its role can write its own log group and nothing else: no S3, DynamoDB, Secrets Manager, SQS, KMS, X-Ray", () => {
    const statements = sandboxStatements(f, f.sandbox.function);
    const actions = statements.flatMap(actionsOf);
    expect(actions.sort()).toEqual(["logs:CreateLogStream", "logs:PutLogEvents"]);
    for (const s of statements) {
      expect(JSON.stringify(s.Resource)).toContain(logicalIdOf(f.sandbox.function.logGroup));
    }
    const role = f.template.findResources("AWS::IAM::Role")[logicalIdOf(f.sandbox.function.role as never)];
    expect(role?.Properties.ManagedPolicyArns).toBeUndefined();
    expect(role?.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      expect.objectContaining({ Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }),
    ]);
    expect(role?.Properties.Policies).toBeUndefined();
  });

  it("has no resource policy: nothing but the invoker's identity policy lets anyone invoke it", () => {
    f.template.resourceCountIs("AWS::Lambda::Permission", 0);
  });

  it("grants lambda:InvokeFunction on the sandbox to the invoking function only, and gives it the settings", () => {
    const invokes = (fn: lambda.IFunction) =>
      statementsOf(f.template, fn).filter((s) => actionsOf(s).includes("lambda:InvokeFunction"));
    const granted = invokes(f.invoker);
    expect(granted).toHaveLength(1);
    expect(JSON.stringify(granted[0]?.Resource)).toContain(logicalIdOf(f.sandbox.function));
    expect(invokes(f.bystander)).toEqual([]);
    expect(resourceOf(f, f.invoker)?.Properties.Environment.Variables).toEqual({
      REVERIE_SANDBOX_FUNCTION_NAME: { Ref: logicalIdOf(f.sandbox.function) },
      REVERIE_SANDBOX_MAX_TIMEOUT_SECONDS: "600",
    });
    expect(resourceOf(f, f.bystander)?.Properties.Environment).toBeUndefined();
  });

  it("gives transfer objects a one-day lifecycle in the workspace bucket", () => {
    f.template.hasResourceProperties("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Id: "SandboxTransfers",
            Prefix: "sandbox-transfer/",
            ExpirationInDays: 1,
            Status: "Enabled",
          }),
        ]),
      },
    });
  });

  it("creates no VPC", () => {
    f.template.resourceCountIs("AWS::EC2::VPC", 0);
    expect(f.sandbox.isolatedFunction).toBeUndefined();
  });

  it("cdk-nag: nothing unacknowledged under the construct", () => {
    expect(nagFindings(f.sandbox)).toEqual([]);
  });

  it("refuses a timeout that leaves no time for the command", () => {
    const stack = new Stack(new App({ context: { "aws:cdk:bundling-stacks": [] } }), "T");
    expect(
      () =>
        new ReverieSandbox(stack, "S", {
          workspaceBucket: new s3.Bucket(stack, "B"),
          invokers: [],
          timeout: Duration.seconds(60),
        }),
    ).toThrow(/timeout must be over/);
  });
});

describe("ReverieSandbox (isolatedNetwork)", () => {
  let f: Fixture;
  beforeAll(() => {
    f = synth({ isolatedNetwork: true });
  }, 120_000);

  it("adds a second function in isolated subnets of a VPC without internet or NAT gateways", () => {
    const fn = f.sandbox.isolatedFunction;
    if (!fn) throw new Error("no isolated function");
    const props = resourceOf(f, fn)?.Properties;
    expect(props?.VpcConfig?.SubnetIds).toHaveLength(2);
    f.template.resourceCountIs("AWS::EC2::InternetGateway", 0);
    f.template.resourceCountIs("AWS::EC2::NatGateway", 0);
    f.template.resourceCountIs("AWS::EC2::FlowLog", 1);
    expect(resourceOf(f, f.invoker)?.Properties.Environment.Variables).toMatchObject({
      REVERIE_SANDBOX_ISOLATED_FUNCTION_NAME: { Ref: logicalIdOf(fn) },
    });
  });

  it("lets it send HTTPS only, and S3 admits only this bucket's workspace reads and transfer writes", () => {
    f.template.hasResourceProperties("AWS::EC2::SecurityGroup", {
      SecurityGroupEgress: [
        Match.objectLike({ CidrIp: "0.0.0.0/0", IpProtocol: "tcp", FromPort: 443, ToPort: 443 }),
      ],
    });
    const endpoints = Object.values(f.template.findResources("AWS::EC2::VPCEndpoint"));
    expect(endpoints).toHaveLength(1);
    const statements = endpoints[0]?.Properties.PolicyDocument.Statement as Statement[];
    expect(statements.map((s) => [actionsOf(s), JSON.stringify(s.Resource)])).toEqual([
      [["s3:GetObject"], expect.stringMatching(new RegExp(`${logicalIdOf(f.bucket)}.*/workspaces/\\*`))],
      [
        ["s3:PutObject"],
        expect.stringMatching(new RegExp(`${logicalIdOf(f.bucket)}.*/sandbox-transfer/\\*`)),
      ],
    ]);
  });

  it("answers only S3's names through the VPC resolver (DNS firewall: allow S3, NXDOMAIN for the rest)", () => {
    f.template.hasResourceProperties("AWS::Route53Resolver::FirewallRuleGroup", {
      FirewallRules: [
        Match.objectLike({ Priority: 1, Action: "ALLOW" }),
        Match.objectLike({ Priority: 2, Action: "BLOCK", BlockResponse: "NXDOMAIN" }),
      ],
    });
    f.template.hasResourceProperties("AWS::Route53Resolver::FirewallDomainList", { Domains: ["*"] });
    f.template.resourceCountIs("AWS::Route53Resolver::FirewallRuleGroupAssociation", 1);
  });

  it("its role adds only the ENI actions Lambda needs, denied to code running inside the sandbox", () => {
    const fn = f.sandbox.isolatedFunction;
    if (!fn) throw new Error("no isolated function");
    const statements = sandboxStatements(f, fn);
    const allowed = statements.filter((s) => s.Effect === "Allow").flatMap(actionsOf);
    expect(allowed.filter((a) => !a.startsWith("logs:")).every((a) => a.startsWith("ec2:"))).toBe(true);
    expect(allowed.some((a) => /^(s3|dynamodb|secretsmanager|sqs|kms|lambda):/.test(a))).toBe(false);
    const deny = statements.find((s) => s.Effect === "Deny") as Statement & { Condition?: unknown };
    expect(actionsOf(deny).sort()).toEqual(allowed.filter((a) => a.startsWith("ec2:")).sort());
    expect(deny.Condition).toEqual({ Null: { "lambda:SourceFunctionArn": "false" } });
  });

  it("cdk-nag: nothing unacknowledged under the construct", () => {
    expect(nagFindings(f.sandbox)).toEqual([]);
  });
});

describe("the sandbox bundle", () => {
  let outdir: string;
  let f: Fixture;
  beforeAll(() => {
    outdir = mkdtempSync(join(tmpdir(), "reverie-sandbox-cdk-"));
    f = synth({ outdir, bundle: true });
  }, 240_000);
  afterAll(() => {
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  it("is small and carries no AWS SDK, no Reverie configuration and no secret lookups", () => {
    const key = resourceOf(f, f.sandbox.function)?.Properties.Code.S3Key as string;
    const dir = join(outdir, `asset.${key.replace(/\.zip$/, "")}`);
    expect(readdirSync(dir)).toContain("index.mjs");
    const file = join(dir, "index.mjs");
    expect(statSync(file).size).toBeLessThanOrEqual(50 * 1024);
    const code = readFileSync(file, "utf8");
    for (const forbidden of ["@aws-sdk", "@smithy", "REVERIE_", "ANTHROPIC", "SecretsManager", "DynamoDB"]) {
      expect(code, forbidden).not.toContain(forbidden);
    }
  });
});
