/**
 * The embedded stack's stand-in for EventBridge Scheduler: one wall-clock timer per armed entry,
 * re-armed after every firing from the time it was due. Each firing is handed the time it was due
 * (like `<aws.scheduler.scheduled-time>`), so the receiver can deduplicate by it. What an entry
 * means — dream schedule, deployment — is up to the adapter that arms it.
 */

/** Longest delay setTimeout takes; a longer wait is taken in steps. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface WallClockEntry {
  /** When the entry next fires strictly after `afterMs` (epoch ms); Infinity: never. */
  nextAfter(afterMs: number): number;
  /** Called at (or just after) each due time, with it. */
  fire(dueMs: number): Promise<unknown>;
}

export class LocalWallClock {
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; generation: number }>();
  private generation = 0;
  private stopped = false;

  constructor(
    private readonly onError: (error: unknown) => void = () => {},
    /** The clock due times are read against (tests skew it to make a minute come sooner). */
    readonly now: () => number = Date.now,
  ) {}

  /** Arms (or re-arms) `key`, replacing whatever was armed under it. */
  arm(key: string, entry: WallClockEntry, after = this.now()): void {
    this.disarm(key);
    this.schedule(key, entry, after);
  }

  disarm(key: string): void {
    const armed = this.timers.get(key);
    if (armed) clearTimeout(armed.timer);
    this.timers.delete(key);
  }

  /** Whether `key` is armed. */
  armed(key: string): boolean {
    return this.timers.has(key);
  }

  stop(): void {
    this.stopped = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  private schedule(key: string, entry: WallClockEntry, after: number): void {
    if (this.stopped) return;
    const due = entry.nextAfter(after);
    if (!Number.isFinite(due)) return;
    const generation = ++this.generation;
    const wait = Math.max(0, due - this.now());
    const timer = setTimeout(
      () => {
        if (this.timers.get(key)?.generation !== generation) return;
        if (due > this.now()) return this.schedule(key, entry, after); // a clamped long wait: not due yet
        entry
          .fire(due)
          .catch(this.onError)
          .finally(() => {
            if (this.timers.get(key)?.generation === generation) this.schedule(key, entry, due);
          });
      },
      Math.min(wait, MAX_TIMEOUT_MS),
    );
    timer.unref?.();
    this.timers.set(key, { timer, generation });
  }
}
