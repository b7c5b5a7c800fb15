/**
 * `ReverieRuntime`: everything Reverie needs in one AWS account, as one reusable construct —
 * DynamoDB tables and SQS queues generated from `shared/infra-spec`, the workspace bucket, the
 * Anthropic key secret, the five Lambda entries under `functions/`, the REST API in front of them,
 * the sweeper schedule and the alarms that say when something is stuck (DESIGN.md §2, §5, §7).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Duration, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as eventTargets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as lambdaDestinations from "aws-cdk-lib/aws-lambda-destinations";
import * as lambdaNodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import * as wafv2 from "aws-cdk-lib/aws-wafv2";
import { Construct, type IConstruct } from "constructs";
import type { TableName } from "../../shared/core/ports.js";
import { queueSpecs, sweeperRateMinutes } from "../../shared/infra-spec/queues.js";
import {
  restApiBinaryMediaTypes,
  restApiDefaultStageName,
  restApiFunctionCollections,
} from "../../shared/infra-spec/rest-api.js";
import { tableSpecs } from "../../shared/infra-spec/tables.js";
import { FanoutStateMachine } from "./fanout-state-machine.js";
import type { ReverieFunctionName } from "./function-names.js";
import { bundleAliases, REQUIRE_BANNER } from "./lambda-bundling.js";
import { sideFileDefines, sideFilesOf } from "./lambda-side-files.js";
import {
  acknowledgeDeadLetterQueue,
  consumeQueue,
  deadLetterAlarm,
  queueAgeAlarm,
  queueEncryption,
  queueWithDeadLetter,
} from "./queue-wiring.js";
import { ReverieDeployments } from "./reverie-deployments.js";
import { ReverieDreams } from "./reverie-dreams.js";
import { type MakeFunction, type OutcomeFunctionName, ReverieOutcomes } from "./reverie-outcomes.js";
import { ReverieSandbox } from "./reverie-sandbox.js";
import { ReverieVaults } from "./reverie-vaults.js";
import { WorkflowRuns } from "./workflow-runs.js";

/** Repository root: the Lambda entries live in `<root>/functions`. */
const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The Lambda entries, one per file in `functions/`. */
export type { ReverieFunctionName } from "./function-names.js";

export type ModelProviderName = "anthropic" | "bedrock" | "simulated";

/** Properties of {@link ReverieRuntime}. Every property is optional; the defaults deploy a working API. */
export interface ReverieRuntimeProps {
  /**
   * Which model provider agent steps use (`REVERIE_MODEL_PROVIDER`). `anthropic` reads the API key from
   * {@link anthropicSecret}; `bedrock` grants `bedrock:InvokeModel` on Anthropic models instead;
   * `simulated` calls no model at all.
   * @default - unset: the runtime picks `anthropic` because a key secret is configured
   */
  readonly modelProvider?: ModelProviderName;
  /**
   * An existing Secrets Manager secret holding the Anthropic API key (plain string).
   * @default - a new secret `…AnthropicApiKey…` with a placeholder value is created (unless the provider is
   *   `bedrock` or `simulated`); put the real key into it after the first deploy
   */
  readonly anthropicSecret?: secretsmanager.ISecret;
  /** `REVERIE_BEDROCK_MODEL_MAP` for agent steps (provider `bedrock`). @default - none */
  readonly bedrockModelMap?: string;
  /** Retention of every log group the construct creates. @default ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to stateful resources (tables, buckets, the secret it created, log groups) when they leave
   * the stack. With DESTROY a non-empty bucket still fails to delete: empty it first.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** DynamoDB deletion protection on both tables. @default true */
  readonly deletionProtection?: boolean;
  /**
   * A customer-managed KMS key for the tables, the agent-steps queues, the workspace bucket and the secret it
   * creates. @default - AWS-managed encryption everywhere (DynamoDB/S3/SQS/Secrets Manager owned keys)
   */
  readonly encryptionKey?: kms.IKey;
  /** Where alarms (DLQ not empty, step queue backing up) notify. @default - alarms without actions */
  readonly alarmTopic?: sns.ITopic;
  /** API Gateway stage name; the SDK's `baseURL` is the stage URL. @default "prod" */
  readonly stageName?: string;
  /** Stage-wide throttling (requests/second and burst). @default { rateLimit: 50, burstLimit: 100 } */
  readonly throttling?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * How long API Gateway caches the authorizer's answer. Caching needs an identity source that every
   * request carries, and clients differ (@anthropic-ai/sdk 1.12 sends `Authorization: Bearer`, others
   * `x-api-key`), so a TTL > 0 keys the cache on `Authorization` and then requires that header. The
   * authorizer itself caches resolved keys per container either way.
   * @default no API Gateway cache: both headers work
   */
  readonly authorizerCacheTtl?: Duration;
  /** A WAFv2 web ACL (REGIONAL scope) to associate with the API stage. @default - none */
  readonly webAclArn?: string;
  /**
   * Execution (error) logging of API Gateway to CloudWatch. Needs the account-level API Gateway CloudWatch
   * role, which this construct then creates (`AWS::ApiGateway::Account` is one per account and region: set
   * false if another stack already owns it). @default true
   */
  readonly apiExecutionLogging?: boolean;
  /** Upper bound on concurrent agent-step invocations (SQS event source `maxConcurrency`, ≥ 2). @default 20 */
  readonly agentStepMaxConcurrency?: number;
  /** Reserved concurrency per function. @default - none (unreserved account pool) */
  readonly reservedConcurrency?: Partial<Record<ReverieFunctionName, number>>;
  /** Longest an SSE stream stays open (function timeout and integration timeout, ≤ 15 minutes). @default 15 minutes */
  readonly streamTimeout?: Duration;
  /** `REVERIE_LOG_LEVEL` of every function. @default "INFO" */
  readonly logLevel?: "DEBUG" | "INFO" | "WARN" | "ERROR" | "SILENT";
  /** Alarm when the oldest message on agent-steps is older than this. @default 30 minutes */
  readonly oldestStepAlarmAge?: Duration;
  /**
   * Bundle the `@aws-sdk/*` v3 clients (and their `@smithy/*` parts) into each function, versions
   * pinned by package-lock, instead of using the copy the Lambda runtime ships. Bundling adds about
   * 650 KB per function and breaks the 500 KB asset budget, so the runtime's copy is the default.
   * @default false
   */
  readonly bundleAwsSdk?: boolean;
  /** `REVERIE_GRADER_MODEL`: the model outcome graders call. @default - the session agent's model */
  readonly graderModel?: string;
}

