/**
 * How every Reverie queue is consumed and watched, the same way for agent steps, grader passes,
 * webhook deliveries and dream jobs: an SQS event source with partial batch failures, a DLQ by
 * redrive (with the cdk-nag acknowledgements that explain why), and alarms on DLQ depth and age.
 */
import { Duration, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as lambdaEventSources from "aws-cdk-lib/aws-lambda-event-sources";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import type { Construct, IConstruct } from "constructs";
import type { QueueSpec } from "../../shared/infra-spec/queues.js";

/** Marks `queue` as a dead-letter queue for cdk-nag (no DLQ of its own: its depth is alarmed instead). */
export function acknowledgeDeadLetterQueue(queue: IConstruct, owner: string): void {
  for (const id of ["AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"]) {
    Validations.of(queue).acknowledge({
      id,
      reason: `This queue is the dead-letter queue for ${owner}; a DLQ of a DLQ would only move the problem. Its depth is alarmed.`,
    });
  }
}

/**
 * Makes `fn` the consumer of `queue` with partial batch failures. Failed messages reach the queue's
 * DLQ by redrive (`maxReceiveCount` from shared/infra-spec), which is what the acknowledgements say.
 */
export function consumeQueue(
  fn: lambda.Function,
  queue: sqs.IQueue,
  options: { queueName: string; batchSize: number; maxConcurrency: number },
): void {
  fn.addEventSource(
    new lambdaEventSources.SqsEventSource(queue, {
      batchSize: options.batchSize,
      reportBatchItemFailures: true,
      maxConcurrency: options.maxConcurrency,
    }),
  );
  Validations.of(fn.node.defaultChild as IConstruct).acknowledge({
    id: "Serverless-LambdaDLQ",
    reason: `A Lambda DLQ only receives failed asynchronous invocations; this function is invoked synchronously by the SQS event source mapping and failed messages go to the ${options.queueName} DLQ.`,
  });
  const mapping = fn.node
    .findAll()
    .find((c): c is lambda.CfnEventSourceMapping => c instanceof lambda.CfnEventSourceMapping);
  if (mapping) {
    Validations.of(mapping).acknowledge({
      id: "Serverless-LambdaEventSourceMappingDestination",
      reason: `SQS event source mappings do not support on-failure destinations; failed messages reach the ${options.queueName} DLQ through the queue's redrive policy (maxReceiveCount from shared/infra-spec).`,
    });
  }
}

/** An alarm (notifying `topic` on alarm and on recovery) whenever a dead-letter queue holds a message. */
export function deadLetterAlarm(
  scope: Construct,
  id: string,
  queue: sqs.IQueue,
  what: string,
  topic?: sns.ITopic,
): cloudwatch.Alarm {
  return notify(
    new cloudwatch.Alarm(scope, id, {
      alarmDescription: `Reverie: messages in a dead-letter queue (${what}).`,
      metric: queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: "Maximum",
      }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    topic,
  );
}

/** An alarm when the oldest message of `queue` has waited longer than `age` for five minutes. */
export function queueAgeAlarm(
  scope: Construct,
  id: string,
  queue: sqs.IQueue,
  what: string,
  age: Duration,
  topic?: sns.ITopic,
): cloudwatch.Alarm {
  return notify(
    new cloudwatch.Alarm(scope, id, {
      alarmDescription: `Reverie: the oldest ${what} has waited more than ${age.toHumanString()}.`,
      metric: queue.metricApproximateAgeOfOldestMessage({
        period: Duration.minutes(1),
        statistic: "Maximum",
      }),
      threshold: age.toSeconds(),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 5,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }),
    topic,
  );
}

function notify(alarm: cloudwatch.Alarm, topic?: sns.ITopic): cloudwatch.Alarm {
  if (topic) {
    alarm.addAlarmAction(new cwActions.SnsAction(topic));
    alarm.addOkAction(new cwActions.SnsAction(topic));
  }
  return alarm;
}

/**
 * A queue with its dead-letter queue, both SSL-only and encrypted alike, sized from its spec in
 * shared/infra-spec (visibility, `maxReceiveCount`, DLQ retention). Constructs `<id>Queue` and
 * `<id>DeadLetterQueue`.
 */
export function queueWithDeadLetter(
  scope: Construct,
  id: string,
  spec: QueueSpec,
  encryption: Pick<sqs.QueueProps, "encryption" | "encryptionMasterKey">,
): { queue: sqs.Queue; deadLetterQueue: sqs.Queue } {
  const deadLetterQueue = new sqs.Queue(scope, `${id}DeadLetterQueue`, {
    ...encryption,
    enforceSSL: true,
    retentionPeriod: Duration.days(spec.dlqRetentionDays),
  });
  acknowledgeDeadLetterQueue(deadLetterQueue, spec.name);
  const queue = new sqs.Queue(scope, `${id}Queue`, {
    ...encryption,
    enforceSSL: true,
    visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: spec.maxReceiveCount },
  });
  return { queue, deadLetterQueue };
}

/** SQS encryption: the customer-managed key when one is given, else SQS-managed SSE. */
export function queueEncryption(key?: kms.IKey): Pick<sqs.QueueProps, "encryption" | "encryptionMasterKey"> {
  return key
    ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
    : { encryption: sqs.QueueEncryption.SQS_MANAGED };
}
