/**
 * The AWS SDK clients a function may use on some invocations but not on most: each is a factory
 * that imports its package on first use (see adapters/aws/sdk-client.ts), one client per package
 * per Lambda container. A function that never publishes to SNS never loads `@aws-sdk/client-sns`.
 */
import type { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import type { KMSClient } from "@aws-sdk/client-kms";
import type { LambdaClient } from "@aws-sdk/client-lambda";
import type { S3Client } from "@aws-sdk/client-s3";
import type { SchedulerClient } from "@aws-sdk/client-scheduler";
import type { SFNClient } from "@aws-sdk/client-sfn";
import type { SNSClient } from "@aws-sdk/client-sns";
import { sdkClientGetter } from "../adapters/aws/sdk-client.js";

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
