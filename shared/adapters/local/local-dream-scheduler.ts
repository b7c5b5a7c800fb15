/**
 * The embedded stack's EventBridge Scheduler for dream schedules: one wall-clock timer per active
 * schedule (local-wall-clock.ts), armed from the stored schedules at start and re-armed after every
 * firing. A firing carries the time it was due, like EventBridge's `<aws.scheduler.scheduled-time>`,
 * so a firing is deduplicated by it.
 */

import { Cron } from "croner";
import { InvalidRequestError } from "../../contract/errors.js";
import type {
  DreamScheduleTrigger,
  ScheduleFiring,
  ScheduleTriggerSpec,
} from "../../core/dreams/dream-schedules-service.js";
import { nextRateTime, parseScheduleExpression } from "../../core/dreams/schedule-expression.js";
import { LocalWallClock } from "./local-wall-clock.js";

export class LocalDreamScheduler implements DreamScheduleTrigger {
  private readonly clock: LocalWallClock;
  private fire: ((firing: ScheduleFiring) => Promise<unknown>) | undefined;

  constructor(onError: (error: unknown) => void = () => {}, now: () => number = Date.now) {
    this.clock = new LocalWallClock(onError, now);
  }

  /** Starts firing into `fire` (the schedules service), arming every schedule given. */
  start(fire: (firing: ScheduleFiring) => Promise<unknown>, specs: readonly ScheduleTriggerSpec[]): void {
    this.fire = fire;
    for (const spec of specs) this.arm(spec);
  }

  /** Arms (or re-arms) a schedule; a cron expression croner cannot read is a 400. */
  async put(spec: ScheduleTriggerSpec): Promise<void> {
    nextFireTime(spec, this.clock.now());
    this.clock.disarm(keyOf(spec.workspaceId, spec.scheduleId));
    this.arm(spec);
  }

  async delete(workspaceId: string, scheduleId: string): Promise<void> {
    this.clock.disarm(keyOf(workspaceId, scheduleId));
  }

  stop(): void {
    this.clock.stop();
    this.fire = undefined;
  }

  private arm(spec: ScheduleTriggerSpec): void {
    const fire = this.fire;
    if (!spec.enabled || !fire) return;
    this.clock.arm(keyOf(spec.workspaceId, spec.scheduleId), {
      nextAfter: (after) => nextFireTime(spec, after),
      fire: (due) =>
        fire({
          schemaVersion: 1,
          workspaceId: spec.workspaceId,
          scheduleId: spec.scheduleId,
          scheduledTime: new Date(due).toISOString(),
        }),
    });
  }
}

const keyOf = (workspaceId: string, scheduleId: string) => `${workspaceId}#${scheduleId}`;

/**
 * When a schedule next fires after `afterMs`. EventBridge's cron has six fields (the sixth, year,
 * must be `*` here); croner reads the first five. Use day names (MON-FRI) for the day of the week:
 * EventBridge numbers Sunday 1, croner 0.
 */
export function nextFireTime(
  spec: Pick<ScheduleTriggerSpec, "expression" | "timezone" | "anchorMs">,
  afterMs: number,
): number {
  const parsed = parseScheduleExpression(spec.expression);
  if (parsed.kind === "rate") return nextRateTime(parsed.everyMs, afterMs, spec.anchorMs);
  if (parsed.fields[5] !== "*")
    throw new InvalidRequestError("schedule_expression: the year field must be * locally");
  let cron: Cron;
  try {
    cron = new Cron(parsed.fields.slice(0, 5).join(" "), { paused: true, timezone: spec.timezone });
  } catch (cause) {
    throw new InvalidRequestError(`schedule_expression: ${(cause as Error).message}`, { cause });
  }
  return cron.nextRun(new Date(afterMs))?.getTime() ?? Number.POSITIVE_INFINITY;
}
