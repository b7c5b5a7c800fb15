/**
 * The embedded stack's EventBridge Scheduler for deployments: one wall-clock timer per scheduled,
 * unpaused deployment, reading its 5-field cron expression in its time zone (the same reading the
 * API shows as `upcoming_runs_at`). Armed from the stored deployments at start; each firing carries
 * the minute it was due and the schedule's revision, like the AWS adapter's input.
 */
import { type CronFields, nextCronTimes, parseCronExpression } from "../../core/deployments/cron-schedule.js";
import type {
  DeploymentFiring,
  DeploymentScheduleTrigger,
  DeploymentTriggerSpec,
} from "../../core/deployments/deployment-trigger.js";
import { LocalWallClock } from "./local-wall-clock.js";

export class LocalDeploymentScheduler implements DeploymentScheduleTrigger {
  private readonly clock: LocalWallClock;
  private fire: ((firing: DeploymentFiring) => Promise<unknown>) | undefined;
  private readonly pending = new Map<string, DeploymentTriggerSpec>();

  /** `now`: the clock due times are read against (a test skews it to bring a minute closer). */
  constructor(onError: (error: unknown) => void = () => {}, now: () => number = Date.now) {
    this.clock = new LocalWallClock(onError, now);
  }

  /** Starts firing into `fire` (the deployment runner), arming every trigger given and any put before. */
  start(fire: (firing: DeploymentFiring) => Promise<unknown>, specs: readonly DeploymentTriggerSpec[]): void {
    this.fire = fire;
    for (const spec of [...specs, ...this.pending.values()]) this.arm(spec);
    this.pending.clear();
  }

  async put(spec: DeploymentTriggerSpec): Promise<void> {
    const fields = parseCronExpression(spec.expression);
    if (!this.fire) {
      this.pending.set(keyOf(spec.workspaceId, spec.deploymentId), spec);
      return;
    }
    this.arm(spec, fields);
  }

  async delete(workspaceId: string, deploymentId: string): Promise<void> {
    this.pending.delete(keyOf(workspaceId, deploymentId));
    this.clock.disarm(keyOf(workspaceId, deploymentId));
  }

  /** Whether a deployment's timer is armed (it is not while paused or archived). */
  armed(workspaceId: string, deploymentId: string): boolean {
    return this.clock.armed(keyOf(workspaceId, deploymentId));
  }

  stop(): void {
    this.clock.stop();
    this.fire = undefined;
  }

  private arm(spec: DeploymentTriggerSpec, fields: CronFields = parseCronExpression(spec.expression)): void {
    const key = keyOf(spec.workspaceId, spec.deploymentId);
    const fire = this.fire;
    if (!spec.enabled || !fire) {
      this.clock.disarm(key);
      return;
    }
    this.clock.arm(key, {
      nextAfter: (after) => nextCronTimes(fields, spec.timezone, after, 1)[0] ?? Number.POSITIVE_INFINITY,
      fire: (due) =>
        fire({
          schemaVersion: 1,
          workspaceId: spec.workspaceId,
          deploymentId: spec.deploymentId,
          scheduledTime: new Date(due).toISOString(),
          scheduleRev: spec.scheduleRev,
        }),
    });
  }
}

const keyOf = (workspaceId: string, deploymentId: string) => `${workspaceId}#${deploymentId}`;
