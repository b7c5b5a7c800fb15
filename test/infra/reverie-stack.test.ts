/**
 * The deployed shape of Reverie: synthesizes `ReverieStack` once (bundling the five real Lambda entries
 * with esbuild, offline) and checks queues, tables, alarms, IAM, the API wiring, cdk-nag and asset sizes.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sideFilesOf } from "../../infra/aws/lambda-side-files.js";
import type { ReverieFunctionName } from "../../infra/aws/reverie-runtime.js";
import { ReverieStack } from "../../infra/aws/reverie-stack.js";
import { queueSpecs } from "../../shared/infra-spec/queues.js";
import { restApiFunctionCollections, restApiStreamResources } from "../../shared/infra-spec/rest-api.js";
import { tableSpecs } from "../../shared/infra-spec/tables.js";
import {
  acknowledgements,
  actionsOf,
  cdkJsonContext,
  logicalIdOf,
  nagFindings,
  type Statement,
  statementsOf,
} from "./infra-helpers.js";

const MAX_BUNDLE_BYTES = 500 * 1024;
/**
 * The model callers carry the official SDK (~120 KB minified) on top of what every function has;
 * agent-step also carries the toolset and the clients of what tools reach (the sandbox, MCP servers);
 * its MCP client (the MCP SDK ~75 KB with its own zod, its unused Ajv aliased away) is a file of its
 * own beside the bundle, loaded by a session's first MCP connection (lambda-side-files.ts); so are
 * the skill codecs (fflate and js-yaml, ~59 KB) of api, api-workspace and deployment-runner. Every function carries its own signed
 * HTTP client for DynamoDB and SQS (~8 KB: no AWS SDK client is loaded at cold start). The authorizer
 * has its own composition (a key hash and one DynamoDB read, ~16 KB with the store's key checks); the JSON API is three functions, one per bounded context
 * (sessions, memory, workspace resources), so each carries its own routes only; webhook-deliver has a
 * composition of its own too (~176 KB: the delivery worker, not the services); the grader builds a
 * step's dependencies alone (step-deps-wiring.ts, ~340 KB with the SDK) and the dream worker a dream
 * job's (~410 KB). Every other function carries the whole composition root (container.ts: ~300 KB, zod ~105 KB of it), which grows with
 * every context — the sweeper without the dreams context (~55 KB: its dream sweep needs only the
 * dream records and the jobs queue); budgets are what each bundle measured plus ~5%.
 */
const BUNDLE_BUDGETS: Partial<Record<string, number>> = {
  authorizer: 17.5 * 1024,
  "webhook-deliver": 185 * 1024,
  api: 465 * 1024,
  "api-memory": 500 * 1024,
  "api-workspace": 510 * 1024,
  "api-stream": 440 * 1024,
  "agent-step": 655 * 1024,
  grader: 360 * 1024,
  "dream-worker": 435 * 1024,
  "deployment-runner": 480 * 1024,
  sweeper: 435 * 1024,
};
const FUNCTION_NAMES: ReverieFunctionName[] = [
  "api",
  "api-memory",
  "api-workspace",
  "api-stream",
  "authorizer",
  "agent-step",
  "sweeper",
  "dream-worker",
  "dream-scheduler",
  "deployment-runner",
];

let outdir: string;
let stack: ReverieStack;
let template: Template;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "reverie-cdk-"));
  const app = new App({ outdir, context: cdkJsonContext() });
  stack = new ReverieStack(app, "ReverieTest");
  template = Template.fromStack(stack);
}, 240_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

const fn = (name: ReverieFunctionName) => stack.runtime.functions[name];
const statements = (name: ReverieFunctionName): Statement[] => statementsOf(template, fn(name));

