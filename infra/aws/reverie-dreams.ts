/**
 * `ReverieDreams`: the AWS side of dreaming, hooked into {@link ReverieRuntime} with one line — the
 * dream-jobs queue (+ DLQ) feeding the dream-worker function, the EventBridge Scheduler group that
 * holds one schedule per dream schedule, the role Scheduler assumes to invoke the dream-scheduler
 * function, and the grants and settings that let the API manage those schedules.
 */

import { Validations } from "aws-cdk-lib";
import type * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambdaNodejs from "aws-cdk-lib/aws-lambda-nodejs";
import type * as scheduler from "aws-cdk-lib/aws-scheduler";
import type * as sns from "aws-cdk-lib/aws-sns";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct, type IConstruct } from "constructs";
import { queueSpecs } from "../../shared/infra-spec/queues.js";
import type { ReverieFunctionName } from "./function-names.js";
import { consumeQueue, deadLetterAlarm, queueWithDeadLetter } from "./queue-wiring.js";
import { scheduledTarget } from "./scheduler-wiring.js";

export interface ReverieDreamsProps {
  readonly functions: Record<ReverieFunctionName, lambdaNodejs.NodejsFunction>;
  /** The queues' encryption (the runtime's customer-managed key, if any). */
  readonly encryption: Pick<sqs.QueueProps, "encryption" | "encryptionMasterKey">;
  /** Where the dream-jobs DLQ alarm notifies. @default - no action */
  readonly alarmTopic?: sns.ITopic;
}

export class ReverieDreams extends Construct {
  readonly jobsQueue: sqs.Queue;
  readonly jobsDeadLetterQueue: sqs.Queue;
  /** The dream-jobs DLQ alarm. */
  readonly alarms: cloudwatch.Alarm[];
  readonly scheduleGroup: scheduler.CfnScheduleGroup;
  /** The role EventBridge Scheduler assumes to invoke the dream-scheduler function. */
  readonly schedulerRole: iam.Role;

  constructor(scope: Construct, id: string, props: ReverieDreamsProps) {
    super(scope, id);
    const spec = queueSpecs["dream-jobs"];
    const f = props.functions;

    const jobs = queueWithDeadLetter(this, "DreamJobs", spec, props.encryption);
    this.jobsQueue = jobs.queue;
    this.jobsDeadLetterQueue = jobs.deadLetterQueue;
    this.alarms = [
      deadLetterAlarm(
        this,
        "DreamJobsDeadLetterAlarm",
        this.jobsDeadLetterQueue,
        "dream jobs exhausted their retries",
        props.alarmTopic,
      ),
    ];
    consumeQueue(f["dream-worker"], this.jobsQueue, {
      queueName: "dream-jobs",
      batchSize: spec.batchSize,
      maxConcurrency: 5,
    });

    const target = scheduledTarget(this, {
      groupId: "DreamScheduleGroup",
      groupSuffix: "dreams",
      roleId: "DreamSchedulerInvokeRole",
      roleDescription: "EventBridge Scheduler invokes the Reverie dream-scheduler function",
      target: f["dream-scheduler"],
      // The API (its memory function) manages schedules (create/update/delete) and hands Scheduler the invoke role.
      managers: [f["api-memory"]],
      targetName: "dream-scheduler",
      what: "Dream schedules, one per /v1/dream_schedules resource,",
    });
    this.scheduleGroup = target.group;
    this.schedulerRole = target.role;

    // agent-step too: a dream's session nudges its dream's job when it goes idle.
    for (const name of ["api-memory", "dream-worker", "dream-scheduler", "sweeper", "agent-step"] as const) {
      f[name].addEnvironment("REVERIE_DREAM_JOBS_QUEUE_URL", this.jobsQueue.queueUrl);
      this.jobsQueue.grantSendMessages(f[name]);
    }
    f["api-memory"].addEnvironment("REVERIE_DREAM_SCHEDULE_GROUP", this.scheduleGroup.name as string);
    f["api-memory"].addEnvironment("REVERIE_DREAM_SCHEDULER_FUNCTION_ARN", f["dream-scheduler"].functionArn);
    f["api-memory"].addEnvironment("REVERIE_DREAM_SCHEDULER_ROLE_ARN", this.schedulerRole.roleArn);

    Validations.of(f["dream-scheduler"].node.defaultChild as IConstruct).acknowledge({
      id: "Serverless-LambdaDLQ",
      reason:
        "Invoked by EventBridge Scheduler, which retries a firing by its RetryPolicy; a firing that is lost changes nothing, since the next one takes the same sessions (the watermark only moves when a dream is created).",
    });
  }
}
