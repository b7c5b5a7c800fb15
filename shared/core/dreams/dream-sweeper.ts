/**
 * Recovers dreams whose job was lost or whose run crashed: every unfinished dream that no run holds
 * gets a new job (duplicates are harmless — a run claims the dream first); a dream past its timeout
 * is failed by the run that job starts; an ended dream still marked active is released; a marker
 * whose dream was never written (its create died between the two) is dropped once it is stale.
 */

import { isTerminalDreamStatus } from "../../contract/dreams.js";
import { type DreamDeps, dreamJob } from "./dream-deps.js";
import { activeDreamMarker, activeDreamsKey } from "./dream-record.js";

/**
 * How long a fresh dream's first job has to start before the sweeper sends another, and how long a
 * marker may wait for its dream's record before it counts as left by a create that died.
 */
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
      // A create writes the marker before the record: a young marker may be a create in progress,
      // whose dream would be invisible here if its marker went now.
      if (now - Number(entry.createdAt ?? 0) >= firstJobGraceMs)
        await dropStaleMarker(deps, workspaceId, dreamId, String(entry.sk));
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

/**
 * Drops the marker of a dream whose record never came. The store has no conditional delete, and the
 * dream's id may come back: a schedule's firing chooses it up front, and its redelivery writes the
 * marker again, then the record, then looks for the marker. So the delete is followed by a second
 * look for the record, and a dream found there gets its marker back: either this look sees the
 * record, or the create's look (after its record) sees the marker gone. Never a dream the sweeper
 * cannot see.
 */
async function dropStaleMarker(deps: DreamSweepDeps, workspaceId: string, dreamId: string, sk: string) {
  await deps.store.delete("resources", activeDreamsKey, sk);
  const record = await deps.dreams.get(workspaceId, dreamId);
  if (record && !isTerminalDreamStatus(record.dream.status))
    await deps.store.put("resources", activeDreamMarker(workspaceId, dreamId, deps.clock.now()));
}
