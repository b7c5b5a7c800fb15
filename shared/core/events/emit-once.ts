/**
 * Emits a group of events at most once per key, however often the caller is retried: the first
 * caller allocates sequences and records them under the key with `ifNotExists`; a retry finds the
 * record and re-writes the same events at the same sequences (which the log ignores).
 */
import type { SessionEvent } from "../../contract/sdk-types.js";
import { ConditionFailedError, type DocumentStore } from "../ports.js";
import type { EventInternals, EventLog, LoggedEvent } from "./event-log.js";

/** The partition of a run's emit-once markers. */
export const emitOnceKey = (sessionId: string) => `once#${sessionId}`;

export async function emitOnce(
  store: DocumentStore,
  log: EventLog,
  sessionId: string,
  key: string,
  events: SessionEvent[],
  options: { knownNew?: boolean; internals?: EventInternals[] } = {},
): Promise<LoggedEvent[]> {
  const pk = emitOnceKey(sessionId);
  // `knownNew`: the caller knows no earlier attempt can have used this key (saves a read).
  const recorded = options.knownNew ? undefined : await store.get("resources", pk, key);
  if (!recorded) {
    const first = await log.allocate(sessionId, events.length);
    const entries: LoggedEvent[] = events.map((event, i) => ({
      seq: first + i,
      event,
      internals: options.internals?.[i] ?? {},
    }));
    try {
      // The marker and its events in one group: if the marker is there already, so is its list.
      await log.write(sessionId, entries, {
        table: "resources",
        item: { pk, sk: key, entries },
        options: { ifNotExists: true },
      });
      return entries;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
  const stored = recorded ?? (await store.get("resources", pk, key));
  const entries = (stored?.entries ?? []) as LoggedEvent[];
  await log.write(sessionId, entries);
  return entries;
}
