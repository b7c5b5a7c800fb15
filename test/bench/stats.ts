/** Small timing helpers for the benchmark. */

/** Nearest-rank percentile of `values` (0 < p ≤ 100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

export const now = (): number => performance.now();

/** Rounds for display and JSON (3 significant decimals is plenty for ms). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export interface SystemResult {
  system: string;
  durable: boolean;
  sequential: {
    sessions: number;
    /** Wall ms per session, in run order. */
    sessionMs: number[];
    msPerStepP50: number;
    msPerStepP99: number;
    msPerStepMean: number;
    msPerSessionP50: number;
    msPerSessionP99: number;
    /** Process CPU (user + system) per step over the sequential loop. */
    cpuMsPerStep?: number;
    /** CPU time ÷ wall time over the sequential loop, % of one core. */
    cpuBusyPercent?: number;
  };
  concurrent: {
    sessions: number;
    /** Wall ms of each round. */
    rounds: number[];
    /** The median round's wall ms. */
    wallMs: number;
    stepsPerSecond: number;
  };
  notes: string[];
}

/** Summarises sequential session times (steps per session fixed) into per-step numbers. */
export function summariseSequential(
  sessionMs: number[],
  stepsPerSession: number,
): SystemResult["sequential"] {
  const perStep = sessionMs.map((ms) => ms / stepsPerSession);
  return {
    sessions: sessionMs.length,
    sessionMs: sessionMs.map((ms) => round(ms, 3)),
    msPerStepP50: round(percentile(perStep, 50), 3),
    msPerStepP99: round(percentile(perStep, 99), 3),
    msPerStepMean: round(mean(perStep), 3),
    msPerSessionP50: round(percentile(sessionMs, 50), 3),
    msPerSessionP99: round(percentile(sessionMs, 99), 3),
  };
}
