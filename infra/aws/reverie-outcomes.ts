/**
 * `ReverieOutcomes`: what outcomes and webhooks add to the runtime — the grader queue and its DLQ
 * feeding `functions/grader`, the webhooks queue and its DLQ feeding `functions/webhook-deliver`, the
 * SNS topic that hears about satisfied outcomes, the EventBridge bus for domain events, their
 * grants, environment variables and alarms (DESIGN.md §2, §5).
 */
import { Duration, Stack, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as lambdaEventSources from "aws-cdk-lib/aws-lambda-event-sources";
import type * as lambdaNodejs from "aws-cdk-lib/aws-lambda-nodejs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct, type IConstruct } from "constructs";
import type { TableName } from "../../shared/core/ports.js";
import { type QueueName, queueSpecs } from "../../shared/infra-spec/queues.js";

export type OutcomeFunctionName = "grader" | "webhook-deliver";

/** Builds a function the way ReverieRuntime builds its own (role, logs, tracing, bundling). */
export type MakeFunction = (
  name: OutcomeFunctionName,
  extra: Partial<lambdaNodejs.NodejsFunctionProps>,
  settings: { description: string; memorySize: number; timeout: Duration },
) => lambdaNodejs.NodejsFunction;

export interface ReverieOutcomesProps {
  readonly makeFunction: MakeFunction;
  /** The runtime's functions, which get the environment and the grants their publishing needs. */
  readonly runtimeFunctions: Record<
    "api" | "api-stream" | "authorizer" | "agent-step" | "sweeper",
    lambda.IFunction
  >;
  readonly tables: Record<TableName, dynamodb.ITable>;
  readonly workspaceBucket: s3.IBucket;
  readonly agentStepsQueue: sqs.IQueue;
  readonly anthropicSecret?: secretsmanager.ISecret;
  /** Model settings the grader shares with agent steps. */
  readonly modelEnvironment: Record<string, string>;
  readonly encryptionKey?: kms.IKey;
  readonly alarmTopic?: sns.ITopic;
  /** `REVERIE_GRADER_MODEL`. @default - the session agent's model */
  readonly graderModel?: string;
}

export class ReverieOutcomes extends Construct {
  readonly graderQueue: sqs.Queue;
  readonly graderDeadLetterQueue: sqs.Queue;
  readonly webhooksQueue: sqs.Queue;
  readonly webhooksDeadLetterQueue: sqs.Queue;
  /** Receives a message for every `satisfied` outcome (attributes: workspace, agent, session, outcome). */
  readonly outcomesTopic: sns.Topic;
  /** Domain events (source `reverie`, detail-type = the webhook event type). */
  readonly eventBus: events.EventBus;
  readonly functions: Record<OutcomeFunctionName, lambdaNodejs.NodejsFunction>;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: ReverieOutcomesProps) {
    super(scope, id);
    [this.graderQueue, this.graderDeadLetterQueue] = this.queuePair("grader", "Grader", props.encryptionKey);
    [this.webhooksQueue, this.webhooksDeadLetterQueue] = this.queuePair(
      "webhooks",
      "Webhooks",
      props.encryptionKey,
    );
    this.outcomesTopic = new sns.Topic(this, "OutcomesTopic", {
      displayName: "Reverie: outcome satisfied",
      enforceSSL: true,
      masterKey: props.encryptionKey ?? kms.Alias.fromAliasName(this, "SnsManagedKey", "alias/aws/sns"),
    });
    this.eventBus = new events.EventBus(this, "EventBus", { description: "Reverie domain events" });

    const grader = queueSpecs.grader;
    const webhooks = queueSpecs.webhooks;
    this.functions = {
      grader: props.makeFunction(
        "grader",
        {},
        {
          description: "Reverie outcome grader (rubric + output → verdict)",
          memorySize: 1024,
          timeout: Duration.seconds(grader.consumerTimeoutSeconds),
        },
      ),
      "webhook-deliver": props.makeFunction(
        "webhook-deliver",
        {},
        {
          description: "Reverie webhook delivery (Standard Webhooks signing, retries, DLQ)",
          memorySize: 512,
          timeout: Duration.seconds(webhooks.consumerTimeoutSeconds),
        },
      ),
    };
    const environment: Record<string, string> = {
      REVERIE_GRADER_QUEUE_URL: this.graderQueue.queueUrl,
      REVERIE_WEBHOOKS_QUEUE_URL: this.webhooksQueue.queueUrl,
      REVERIE_WEBHOOKS_DLQ_URL: this.webhooksDeadLetterQueue.queueUrl,
      REVERIE_OUTCOMES_TOPIC_ARN: this.outcomesTopic.topicArn,
      REVERIE_EVENT_BUS_NAME: this.eventBus.eventBusName,
      ...(props.graderModel ? { REVERIE_GRADER_MODEL: props.graderModel } : {}),
    };
    const all = [...Object.values(props.runtimeFunctions), ...Object.values(this.functions)];
    for (const fn of all) {
      for (const [k, v] of Object.entries(environment)) (fn as lambda.Function).addEnvironment(k, v);
    }
    for (const [k, v] of Object.entries(props.modelEnvironment)) this.functions.grader.addEnvironment(k, v);

    this.grant(props);
    this.consume(this.functions.grader, this.graderQueue, "grader");
    this.consume(this.functions["webhook-deliver"], this.webhooksQueue, "webhooks");
    this.createAlarms(props.alarmTopic);
  }

  private queuePair(name: QueueName, id: string, key?: kms.IKey): [sqs.Queue, sqs.Queue] {
    const spec = queueSpecs[name];
    const encryption = key
      ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: key }
      : { encryption: sqs.QueueEncryption.SQS_MANAGED };
    const dlq = new sqs.Queue(this, `${id}DeadLetterQueue`, {
      ...encryption,
      enforceSSL: true,
      retentionPeriod: Duration.days(spec.dlqRetentionDays),
    });
    for (const rule of ["AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"]) {
      Validations.of(dlq).acknowledge({
        id: rule,
        reason: `This queue is the dead-letter queue for ${name}; a DLQ of a DLQ would only move the problem. Its depth is alarmed.`,
      });
    }
    const queue = new sqs.Queue(this, `${id}Queue`, {
      ...encryption,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(spec.visibilityTimeoutSeconds),
      deadLetterQueue: { queue: dlq, maxReceiveCount: spec.maxReceiveCount },
    });
    return [queue, dlq];
  }

  /** Least privilege: who publishes domain events, who grades, who delivers. */
  private grant(props: ReverieOutcomesProps): void {
    const { api, "agent-step": step, sweeper } = props.runtimeFunctions;
    const { grader, "webhook-deliver": deliver } = this.functions;
    // Publishers of domain events record webhook deliveries (resources table, already granted to
    // api and agent-step), enqueue them and put events on the bus.
    for (const fn of [api, step, grader]) {
      this.webhooksQueue.grantSendMessages(fn);
      this.eventBus.grantPutEventsTo(fn);
    }
    this.graderQueue.grantSendMessages(step);
    this.graderQueue.grantSendMessages(sweeper);
    // The grader: reads sessions and the workspace, writes events and verdicts, resumes the agent.
    props.tables.resources.grantReadWriteData(grader);
    props.tables.events.grantReadWriteData(grader);
    props.agentStepsQueue.grantSendMessages(grader);
    props.workspaceBucket.grantRead(grader);
    props.anthropicSecret?.grantRead(grader);
    this.outcomesTopic.grantPublish(grader);
    // The deliverer: delivery records, retries on its own queue, the DLQ when attempts run out.
    props.tables.resources.grantReadWriteData(deliver);
    this.webhooksQueue.grantSendMessages(deliver);
    this.webhooksDeadLetterQueue.grantSendMessages(deliver);

    const graderRole = grader.role as iam.Role;
    for (const action of ["s3:GetObject*", "s3:GetBucket*", "s3:List*"]) {
      Validations.of(graderRole).acknowledge({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason:
          "bucket.grantRead on the workspace bucket only: the grader reads the files the agent produced.",
      });
    }
    Validations.of(graderRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(props.workspaceBucket.node.defaultChild as s3.CfnBucket)}.Arn>/*]`,
      reason: "Session workspaces are object keys created at run time under the workspace bucket.",
    });
    if (props.encryptionKey) {
      for (const fn of Object.values(this.functions)) {
        for (const action of ["kms:GenerateDataKey*", "kms:ReEncrypt*"]) {
          Validations.of(fn.role as iam.Role).acknowledge({
            id: `AwsSolutions-IAM5[Action::${action}]`,
            reason:
              "CDK grants on the customer-managed key used for tables, queues, topic and bucket, scoped to that key.",
          });
        }
      }
    }
  }

  private consume(fn: lambdaNodejs.NodejsFunction, queue: sqs.Queue, name: QueueName): void {
    fn.addEventSource(
      new lambdaEventSources.SqsEventSource(queue, {
        batchSize: queueSpecs[name].batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: 10,
      }),
    );
    Validations.of(fn.node.defaultChild as IConstruct).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason: `A Lambda DLQ only receives failed asynchronous invocations; this function is invoked synchronously by the SQS event source mapping and failed messages go to the ${name} DLQ.`,
    });
    const mapping = fn.node
      .findAll()
      .find((c): c is lambda.CfnEventSourceMapping => c instanceof lambda.CfnEventSourceMapping);
    if (mapping) {
      Validations.of(mapping).acknowledge({
        id: "Serverless-LambdaEventSourceMappingDestination",
        reason: `SQS event source mappings do not support on-failure destinations; failed messages reach the ${name} DLQ through the queue's redrive policy (maxReceiveCount from shared/infra-spec).`,
      });
    }
  }

  private createAlarms(topic?: sns.ITopic): void {
    const add = (alarm: cloudwatch.Alarm) => {
      if (topic) {
        alarm.addAlarmAction(new cwActions.SnsAction(topic));
        alarm.addOkAction(new cwActions.SnsAction(topic));
      }
      this.alarms.push(alarm);
    };
    for (const [id, queue, what] of [
      ["GraderDeadLetterAlarm", this.graderDeadLetterQueue, "outcome evaluations exhausted their receives"],
      ["WebhooksDeadLetterAlarm", this.webhooksDeadLetterQueue, "webhook deliveries failed every attempt"],
    ] as const) {
      add(
        new cloudwatch.Alarm(this, id, {
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
      );
    }
    add(
      new cloudwatch.Alarm(this, "GraderAgeAlarm", {
        alarmDescription: "Reverie: the oldest outcome evaluation has waited more than 30 minutes.",
        metric: this.graderQueue.metricApproximateAgeOfOldestMessage({
          period: Duration.minutes(1),
          statistic: "Maximum",
        }),
        threshold: 30 * 60,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluationPeriods: 5,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }
}
