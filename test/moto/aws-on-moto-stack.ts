/**
 * Reverie's AWS deployment with moto (server mode) as its AWS: the resources of the CDK stack made
 * from shared/infra-spec, the Lambda functions bundled as CDK bundles them and run each in its own
 * process with the environment CDK gives it, Lambda's SQS event source mappings (one poller set per
 * queue, partial batch failures honoured), API Gateway's REST API with its authorizer in front of
 * `api` and `api-stream`, and the Lambda Invoke API for the sandbox. Nothing in Reverie's code knows:
 * its SDK clients reach moto through `AWS_ENDPOINT_URL`, the SDK's standard setting.
 *
 * What moto or this harness does differently from AWS is listed in docs/aws-on-moto.md.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { SQSRecord } from "aws-lambda";
import { createApiKey } from "../../infra/aws/create-api-key.js";
import { DynamoDbDocumentStore } from "../../shared/adapters/aws/dynamodb-document-store.js";
import { type QueueName, queueSpecs } from "../../shared/infra-spec/queues.js";
import { type ApiGatewayFront, startApiGatewayFront } from "./api-gateway-front.js";
import { type RecordedAwsCall, type RecorderTargets, startAwsCallRecorder } from "./aws-call-recorder.js";
import { type AwsResources, createAwsResources, type MotoClients, motoClients } from "./aws-resources.js";
import { buildLambdaBundles, type LambdaBundles, type LambdaFunctionName } from "./lambda-bundles.js";
import { type InvokeOutcome, LambdaFunction, startLambdaInvokeFront } from "./lambda-service.js";
import {
  configureMoto,
  MOTO_ACCOUNT,
  MOTO_REGION,
  type MotoServer,
  motoCommand,
  startMotoServer,
} from "./moto-server.js";
import { SqsEventSource } from "./sqs-event-source.js";

export interface AwsOnMotoOptions {
  /** Where Anthropic's API is (the tests' mock Messages server). */
  anthropicBaseUrl: string;
  /** The key stored in the Anthropic key's secret. */
  anthropicApiKey?: string;
  /** Added to every function's environment (test settings such as short heartbeats). */
  environment?: Record<string, string>;
  /** Physical name prefix. */
  prefix?: string;
  /** Start every function's environment before returning (default true): cold starts side by side. */
  warm?: boolean;
}

/** A failed batch or invocation, kept for the test's report. */
export interface DeliveryFailure {
  queue: QueueName;
  outcome: InvokeOutcome;
  messageIds: string[];
}

export interface AwsOnMoto {
  /** The REST API's invoke URL with its stage: the SDK's `baseURL`. */
  url: string;
  apiKey: string;
  workspaceId: string;
  moto: MotoServer;
  /** The test's own SDK clients on moto. */
  clients: MotoClients;
  resources: AwsResources;
  functions: ReadonlyMap<string, LambdaFunction>;
  fn(name: LambdaFunctionName | "sandbox"): LambdaFunction;
  eventSources: Record<QueueName, SqsEventSource>;
  front: ApiGatewayFront;
  failures: DeliveryFailure[];
  /** How long each phase of the start took, ms. */
  startup: Record<string, number>;
  /** True when no queue holds a message and no batch or invocation (streams aside) is running. */
  settled(): Promise<boolean>;
  /** The physical name prefix (the CDK stack's name in the IAM check: iam-policies.ts). */
  prefix: string;
  /**
   * Every AWS call each function made, with the IAM action and resource it needs, as its recording
   * proxy saw it (aws-call-recorder.ts); the SQS event sources' receives and deletes are their
   * function's, as on AWS, where the event source mapping acts with the function's role.
   */
  awsCalls: RecordedAwsCall[];
  /** Every function's log, for a failing test's report. */
  logs(): string;
  stop(): Promise<void>;
}

/** Function settings of infra/aws (timeouts, memory): keep in step with reverie-runtime.ts and friends. */
const functionSettings: Record<
  LambdaFunctionName | "sandbox",
  { timeoutSeconds: number; memorySize: number }