interface FunctionSettings {
  readonly description: string;
  readonly memorySize: number;
  readonly timeout: Duration;
}

/**
 * The Reverie runtime on AWS serverless. See DESIGN.md §2 for the picture; this construct is what
 * `ReverieStack` deploys and what a team embeds in its own stack.
 */
export class ReverieRuntime extends Construct {
  /** Tables from `tableSpecs`, by spec name. */
  readonly tables: Record<TableName, dynamodb.Table>;
  /** The agent-steps queue and its DLQ. */
  readonly agentStepsQueue: sqs.Queue;
  readonly agentStepsDeadLetterQueue: sqs.Queue;
  /** Failed sweeper runs (EventBridge delivery failures and function errors). */
  readonly sweeperFailureQueue: sqs.Queue;
  readonly workspaceBucket: s3.Bucket;
  readonly accessLogBucket: s3.Bucket;
  /** The Anthropic API key secret; undefined when the provider is `bedrock` or `simulated`. */
  readonly anthropicSecret?: secretsmanager.ISecret;
  readonly functions: Record<ReverieFunctionName, lambdaNodejs.NodejsFunction>;
  /** The sandbox `bash` runs in (cloud environments). */
  readonly sandbox: ReverieSandbox;
  readonly api: apigw.RestApi;
  readonly authorizer: apigw.RequestAuthorizer;
  readonly alarms: cloudwatch.Alarm[] = [];
  /** Dream jobs queue, dream schedules group and the Scheduler role (see reverie-dreams.ts). */
  readonly dreams: ReverieDreams;
  /** Deployment schedules group, the Scheduler role and the runner's failed firings (see reverie-deployments.ts). */
  readonly deployments: ReverieDeployments;
  /** Outcomes and webhooks: grader and webhooks queues, their functions, the outcomes topic, the event bus. */
  readonly outcomes: ReverieOutcomes;
  private makeFunction!: MakeFunction;
  private modelEnvironment: Record<string, string> = {};
  /** Multiagent fan-out (Step Functions). */
  readonly fanout: FanoutStateMachine;
  /** What every workflow run's state machine shares (role, log group, the callers' grants). */
  readonly workflowRuns: WorkflowRuns;
  /** The KMS key vault credentials are sealed under, granted to the API and agent steps only. */
  readonly vaults: ReverieVaults;

  private readonly props: ReverieRuntimeProps;
  private readonly removalPolicy: RemovalPolicy;
  private readonly logRetention: logs.RetentionDays;

