/**
 * Recovers dreams whose job was lost or whose run crashed: every unfinished dream that no run holds
 * gets a new job (duplicates are harmless — a run claims the dream first); a dream past its timeout
 * is failed by the run that job starts; an ended dream still marked active is released.
 */
import { type DreamDeps, dreamJob } from "./dream-deps.js";
import { activeDreamsKey } from "./dream-record.js";

/** How long a fresh dream's first job has to start before the sweeper sends another. */
const firstJobGraceMs = 60_000;

/**
 * What the dream sweep runs on: the dream records and the jobs queue, not the dreams context — the
 * sweeper function composes only these (shared/runtime/dream-sweep-wiring.ts).
 */
export type DreamSweepDeps = Pick<DreamDeps, "store" | "dreams" | "jobs" | "clock">;

export async function sweepDreams(deps: DreamSweepDeps): Promise<{ checked: number; nudged: number }> {
  const entries = await deps.store.query("resources", activeDreamsKey);
  const now = deps.clock.now();
  let nudged = 0;
  for (const entry of entries) {
    const [workspaceId, dreamId] = String(entry.sk).split("#") as [string, string];
    const record = await deps.dreams.get(workspaceId, dreamId);
    if (!record) {
      await deps.store.delete("resources", activeDreamsKey, String(entry.sk));
      continue;
    }
    const leased = record.run.leaseUntil !== undefined && record.run.leaseUntil > now;
    const fresh = record.run.attempts === 0 && now - Date.parse(record.dream.created_at) < firstJobGraceMs;
    if (leased || fresh) continue;
    await deps.jobs.send(dreamJob(workspaceId, dreamId));
    nudged++;
  }
  return { checked: entries.length, nudged };
}
