/**
 * The AWS adapters behind the ports, built once per Lambda cold start from the configuration.
 * DynamoDB and SQS, which nearly every invocation of every function uses, go over signed HTTP
 * without the AWS SDK; every other client's package is imported the first time an adapter sends
 * with it (aws-clients.ts), so a function loads no SDK client at cold start.
 *
 * `awsStepDeps` wires a step's dependencies alone (the grader); `awsServices` (aws-services.ts)
 * wires the whole composition root on these ports.
 */
import { DynamoDbDocumentStore } from "../adapters/aws/dynamodb-document-store.js";
import { EventBridgeEventBus } from "../adapters/aws/eventbridge-event-bus.js";
import { KmsSecretSealer } from "../adapters/aws/kms-secret-sealer.js";
import { S3FileBlobStore } from "../adapters/aws/s3-file-blob-store.js";
import { S3WorkspaceStore } from "../adapters/aws/s3-workspace-store.js";
import { SfnFanoutOrchestrator } from "../adapters/aws/sfn-fanout-orchestrator.js";
import { SfnWorkflowOrchestrator } from "../adapters/aws/sfn-workflow-orchestrator.js";
import { SnsNotificationTopic } from "../adapters/aws/sns-notification-topic.js";
import { SqsQueue } from "../adapters/aws/sqs-queue.js";
import { InProcessNotifier } from "../adapters/local/in-process-notifier.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import { awsClients, dynamoDbTransport, sqsTransport } from "./aws-clients.js";
import { type Config, ConfigError, loadConfig } from "./config.js";
import type { Ports } from "./container.js";
import { createModel } from "./model-provider.js";
import { buildStepDeps } from "./step-deps-wiring.js";

async function anthropicKey(config: Config): Promise<string | undefined> {
  if (
    config.ANTHROPIC_API_KEY ||
    !config.REVERIE_ANTHROPIC_SECRET_ARN ||
    config.modelProvider !== "anthropic"
  ) {
    return config.ANTHROPIC_API_KEY;
  }
  const { GetSecretValueCommand, SecretsManagerClient } = await import("@aws-sdk/client-secrets-manager");
  const secret = await new SecretsManagerClient({}).send(
    new GetSecretValueCommand({ SecretId: config.REVERIE_ANTHROPIC_SECRET_ARN }),
  );
  return secret.SecretString;
}

/**
 * The model port, for the entries that call the model (agent-step, grader, dream-worker: through
 * `awsServices`, `awsStepDeps` or `awsDreamJobDeps`); the others carry no model SDK.
 */
export const withModel = async (config: Config): Promise<Partial<Ports>> => ({
  model: await createModel(config, await anthropicKey(config)),
});

/** Ports only some entries add (e.g. `withDreams`), so the other bundles do not carry them. */
export type ExtraPorts = (config: Config) => Partial<Ports> | Promise<Partial<Ports>>;