> = {
  api: { timeoutSeconds: 29, memorySize: 1024 },
  "api-memory": { timeoutSeconds: 29, memorySize: 1024 },
  "api-workspace": { timeoutSeconds: 29, memorySize: 1024 },
  "api-stream": { timeoutSeconds: 900, memorySize: 512 },
  authorizer: { timeoutSeconds: 10, memorySize: 512 },
  "agent-step": { timeoutSeconds: queueSpecs["agent-steps"].consumerTimeoutSeconds, memorySize: 1024 },
  sweeper: { timeoutSeconds: 60, memorySize: 256 },
  "dream-worker": { timeoutSeconds: queueSpecs["dream-jobs"].consumerTimeoutSeconds, memorySize: 1024 },
  "dream-scheduler": { timeoutSeconds: 60, memorySize: 256 },
  "deployment-runner": { timeoutSeconds: 50, memorySize: 512 },
  grader: { timeoutSeconds: queueSpecs.grader.consumerTimeoutSeconds, memorySize: 1024 },
  "webhook-deliver": { timeoutSeconds: queueSpecs.webhooks.consumerTimeoutSeconds, memorySize: 512 },
  sandbox: { timeoutSeconds: queueSpecs["agent-steps"].consumerTimeoutSeconds, memorySize: 2048 },
};

/** ReverieSandbox keeps this much of its timeout for carrying the workspace in and out. */
const SANDBOX_TRANSFER_RESERVE_SECONDS = 60;

/**
 * Each function's environment exactly as the CDK stack sets it (infra/aws: reverie-runtime.ts's
 * base and model environments, ReverieOutcomes, FanoutStateMachine, WorkflowRuns, ReverieSandbox, ReverieDreams,
 * ReverieVaults, ReverieDeployments),
 * with moto's names in place of CloudFormation's.
 */
export function functionEnvironments(
  resources: AwsResources,
  names: Record<LambdaFunctionName | "sandbox", string>,
  model: { anthropicBaseUrl: string },
): Record<LambdaFunctionName | "sandbox", Record<string, string>> {
  const base = {
    REVERIE_TABLE_RESOURCES: resources.tables.resources,
    REVERIE_TABLE_EVENTS: resources.tables.events,
    REVERIE_AGENT_STEPS_QUEUE_URL: resources.queues["agent-steps"].url,
    REVERIE_WORKSPACE_BUCKET: resources.bucket,
    REVERIE_LOG_LEVEL: "INFO",
    NODE_OPTIONS: "--enable-source-maps",
  };
  const outcomes = {
    REVERIE_GRADER_QUEUE_URL: resources.queues.grader.url,
    REVERIE_WEBHOOKS_QUEUE_URL: resources.queues.webhooks.url,
    REVERIE_WEBHOOKS_DLQ_URL: resources.queues.webhooks.deadLetterUrl,
    REVERIE_OUTCOMES_TOPIC_ARN: resources.outcomesTopicArn,
    REVERIE_EVENT_BUS_NAME: resources.eventBusName,
  };
  const modelEnvironment = {
    REVERIE_ANTHROPIC_SECRET_ARN: resources.anthropicSecretArn,
    // Not set by CDK: on AWS the SDK's default (api.anthropic.com) is where the model is.
    ANTHROPIC_BASE_URL: model.anthropicBaseUrl,
  };
  const fanout = { REVERIE_FANOUT_STATE_MACHINE_ARN: resources.stateMachineArn };
  const sandbox = {
    REVERIE_SANDBOX_FUNCTION_NAME: names.sandbox,
    REVERIE_SANDBOX_MAX_TIMEOUT_SECONDS: String(
      functionSettings.sandbox.timeoutSeconds - SANDBOX_TRANSFER_RESERVE_SECONDS,
    ),
  };
  const dreamJobs = { REVERIE_DREAM_JOBS_QUEUE_URL: resources.queues["dream-jobs"].url };
  // WorkflowRuns: each run's state machine is created at run time under this prefix, as on AWS.
  const workflows = {
    REVERIE_WORKFLOW_ROLE_ARN: resources.roleArns.workflowRuns,
    REVERIE_WORKFLOW_LOG_GROUP_ARN: `arn:aws:logs:${MOTO_REGION}:${MOTO_ACCOUNT}:log-group:reverie-workflow-runs:*`,
    REVERIE_WORKFLOW_STATE_MACHINE_ARN_PREFIX: `arn:aws:states:${MOTO_REGION}:${MOTO_ACCOUNT}:stateMachine:`,
    REVERIE_WORKFLOW_NAME_PREFIX: "reverie-moto-wf",
  };
  // ReverieVaults: the functions that seal and open vault credentials (and webhook-deliver, which
  // opens the endpoints' signing secrets).
  const vaults = { REVERIE_SECRETS_KMS_KEY_ID: resources.secretsKeyArn };
  // ReverieDeployments: the API and the runner manage deployment schedules.
  const deployments = {
    REVERIE_DEPLOYMENT_SCHEDULE_GROUP: resources.deploymentScheduleGroup,
    REVERIE_DEPLOYMENT_SCHEDULER_ROLE_ARN: resources.roleArns.deploymentScheduler,
  };
  const arnOf = (name: LambdaFunctionName) =>
    `arn:aws:lambda:${MOTO_REGION}:${MOTO_ACCOUNT}:function:${names[name]}`;
  const service = (name: string) => ({ POWERTOOLS_SERVICE_NAME: `reverie-${name}` });
  return {
    api: { ...base, ...service("api"), ...outcomes, ...workflows },
    "api-memory": {
      ...base,
      ...service("api-memory"),
      ...outcomes,
      ...dreamJobs,
      REVERIE_DREAM_SCHEDULE_GROUP: resources.scheduleGroup,
      REVERIE_DREAM_SCHEDULER_FUNCTION_ARN: arnOf("dream-scheduler"),
      REVERIE_DREAM_SCHEDULER_ROLE_ARN: resources.roleArns.dreamScheduler,
    },
    "api-workspace": {
      ...base,
      ...service("api-workspace"),
      ...outcomes,
      ...vaults,
      ...deployments,
      REVERIE_DEPLOYMENT_RUNNER_FUNCTION_ARN: arnOf("deployment-runner"),
    },
    "api-stream": { ...base, ...service("api-stream"), ...outcomes },
    authorizer: { ...base, ...service("authorizer"), ...outcomes },
    "agent-step": {
      ...base,
      ...service("agent-step"),
      ...modelEnvironment,
      ...outcomes,
      ...fanout,
      ...workflows,
      ...sandbox,
      ...vaults,
      // A dream's session nudges its dream's job when it goes idle.
      ...dreamJobs,
    },
    sweeper: { ...base, ...service("sweeper"), ...outcomes, ...fanout, ...workflows, ...dreamJobs },
    "dream-worker": { ...base, ...service("dream-worker"), ...modelEnvironment, ...outcomes, ...dreamJobs },
    "dream-scheduler": { ...base, ...service("dream-scheduler"), ...outcomes, ...dreamJobs },
    "deployment-runner": { ...base, ...service("deployment-runner"), ...outcomes, ...deployments },
    grader: { ...base, ...service("grader"), ...modelEnvironment, ...outcomes },
    "webhook-deliver": { ...base, ...service("webhook-deliver"), ...outcomes, ...vaults },
    // The sandbox function has no Reverie configuration (its role may only write its logs).
    sandbox: {},
  };
}

