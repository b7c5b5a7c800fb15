/**
 * The embedded stack's EventBridge Scheduler: one wall-clock timer per active dream schedule, armed
 * from the stored schedules at start and re-armed after every firing. A firing carries the time it
 * was due, like EventBridge's `<aws.scheduler.scheduled-time>`, so a firing is deduplicated by it.
 */

import { Cron } from "croner";
import { InvalidRequestError } from "../../contract/errors.js";
import type {
  DreamScheduleTrigger,
  ScheduleFiring,
  ScheduleTriggerSpec,
} from "../../core/dreams/dream-schedules-service.js";
import { nextRateTime, parseScheduleExpression } from "../../core/dreams/schedule-expression.js";

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export class LocalDreamScheduler implements DreamScheduleTrigger {
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; generation: number }>();
  private generation = 0;
  private fire: ((firing: ScheduleFiring) => Promise<unknown>) | undefined;

  constructor(
    private readonly onError: (error: unknown) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts firing into `fire` (the schedules service), arming every schedule given. */
  start(fire: (firing: ScheduleFiring) => Promise<unknown>, specs: readonly ScheduleTriggerSpec[]): void {
    this.fire = fire;
    for (const spec of specs) this.arm(spec);
  }

  /** Arms (or re-arms) a schedule; a cron expression croner cannot read is a 400. */
  async put(spec: ScheduleTriggerSpec): Promise<void> {
    nextFireTime(spec, this.now());
    this.clear(spec.workspaceId, spec.scheduleId);
    if (this.fire) this.arm(spec);
  }

  async delete(workspaceId: string, scheduleId: string): Promise<void> {
    this.clear(workspaceId, scheduleId);
  }

  stop(): void {
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.fire = undefined;
  }

  private clear(workspaceId: string, scheduleId: string): void {
    const key = `${workspaceId}#${scheduleId}`;
    const entry = this.timers.get(key);
    if (entry) clearTimeout(entry.timer);
    this.timers.delete(key);
  }

  private arm(spec: ScheduleTriggerSpec, after = this.now()): void {
    if (!spec.enabled || !this.fire) return;
    const key = `${spec.workspaceId}#${spec.scheduleId}`;
    const due = nextFireTime(spec, after);
    if (!Number.isFinite(due)) return;
    const generation = ++this.generation;
    const wait = Math.max(0, due - this.now());
    const timer = setTimeout(
      () => {
        if (this.timers.get(key)?.generation !== generation) return;
        if (due > this.now()) return this.arm(spec, after); // a clamped long wait: not due yet
        const fire = this.fire;
        if (!fire) return;
        fire({
          schemaVersion: 1,
          workspaceId: spec.workspaceId,
          scheduleId: spec.scheduleId,
          scheduledTime: new Date(due).toISOString(),
        })
          .catch(this.onError)
          .finally(() => {
            if (this.timers.get(key)?.generation === generation) this.arm(spec, due);
          });
      },
      Math.min(wait, MAX_TIMEOUT_MS),
    );
    timer.unref?.();
    this.timers.set(key, { timer, generation });
  }
}

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
