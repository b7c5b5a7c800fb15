/**
 * What deleting a session removes besides its record: for the session and each of its threads, the
 * event log (with its sequence counter), step records, emit-once markers, tool intents, outcome records,
 * fan-out plans, its skill catalog and its MCP tool lists. Callers delete these before the session record, so a delete that dies half way leaves the
 * session in place and the retried delete finishes the job — nothing is orphaned.
 */
import { emitOnceKey } from "../events/emit-once.js";
import type { EventLog } from "../events/event-log.js";
import { mcpToolListKey } from "../mcp/mcp-tool-lists.js";
import { outcomeKey } from "../outcomes/outcome-record.js";
import type { DocumentStore } from "../ports.js";
import { stepRecordKey } from "../runtime/step-record.js";
import { toolIntentKey } from "../runtime/tool-intents.js";
import { catalogKey } from "../skills/session-skills.js";
import { planKey } from "../threads/fanout-plan.js";

const runPartitions = (runId: string) => [
  stepRecordKey(runId),
  emitOnceKey(runId),
  toolIntentKey(runId),
  outcomeKey(runId),
  planKey(runId),
  catalogKey(runId).pk,
  mcpToolListKey(runId),
];

/** Deletes every item of one `resources` partition. */
export async function deletePartition(store: DocumentStore, pk: string): Promise<void> {
  for (;;) {
    const batch = await store.query("resources", pk, { limit: 100 });
    if (batch.length === 0) return;
    await Promise.all(batch.map((item) => store.delete("resources", pk, item.sk)));
  }
}

/** Deletes a run's (a session's or a thread's) data: its partitions, then its event log. */
export async function purgeRunData(
  store: DocumentStore,
  events: Pick<EventLog, "deleteAll">,
  runId: string,
): Promise<void> {
  for (const pk of runPartitions(runId)) await deletePartition(store, pk);
  await events.deleteAll(runId);
}