describe("queues", () => {
  const spec = queueSpecs["agent-steps"];

  it("agent-steps has the spec'd visibility, a redrive to its DLQ, SSE and TLS-only access", () => {
    expect(spec.maxReceiveCount).toBeGreaterThanOrEqual(5);
    template.hasResourceProperties(
      "AWS::SQS::Queue",
      Match.objectLike({
        VisibilityTimeout: spec.visibilityTimeoutSeconds,
        SqsManagedSseEnabled: true,
        RedrivePolicy: {
          deadLetterTargetArn: {
            "Fn::GetAtt": [logicalIdOf(stack.runtime.agentStepsDeadLetterQueue), "Arn"],
          },
          maxReceiveCount: spec.maxReceiveCount,
        },
      }),
    );
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [{ Ref: logicalIdOf(stack.runtime.agentStepsQueue) }],
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      }),
    });
  });

  it("visibility is at least 6x the consumer's timeout", () => {
    const consumer = template.findResources("AWS::Lambda::Function")[logicalIdOf(fn("agent-step"))];
    expect(consumer?.Properties.Timeout).toBe(spec.consumerTimeoutSeconds);
    expect(spec.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(6 * spec.consumerTimeoutSeconds);
  });

  it("the DLQ keeps messages for the spec'd retention and is encrypted", () => {
    template.hasResourceProperties("AWS::SQS::Queue", {
      MessageRetentionPeriod: spec.dlqRetentionDays * 86_400,
      SqsManagedSseEnabled: true,
    });
  });

  it("every queue is encrypted and is either redriven to a DLQ or is a DLQ with a depth alarm", () => {
    const queues = template.findResources("AWS::SQS::Queue");
    const alarms = Object.values(template.findResources("AWS::CloudWatch::Alarm"));
    const dlqIds = new Set(
      Object.values(queues)
        .map(
          (q) => q.Properties.RedrivePolicy?.deadLetterTargetArn?.["Fn::GetAtt"]?.[0] as string | undefined,
        )
        .filter((id): id is string => id !== undefined),
    );
    const dlqLike = new Set([
      ...dlqIds,
      logicalIdOf(stack.runtime.sweeperFailureQueue),
      logicalIdOf(stack.runtime.deployments.failedFirings),
    ]);
    expect(Object.keys(queues).length).toBeGreaterThanOrEqual(3);
    for (const [id, queue] of Object.entries(queues)) {
      expect(queue.Properties.SqsManagedSseEnabled ?? queue.Properties.KmsMasterKeyId, id).toBeTruthy();
      if (dlqLike.has(id)) {
        const depthAlarm = alarms.find(
          (a) =>
            a.Properties.MetricName === "ApproximateNumberOfMessagesVisible" &&
            JSON.stringify(a.Properties.Dimensions).includes(id) &&
            a.Properties.Threshold === 0 &&
            a.Properties.ComparisonOperator === "GreaterThanThreshold",
        );
        expect(depthAlarm, `depth alarm on ${id}`).toBeDefined();
      } else {
        expect(queue.Properties.RedrivePolicy?.maxReceiveCount, id).toBeGreaterThanOrEqual(5);
      }
    }
  });

  it("alarms on the age of the oldest agent step", () => {
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateAgeOfOldestMessage",
      Namespace: "AWS/SQS",
      Dimensions: [
        {
          Name: "QueueName",
          Value: { "Fn::GetAtt": [logicalIdOf(stack.runtime.agentStepsQueue), "QueueName"] },
        },
      ],
      ComparisonOperator: "GreaterThanThreshold",
    });
  });
});

describe("tables", () => {
  it.each(Object.values(tableSpecs))(
    "$name: key schema from the spec, on demand, PITR, encrypted, protected",
    (spec) => {
      const table = stack.runtime.tables[spec.name];
      const resource = template.findResources("AWS::DynamoDB::Table")[logicalIdOf(table)];
      expect(resource).toBeDefined();
      expect(resource?.Properties).toMatchObject({
        KeySchema: [
          { AttributeName: spec.partitionKey.name, KeyType: "HASH" },
          { AttributeName: spec.sortKey.name, KeyType: "RANGE" },
        ],
        AttributeDefinitions: expect.arrayContaining([
          { AttributeName: spec.partitionKey.name, AttributeType: spec.partitionKey.type },
          { AttributeName: spec.sortKey.name, AttributeType: spec.sortKey.type },
        ]),
        BillingMode: "PAY_PER_REQUEST",
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      });
      expect(resource?.DeletionPolicy).toBe("Retain");
    },
  );
});