  constructor(scope: Construct, id: string, props: ReverieRuntimeProps = {}) {
    super(scope, id);
    this.props = props;
    this.removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;

    this.tables = this.createTables();
    const queues = this.createQueues();
    this.agentStepsQueue = queues.queue;
    this.agentStepsDeadLetterQueue = queues.dlq;
    this.sweeperFailureQueue = queues.sweeperFailures;
    this.accessLogBucket = this.createAccessLogBucket();
    this.workspaceBucket = this.createWorkspaceBucket();
    this.anthropicSecret = this.createOrImportSecret();
    this.functions = this.createFunctions();
    this.grantAccess();
    // The API's vaults routes (api-workspace) seal credentials (create, update) and open them
    // (validate, partial updates); agent steps open them for MCP connections and seal refreshed tokens.
    const credentialUsers = [this.functions["api-workspace"], this.functions["agent-step"]];
    this.vaults = new ReverieVaults(this, "Vaults", {
      writers: credentialUsers,
      readers: credentialUsers,
      removalPolicy: this.removalPolicy,
    });
    this.wireAgentSteps();
    this.wireSweeper();
    this.outcomes = new ReverieOutcomes(this, "Outcomes", {
      makeFunction: this.makeFunction,
      runtimeFunctions: this.functions,
      tables: this.tables,
      workspaceBucket: this.workspaceBucket,
      agentStepsQueue: this.agentStepsQueue,
      anthropicSecret: this.anthropicSecret,
      modelEnvironment: this.modelEnvironment,
      encryptionKey: props.encryptionKey,
      alarmTopic: props.alarmTopic,
      graderModel: props.graderModel,
    });
    // The endpoints' signing secrets: sealed by the webhooks routes (api-workspace), opened by the
    // deliverer — under their own context, so the deliverer can open no vault credential.
    this.vaults.grantWebhookSecrets({
      sealers: [this.functions["api-workspace"]],
      openers: [this.outcomes.functions["webhook-deliver"]],
    });
    this.grantBedrock([
      this.functions["agent-step"],
      this.functions["dream-worker"],
      this.outcomes.functions.grader,
    ]);
    this.fanout = new FanoutStateMachine(this, "Fanout", {
      queue: this.agentStepsQueue,
      // The sweeper finishes a thread report a crash cut short, so it answers task tokens too.
      callers: [this.functions["agent-step"], this.functions.sweeper],
      logRetention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    // Workflow runs: a state machine per plan, created at run time under this deployment's prefix.
    // The API stops runs (an interrupt, a session delete); the sweeper finishes a thread's report.
    this.workflowRuns = new WorkflowRuns(this, "WorkflowRuns", {
      queue: this.agentStepsQueue,
      callers: [this.functions["agent-step"], this.functions.sweeper, this.functions.api],
      logRetention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    // bash in cloud environments: one command per invocation of a sandbox Lambda with no permissions
    // (docs/sandbox-on-aws.md). agent-step waits for it, so its timeout bounds the sandbox's.
    this.sandbox = new ReverieSandbox(this, "Sandbox", {
      workspaceBucket: this.workspaceBucket,
      invokers: [this.functions["agent-step"]],
      timeout: Duration.seconds(queueSpecs["agent-steps"].consumerTimeoutSeconds),
      logRetention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    const { api, authorizer } = this.createApi();
    this.api = api;
    this.authorizer = authorizer;
    this.createAlarms();
    this.dreams = new ReverieDreams(this, "Dreams", {
      functions: this.functions,
      alarmTopic: props.alarmTopic,
      encryption: queueEncryption(props.encryptionKey),
    });
    this.deployments = new ReverieDeployments(this, "Deployments", {
      functions: this.functions,
      tables: this.tables,
      workspaceBucket: this.workspaceBucket,
      agentStepsQueue: this.agentStepsQueue,
      webhooksQueue: this.outcomes.webhooksQueue,
      eventBus: this.outcomes.eventBus,
      alarmTopic: props.alarmTopic,
    });
  }

  // ---------------------------------------------------------------- data

  private createTables(): Record<TableName, dynamodb.Table> {
    const key = this.props.encryptionKey;
    const make = (name: TableName): dynamodb.Table => {
      const spec = tableSpecs[name];
      const table = new dynamodb.Table(this, `${pascal(name)}Table`, {
        partitionKey: { name: spec.partitionKey.name, type: attributeType(spec.partitionKey.type) },
        sortKey: { name: spec.sortKey.name, type: attributeType(spec.sortKey.type) },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        encryption: key ? dynamodb.TableEncryption.CUSTOMER_MANAGED : dynamodb.TableEncryption.AWS_MANAGED,
        encryptionKey: key,
        deletionProtection: this.props.deletionProtection ?? true,
        removalPolicy: this.removalPolicy,
        timeToLiveAttribute: spec.timeToLiveAttribute,
      });
      return table;
    };
    return { resources: make("resources"), events: make("events") };
  }

  private createQueues(): { queue: sqs.Queue; dlq: sqs.Queue; sweeperFailures: sqs.Queue } {
    const spec = queueSpecs["agent-steps"];
    const { queue, deadLetterQueue: dlq } = queueWithDeadLetter(
      this,
      "AgentSteps",
      spec,
      queueEncryption(this.props.encryptionKey),
    );
    // EventBridge (the sweeper rule's DLQ) can only write to SQS-managed SSE without extra key policy.
    const sweeperFailures = new sqs.Queue(this, "SweeperFailureQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(spec.dlqRetentionDays),
    });
    acknowledgeDeadLetterQueue(sweeperFailures, "the sweeper");
    return { queue, dlq, sweeperFailures };
  }

  private createAccessLogBucket(): s3.Bucket {
    const bucket = new s3.Bucket(this, "AccessLogBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      // S3 server access logging only delivers to SSE-S3 buckets.
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: false,
      lifecycleRules: [{ expiration: Duration.days(365) }],
      removalPolicy: this.removalPolicy,
    });
    Validations.of(bucket).acknowledge({
      id: "AwsSolutions-S1",
      reason: "This is the server-access-log bucket itself; logging it into itself would loop.",
    });
    return bucket;
  }

  private createWorkspaceBucket(): s3.Bucket {
    const key = this.props.encryptionKey;
    return new s3.Bucket(this, "WorkspaceBucket", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: key ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: key,
      bucketKeyEnabled: key ? true : undefined,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: this.accessLogBucket,
      serverAccessLogsPrefix: "workspace-bucket/",
      lifecycleRules: [
        {
          noncurrentVersionExpiration: Duration.days(30),
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
      removalPolicy: this.removalPolicy,
    });
  }

  private createOrImportSecret(): secretsmanager.ISecret | undefined {
    if (this.props.anthropicSecret) return this.props.anthropicSecret;
    const provider = this.props.modelProvider;
    if (provider === "bedrock" || provider === "simulated") return undefined;
    const secret = new secretsmanager.Secret(this, "AnthropicApiKey", {
      description: "Anthropic API key used by Reverie agent steps (put the real key here after deploying).",
      encryptionKey: this.props.encryptionKey,
      // A placeholder, never a real key: the model call fails with authentication_error until it is replaced.
      generateSecretString: { passwordLength: 32, excludePunctuation: true },
      removalPolicy: this.removalPolicy,
    });
    Validations.of(secret).acknowledge({
      id: "AwsSolutions-SMG4",
      reason:
        "An Anthropic API key is issued by the Anthropic console, not by AWS; Secrets Manager cannot rotate it. Rotate it there and put-secret-value.",
    });
    return secret;
  }

  // ---------------------------------------------------------------- functions

  private createFunctions(): Record<ReverieFunctionName, lambdaNodejs.NodejsFunction> {
    const step = queueSpecs["agent-steps"];
    const streamTimeout = this.props.streamTimeout ?? Duration.minutes(15);
    const settings: Record<ReverieFunctionName, FunctionSettings> = {
      api: {
        description: "Reverie JSON API: agents, environments, sessions (API Gateway proxy)",
        memorySize: 1024,
        timeout: Duration.seconds(29),
      },
      "api-memory": {
        description: "Reverie JSON API: memory stores, memories, dreams (API Gateway proxy)",
        memorySize: 1024,
        timeout: Duration.seconds(29),
      },
      "api-workspace": {
        description: "Reverie JSON API: files, skills, vaults, webhooks, deployments (API Gateway proxy)",
        memorySize: 1024,
        timeout: Duration.seconds(29),
      },
      "api-stream": {
        description: "Reverie SSE event stream (response streaming)",
        memorySize: 512,
        timeout: streamTimeout,
      },
      authorizer: {
        description: "Reverie x-api-key authorizer",
        memorySize: 512,
        timeout: Duration.seconds(10),
      },
      "agent-step": {
        description: "Reverie agent step (one model call, then tools)",
        memorySize: 1024,
        timeout: Duration.seconds(step.consumerTimeoutSeconds),
      },
      sweeper: {
        description: "Reverie sweeper (re-nudges expired step leases)",
        memorySize: 256,
        timeout: Duration.seconds(Math.min(60, sweeperRateMinutes * 60)),
      },
      "dream-worker": {
        description: "Reverie dream run (draft, the dreamer's session on the step loop, guards, output)",
        memorySize: 1024,
        timeout: Duration.seconds(queueSpecs["dream-jobs"].consumerTimeoutSeconds),
      },
      "dream-scheduler": {
        description: "Reverie dream schedule firing (EventBridge Scheduler target)",
        memorySize: 256,
        timeout: Duration.seconds(60),
      },
      "deployment-runner": {
        description: "Reverie deployment run (EventBridge Scheduler target): one session per firing",
        memorySize: 512,
        // Within the run's 60-second claim lease, so a live run is never taken over.
        timeout: Duration.seconds(50),
      },
    };
    const baseEnvironment: Record<string, string> = {
      REVERIE_TABLE_RESOURCES: this.tables.resources.tableName,
      REVERIE_TABLE_EVENTS: this.tables.events.tableName,
      REVERIE_AGENT_STEPS_QUEUE_URL: this.agentStepsQueue.queueUrl,
      REVERIE_WORKSPACE_BUCKET: this.workspaceBucket.bucketName,
      REVERIE_LOG_LEVEL: this.props.logLevel ?? "INFO",
      NODE_OPTIONS: "--enable-source-maps",
    };
    // Model settings go to agent-step only: it alone reads the secret, and loadConfig rejects
    // REVERIE_MODEL_PROVIDER=anthropic in a function that has no key to go with it.
    const stepEnvironment: Record<string, string> = {};
    if (this.anthropicSecret) stepEnvironment.REVERIE_ANTHROPIC_SECRET_ARN = this.anthropicSecret.secretArn;
    if (this.props.modelProvider) stepEnvironment.REVERIE_MODEL_PROVIDER = this.props.modelProvider;
    if (this.props.bedrockModelMap) stepEnvironment.REVERIE_BEDROCK_MODEL_MAP = this.props.bedrockModelMap;
    this.modelEnvironment = stepEnvironment;

    const bundleAwsSdk = this.props.bundleAwsSdk ?? false;
    const make = (
      name: ReverieFunctionName | OutcomeFunctionName,
      extra: Partial<lambdaNodejs.NodejsFunctionProps> = {},
      s: FunctionSettings = settings[name as ReverieFunctionName],
    ) => {
      const id = pascal(name);
      const logGroup = new logs.LogGroup(this, `${id}Logs`, {
        retention: this.logRetention,
        removalPolicy: this.removalPolicy,
      });
      // An explicit role: only its own log group, no AWS-managed AWSLambdaBasicExecutionRole (logs:* on *).
      const role = new iam.Role(this, `${id}Role`, {
        assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
        description: `Reverie ${name} function`,
      });
      logGroup.grantWrite(role);
      const fn = new lambdaNodejs.NodejsFunction(this, `${id}Function`, {
        entry: join(repoRoot, "functions", `${name}.ts`),
        handler: "handler",
        description: s.description,
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: s.memorySize,
        timeout: s.timeout,
        role,
        logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        tracing: lambda.Tracing.ACTIVE,
        reservedConcurrentExecutions: this.props.reservedConcurrency?.[name as ReverieFunctionName],
        environment: {
          ...baseEnvironment,
          POWERTOOLS_SERVICE_NAME: `reverie-${name}`,
          ...(name === "agent-step" || name === "dream-worker" ? stepEnvironment : {}),
        },
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
          // Mappings without the embedded sources: stack traces resolve, the asset stays small.
          sourcesContent: false,
          bundleAwsSDK: bundleAwsSdk,
          externalModules: bundleAwsSdk ? [] : ["@aws-sdk/*", "@smithy/*"],
          banner: REQUIRE_BANNER,
          forceDockerBundling: false,
          tsconfig: join(repoRoot, "tsconfig.json"),
          // packages the function imports but never uses (lambda-bundling.ts): Bedrock's SDK is
          // bundled only into the model callers of a bedrock stack; and one entry for zod
          esbuildArgs: Object.fromEntries(
            Object.entries(bundleAliases(name, this.props.modelProvider)).map(([from, to]) => [
              `--alias:${from}`,
              to,
            ]),
          ),
          // modules loaded on first use, as files of their own beside the bundle (lambda-side-files.ts)
          define: sideFileDefines(name),
          ...(sideFilesOf(name).length > 0
            ? {
                commandHooks: {
                  beforeBundling: () => [],
                  beforeInstall: () => [],
                  afterBundling: (_inputDir: string, outputDir: string) => [
                    [
                      "npx tsx",
                      JSON.stringify(join(repoRoot, "infra/aws/lambda-side-files.ts")),
                      name,
                      JSON.stringify(outputDir),
                      JSON.stringify(this.props.modelProvider ?? ""),
                      String(bundleAwsSdk),
                    ].join(" "),
                  ],
                },
              }
            : {}),
        },
        ...extra,
      });
      // X-Ray's PutTraceSegments/PutTelemetryRecords support no resource-level permissions.
      Validations.of(role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::*]",
        reason:
          "Only the X-Ray actions added by Tracing.ACTIVE (xray:PutTraceSegments, xray:PutTelemetryRecords) use Resource '*': X-Ray has no resource-level permissions. The infra tests assert no other statement uses '*'.",
      });
      return fn;
    };

    this.makeFunction = make;
    const sweeper = make("sweeper", {
      // A failed sweep is superseded by the next one a minute later; retrying only piles up overlapping runs.
      retryAttempts: 0,
      onFailure: new lambdaDestinations.SqsDestination(this.sweeperFailureQueue),
    });
    Validations.of(sweeper.node.defaultChild as IConstruct).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason:
        "Asynchronous failures go to an on-failure destination (the sweeper failure queue), which supersedes a DLQ and carries the error context.",
    });
    const functions: Record<ReverieFunctionName, lambdaNodejs.NodejsFunction> = {
      api: make("api"),
      "api-memory": make("api-memory"),
      "api-workspace": make("api-workspace"),
      "api-stream": make("api-stream"),
      authorizer: make("authorizer"),
      "agent-step": make("agent-step"),
      sweeper,
      "dream-worker": make("dream-worker"),
      "dream-scheduler": make("dream-scheduler"),
      "deployment-runner": make("deployment-runner"),
    };
    const synchronous: Record<
      Exclude<ReverieFunctionName, "sweeper" | "dream-scheduler" | "deployment-runner">,
      string
    > = {
      api: "invoked synchronously by API Gateway",
      "api-memory": "invoked synchronously by API Gateway",
      "api-workspace": "invoked synchronously by API Gateway",
      "api-stream": "invoked synchronously (InvokeWithResponseStream) by API Gateway",
      authorizer: "invoked synchronously by API Gateway as its authorizer",
      "agent-step":
        "invoked synchronously by the SQS event source mapping; failed messages go to the agent-steps DLQ",
      "dream-worker":
        "invoked synchronously by the SQS event source mapping; failed jobs go to the dream-jobs DLQ",
    };
    for (const [name, how] of Object.entries(synchronous)) {
      Validations.of(functions[name as ReverieFunctionName].node.defaultChild as IConstruct).acknowledge({
        id: "Serverless-LambdaDLQ",
        reason: `A Lambda DLQ only receives failed asynchronous invocations; this function is ${how}.`,
      });
    }
    return functions;
  }

