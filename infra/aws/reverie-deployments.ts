/**
 * `ReverieDeployments`: the AWS side of scheduled deployments, hooked into {@link ReverieRuntime}
 * with one line — the EventBridge Scheduler group holding one schedule per scheduled deployment
 * (two for a cron that names both day fields), the role Scheduler assumes to invoke the
 * deployment-runner function and nothing else, the grants that let the API and the runner manage
 * those schedules, what the runner needs to create a session and send its initial events, and
 * where a firing goes when every attempt at it failed.
 */
import { Duration, Validations } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import type * as events from "aws-cdk-lib/aws-events";
import type * as iam from "aws-cdk-lib/aws-iam";
import * as lambdaDestinations from "aws-cdk-lib/aws-lambda-destinations";
import type * as lambdaNodejs from "aws-cdk-lib/aws-lambda-nodejs";
import type * as s3 from "aws-cdk-lib/aws-s3";
import type * as scheduler from "aws-cdk-lib/aws-scheduler";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct, type IConstruct } from "constructs";
import type { TableName } from "../../shared/core/ports.js";
import type { ReverieFunctionName } from "./function-names.js";
import { acknowledgeDeadLetterQueue, deadLetterAlarm } from "./queue-wiring.js";
import { scheduledTarget } from "./scheduler-wiring.js";

export interface ReverieDeploymentsProps {
  readonly functions: Record<ReverieFunctionName, lambdaNodejs.NodejsFunction>;
  readonly tables: Record<TableName, dynamodb.ITable>;
  readonly workspaceBucket: s3.IBucket;
  readonly agentStepsQueue: sqs.IQueue;
  /** Where the runner's domain events go (webhook outbox queue, event bus). */
  readonly webhooksQueue: sqs.IQueue;
  readonly eventBus: events.IEventBus;
  /** Where the failed-firings alarm notifies. @default - no action */
  readonly alarmTopic?: sns.ITopic;
}

export class ReverieDeployments extends Construct {
  readonly scheduleGroup: scheduler.CfnScheduleGroup;
  /** The role EventBridge Scheduler assumes to invoke the deployment-runner function. */
  readonly schedulerRole: iam.Role;
  /** Firings whose every invocation failed (Lambda's asynchronous on-failure destination). */
  readonly failedFirings: sqs.Queue;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: ReverieDeploymentsProps) {
    super(scope, id);
    const f = props.functions;
    const runner = f["deployment-runner"];

    const target = scheduledTarget(this, {
      groupId: "DeploymentScheduleGroup",
      groupSuffix: "deployments",
      roleId: "DeploymentSchedulerInvokeRole",
      roleDescription: "EventBridge Scheduler invokes the Reverie deployment-runner function",
      target: runner,
      // The API (its workspace function) writes a deployment's schedule; the runner disables it when a run auto-pauses it.
      managers: [f["api-workspace"], runner],
      targetName: "deployment-runner",
      what: "Deployment schedules, one or two per scheduled /v1/deployments resource,",
    });
    this.scheduleGroup = target.group;
    this.schedulerRole = target.role;

    for (const fn of [f["api-workspace"], runner]) {
      fn.addEnvironment("REVERIE_DEPLOYMENT_SCHEDULE_GROUP", this.scheduleGroup.name as string);
      fn.addEnvironment("REVERIE_DEPLOYMENT_SCHEDULER_ROLE_ARN", this.schedulerRole.roleArn);
    }
    // The runner reads its own ARN from its invocation context (its environment cannot name it).
    f["api-workspace"].addEnvironment("REVERIE_DEPLOYMENT_RUNNER_FUNCTION_ARN", runner.functionArn);

    // A run creates a session (resources table, its event log), mounts its files (workspace bucket),
    // wakes it (agent-steps) and publishes deployment_run.* events (webhooks outbox, event bus).
    props.tables.resources.grantReadWriteData(runner);
    props.tables.events.grantReadWriteData(runner);
    props.workspaceBucket.grantReadWrite(runner);
    props.agentStepsQueue.grantSendMessages(runner);
    props.webhooksQueue.grantSendMessages(runner);
    props.eventBus.grantPutEventsTo(runner);
    const runnerRole = runner.role as iam.Role;
    for (const action of ["s3:GetObject*", "s3:GetBucket*", "s3:List*", "s3:DeleteObject*", "s3:Abort*"]) {
      Validations.of(runnerRole).acknowledge({
        id: `AwsSolutions-IAM5[Action::${action}]`,
        reason: "bucket.grantReadWrite on the workspace bucket only (CDK's standard read/write action set).",
      });
    }
    Validations.of(runnerRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalIdOfBucket(props.workspaceBucket)}.Arn>/*]`,
      reason:
        "A run copies its files into the new session's workspace: object keys created at run time under the workspace bucket.",
    });

    // Scheduler invokes asynchronously: Lambda retries a failed firing twice (the same input, so the
    // same run), then parks it here, alarmed.
    this.failedFirings = new sqs.Queue(this, "FailedFiringsQueue", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledgeDeadLetterQueue(this.failedFirings, "the deployment-runner's failed firings");
    runner.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      onFailure: new lambdaDestinations.SqsDestination(this.failedFirings),
    });
    Validations.of(runner.node.defaultChild as IConstruct).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason:
        "Asynchronous failures (EventBridge Scheduler invokes it) go to an on-failure destination, the failed-firings queue, which supersedes a DLQ and carries the error context.",
    });
    this.alarms = [
      deadLetterAlarm(
        this,
        "FailedFiringsAlarm",
        this.failedFirings,
        "deployment firings failed every attempt",
        props.alarmTopic,
      ),
    ];
  }
}

function logicalIdOfBucket(bucket: s3.IBucket): string {
  const cfn = bucket.node.defaultChild as s3.CfnBucket;
  return cfn.stack.getLogicalId(cfn);
}