/** Which function consumes which queue, with how many pollers (CDK's maxConcurrency, scaled down). */
const consumers: Record<QueueName, { fn: LambdaFunctionName; pollers: number }> = {
  "agent-steps": { fn: "agent-step", pollers: 6 },
  grader: { fn: "grader", pollers: 2 },
  webhooks: { fn: "webhook-deliver", pollers: 2 },
  "dream-jobs": { fn: "dream-worker", pollers: 2 },
};

export async function startAwsOnMoto(options: AwsOnMotoOptions): Promise<AwsOnMoto> {
  const prefix = options.prefix ?? "reverie-moto";
  const cleanups: Array<() => unknown> = [];
  const stopAll = async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  };
  const startup: Record<string, number> = {};
  const began = Date.now();
  const mark = (phase: string) => {
    startup[phase] = Date.now() - began;
  };
  try {
    // Fail at once, saying how to install it, when moto is not here.
    motoCommand();
    // Bundling (esbuild) and moto's start and resources (Python) overlap.
    const bundling = buildLambdaBundles();
    bundling.then(
      (b) => {
        mark("functions bundled");
        cleanups.push(() => b.remove());
      },
      () => {},
    );
    const moto = await startMotoServer().catch(async (error) => {
      await bundling.catch(() => {});
      throw error;
    });
    cleanups.push(() => moto.stop());
    mark("moto started");
    const clients = motoClients(moto.endpoint);
    const provisioning = (async () => {
      // Without this moto records Step Functions executions but runs none of their states.
      await configureMoto(moto.endpoint, { stepfunctions: { execute_state_machine: true } });
      const created = await createAwsResources(clients, {
        prefix,
        anthropicApiKey: options.anthropicApiKey ?? "sk-ant-upstream-test",
      });
      mark("resources created");
      return created;
    })();
    const [built, provisioned] = await Promise.allSettled([bundling, provisioning]);
    if (built.status === "rejected") throw built.reason;
    if (provisioned.status === "rejected") throw provisioned.reason;
    const bundles: LambdaBundles = built.value;
    const resources = provisioned.value;

    const scratch = mkdtempSync(join(tmpdir(), "reverie-moto-sandbox-"));
    cleanups.push(() => rmSync(scratch, { recursive: true, force: true }));
    const functionNames = [...Object.keys(functionSettings)] as Array<LambdaFunctionName | "sandbox">;
    const physical = Object.fromEntries(functionNames.map((n) => [n, `${prefix}-${n}`])) as Record<
      LambdaFunctionName | "sandbox",
      string
    >;
    const environments = functionEnvironments(resources, physical, options);
    const functions = new Map<string, LambdaFunction>();
    const byLogicalName = new Map<string, LambdaFunction>();
    // Each function reaches AWS through its own recording proxy; the Invoke front's URL is filled
    // in once it listens (functions start lazily, after that).
    const awsCalls: RecordedAwsCall[] = [];
    const targets: RecorderTargets = { moto: moto.endpoint };
    const proxies: Record<string, string> = {};
    for (const name of functionNames) {
      const recorder = await startAwsCallRecorder(name, targets, awsCalls);
      cleanups.push(() => recorder.close());
      proxies[name] = recorder.url;
    }
    for (const name of functionNames) {
      const endpoints = { AWS_ENDPOINT_URL: proxies[name], AWS_ENDPOINT_URL_LAMBDA: proxies[name] } as Record<
        string,
        string
      >;
      const fn = new LambdaFunction({
        functionName: physical[name],
        bundle: name === "sandbox" ? bundles.sandbox : bundles.functions[name],
        runtime: bundles.runtime,
        environment: {
          ...environments[name],
          ...(name === "sandbox" ? { REVERIE_MOTO_SANDBOX_SCRATCH_DIR: scratch } : options.environment),
        },
        endpoints,
        ...functionSettings[name],
      });
      functions.set(fn.name, fn);
      byLogicalName.set(name, fn);
    }
    cleanups.push(() => Promise.all([...functions.values()].map((f) => f.stop())));
    const fn = (name: LambdaFunctionName | "sandbox") => byLogicalName.get(name) as LambdaFunction;

    const invokeFront = await startLambdaInvokeFront(functions);
    cleanups.push(() => invokeFront.close());
    targets.lambda = invokeFront.url;

    const store = new DynamoDbDocumentStore({ client: clients.dynamodb, tableNames: resources.tables });
    const { key: apiKey, workspaceId } = await createApiKey(store);

    const failures: DeliveryFailure[] = [];
    const eventSources = {} as Record<QueueName, SqsEventSource>;
    for (const [queue, consumer] of Object.entries(consumers) as Array<
      [QueueName, (typeof consumers)[QueueName]]
    >) {
      const source = new SqsEventSource({
        // Lambda's poller acts with the function's role: its calls are recorded as the function's.
        sqs: motoClients(proxies[consumer.fn] as string).sqs,
        queueUrl: resources.queues[queue].url,
        queueArn: resources.queues[queue].arn,
        fn: fn(consumer.fn),
        batchSize: queueSpecs[queue].batchSize,
        concurrency: consumer.pollers,
        onFailure: (outcome, records: SQSRecord[]) =>
          failures.push({ queue, outcome, messageIds: records.map((r) => r.messageId) }),
      });
      source.start();
      eventSources[queue] = source;
    }
    // Before the functions stop: a batch in flight finishes (or fails) first.
    cleanups.push(() => Promise.all(Object.values(eventSources).map((s) => s.stop())));

    if (options.warm !== false) await Promise.all([...functions.values()].map((f) => f.warm()));
    mark("functions warm");

    const front = await startApiGatewayFront({
      api: { api: fn("api"), "api-memory": fn("api-memory"), "api-workspace": fn("api-workspace") },
      apiStream: fn("api-stream"),
      authorizer: fn("authorizer"),
    });
    cleanups.push(() => front.close());

    return {
      url: front.url,
      apiKey,
      workspaceId,
      moto,
      clients,
      resources,
      functions,
      fn,
      eventSources,
      front,
      failures,
      startup,
      prefix,
      awsCalls,
      async settled() {
        if (Object.values(eventSources).some((s) => s.inFlight > 0)) return false;
        for (const [name, f] of byLogicalName) if (name !== "api-stream" && f.inFlight > 0) return false;
        for (const queue of Object.values(resources.queues)) {
          const { Attributes = {} } = await clients.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: queue.url,
              AttributeNames: [
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
              ],
            }),
          );
          if (Object.values(Attributes).some((count) => Number(count) > 0)) return false;
        }
        return true;
      },
      logs() {
        return [...byLogicalName]
          .filter(([, f]) => f.output())
          .map(([name, f]) => `----- ${name} (${f.coldStarts} cold starts)\n${f.output().slice(-6000)}`)
          .join("\n");
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