/** The configuration and the AWS adapters of this Lambda container, with `extra`'s ports. */
export async function awsPorts(extra?: ExtraPorts): Promise<{ config: Config; ports: Ports }> {
  const config = loadConfig();
  if (!config.REVERIE_AGENT_STEPS_QUEUE_URL)
    throw new ConfigError("REVERIE_AGENT_STEPS_QUEUE_URL is required on AWS");
  if (!config.REVERIE_WORKSPACE_BUCKET) throw new ConfigError("REVERIE_WORKSPACE_BUCKET is required on AWS");
  // Without these an outcome would be accepted and never graded, a webhook never delivered: fail
  // at start instead (CDK sets both on every function).
  if (!config.REVERIE_GRADER_QUEUE_URL) throw new ConfigError("REVERIE_GRADER_QUEUE_URL is required on AWS");
  if (!config.REVERIE_WEBHOOKS_QUEUE_URL)
    throw new ConfigError("REVERIE_WEBHOOKS_QUEUE_URL is required on AWS");
  const sqs = sqsTransport();
  const clients = awsClients();
  return {
    config,
    ports: {
      ...(await extra?.(config)),
      store: new DynamoDbDocumentStore({
        transport: dynamoDbTransport(),
        tableNames: { resources: config.REVERIE_TABLE_RESOURCES, events: config.REVERIE_TABLE_EVENTS },
      }),
      steps: new SqsQueue({ transport: sqs, queueUrl: config.REVERIE_AGENT_STEPS_QUEUE_URL }),
      workspace: new S3WorkspaceStore({ client: clients.s3, bucket: config.REVERIE_WORKSPACE_BUCKET }),
      notifier: new InProcessNotifier(),
      webhooks: new SqsQueue({ transport: sqs, queueUrl: config.REVERIE_WEBHOOKS_QUEUE_URL }),
      webhookDeadLetters: config.REVERIE_WEBHOOKS_DLQ_URL
        ? new SqsQueue({ transport: sqs, queueUrl: config.REVERIE_WEBHOOKS_DLQ_URL })
        : undefined,
      notifications: config.REVERIE_OUTCOMES_TOPIC_ARN
        ? new SnsNotificationTopic({ client: clients.sns, topicArn: config.REVERIE_OUTCOMES_TOPIC_ARN })
        : undefined,
      eventBus: config.REVERIE_EVENT_BUS_NAME
        ? new EventBridgeEventBus({
            client: clients.eventBridge,
            busName: config.REVERIE_EVENT_BUS_NAME,
          })
        : undefined,
      grader: new SqsQueue({ transport: sqs, queueUrl: config.REVERIE_GRADER_QUEUE_URL }),
      fileBlobs: new S3FileBlobStore({ client: clients.s3, bucket: config.REVERIE_WORKSPACE_BUCKET }),
      orchestrator: config.REVERIE_FANOUT_STATE_MACHINE_ARN
        ? new SfnFanoutOrchestrator({
            client: clients.sfn,
            stateMachineArn: config.REVERIE_FANOUT_STATE_MACHINE_ARN,
          })
        : undefined,
      workflowOrchestrator:
        config.REVERIE_WORKFLOW_ROLE_ARN &&
        config.REVERIE_WORKFLOW_LOG_GROUP_ARN &&
        config.REVERIE_WORKFLOW_STATE_MACHINE_ARN_PREFIX &&
        config.REVERIE_WORKFLOW_NAME_PREFIX
          ? new SfnWorkflowOrchestrator({
              client: clients.sfn,
              roleArn: config.REVERIE_WORKFLOW_ROLE_ARN,
              logGroupArn: config.REVERIE_WORKFLOW_LOG_GROUP_ARN,
              stateMachineArnPrefix: config.REVERIE_WORKFLOW_STATE_MACHINE_ARN_PREFIX,
              namePrefix: config.REVERIE_WORKFLOW_NAME_PREFIX,
            })
          : undefined,
      // Only the functions that store or use vault credentials (api, agent-step) get the key.
      secrets: config.REVERIE_SECRETS_KMS_KEY_ID
        ? new KmsSecretSealer({ client: clients.kms, keyId: config.REVERIE_SECRETS_KMS_KEY_ID })
        : undefined,
    },
  };
}

/**
 * What a Lambda container builds on its first invocation, once: later calls get the same promise
 * (their arguments unread). A failure (Secrets Manager unreachable, say) is not kept, so that the
 * next invocation builds again instead of failing until Lambda recycles the container.
 */
export function builtOnce<Args extends unknown[], T>(
  build: (...args: Args) => Promise<T>,
): (...args: Args) => Promise<T> {
  let built: Promise<T> | undefined;
  return (...args) =>
    (built ??= build(...args).catch((error: unknown) => {
      built = undefined;
      throw error;
    }));
}

/**
 * A step's dependencies alone (step-deps-wiring.ts): for the grader, which serves no bounded
 * context, so its bundle carries none.
 */
export const awsStepDeps = builtOnce(async (extra?: ExtraPorts): Promise<StepDeps> => {
  const { config, ports } = await awsPorts(extra);
  return buildStepDeps(config, ports);
});