describe("workspace bucket", () => {
  it("blocks public access, encrypts, versions, enforces TLS and logs access to the log bucket", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      VersioningConfiguration: { Status: "Enabled" },
      LoggingConfiguration: { DestinationBucketName: { Ref: logicalIdOf(stack.runtime.accessLogBucket) } },
    });
    template.hasResourceProperties("AWS::S3::BucketPolicy", {
      Bucket: { Ref: logicalIdOf(stack.runtime.workspaceBucket) },
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
        ]),
      }),
    });
  });
});

describe("functions", () => {
  it.each(FUNCTION_NAMES)(
    "%s: Node 24, X-Ray active, explicit memory/timeout, JSON logs to its own log group",
    (name) => {
      const resource = template.findResources("AWS::Lambda::Function")[logicalIdOf(fn(name))];
      expect(resource?.Properties).toMatchObject({
        Runtime: "nodejs24.x",
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
        LoggingConfig: { LogFormat: "JSON", LogGroup: { Ref: expect.any(String) } },
        MemorySize: expect.any(Number),
        Timeout: expect.any(Number),
      });
    },
  );

  it("log groups have a retention", () => {
    for (const [id, group] of Object.entries(template.findResources("AWS::Logs::LogGroup"))) {
      expect(group.Properties.RetentionInDays, id).toBeGreaterThan(0);
    }
  });

  it("environment variables are the ones shared/runtime/config.ts reads", () => {
    const env = (name: ReverieFunctionName) =>
      template.findResources("AWS::Lambda::Function")[logicalIdOf(fn(name))]?.Properties.Environment
        .Variables;
    for (const name of FUNCTION_NAMES) {
      expect(env(name), name).toMatchObject({
        REVERIE_TABLE_RESOURCES: { Ref: logicalIdOf(stack.runtime.tables.resources) },
        REVERIE_TABLE_EVENTS: { Ref: logicalIdOf(stack.runtime.tables.events) },
        REVERIE_AGENT_STEPS_QUEUE_URL: { Ref: logicalIdOf(stack.runtime.agentStepsQueue) },
        REVERIE_WORKSPACE_BUCKET: { Ref: logicalIdOf(stack.runtime.workspaceBucket) },
        // Required by awsPorts (every function): without them outcomes and webhooks would silently do nothing.
        REVERIE_GRADER_QUEUE_URL: { Ref: logicalIdOf(stack.runtime.outcomes.graderQueue) },
        REVERIE_WEBHOOKS_QUEUE_URL: { Ref: logicalIdOf(stack.runtime.outcomes.webhooksQueue) },
      });
    }
    const secretId = logicalIdOf(stack.runtime.anthropicSecret as unknown as import("constructs").IConstruct);
    expect(env("agent-step").REVERIE_ANTHROPIC_SECRET_ARN).toEqual({ Ref: secretId });
    expect(env("dream-worker").REVERIE_ANTHROPIC_SECRET_ARN).toEqual({ Ref: secretId });
    for (const name of FUNCTION_NAMES.filter((n) => n !== "agent-step" && n !== "dream-worker")) {
      expect(env(name).REVERIE_ANTHROPIC_SECRET_ARN, name).toBeUndefined();
    }
  });

  it("agent-step consumes agent-steps with partial batch failures and the spec'd batch size", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      FunctionName: { Ref: logicalIdOf(fn("agent-step")) },
      EventSourceArn: { "Fn::GetAtt": [logicalIdOf(stack.runtime.agentStepsQueue), "Arn"] },
      BatchSize: queueSpecs["agent-steps"].batchSize,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: Match.anyValue() },
    });
    const mappings = Object.values(template.findResources("AWS::Lambda::EventSourceMapping"));
    expect(
      mappings.filter((m) => m.Properties.FunctionName.Ref === logicalIdOf(fn("agent-step"))),
    ).toHaveLength(1);
  });

  it("the sweeper (and the deployment runs' sweep) run on a schedule with a DLQ, async failures to a destination", () => {
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: { "Fn::GetAtt": [logicalIdOf(fn("sweeper")), "Arn"] },
          DeadLetterConfig: {
            Arn: { "Fn::GetAtt": [logicalIdOf(stack.runtime.sweeperFailureQueue), "Arn"] },
          },
        }),
      ],
    });
    // And the deployment runner finishes runs a dead worker left pending, on the same cadence.
    template.hasResourceProperties("AWS::Events::Rule", {
      ScheduleExpression: "rate(1 minute)",
      State: "ENABLED",
      Targets: [
        Match.objectLike({
          Arn: { "Fn::GetAtt": [logicalIdOf(fn("deployment-runner")), "Arn"] },
          Input: JSON.stringify({ schemaVersion: 1, kind: "sweep" }),
        }),
      ],
    });
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: logicalIdOf(fn("sweeper")) },
      MaximumRetryAttempts: 0,
      DestinationConfig: {
        OnFailure: { Destination: { "Fn::GetAtt": [logicalIdOf(stack.runtime.sweeperFailureQueue), "Arn"] } },
      },
    });
  });
});

