/**
 * Deployments on AWS: each scheduled deployment is an EventBridge Scheduler schedule in Reverie's
 * deployment schedule group, invoking the deployment-runner Lambda with the deployment's ids, the
 * schedule's revision and `<aws.scheduler.scheduled-time>` (the run key's half that makes a
 * duplicate delivery one run). Scheduler reads the cron in the deployment's time zone natively.
 *
 * A 5-field cron whose day-of-month and day-of-week are both restricted fires on days matching
 * either; Scheduler's 6-field cron takes `?` in one of them, so that deployment gets two schedules
 * (`…` by date, `…-or` by weekday). An instant both match is delivered twice with the same
 * scheduled time, which the runner turns into one run.
 */
import { eventBridgeExpressions, parseCronExpression } from "../../core/deployments/cron-schedule.js";
import type {
  DeploymentScheduleTrigger,
  DeploymentTriggerSpec,
} from "../../core/deployments/deployment-trigger.js";
import { EventBridgeSchedules, type EventBridgeSchedulesOptions } from "./eventbridge-schedules.js";

/** The client, the deployment schedule group, the deployment-runner Lambda and the role that invokes it. */
export type EventBridgeDeploymentSchedulerOptions = EventBridgeSchedulesOptions;

/** The names of a deployment's schedules: its own, and the weekday half of an either-day cron. */
export const deploymentScheduleNames = (deploymentId: string): [string, string] => {
  const base = `reverie-${deploymentId}`.slice(0, 61);
  return [base, `${base}-or`];
};

export class EventBridgeDeploymentScheduler implements DeploymentScheduleTrigger {
  private readonly schedules: EventBridgeSchedules;

  constructor(options: EventBridgeDeploymentSchedulerOptions) {
    this.schedules = new EventBridgeSchedules(options);
  }

  async put(spec: DeploymentTriggerSpec): Promise<void> {
    const expressions = eventBridgeExpressions(parseCronExpression(spec.expression));
    const names = deploymentScheduleNames(spec.deploymentId);
    for (const [i, expression] of expressions.entries()) {
      await this.schedules.put(
        {
          name: names[i] as string,
          expression,
          timezone: spec.timezone,
          enabled: spec.enabled,
          input: {
            schemaVersion: 1,
            workspaceId: spec.workspaceId,
            deploymentId: spec.deploymentId,
            scheduledTime: "<aws.scheduler.scheduled-time>",
            scheduleRev: spec.scheduleRev,
          },
        },
        "schedule",
      );
    }
    // A schedule that no longer needs its weekday half loses it.
    if (expressions.length === 1) await this.schedules.delete(names[1]);
  }

  async delete(_workspaceId: string, deploymentId: string): Promise<void> {
    for (const name of deploymentScheduleNames(deploymentId)) await this.schedules.delete(name);
  }
}
