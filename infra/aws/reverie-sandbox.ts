/**
 * `ReverieSandbox`: the hands of `cloud` environments on AWS (docs/sandbox-on-aws.md) — a Lambda
 * function that runs one bash command of one session over its workspace, invoked synchronously by
 * agent-step (LambdaShellSandbox). Its execution role may write its own log group and nothing else:
 * no S3, no DynamoDB, no secret, no X-Ray. The workspace travels through presigned URLs that the
 * invoker signs, so a command can read and write exactly the objects of its call, for a few minutes.
 *
 * The function sits outside any VPC: open internet egress (`unrestricted` networking). With
 * `isolatedNetwork`, a second copy runs in a VPC of its own with no internet route at all — only an
 * S3 gateway endpoint whose policy admits the workspace and transfer objects of this bucket, and a
 * Route 53 Resolver DNS Firewall that answers NXDOMAIN for every name but S3's — for `limited`
 * networking with no allowed hosts. A host allowlist is not enforced by anything here, so the adapter
 * refuses `limited` with allowed hosts instead of running it with open egress.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy, Size, Stack, Validations } from "aws-cdk-lib";
import * as ec2 from "aws-cdk-lib/aws-ec2";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as lambdaNodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as route53resolver from "aws-cdk-lib/aws-route53resolver";
import * as s3 from "aws-cdk-lib/aws-s3";
import { Construct, type IConstruct } from "constructs";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Time the sandbox keeps back from the command for downloading and uploading the workspace. */
const TRANSFER_RESERVE = Duration.seconds(60);

export interface ReverieSandboxProps {
  /** The workspace bucket (the sandbox gets no access to it; its invokers presign URLs on it). */
  readonly workspaceBucket: s3.IBucket;
  /** Functions that run bash (agent-step): each gets `lambda:InvokeFunction` on the sandbox and its settings. */
  readonly invokers: readonly lambda.IFunction[];
  /** The workspace store's key prefix (S3WorkspaceStore `prefix`). @default "" */
  readonly keyPrefix?: string;
  /** Memory of the sandbox function, MB (1769 MB is one vCPU). @default 2048 */
  readonly memorySize?: number;
  /**
   * Function timeout; the longest command is this minus one minute for transfers. The default lets a
   * command run the bash tool's maximum of 600 s. @default 11 minutes
   */
  readonly timeout?: Duration;
  /** /tmp size (the workspace, mounts and the command's own files). @default 4 GiB */
  readonly ephemeralStorageSize?: Size;
  /**
   * Reserved concurrency of each sandbox function: caps concurrent commands (and their cost) and keeps
   * them from starving the rest of the account. @default - none: bounded by agent-step's concurrency
   */
  readonly reservedConcurrency?: number;
  /**
   * Also deploy the no-egress copy (`limited` networking without allowed hosts) in an isolated VPC.
   * @default false
   */
  readonly isolatedNetwork?: boolean;
  /** @default ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** Of the log groups (and the VPC flow log group). @default RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

export class ReverieSandbox extends Construct {
  /** The sandbox outside any VPC (`unrestricted` networking). */
  readonly function: lambdaNodejs.NodejsFunction;
  /** The sandbox in the isolated VPC, when `isolatedNetwork`. */
  readonly isolatedFunction?: lambdaNodejs.NodejsFunction;
  /** The isolated VPC, when `isolatedNetwork`. */
  readonly vpc?: ec2.Vpc;
  /** The settings every invoker gets (`REVERIE_SANDBOX_*`). */
  readonly environment: Record<string, string>;

  private readonly props: ReverieSandboxProps;