describe("API", () => {
  const apiId = () => logicalIdOf(stack.runtime.api);

  it("is a regional REST API with an uncached REQUEST authorizer (x-api-key or Authorization: Bearer)", () => {
    template.hasResourceProperties("AWS::ApiGateway::RestApi", {
      EndpointConfiguration: { Types: ["REGIONAL"] },
    });
    template.hasResourceProperties("AWS::ApiGateway::Authorizer", {
      Type: "REQUEST",
      RestApiId: { Ref: apiId() },
      IdentitySource: "",
      AuthorizerResultTtlInSeconds: 0,
      AuthorizerUri: Match.objectLike({
        "Fn::Join": ["", Match.arrayWith([{ "Fn::GetAtt": [logicalIdOf(fn("authorizer")), "Arn"] }])],
      }),
    });
  });

  it("every method but GET /health and the console's static files goes through the authorizer", () => {
    const authorizerId = logicalIdOf(stack.runtime.authorizer);
    const methods = template.findResources("AWS::ApiGateway::Method");
    const open = Object.entries(methods).filter(([, m]) => m.Properties.AuthorizationType !== "CUSTOM");
    const resourceOf = (pathPart: string, parent?: string) =>
      Object.entries(
        template.findResources("AWS::ApiGateway::Resource", { Properties: { PathPart: pathPart } }),
      )
        .filter(
          ([, r]) => !parent || JSON.stringify(r.Properties.ParentId) === JSON.stringify({ Ref: parent }),
        )
        .map(([id]) => ({ Ref: id }));
    const [consoleResource] = resourceOf("console");
    const publicResources = [
      ...resourceOf("health"),
      consoleResource,
      ...resourceOf("{proxy+}", consoleResource?.Ref),
    ];
    expect(open).toHaveLength(3);
    for (const [, method] of open) {
      expect(method.Properties.HttpMethod).toBe("GET");
      expect(method.Properties.AuthorizationType).toBe("NONE");
    }
    expect(open.map(([, m]) => m.Properties.ResourceId)).toEqual(expect.arrayContaining(publicResources));
    for (const [id, m] of Object.entries(methods)) {
      if (m.Properties.AuthorizationType === "CUSTOM")
        expect(m.Properties.AuthorizerId, id).toEqual({ Ref: authorizerId });
    }
  });

  it("routes the root and {proxy+} (ANY) to the api function", () => {
    const apiFn = logicalIdOf(fn("api"));
    for (const resourceId of [{ "Fn::GetAtt": [apiId(), "RootResourceId"] }, Match.anyValue()]) {
      template.hasResourceProperties("AWS::ApiGateway::Method", {
        HttpMethod: "ANY",
        ResourceId: resourceId,
        Integration: Match.objectLike({
          Type: "AWS_PROXY",
          Uri: Match.objectLike({
            "Fn::Join": ["", Match.arrayWith([{ "Fn::GetAtt": [apiFn, "Arn"] }, "/invocations"])],
          }),
        }),
      });
    }
    const proxies = template.findResources("AWS::ApiGateway::Resource", {
      Properties: { PathPart: "{proxy+}" },
    });
    expect(Object.keys(proxies).length).toBeGreaterThanOrEqual(1);
  });

  it("routes each collection of the memory and workspace contexts, and everything under it, to its function", () => {
    const resources = template.findResources("AWS::ApiGateway::Resource");
    const methods = Object.values(template.findResources("AWS::ApiGateway::Method"));
    const integrated = (resourceId: string) =>
      methods
        .filter((m) => JSON.stringify(m.Properties.ResourceId) === JSON.stringify({ Ref: resourceId }))
        .map((m) => JSON.stringify(m.Properties.Integration?.Uri));
    for (const [name, collections] of Object.entries(restApiFunctionCollections)) {
      const target = logicalIdOf(fn(name as ReverieFunctionName));
      for (const collection of collections) {
        const [id] = Object.entries(resources).find(([, r]) => r.Properties.PathPart === collection) ?? [];
        expect(id, collection).toBeDefined();
        const [proxyId] =
          Object.entries(resources).find(
            ([, r]) =>
              r.Properties.PathPart === "{proxy+}" &&
              JSON.stringify(r.Properties.ParentId) === JSON.stringify({ Ref: id }),
          ) ?? [];
        for (const resource of [id, proxyId] as string[]) {
          const uris = integrated(resource);
          expect(uris, `${collection}: ${resource}`).toHaveLength(1);
          expect(uris[0]).toContain(target);
        }
      }
    }
  });

  it("streams a session's and a thread's events from api-stream (restApiStreamResources)", () => {
    const streamResources = Object.keys(
      template.findResources("AWS::ApiGateway::Resource", { Properties: { PathPart: "stream" } }),
    );
    const resources = template.findResources("AWS::ApiGateway::Resource");
    const pathOf = (id: string): string => {
      const r = resources[id];
      const parent = r?.Properties.ParentId;
      const prefix = parent?.Ref ? pathOf(parent.Ref) : "";
      return `${prefix}/${r?.Properties.PathPart}`;
    };
    // The paths really are the stream routes the moto front and the route table name.
    expect(streamResources.map(pathOf).sort()).toEqual([...restApiStreamResources].sort());
    for (const id of streamResources) {
      const parameters = [...pathOf(id).matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]);
      template.hasResourceProperties("AWS::ApiGateway::Method", {
        HttpMethod: "GET",
        ResourceId: { Ref: id },
        AuthorizationType: "CUSTOM",
        RequestParameters: Object.fromEntries(parameters.map((p) => [`method.request.path.${p}`, true])),
        Integration: Match.objectLike({
          Type: "AWS_PROXY",
          ResponseTransferMode: "STREAM",
          Uri: Match.objectLike({
            "Fn::Join": [
              "",
              Match.arrayWith([
                { "Fn::GetAtt": [logicalIdOf(fn("api-stream")), "Arn"] },
                "/response-streaming-invocations",
              ]),
            ],
          }),
        }),
      });
    }
  });

  it("stage has JSON access logs, X-Ray, throttling, and no data trace", () => {
    template.hasResourceProperties("AWS::ApiGateway::Stage", {
      TracingEnabled: true,
      AccessLogSetting: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('^\\{".*requestId'),
      },
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: "*",
          ResourcePath: "/*",
          ThrottlingRateLimit: Match.anyValue(),
          ThrottlingBurstLimit: Match.anyValue(),
          DataTraceEnabled: false,
          LoggingLevel: "ERROR",
        }),
      ]),
    });
  });

  it("answers API Gateway's own rejections in Anthropic's error shape", () => {
    template.hasResourceProperties("AWS::ApiGateway::GatewayResponse", {
      ResponseType: "UNAUTHORIZED",
      StatusCode: "401",
      ResponseTemplates: {
        "application/json": Match.stringLikeRegexp('"type":"error".*"authentication_error"'),
      },
    });
    template.hasResourceProperties("AWS::ApiGateway::GatewayResponse", {
      ResponseType: "THROTTLED",
      StatusCode: "429",
      ResponseTemplates: { "application/json": Match.stringLikeRegexp("rate_limit_error") },
    });
  });
});

