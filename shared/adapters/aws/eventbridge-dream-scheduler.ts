/**
 * Dream schedules on AWS: one EventBridge Scheduler schedule per dream schedule, targeting the
 * dream-scheduler Lambda with the schedule's ids and `<aws.scheduler.scheduled-time>`, so a
 * duplicate delivery of one firing is recognised by its scheduled time.
 */
import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
} from "@aws-sdk/client-scheduler";
import { InvalidRequestError } from "../../contract/errors.js";
import type { DreamScheduleTrigger, ScheduleTriggerSpec } from "../../core/dreams/dream-schedules-service.js";

export interface EventBridgeDreamSchedulerOptions {
  client: SchedulerClient;
  /** The schedule group holding Reverie's dream schedules. */
  groupName: string;
  /** The dream-scheduler Lambda. */
  targetArn: string;
  /** The role EventBridge Scheduler assumes to invoke it. */
  roleArn: string;
}

/** EventBridge schedule names: ≤ 64 chars of [0-9a-zA-Z-_.]. */
export const scheduleNameOf = (scheduleId: string) => `reverie-${scheduleId}`.slice(0, 64);

export class EventBridgeDreamScheduler implements DreamScheduleTrigger {
  constructor(private readonly options: EventBridgeDreamSchedulerOptions) {}

  async put(spec: ScheduleTriggerSpec): Promise<void> {
    const input = {
      Name: scheduleNameOf(spec.scheduleId),
      GroupName: this.options.groupName,
      ScheduleExpression: spec.expression,
      ScheduleExpressionTimezone: spec.timezone,
      State: spec.enabled ? ("ENABLED" as const) : ("DISABLED" as const),
      FlexibleTimeWindow: { Mode: "OFF" as const },
      Target: {
        Arn: this.options.targetArn,
        RoleArn: this.options.roleArn,
        Input: JSON.stringify({
          schemaVersion: 1,
          workspaceId: spec.workspaceId,
          scheduleId: spec.scheduleId,
          scheduledTime: "<aws.scheduler.scheduled-time>",
        }),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
      },
    };
    try {
      try {
        await this.options.client.send(new CreateScheduleCommand(input));
      } catch (error) {
        if (!(error instanceof ConflictException)) throw error;
        await this.options.client.send(new UpdateScheduleCommand(input));
      }
    } catch (error) {
      // EventBridge is what reads the cron fields and the time zone: its refusal is the caller's 400.
      if (error instanceof ValidationException) {
        throw new InvalidRequestError(`schedule_expression: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }

  async delete(_workspaceId: string, scheduleId: string): Promise<void> {
    try {
      await this.options.client.send(
        new DeleteScheduleCommand({ Name: scheduleNameOf(scheduleId), GroupName: this.options.groupName }),
      );
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }
}
