/**
 * `ReverieOutcomes`: what outcomes and webhooks add to the runtime — the grader queue and its DLQ
 * feeding `functions/grader`, the webhooks queue and its DLQ feeding `functions/webhook-deliver`, the
 * SNS topic that hears about satisfied outcomes, the EventBridge bus for domain events, their
 * grants, environment variables and alarms (DESIGN.md §2, §5).
 */

import { Duration, Stack, Validations } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as lambdaNodejs from "aws-cdk-lib/aws-lambda-nodejs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import type { TableName } from "../../shared/core/ports.js";
import { type QueueName, queueSpecs } from "../../shared/infra-spec/queues.js";
import type { ReverieFunctionName } from "./function-names.js";
import {
  consumeQueue,
  deadLetterAlarm,
  queueAgeAlarm,
  queueEncryption,
  queueWithDeadLetter,
} from "./queue-wiring.js";

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
    Exclude<ReverieFunctionName, "dream-scheduler" | "deployment-runner">,
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
    for (const [fn, queue, name] of [
      [this.functions.grader, this.graderQueue, "grader"],
      [this.functions["webhook-deliver"], this.webhooksQueue, "webhooks"],
    ] as const) {
      consumeQueue(fn, queue, { queueName: name, batchSize: queueSpecs[name].batchSize, maxConcurrency: 10 });
    }
    this.createAlarms(props.alarmTopic);
  }

  private queuePair(name: QueueName, id: string, key?: kms.IKey): [sqs.Queue, sqs.Queue] {
    const { queue, deadLetterQueue } = queueWithDeadLetter(this, id, queueSpecs[name], queueEncryption(key));
    return [queue, deadLetterQueue];
  }

  /** Least privilege: who publishes domain events, who grades, who delivers. */
  private grant(props: ReverieOutcomesProps): void {
    const { api, "api-memory": apiMemory, "api-workspace": apiWorkspace } = props.runtimeFunctions;
    const { "agent-step": step, sweeper, "dream-worker": dreamWorker } = props.runtimeFunctions;
    const { grader, "webhook-deliver": deliver } = this.functions;
    // Publishers of domain events record webhook deliveries (resources table, already granted to
    // the API functions, agent-step and the sweeper), enqueue them and put events on the bus. The sweeper publishes
    // when it finishes a thread report a crash cut short, and re-nudges deliveries whose nudge was lost.
    // The dream worker publishes its dream's and its dreamer session's events.
    for (const fn of [api, apiMemory, apiWorkspace, step, grader, sweeper, dreamWorker]) {
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

  private createAlarms(topic?: sns.ITopic): void {
    this.alarms.push(
      deadLetterAlarm(
        this,
        "GraderDeadLetterAlarm",
        this.graderDeadLetterQueue,
        "outcome evaluations exhausted their receives",
        topic,
      ),
      deadLetterAlarm(
        this,
        "WebhooksDeadLetterAlarm",
        this.webhooksDeadLetterQueue,
        "webhook deliveries failed every attempt",
        topic,
      ),
      queueAgeAlarm(
        this,
        "GraderAgeAlarm",
        this.graderQueue,
        "outcome evaluation",
        Duration.minutes(30),
        topic,
      ),
    );
  }
}