describe("IAM is least privilege", () => {
  const allActions = (name: ReverieFunctionName) => statements(name).flatMap(actionsOf);

  it("no statement grants a bare '*' or 'service:*' action", () => {
    for (const [id, policy] of Object.entries(template.findResources("AWS::IAM::Policy"))) {
      for (const s of policy.Properties.PolicyDocument.Statement as Statement[]) {
        for (const action of actionsOf(s)) expect(action, id).not.toMatch(/^(\*|[a-z0-9-]+:\*)$/);
      }
    }
  });

  it("Resource '*' appears only for X-Ray and the state machine's log delivery (no resource-level permissions)", () => {
    const fanoutPolicy = logicalIdOf(stack.runtime.fanout.stateMachine.role.node.findChild("DefaultPolicy"));
    const workflowPolicy = logicalIdOf(stack.runtime.workflowRuns.role.node.findChild("DefaultPolicy"));
    for (const [id, policy] of Object.entries(template.findResources("AWS::IAM::Policy"))) {
      for (const s of policy.Properties.PolicyDocument.Statement as Statement[]) {
        const resources = Array.isArray(s.Resource) ? s.Resource : [s.Resource];
        if (resources.includes("*")) {
          const allowed =
            id === fanoutPolicy || id === workflowPolicy
              ? /^(xray:|logs:(\w+LogDelivery|ListLogDeliveries|PutResourcePolicy|DescribeResourcePolicies|DescribeLogGroups)$)/
              : /^xray:/;
          for (const action of actionsOf(s)) expect(action, id).toMatch(allowed);
        }
      }
    }
  });

  it("functions use their own roles, without AWS-managed policies", () => {
    for (const name of FUNCTION_NAMES) {
      const role = template.findResources("AWS::IAM::Role")[logicalIdOf(fn(name).role as never)];
      expect(role?.Properties.ManagedPolicyArns, name).toBeUndefined();
    }
  });

  it.each(["api", "api-memory", "api-workspace"] as const)(
    "the %s function can enqueue steps but never consume or delete them",
    (name) => {
      const actions = allActions(name);
      expect(actions).toContain("sqs:SendMessage");
      expect(actions).not.toContain("sqs:DeleteMessage");
      expect(actions).not.toContain("sqs:ReceiveMessage");
      // Files API: objects under files/ only; and api, which creates sessions, puts their skill and
      // file mounts under workspaces/ (it reads and deletes no workspace: the agent step's).
      const bucketArn = { "Fn::GetAtt": [logicalIdOf(stack.runtime.workspaceBucket), "Arn"] };
      for (const s of statements(name).filter((st) => actionsOf(st).some((a) => a.startsWith("s3:")))) {
        if (name === "api" && JSON.stringify(s.Resource).includes("/workspaces/*")) {
          expect(s.Resource).toEqual({ "Fn::Join": ["", [bucketArn, "/workspaces/*"]] });
          expect(
            actionsOf(s).every((a) => /^s3:(PutObject|Abort)/.test(a)),
            JSON.stringify(s),
          ).toBe(true);
          continue;
        }
        expect(s.Resource).toEqual([bucketArn, { "Fn::Join": ["", [bucketArn, "/files/*"]] }]);
      }
      expect(actions.some((a) => a.startsWith("secretsmanager:"))).toBe(false);
    },
  );

  it("the authorizer can only read the resources table (and write its own logs/traces)", () => {
    const resourcesArn = { "Fn::GetAtt": [logicalIdOf(stack.runtime.tables.resources), "Arn"] };
    for (const s of statements("authorizer")) {
      const actions = actionsOf(s);
      if (actions.every((a) => a.startsWith("logs:") || a.startsWith("xray:"))) continue;
      expect(actions.every((a) => a.startsWith("dynamodb:"))).toBe(true);
      for (const a of actions) {
        expect(a).toMatch(
          /^dynamodb:(BatchGetItem|ConditionCheckItem|DescribeTable|GetItem|GetRecords|GetShardIterator|Query|Scan)$/,
        );
      }
      expect(s.Resource).toEqual(resourcesArn);
    }
  });

  it("the sweeper may write event logs and publish domain events (it finishes thread reports a crash cut short)", () => {
    const eventsArn = JSON.stringify({ "Fn::GetAtt": [logicalIdOf(stack.runtime.tables.events), "Arn"] });
    const sweeper = statements("sweeper");
    expect(
      sweeper.some(
        (s) => actionsOf(s).includes("dynamodb:PutItem") && JSON.stringify(s.Resource).includes(eventsArn),
      ),
    ).toBe(true);
    const actions = sweeper.flatMap(actionsOf);
    expect(actions).toContain("events:PutEvents");
    expect(actions).toContain("sqs:SendMessage");
  });

  it("the stream function only reads", () => {
    for (const a of allActions("api-stream")) {
      expect(a).not.toMatch(/^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem)$|^sqs:|^s3:/);
    }
  });

  it("only the model callers (agent-step, dream-worker) read the Anthropic secret and consume a queue; only agent-step and the session creators (api: files/ and puts under workspaces/, api-workspace: files/ only, deployment-runner) touch the workspaces", () => {
    for (const name of FUNCTION_NAMES) {
      const actions = allActions(name);
      const isStep = name === "agent-step";
      const callsModel = isStep || name === "dream-worker";
      expect(actions.includes("secretsmanager:GetSecretValue"), name).toBe(callsModel);
      expect(
        actions.some((a) => a.startsWith("s3:")),
        name,
      ).toBe(isStep || name === "api" || name === "api-workspace" || name === "deployment-runner");
      expect(actions.includes("sqs:DeleteMessage"), name).toBe(callsModel);
    }
  });
});