  constructor(scope: Construct, id: string, props: ReverieSandboxProps) {
    super(scope, id);
    this.props = props;
    const timeout = props.timeout ?? Duration.minutes(11);
    if (timeout.toSeconds() <= TRANSFER_RESERVE.toSeconds() + 10) {
      throw new Error(`ReverieSandbox timeout must be over ${TRANSFER_RESERVE.toSeconds() + 10} seconds`);
    }
    const prefix = props.keyPrefix ?? "";

    this.function = this.makeFunction("Sandbox", "Reverie sandbox: one bash command, open egress");
    this.environment = {
      REVERIE_SANDBOX_FUNCTION_NAME: this.function.functionName,
      REVERIE_SANDBOX_MAX_TIMEOUT_SECONDS: String(timeout.toSeconds() - TRANSFER_RESERVE.toSeconds()),
    };
    if (props.isolatedNetwork) {
      this.vpc = this.createIsolatedVpc(prefix);
      this.isolatedFunction = this.makeFunction(
        "IsolatedSandbox",
        "Reverie sandbox: one bash command, no egress",
        {
          vpc: this.vpc,
          vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
          securityGroups: [this.isolatedSecurityGroup(this.vpc)],
        },
      );
      this.environment.REVERIE_SANDBOX_ISOLATED_FUNCTION_NAME = this.isolatedFunction.functionName;
    }

    for (const invoker of props.invokers) {
      // The function itself, not `grantInvoke`'s `<arn>:*` (versions and aliases it never needs).
      const functionArns = [this.function, this.isolatedFunction].flatMap((fn) =>
        fn ? [fn.functionArn] : [],
      );
      invoker.addToRolePolicy?.(
        new iam.PolicyStatement({ actions: ["lambda:InvokeFunction"], resources: functionArns }),
      );
      if (invoker instanceof lambda.Function) {
        for (const [key, value] of Object.entries(this.environment)) invoker.addEnvironment(key, value);
      }
    }

    // Transfer objects are deleted after each call; a crash in between leaves them for a day at most.
    if (props.workspaceBucket instanceof s3.Bucket) {
      props.workspaceBucket.addLifecycleRule({
        id: "SandboxTransfers",
        prefix: `${prefix}sandbox-transfer/`,
        expiration: Duration.days(1),
        noncurrentVersionExpiration: Duration.days(1),
      });
    }
  }

