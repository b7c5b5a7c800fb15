/**
 * What fires a scheduled deployment: EventBridge Scheduler on AWS, a wall-clock timer in the
 * embedded stack. Both deliver a {@link DeploymentFiring} at least once per scheduled time; the
 * runner turns duplicates into one run.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { StoredDeployment } from "./deployment-record.js";

/** A deployment's schedule as its trigger needs it. */
export interface DeploymentTriggerSpec {
  workspaceId: string;
  deploymentId: string;
  /** The 5-field cron expression, already validated. */
  expression: string;
  /** IANA time zone the expression is read in. */
  timezone: string;
  /** False while the deployment is paused: the trigger is kept but does not fire. */
  enabled: boolean;
  /** The schedule's revision, carried by each firing so a firing of a replaced schedule is dropped. */
  scheduleRev: number;
}

export interface DeploymentScheduleTrigger {
  /** Creates or replaces the deployment's trigger. */
  put(spec: DeploymentTriggerSpec): Promise<void>;
  /** Removes it (a missing trigger counts as removed). */
  delete(workspaceId: string, deploymentId: string): Promise<void>;
}

/** What a trigger delivers: the deployment and the time the cron expression matched (UTC). */
export const deploymentFiringSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    workspaceId: z.string().min(1),
    deploymentId: z.string().min(1),
    /** EventBridge's `<aws.scheduler.scheduled-time>`, or the local timer's due time. */
    scheduledTime: z.iso.datetime({ offset: true }),
    scheduleRev: z.number().int().min(0),
  }),
);
export type DeploymentFiring = z.infer<typeof deploymentFiringSchema>;

/**
 * What the recovery schedule delivers to the deployment runner on AWS (the sweeper's cadence):
 * finish the runs a dead worker left pending. Without it, a run-now whose API call died would wait
 * for some deployment's next scheduled firing, and for ever if none has a schedule.
 */
export const deploymentSweepSchema = lazySchema(() =>
  z.object({ schemaVersion: z.literal(1), kind: z.literal("sweep") }),
);
export type DeploymentSweep = z.infer<typeof deploymentSweepSchema>;

/** Without a scheduler (a process that never manages schedules) schedules are stored but never fire. */
export const unscheduledDeployments: DeploymentScheduleTrigger = {
  put: async () => {},
  delete: async () => {},
};

/** The trigger a deployment should have, or undefined when it should have none. */
export function triggerSpecOf(
  workspaceId: string,
  deployment: StoredDeployment,
  scheduleRev: number,
): DeploymentTriggerSpec | undefined {
  if (!deployment.schedule || deployment.archived_at) return undefined;
  return {
    workspaceId,
    deploymentId: deployment.id,
    expression: deployment.schedule.expression,
    timezone: deployment.schedule.timezone,
    enabled: deployment.status === "active",
    scheduleRev,
  };
}

/** Brings the trigger in line with the deployment: put it, or delete it when there should be none. */
export async function syncTrigger(
  trigger: DeploymentScheduleTrigger,
  workspaceId: string,
  deployment: StoredDeployment,
  scheduleRev: number,
): Promise<void> {
  const spec = triggerSpecOf(workspaceId, deployment, scheduleRev);
  if (spec) await trigger.put(spec);
  else await trigger.delete(workspaceId, deployment.id);
}