describe("cdk-nag (v3)", () => {
  it("AwsSolutions and Serverless packs report no unacknowledged error or warning", () => {
    expect(nagFindings(stack)).toEqual([]);
  });

  it("every acknowledgement carries a reason", () => {
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.id).toMatch(/^(AwsSolutions|Serverless)-/);
      expect(ack.reason.length, `${ack.id} at ${ack.path}`).toBeGreaterThan(30);
    }
  });
});

describe("outputs", () => {
  it("exposes the API URL, tables, queue, bucket and secret name", () => {
    for (const name of [
      "ApiUrl",
      "ResourcesTableName",
      "EventsTableName",
      "AgentStepsQueueUrl",
      "WorkspaceBucketName",
      "AnthropicSecretName",
      "ConsoleUrl",
    ]) {
      template.hasOutput(name, Match.anyValue());
    }
  });
});

describe("Lambda assets", () => {
  const bundled = [...FUNCTION_NAMES, "grader", "webhook-deliver"] as const;
  const any = (name: (typeof bundled)[number]) =>
    name === "grader" || name === "webhook-deliver" ? stack.runtime.outcomes.functions[name] : fn(name);
  const budgetOf = (name: string) => BUNDLE_BUDGETS[name] ?? MAX_BUNDLE_BYTES;
  it.each(bundled.map((name) => [name, budgetOf(name) / 1024] as const))(
    "%s: the bundled code is at most %i KB",
    (name, _kb) => {
      const resource = template.findResources("AWS::Lambda::Function")[logicalIdOf(any(name))];
      const key = resource?.Properties.Code.S3Key as string;
      const dir = join(outdir, `asset.${key.replace(/\.zip$/, "")}`);
      const files = readdirSync(dir);
      const sizes = Object.fromEntries(files.map((f) => [f, statSync(join(dir, f)).size]));
      expect(files).toContain("index.mjs");
      // the modules it loads on first use, built beside the bundle by the afterBundling hook
      for (const side of sideFilesOf(name)) expect(files).toContain(side.file);
      const bundle = sizes["index.mjs"] ?? 0;
      expect(bundle, `${name} index.mjs is ${(bundle / 1024).toFixed(0)} KB`).toBeLessThanOrEqual(
        budgetOf(name),
      );
    },
  );
});
