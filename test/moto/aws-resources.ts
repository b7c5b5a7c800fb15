/**
 * The AWS resources of a Reverie stack, created on moto from the same data the CDK stack deploys
 * (shared/infra-spec): the two tables, the four queues with their dead-letter queues and redrive,
 * the workspace bucket, the outcomes topic, the event bus, the dream schedule group, the fan-out
 * state machine, the vault credentials' KMS key and the Anthropic key's secret. Two probe queues subscribe to the topic and the bus,
 * so a test can read what was published, as an operator's subscriber would (moto delivers to them
 * without the queue policies AWS would require; docs/aws-on-moto.md).
 */
import { CreateTableCommand, DynamoDBClient, UpdateTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import {
  CreateEventBusCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
} from "@aws-sdk/client-eventbridge";
import { CreateKeyCommand, KMSClient } from "@aws-sdk/client-kms";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { CreateScheduleGroupCommand, SchedulerClient } from "@aws-sdk/client-scheduler";
import { CreateSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { CreateStateMachineCommand, SFNClient } from "@aws-sdk/client-sfn";
import { CreateTopicCommand, SNSClient, SubscribeCommand } from "@aws-sdk/client-sns";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { eventSource } from "../../shared/core/events/domain-event-fanout.js";
import type { TableName } from "../../shared/core/ports.js";
import { fanoutStateMachineDefinition } from "../../shared/infra-spec/fanout-state-machine.js";
import { type QueueName, queueSpecs } from "../../shared/infra-spec/queues.js";
import { createTableRequest, tableSpecs } from "../../shared/infra-spec/tables.js";
import { MOTO_ACCOUNT, MOTO_CREDENTIALS, MOTO_REGION } from "./moto-server.js";

/** SDK clients of the test itself (setup and assertions), pointed at moto explicitly. */
export function motoClients(endpoint: string) {
  const config = { endpoint, region: MOTO_REGION, credentials: MOTO_CREDENTIALS };
  return {
    dynamodb: new DynamoDBClient(config),
    sqs: new SQSClient(config),
    s3: new S3Client(config),
    sns: new SNSClient(config),
    eventBridge: new EventBridgeClient(config),
    scheduler: new SchedulerClient(config),
    sfn: new SFNClient(config),
    secrets: new SecretsManagerClient(config),
    kms: new KMSClient(config),
  };
}
export type MotoClients = ReturnType<typeof motoClients>;

export interface QueueResource {
  url: string;
  arn: string;
  deadLetterUrl: string;
  deadLetterArn: string;
}

export interface AwsResources {
  tables: Record<TableName, string>;
  queues: Record<QueueName, QueueResource>;
  bucket: string;
  outcomesTopicArn: string;
  eventBusName: string;
  /** The dream schedules' group and the deployment schedules' group. */
  scheduleGroup: string;
  deploymentScheduleGroup: string;
  stateMachineArn: string;
  /** The customer-managed key that seals vault credentials. */
  secretsKeyArn: string;
  anthropicSecretArn: string;
  /** The fan-out state machine's role (moto does not check it). */
  serviceRoleArn: string;
  /**
   * The roles the functions hand to Step Functions and Scheduler (iam:PassRole), named apart as the
   * stack's are, so that the IAM check (iam-policies.ts) sees which one a function passes.
   */
  roleArns: { workflowRuns: string; dreamScheduler: string; deploymentScheduler: string };
  /** Subscribed to the outcomes topic (SNS envelopes) and to every Reverie event on the bus. */
  probes: { notifications: string; busEvents: string };
}

async function queue(sqs: SQSClient, name: string, attributes: Record<string, string>) {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
  const url = QueueUrl as string;
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  return { url, arn: Attributes?.QueueArn as string };
}

/**
 * Creates everything under `prefix` (physical names, as CloudFormation would generate them) with the
 * settings of shared/infra-spec: table keys, queue visibility, `maxReceiveCount`, DLQ retention.
 */
export async function createAwsResources(
  clients: MotoClients,
  options: { prefix: string; anthropicApiKey: string },
): Promise<AwsResources> {
  const { prefix } = options;
  // One service's calls in order, the services side by side: moto loads each service on first use.
  const createTables = async () => {
    const tables = {} as Record<TableName, string>;
    for (const spec of Object.values(tableSpecs)) {
      const name = `${prefix}-${spec.name}`;
      await clients.dynamodb.send(new CreateTableCommand({ ...createTableRequest(spec), TableName: name }));
      if (spec.timeToLiveAttribute) {
        await clients.dynamodb.send(
          new UpdateTimeToLiveCommand({
            TableName: name,
            TimeToLiveSpecification: { Enabled: true, AttributeName: spec.timeToLiveAttribute },
          }),
        );
      }
      tables[spec.name] = name;
    }
    return tables;
  };

  const createQueues = async () => {
    const queues = {} as Record<QueueName, QueueResource>;
    await Promise.all(
      Object.values(queueSpecs).map(async (spec) => {
        const dlq = await queue(clients.sqs, `${prefix}-${spec.name}-dlq`, {
          MessageRetentionPeriod: String(spec.dlqRetentionDays * 86_400),
          SqsManagedSseEnabled: "true",
        });
        const main = await queue(clients.sqs, `${prefix}-${spec.name}`, {
          VisibilityTimeout: String(spec.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlq.arn,
            maxReceiveCount: spec.maxReceiveCount,
          }),
          SqsManagedSseEnabled: "true",
        });
        queues[spec.name] = { url: main.url, arn: main.arn, deadLetterUrl: dlq.url, deadLetterArn: dlq.arn };
      }),
    );
    return queues;
  };

  const bucket = `${prefix}-workspaces`;
  const createTopic = async () => {
    const notifications = await queue(clients.sqs, `${prefix}-probe-notifications`, {});
    const { TopicArn } = await clients.sns.send(new CreateTopicCommand({ Name: `${prefix}-outcomes` }));
    await clients.sns.send(
      new SubscribeCommand({
        TopicArn,
        Protocol: "sqs",
        Endpoint: notifications.arn,
        ReturnSubscriptionArn: true,
      }),
    );
    return { topicArn: TopicArn as string, probe: notifications.url };
  };

  const eventBusName = `${prefix}-events`;
  const createBus = async () => {
    const busEvents = await queue(clients.sqs, `${prefix}-probe-bus`, {});
    await clients.eventBridge.send(new CreateEventBusCommand({ Name: eventBusName }));
    await clients.eventBridge.send(
      new PutRuleCommand({
        Name: `${prefix}-all-reverie-events`,
        EventBusName: eventBusName,
        EventPattern: JSON.stringify({ source: [eventSource] }),
      }),
    );
    await clients.eventBridge.send(
      new PutTargetsCommand({
        Rule: `${prefix}-all-reverie-events`,
        EventBusName: eventBusName,
        Targets: [{ Id: "probe", Arn: busEvents.arn }],
      }),
    );
    return busEvents.url;
  };

  const scheduleGroup = `${prefix}-dreams`;
  const deploymentScheduleGroup = `${prefix}-deployments`;
  const serviceRoleArn = `arn:aws:iam::${MOTO_ACCOUNT}:role/${prefix}-service`;
  const roleArn = (name: string) => `arn:aws:iam::${MOTO_ACCOUNT}:role/${prefix}-${name}`;
  const createScheduleGroups = async () => {
    await clients.scheduler.send(new CreateScheduleGroupCommand({ Name: scheduleGroup }));
    await clients.scheduler.send(new CreateScheduleGroupCommand({ Name: deploymentScheduleGroup }));
  };
  const [tables, queues, , topic, busProbe, , { stateMachineArn }, { ARN }, { KeyMetadata }] =
    await Promise.all([
      createTables(),
      createQueues(),
      clients.s3.send(new CreateBucketCommand({ Bucket: bucket })),
      createTopic(),
      createBus(),
      createScheduleGroups(),
      clients.sfn.send(
        new CreateStateMachineCommand({
          name: `${prefix}-fanout`,
          type: "STANDARD",
          definition: JSON.stringify(fanoutStateMachineDefinition),
          roleArn: serviceRoleArn,
        }),
      ),
      clients.secrets.send(
        new CreateSecretCommand({
          Name: `${prefix}/anthropic-api-key`,
          SecretString: options.anthropicApiKey,
        }),
      ),
      clients.kms.send(new CreateKeyCommand({ Description: `${prefix} vault credentials` })),
    ]);

  return {
    tables,
    queues,
    bucket,
    outcomesTopicArn: topic.topicArn,
    eventBusName,
    scheduleGroup,
    deploymentScheduleGroup,
    stateMachineArn: stateMachineArn as string,
    secretsKeyArn: KeyMetadata?.Arn as string,
    anthropicSecretArn: ARN as string,
    serviceRoleArn,
    roleArns: {
      workflowRuns: roleArn("workflow-runs"),
      dreamScheduler: roleArn("dream-scheduler-invoke"),
      deploymentScheduler: roleArn("deployment-scheduler-invoke"),
    },
    probes: { notifications: topic.probe, busEvents: busProbe },
  };
}