  /** Least privilege: each function gets exactly the data-plane access its entry uses. */
  private grantAccess(): void {
    const f = this.functions;
    const { resources, events } = this.tables;
    // API (its three functions): every control-plane write, appends events, enqueues the first step
    // of a turn (sessions; dreams and deployment runs start sessions too).
    for (const fn of [f.api, f["api-memory"], f["api-workspace"]]) {
      resources.grantReadWriteData(fn);
      events.grantReadWriteData(fn);
      this.agentStepsQueue.grantSendMessages(fn);
    }
    // Files API and skills: uploaded bytes, under the bucket's files/ prefix only; sessions read them
    // when they mount files and skills.
    for (const fn of [f.api, f["api-workspace"]]) this.workspaceBucket.grantReadWrite(fn, "files/*");
    // Session creation (api) lays out a new session's files: its skills under <session>.mnt-skills
    // and the file resources it mounts, in the session's workspace or its read-only sibling. Puts
    // only: the API reads and deletes no workspace.
    this.workspaceBucket.grantPut(f.api, "workspaces/*");
    // SSE: reads the session (workspace check) and follows its event log.
    resources.grantReadData(f["api-stream"]);
    events.grantReadData(f["api-stream"]);
    // Authorizer: key hash → workspace, a read of the resources table and nothing else.
    resources.grantReadData(f.authorizer);
    // Agent step: claims leases, writes events, enqueues the next step, reads/writes the workspace.
    resources.grantReadWriteData(f["agent-step"]);
    events.grantReadWriteData(f["agent-step"]);
    this.agentStepsQueue.grantSendMessages(f["agent-step"]);
    this.workspaceBucket.grantReadWrite(f["agent-step"]);
    this.anthropicSecret?.grantRead(f["agent-step"]);
    // Sweeper: reads the running-sessions index, marks a session nudged (conditional write on its
    // record, so two sweeps never both nudge), drops stale index entries, and re-nudges.
    resources.grantReadWriteData(f.sweeper);
    this.agentStepsQueue.grantSendMessages(f.sweeper);
    // It also finishes a thread's report that a crash cut short, which reads and writes event logs.
    events.grantReadWriteData(f.sweeper);
    // Dreams: the worker reads the dream's session logs, writes memories and the dream's session;
    // a schedule firing selects sessions and creates the dream (ReverieDreams adds the queue grants).
    resources.grantReadWriteData(f["dream-worker"]);
    events.grantReadWriteData(f["dream-worker"]);
    // A dream runs as a session of the dreamer on the step loop: the worker enqueues its first step.
    this.agentStepsQueue.grantSendMessages(f["dream-worker"]);
    this.anthropicSecret?.grantRead(f["dream-worker"]);
    resources.grantReadWriteData(f["dream-scheduler"]);

    const stepRole = f["agent-step"].role as iam.Role;
    for (const role of [stepRole, f.api.role as iam.Role, f["api-workspace"].role as iam.Role]) {
      for (const action of ["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*"]) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason:
            "bucket.grantReadWrite on the workspace bucket only (CDK's standard read/write action set).",
        });
      }
    }
    for (const fn of [f.api, f["api-workspace"]]) {
      Validations.of(fn.role as iam.Role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.workspaceBucket.node.defaultChild as s3.CfnBucket)}.Arn>/files/*]`,
        reason:
          "Files API: uploaded files are object keys created at run time under the bucket's files/ prefix.",
      });
    }
    Validations.of(f.api.role as iam.Role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.workspaceBucket.node.defaultChild as s3.CfnBucket)}.Arn>/workspaces/*]`,
      reason:
        "Session creation writes the new session's skill and file mounts: object keys made at run time under workspaces/ (puts only).",
    });
    Validations.of(stepRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(this.workspaceBucket.node.defaultChild as s3.CfnBucket)}.Arn>/*]`,
      reason: "Session workspaces are object keys created at run time under the workspace bucket.",
    });
    if (this.props.encryptionKey) {
      for (const fn of Object.values(f)) {
        for (const action of ["kms:GenerateDataKey*", "kms:ReEncrypt*"]) {
          Validations.of(fn.role as iam.Role).acknowledge({
            id: `AwsSolutions-IAM5[Action::${action}]`,
            reason:
              "CDK grants on the customer-managed key used for tables, queues and bucket, scoped to that key.",
          });
        }
      }
    }
  }

  /**
   * With the Bedrock provider, the functions that call the model (agent steps, the grader, dream
   * runs) may invoke Anthropic models on Bedrock, and nothing else there.
   */
  private grantBedrock(modelCallers: lambda.IFunction[]): void {
    if (this.props.modelProvider !== "bedrock") return;
    const stack = Stack.of(this);
    for (const fn of modelCallers) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
          resources: [
            `arn:${stack.partition}:bedrock:*::foundation-model/anthropic.*`,
            `arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:inference-profile/*anthropic.*`,
          ],
        }),
      );
      const role = fn.role as iam.Role;
      Validations.of(role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:*::foundation-model/anthropic.*]",
        reason:
          "Anthropic models on Bedrock only; cross-region inference profiles route to any region's model.",
      });
      Validations.of(role).acknowledge({
        id: "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:bedrock:<AWS::Region>:<AWS::AccountId>:inference-profile/*anthropic.*]",
        reason: "Anthropic inference profiles of this account and region only.",
      });
    }
  }

  private wireAgentSteps(): void {
    consumeQueue(this.functions["agent-step"], this.agentStepsQueue, {
      queueName: "agent-steps",
      batchSize: queueSpecs["agent-steps"].batchSize,
      maxConcurrency: this.props.agentStepMaxConcurrency ?? 20,
    });
  }

  private wireSweeper(): void {
    const rule = new events.Rule(this, "SweeperSchedule", {
      description: "Runs the Reverie sweeper (re-nudges sessions whose step lease expired)",
      schedule: events.Schedule.rate(Duration.minutes(sweeperRateMinutes)),
    });
    rule.addTarget(
      new eventTargets.LambdaFunction(this.functions.sweeper, {
        deadLetterQueue: this.sweeperFailureQueue,
        retryAttempts: 2,
        maxEventAge: Duration.minutes(sweeperRateMinutes),
      }),
    );
    // Deployment runs a dead worker left pending (a run-now whose API call died) are finished by the
    // deployment runner, which can start sessions; on the same cadence, not at the next firing only.
    const deploymentRuns = new events.Rule(this, "DeploymentRunSweepSchedule", {
      description: "Finishes Reverie deployment runs a dead worker left pending",
      schedule: events.Schedule.rate(Duration.minutes(sweeperRateMinutes)),
    });
    deploymentRuns.addTarget(
      new eventTargets.LambdaFunction(this.functions["deployment-runner"], {
        event: events.RuleTargetInput.fromObject({ schemaVersion: 1, kind: "sweep" }),
        deadLetterQueue: this.sweeperFailureQueue,
        retryAttempts: 0,
        maxEventAge: Duration.minutes(sweeperRateMinutes),
      }),
    );
  }

  // ---------------------------------------------------------------- API

  private createApi(): { api: apigw.RestApi; authorizer: apigw.RequestAuthorizer } {
    const executionLogging = this.props.apiExecutionLogging ?? true;
    const throttling = this.props.throttling ?? { rateLimit: 50, burstLimit: 100 };
    const accessLogs = new logs.LogGroup(this, "ApiAccessLogs", {
      retention: this.logRetention,
      removalPolicy: this.removalPolicy,
    });
    const cacheTtl = this.props.authorizerCacheTtl ?? Duration.seconds(0);
    const authorizer = new apigw.RequestAuthorizer(this, "ApiKeyAuthorizer", {
      handler: this.functions.authorizer,
      identitySources: cacheTtl.toSeconds() > 0 ? [apigw.IdentitySource.header("Authorization")] : [],
      resultsCacheTtl: cacheTtl,
    });
    const api = new apigw.RestApi(this, "Api", {
      description: "Reverie: Claude Managed Agents API",
      // Regional: response streaming's idle timeout is 5 minutes here, 30 seconds on edge-optimized endpoints.
      endpointConfiguration: { types: [apigw.EndpointType.REGIONAL] },
      cloudWatchRole: executionLogging,
      cloudWatchRoleRemovalPolicy: executionLogging ? RemovalPolicy.RETAIN : undefined,
      // Files API: multipart uploads and raw downloads pass through as base64 instead of being mangled as
      // text; shared with the AWS-on-moto tests' API Gateway front (shared/infra-spec/rest-api.ts).
      binaryMediaTypes: restApiBinaryMediaTypes,
      deployOptions: {
        stageName: this.props.stageName ?? restApiDefaultStageName,
        tracingEnabled: true,
        metricsEnabled: true,
        loggingLevel: executionLogging ? apigw.MethodLoggingLevel.ERROR : apigw.MethodLoggingLevel.OFF,
        // Never log bodies: they carry prompts, memories and keys.
        dataTraceEnabled: false,
        throttlingRateLimit: throttling.rateLimit,
        throttlingBurstLimit: throttling.burstLimit,
        accessLogDestination: new apigw.LogGroupLogDestination(accessLogs),
        accessLogFormat: apigw.AccessLogFormat.jsonWithStandardFields({
          caller: false,
          httpMethod: true,
          ip: true,
          protocol: true,
          requestTime: true,
          resourcePath: true,
          responseLength: true,
          status: true,
          user: false,
        }),
      },
      defaultMethodOptions: { authorizer, authorizationType: apigw.AuthorizationType.CUSTOM },
    });
    if (executionLogging) {
      const cwRole = api.node.tryFindChild("CloudWatchRole");
      if (cwRole) {
        Validations.of(cwRole).acknowledge({
          id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
          reason:
            "The account-level API Gateway logging role; AWS maintains this service-role policy for exactly this purpose.",
        });
      }
    } else {
      Validations.of(api.deploymentStage).acknowledge({
        id: "AwsSolutions-APIG6",
        reason:
          "Execution logging disabled by configuration (another stack owns the account's API Gateway log role).",
      });
    }

    // Validate the path parameters API Gateway knows about; bodies are validated by the handlers' zod schemas.
    const validator = api.addRequestValidator("ParameterValidator", {
      validateRequestParameters: true,
      validateRequestBody: false,
    });
    Validations.of(api.node.defaultChild as IConstruct).acknowledge({
      id: "AwsSolutions-APIG2",
      reason:
        "Path parameters are validated by API Gateway; bodies are validated by the handlers' zod schemas, which mirror the SDK's param types and return Anthropic-shaped errors. Body validation without JSON-schema models would be a no-op.",
    });

    const integrationOf = (fn: lambda.IFunction) =>
      new apigw.LambdaIntegration(fn, {
        proxy: true,
        // One resource-policy statement per function instead of two per method.
        scopePermissionToMethod: false,
      });
    const json = integrationOf(this.functions.api);
    const anyMethod = (
      resource: apigw.IResource,
      parameters: string[] = [],
      integration: apigw.Integration = json,
    ) =>
      resource.addMethod("ANY", integration, {
        requestValidator: validator,
        requestParameters: Object.fromEntries(parameters.map((p) => [`method.request.path.${p}`, true])),
      });

    // REST API routing does not backtrack from a static resource to a sibling `{proxy+}`, so every static
    // resource on the SSE path gets its own proxy child and an ANY method.
    anyMethod(api.root);
    anyMethod(api.root.addResource("{proxy+}"), ["proxy"]);
    const health = api.root.addResource("health").addMethod("GET", json, {
      authorizationType: apigw.AuthorizationType.NONE,
    });
    for (const id of ["AwsSolutions-APIG4", "AwsSolutions-COG4"]) {
      Validations.of(health).acknowledge({
        id,
        reason: "GET /health is the unauthenticated readiness probe; it reveals nothing but liveness.",
      });
    }
    const v1 = api.root.addResource("v1");
    anyMethod(v1);
    anyMethod(v1.addResource("{proxy+}"), ["proxy"]);
    // The memory and workspace contexts have functions of their own (shared/infra-spec/rest-api.ts):
    // each top-level collection they serve routes there, with everything under it.
    for (const [name, collections] of Object.entries(restApiFunctionCollections)) {
      const integration = integrationOf(this.functions[name as keyof typeof restApiFunctionCollections]);
      for (const collection of collections) {
        const resource = v1.addResource(collection);
        anyMethod(resource, [], integration);
        anyMethod(resource.addResource("{proxy+}"), ["proxy"], integration);
      }
    }
    const sessions = v1.addResource("sessions");
    anyMethod(sessions);
    const session = sessions.addResource("{session_id}");
    anyMethod(session, ["session_id"]);
    anyMethod(session.addResource("{proxy+}"), ["session_id", "proxy"]);
    const sessionEvents = session.addResource("events");
    anyMethod(sessionEvents, ["session_id"]);
    anyMethod(sessionEvents.addResource("{proxy+}"), ["session_id", "proxy"]);
    const threads = session.addResource("threads");
    anyMethod(threads, ["session_id"]);
    const thread = threads.addResource("{thread_id}");
    anyMethod(thread, ["session_id", "thread_id"]);
    anyMethod(thread.addResource("{proxy+}"), ["session_id", "thread_id", "proxy"]);
    const streamTimeout = this.props.streamTimeout ?? Duration.minutes(15);
    // Lambda response streaming: the integration calls InvokeWithResponseStream and forwards bytes as
    // they come, so SSE works and the 29-second integration limit does not apply. One integration
    // serves both streams (restApiStreamOf: a session's and a thread's).
    const stream = new apigw.LambdaIntegration(this.functions["api-stream"], {
      proxy: true,
      responseTransferMode: apigw.ResponseTransferMode.STREAM,
      timeout: streamTimeout,
      scopePermissionToMethod: false,
    });
    const streamMethod = (resource: apigw.IResource, parameters: string[]) =>
      resource.addResource("stream").addMethod("GET", stream, {
        requestValidator: validator,
        requestParameters: Object.fromEntries(parameters.map((p) => [`method.request.path.${p}`, true])),
      });
    streamMethod(sessionEvents, ["session_id"]);
    streamMethod(thread, ["session_id", "thread_id"]);

    this.addErrorResponses(api);

    Validations.of(api).acknowledge({
      id: "AwsSolutions-COG4",
      reason:
        "The Anthropic SDK authenticates with an x-api-key header; a Lambda REQUEST authorizer maps the key's hash to a workspace (DESIGN.md §1, §7). Cognito user pools do not fit that contract.",
    });
    if (this.props.webAclArn) {
      new wafv2.CfnWebACLAssociation(this, "ApiWebAcl", {
        resourceArn: api.deploymentStage.stageArn,
        webAclArn: this.props.webAclArn,
      });
    } else {
      Validations.of(api.deploymentStage).acknowledge({
        id: "AwsSolutions-APIG3",
        reason:
          "WAF is opt-in (webAclArn prop): a web ACL costs money and its rules are a per-deployment decision; stage throttling and the authorizer protect the API by default.",
      });
    }
    return { api, authorizer };
  }

  /**
   * API Gateway's own rejections (bad key, throttling, unknown route) in Anthropic's error shape, so the
   * SDK maps them to its error classes like any other error (DESIGN.md §1).
   */
  private addErrorResponses(api: apigw.RestApi): void {
    const responses: Array<[string, apigw.ResponseType, string, string | undefined]> = [
      ["Unauthorized", apigw.ResponseType.UNAUTHORIZED, "authentication_error", "401"],
      ["AccessDenied", apigw.ResponseType.ACCESS_DENIED, "authentication_error", "401"],
      ["MissingAuthToken", apigw.ResponseType.MISSING_AUTHENTICATION_TOKEN, "not_found_error", "404"],
      ["Throttled", apigw.ResponseType.THROTTLED, "rate_limit_error", "429"],
      ["RequestTooLarge", apigw.ResponseType.REQUEST_TOO_LARGE, "request_too_large", "413"],
      ["Default4xx", apigw.ResponseType.DEFAULT_4XX, "invalid_request_error", undefined],
      ["Default5xx", apigw.ResponseType.DEFAULT_5XX, "api_error", undefined],
    ];
    for (const [id, type, errorType, statusCode] of responses) {
      api.addGatewayResponse(id, {
        type,
        statusCode,
        responseHeaders: { "Content-Type": "'application/json'" },
        templates: {
          "application/json": `{"type":"error","error":{"type":"${errorType}","message":$context.error.messageString},"request_id":"$context.requestId"}`,
        },
      });
    }
  }

  // ---------------------------------------------------------------- alarms

  private createAlarms(): void {
    const topic = this.props.alarmTopic;
    this.alarms.push(
      deadLetterAlarm(
        this,
        "AgentStepsDeadLetterAlarm",
        this.agentStepsDeadLetterQueue,
        "agent steps exhausted their receives",
        topic,
      ),
      deadLetterAlarm(this, "SweeperFailureAlarm", this.sweeperFailureQueue, "sweeper runs failed", topic),
      queueAgeAlarm(
        this,
        "AgentStepsAgeAlarm",
        this.agentStepsQueue,
        "agent step",
        this.props.oldestStepAlarmAge ?? Duration.minutes(30),
        topic,
      ),
    );
  }
}

function attributeType(type: "S" | "N"): dynamodb.AttributeType {
  return type === "S" ? dynamodb.AttributeType.STRING : dynamodb.AttributeType.NUMBER;
}

function pascal(name: string): string {
  return name
    .split(/[-_]/)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join("");
}
