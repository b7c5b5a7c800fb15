/**
 * The webhook-deliver Lambda's own composition: the delivery worker on DynamoDB (delivery records),
 * SQS (its retries and dead letters, both over signed HTTP: aws-clients.ts) and KMS (the endpoints'
 * sealed signing secrets), built once per
 * container — without the container, whose services this function never calls.
 */
import { DynamoDbDocumentStore } from "../adapters/aws/dynamodb-document-store.js";
import { KmsSecretSealer } from "../adapters/aws/kms-secret-sealer.js";
import { SqsQueue } from "../adapters/aws/sqs-queue.js";
import { UnconfiguredSecretSealer } from "../core/vaults/vault-deps.js";
import type { WebhookDeliveryDeps } from "../core/webhooks/webhook-delivery.js";
import type { WebhookMessage } from "../core/webhooks/webhook-records.js";
import { awsClients, dynamoDbTransport, sqsTransport } from "./aws-clients.js";
import { ConfigError, loadConfig } from "./config.js";
import { createLogger } from "./logger.js";
import { webhookDeliveryDeps } from "./webhook-delivery-wiring.js";

let deps: WebhookDeliveryDeps | undefined;

export function awsWebhookDelivery(): WebhookDeliveryDeps {
  if (deps) return deps;
  const config = loadConfig();
  if (!config.REVERIE_WEBHOOKS_QUEUE_URL)
    throw new ConfigError("REVERIE_WEBHOOKS_QUEUE_URL is required on AWS");
  const sqs = sqsTransport();
  deps = webhookDeliveryDeps(config, {
    store: new DynamoDbDocumentStore({
      transport: dynamoDbTransport(),
      tableNames: { resources: config.REVERIE_TABLE_RESOURCES, events: config.REVERIE_TABLE_EVENTS },
    }),
    // Opens the endpoints' signing secrets (KMS Decrypt; the KMS client loads on the first open).
    sealer: config.REVERIE_SECRETS_KMS_KEY_ID
      ? new KmsSecretSealer({ client: awsClients().kms, keyId: config.REVERIE_SECRETS_KMS_KEY_ID })
      : new UnconfiguredSecretSealer(),
    queue: new SqsQueue<WebhookMessage>({ transport: sqs, queueUrl: config.REVERIE_WEBHOOKS_QUEUE_URL }),
    deadLetters: config.REVERIE_WEBHOOKS_DLQ_URL
      ? new SqsQueue<WebhookMessage>({ transport: sqs, queueUrl: config.REVERIE_WEBHOOKS_DLQ_URL })
      : undefined,
    clock: { now: () => Date.now() },
    logger: createLogger(config),
  });
  return deps;
}
