/**
 * Dream schedules on AWS: one EventBridge Scheduler schedule per dream schedule, targeting the
 * dream-scheduler Lambda with the schedule's ids and `<aws.scheduler.scheduled-time>`, so a
 * duplicate delivery of one firing is recognised by its scheduled time.
 */
import type { DreamScheduleTrigger, ScheduleTriggerSpec } from "../../core/dreams/dream-schedules-service.js";
import { EventBridgeSchedules, type EventBridgeSchedulesOptions } from "./eventbridge-schedules.js";

/** The client, the dream schedule group, the dream-scheduler Lambda and the role that invokes it. */
export type EventBridgeDreamSchedulerOptions = EventBridgeSchedulesOptions;

/** EventBridge schedule names: ≤ 64 chars of [0-9a-zA-Z-_.]. */
export const scheduleNameOf = (scheduleId: string) => `reverie-${scheduleId}`.slice(0, 64);

export class EventBridgeDreamScheduler implements DreamScheduleTrigger {
  private readonly schedules: EventBridgeSchedules;

  constructor(options: EventBridgeDreamSchedulerOptions) {
    this.schedules = new EventBridgeSchedules(options);
  }

  async put(spec: ScheduleTriggerSpec): Promise<void> {
    await this.schedules.put(
      {
        name: scheduleNameOf(spec.scheduleId),
        expression: spec.expression,
        timezone: spec.timezone,
        enabled: spec.enabled,
        input: {
          schemaVersion: 1,
          workspaceId: spec.workspaceId,
          scheduleId: spec.scheduleId,
          scheduledTime: "<aws.scheduler.scheduled-time>",
        },
      },
      "schedule_expression",
    );
  }

  async delete(_workspaceId: string, scheduleId: string): Promise<void> {
    await this.schedules.delete(scheduleNameOf(scheduleId));
  }
}
