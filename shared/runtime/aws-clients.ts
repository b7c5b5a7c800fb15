/**
 * This Lambda container's AWS clients, one per service per container.
 * - DynamoDB and SQS, which nearly every invocation uses, go over signed HTTP without the SDK
 *   (adapters/aws/aws-json-client.ts) with the credentials Lambda puts in the environment — what
 *   the SDK's default chain reads there too. Where the environment has none (or asks for FIPS or
 *   dual-stack endpoints, which the HTTP client does not resolve), the SDK's client is used,
 *   imported on the first request.
 * - The others are SDK clients whose package is imported on first use (adapters/aws/sdk-client.ts):
 *   a function that never publishes to SNS never loads `@aws-sdk/client-sns`.
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SchedulerClient } from "@aws-sdk/client-scheduler";
import type { SFNClient } from "@aws-sdk/client-sfn";
import type { SNSClient } from "@aws-sdk/client-sns";
import type { SQSClient } from "@aws-sdk/client-sqs";
import {
  type AwsJsonClientOptions,
  type AwsJsonService,
  awsEndpoint,
  credentialsFromEnv,
} from "../adapters/aws/aws-json-client.js";
import { type DynamoDbTransport, sdkTransport } from "../adapters/aws/dynamodb-document-store.js";
import { DYNAMODB_SERVICE, DynamoDbHttpTransport } from "../adapters/aws/dynamodb-http-transport.js";
import { sdkClientGetter } from "../adapters/aws/sdk-client.js";
import { SQS_SERVICE, SqsHttpTransport } from "../adapters/aws/sqs-http-transport.js";
import { type SqsTransport, sqsSdkTransport } from "../adapters/aws/sqs-queue.js";

type Env = Record<string, string | undefined>;

export interface AwsClients {
  s3: () => Promise<S3Client>;
  sns: () => Promise<SNSClient>;
  eventBridge: () => Promise<EventBridgeClient>;
  sfn: () => Promise<SFNClient>;
  kms: () => Promise<KMSClient>;
  scheduler: () => Promise<SchedulerClient>;
  /** One attempt, a 15-minute socket: a retried sandbox invoke could run a command twice. */
  sandboxLambda: () => Promise<LambdaClient>;
}

let clients: AwsClients | undefined;

/** This container's lazily loaded clients (the same factories for every adapter that shares a client). */
export function awsClients(): AwsClients {
  clients ??= {
    s3: sdkClientGetter(async () => new (await import("@aws-sdk/client-s3")).S3Client({})),
    sns: sdkClientGetter(async () => new (await import("@aws-sdk/client-sns")).SNSClient({})),
    eventBridge: sdkClientGetter(
      async () => new (await import("@aws-sdk/client-eventbridge")).EventBridgeClient({}),
    ),
    sfn: sdkClientGetter(async () => new (await import("@aws-sdk/client-sfn")).SFNClient({})),
    kms: sdkClientGetter(async () => new (await import("@aws-sdk/client-kms")).KMSClient({})),
    scheduler: sdkClientGetter(
      async () => new (await import("@aws-sdk/client-scheduler")).SchedulerClient({}),
    ),
    sandboxLambda: sdkClientGetter(
      async () =>
        new (await import("@aws-sdk/client-lambda")).LambdaClient({
          maxAttempts: 1,
          requestHandler: { requestTimeout: 15 * 60_000 },
        }),
    ),
  };
  return clients;
}

/** The HTTP client's settings from `env`, or undefined when the SDK must be used (see above). */
function httpClientOptions(
  env: Env,
  service: AwsJsonService,
): Omit<AwsJsonClientOptions, "service"> | undefined {
  const credentials = credentialsFromEnv(env);
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (!credentials || !region) return undefined;
  if (env.AWS_USE_FIPS_ENDPOINT === "true" || env.AWS_USE_DUALSTACK_ENDPOINT === "true") return undefined;
  return {
    region,
    credentials,
    endpoint: awsEndpoint(env, service, region),
    maxAttempts: Number(env.AWS_MAX_ATTEMPTS) || undefined,
  };
}

/**
 * A memoised per-container transport: over signed HTTP when the environment allows it
 * (httpClientOptions), else the SDK's client, imported on the first request.
 */
function containerTransport<T>(
  service: AwsJsonService,
  overHttp: (options: Omit<AwsJsonClientOptions, "service">) => T,
  overSdk: () => T,
): (env?: Env) => T {
  let transport: T | undefined;
  return (env = process.env) => {
    if (transport === undefined) {
      const options = httpClientOptions(env, service);
      transport = options ? overHttp(options) : overSdk();
    }
    return transport;
  };
}

/** This container's DynamoDB transport (for DynamoDbDocumentStore). */
export const dynamoDbTransport: (env?: Env) => DynamoDbTransport = containerTransport(
  DYNAMODB_SERVICE,
  (options) => new DynamoDbHttpTransport(options),
  () =>
    sdkTransport(
      async (): Promise<DynamoDBClient> => new (await import("@aws-sdk/client-dynamodb")).DynamoDBClient({}),
    ),
);

/** This container's SQS transport (for SqsQueue). */
export const sqsTransport: (env?: Env) => SqsTransport = containerTransport(
  SQS_SERVICE,
  (options) => new SqsHttpTransport(options),
  () =>
    sqsSdkTransport(async (): Promise<SQSClient> => new (await import("@aws-sdk/client-sqs")).SQSClient({})),
);
