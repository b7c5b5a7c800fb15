/**
 * The embedded stack's EventBridge Scheduler: one wall-clock timer per active dream schedule, armed
 * from the stored schedules at start and re-armed after every firing. A firing carries the time it
 * was due, like EventBridge's `<aws.scheduler.scheduled-time>`, so a firing is deduplicated by it.
 */

import type {
  DreamScheduleTrigger,
  ScheduleFiring,
  ScheduleTriggerSpec,
} from "../../core/dreams/dream-schedules-service.js";
import { nextFireTime, parseScheduleExpression } from "../../core/dreams/schedule-expression.js";

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

  async put(spec: ScheduleTriggerSpec): Promise<void> {
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
    const due = nextFireTime(
      parseScheduleExpression(spec.expression, spec.timezone),
      after,
      spec.anchorMs,
      spec.timezone,
    );
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
