/**
 * EventBridge Scheduler schedules in one of Reverie's schedule groups, each invoking one Lambda
 * through the role Scheduler assumes. What they mean (dream schedules, deployments) is up to the
 * adapter using this; what every schedule here shares is written once: create-or-update, the time
 * zone handed to Scheduler (which reads cron in it, DST included), no flexible window, a bounded
 * retry policy, and Scheduler's refusal of an expression turned into the caller's 400.
 */
import type { CreateScheduleCommandInput, SchedulerClient } from "@aws-sdk/client-scheduler";
import { InvalidRequestError } from "../../contract/errors.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

export interface EventBridgeSchedulesOptions {
  client: SdkClient<SchedulerClient>;
  /** The schedule group holding these schedules. */
  groupName: string;
  /** The Lambda every schedule invokes. */
  targetArn: string;
  /** The role EventBridge Scheduler assumes to invoke it. */
  roleArn: string;
}

export interface ScheduleDefinition {
  /** ≤ 64 chars of [0-9a-zA-Z-_.]. */
  name: string;
  /** `cron(…)` / `rate(…)` as Scheduler writes them. */
  expression: string;
  timezone: string;
  enabled: boolean;
  /** The target's input; `<aws.scheduler.scheduled-time>` is replaced by Scheduler at each firing. */
  input: Record<string, unknown>;
}

export class EventBridgeSchedules {
  private readonly client: () => Promise<SchedulerClient>;

  constructor(private readonly options: EventBridgeSchedulesOptions) {
    this.client = sdkClientGetter(options.client);
  }

  /**
   * Creates or replaces a schedule. `invalidField` names the request field a Scheduler
   * ValidationException is reported against (its 400).
   */
  async put(schedule: ScheduleDefinition, invalidField: string): Promise<void> {
    const { ConflictException, CreateScheduleCommand, UpdateScheduleCommand, ValidationException } =
      await import("@aws-sdk/client-scheduler");
    const client = await this.client();
    const input: CreateScheduleCommandInput = {
      Name: schedule.name,
      GroupName: this.options.groupName,
      ScheduleExpression: schedule.expression,
      ScheduleExpressionTimezone: schedule.timezone,
      State: schedule.enabled ? "ENABLED" : "DISABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: this.options.targetArn,
        RoleArn: this.options.roleArn,
        Input: JSON.stringify(schedule.input),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
      },
    };
    try {
      try {
        await client.send(new CreateScheduleCommand(input));
      } catch (error) {
        if (!(error instanceof ConflictException)) throw error;
        await client.send(new UpdateScheduleCommand(input));
      }
    } catch (error) {
      // Scheduler is what reads the cron fields and the time zone: its refusal is the caller's 400.
      if (error instanceof ValidationException) {
        throw new InvalidRequestError(`${invalidField}: ${error.message}`, { cause: error });
      }
      throw error;
    }
  }

  /** Deletes a schedule; one that is not there counts as deleted. */
  async delete(name: string): Promise<void> {
    const { DeleteScheduleCommand, ResourceNotFoundException } = await import("@aws-sdk/client-scheduler");
    const client = await this.client();
    try {
      await client.send(new DeleteScheduleCommand({ Name: name, GroupName: this.options.groupName }));
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
  }
}