  private makeFunction(
    id: string,
    description: string,
    network: Pick<lambdaNodejs.NodejsFunctionProps, "vpc" | "vpcSubnets" | "securityGroups"> = {},
  ): lambdaNodejs.NodejsFunction {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, {
      retention: this.props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: this.props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    // A command can read this role's credentials (/proc of the runtime): they must be worth nothing.
    const role = new iam.Role(this, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "Reverie sandbox: writes its own log group, nothing else",
    });
    logGroup.grantWrite(role);
    if (network.vpc) this.allowNetworkInterfaces(role);

    const fn = new lambdaNodejs.NodejsFunction(this, `${id}Function`, {
      entry: join(repoRoot, "functions", "sandbox.ts"),
      handler: "handler",
      description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: this.props.memorySize ?? 2048,
      timeout: this.props.timeout ?? Duration.minutes(11),
      ephemeralStorageSize: this.props.ephemeralStorageSize ?? Size.gibibytes(4),
      reservedConcurrentExecutions: this.props.reservedConcurrency,
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      // Only agent-step invokes it, synchronously; an asynchronous retry would run a command twice.
      retryAttempts: 0,
      ...network,
      depsLockFilePath: join(repoRoot, "package-lock.json"),
      projectRoot: repoRoot,
      bundling: {
        format: lambdaNodejs.OutputFormat.ESM,
        target: "node24",
        platform: "node",
        mainFields: ["module", "main"],
        minify: true,
        sourceMap: true,
        sourceMapMode: lambdaNodejs.SourceMapMode.EXTERNAL,
        sourcesContent: false,
        // Nothing is external: the entry must not need the AWS SDK, and the bundle test checks it has none.
        externalModules: [],
        forceDockerBundling: false,
        tsconfig: join(repoRoot, "tsconfig.json"),
      },
    });
    const cfn = fn.node.defaultChild as IConstruct;
    Validations.of(cfn).acknowledge({
      id: "Serverless-LambdaTracing",
      reason:
        "No X-Ray on the sandbox: tracing would give its role xray:PutTraceSegments on '*', and a command can use the role's credentials. Its invoker (agent-step) is traced.",
    });
    Validations.of(cfn).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason:
        "Invoked synchronously by agent-step only (RequestResponse); a DLQ only receives failed asynchronous invocations, and failures reach the caller as tool errors.",
    });
    const invokeConfig = fn.node.tryFindChild("EventInvokeConfig")?.node.defaultChild;
    if (invokeConfig) {
      Validations.of(invokeConfig).acknowledge({
        id: "Serverless-LambdaAsyncFailureDestination",
        reason:
          "This config only turns asynchronous retries off (a retry would run a command again); nothing invokes the sandbox asynchronously, so there are no async failures to route.",
      });
    }
    return fn;
  }

  /**
   * What Lambda needs to attach the isolated function to its subnets. The Lambda service calls EC2 with
   * the role outside the execution environment, without `lambda:SourceFunctionArn`; the Deny stops the
   * same credentials being used from inside it, where a command could read them.
   */
  private allowNetworkInterfaces(role: iam.Role): void {
    const actions = [
      "ec2:CreateNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:DeleteNetworkInterface",
      "ec2:AssignPrivateIpAddresses",
      "ec2:UnassignPrivateIpAddresses",
    ];
    role.addToPolicy(new iam.PolicyStatement({ actions, resources: ["*"] }));
    role.addToPolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions,
        resources: ["*"],
        conditions: { Null: { "lambda:SourceFunctionArn": "false" } },
      }),
    );
    Validations.of(role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "The ENI actions Lambda needs to attach a function to a VPC (AWSLambdaVPCAccessExecutionRole's set) have no resource-level scoping for Describe*; a Deny keyed on lambda:SourceFunctionArn stops their use from inside the sandbox.",
    });
  }

  /** A VPC with no internet route: isolated subnets, an S3 gateway endpoint, a DNS firewall, flow logs. */
  private createIsolatedVpc(prefix: string): ec2.Vpc {
    const flowLogs = new logs.LogGroup(this, "IsolatedVpcFlowLogs", {
      retention: this.props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: this.props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    const vpc = new ec2.Vpc(this, "IsolatedVpc", {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: "Sandbox", subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }],
      // The default security group is never used (the function has its own); leaving it avoids a custom resource.
      restrictDefaultSecurityGroup: false,
      flowLogs: {
        All: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogs),
          trafficType: ec2.FlowLogTrafficType.ALL,
        },
      },
    });
    const bucket = this.props.workspaceBucket;
    const endpoint = vpc.addGatewayEndpoint("S3Endpoint", {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
    });
    // Presigned requests through the endpoint: reads of workspace files and writes of transfer objects of
    // this bucket only — no other bucket, so no way out through S3 either.
    endpoint.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: ["s3:GetObject"],
        resources: [bucket.arnForObjects(`${prefix}workspaces/*`)],
      }),
    );
    endpoint.addToPolicy(
      new iam.PolicyStatement({
        principals: [new iam.AnyPrincipal()],
        actions: ["s3:PutObject"],
        resources: [bucket.arnForObjects(`${prefix}sandbox-transfer/*`)],
      }),
    );
    this.createDnsFirewall(vpc);
    return vpc;
  }

  /**
   * The VPC resolver would answer any name, and a query name is a way out (DNS exfiltration): answer
   * only S3's names and NXDOMAIN for everything else.
   */
  private createDnsFirewall(vpc: ec2.Vpc): void {
    const region = Stack.of(this).region;
    const allowed = new route53resolver.CfnFirewallDomainList(this, "DnsAllowS3", {
      domains: [
        `s3.${region}.amazonaws.com`,
        `*.s3.${region}.amazonaws.com`,
        "s3.amazonaws.com",
        "*.s3.amazonaws.com",
      ],
    });
    const everything = new route53resolver.CfnFirewallDomainList(this, "DnsEverything", { domains: ["*"] });
    const rules = new route53resolver.CfnFirewallRuleGroup(this, "DnsRules", {
      firewallRules: [
        { firewallDomainListId: allowed.attrId, priority: 1, action: "ALLOW" },
        { firewallDomainListId: everything.attrId, priority: 2, action: "BLOCK", blockResponse: "NXDOMAIN" },
      ],
    });
    new route53resolver.CfnFirewallRuleGroupAssociation(this, "DnsRulesAssociation", {
      firewallRuleGroupId: rules.attrId,
      vpcId: vpc.vpcId,
      priority: 101,
    });
  }

  private isolatedSecurityGroup(vpc: ec2.Vpc): ec2.SecurityGroup {
    const group = new ec2.SecurityGroup(this, "IsolatedSandboxSecurityGroup", {
      vpc,
      description:
        "Reverie no-egress sandbox: HTTPS out only, and the only route out is the S3 gateway endpoint",
      allowAllOutbound: false,
    });
    group.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      "HTTPS: routable only to S3 through the gateway endpoint (no internet or NAT gateway)",
    );
    return group;
  }
}
