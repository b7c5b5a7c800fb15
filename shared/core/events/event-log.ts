/**
 * A session's event log: the truth about what happened, one item per event, keyed by a numeric
 * sequence. Sequences are allocated with an atomic counter and written with `ifNotExists`, so a
 * retried writer that re-writes the same (sequence, event) pair changes nothing.
 */
import type { SessionEvent } from "../../contract/sdk-types.js";
import type { DocumentStore, EventNotifier, GroupedPut, StoredItem } from "../ports.js";

/**
 * The mark of an event a user sent (in its internals): which attempt of which request wrote it, so
 * that a retry of the request is recognised (send-attempts.ts).
 */
export interface SentMark {
  /** The id of the attempt's first event: names the attempt. */
  group: string;
  /** The event's place in the request, and the request's number of events. */
  index: number;
  count: number;
  /** SHA-256 of the parsed event as sent (`sentDigest`). */
  digest: string;
  /** When the attempt was made (epoch ms). */
  at: number;
  /** The request's `Idempotency-Key`. */
  key?: string;
}

/** What the runtime keeps beside an event but never shows a client. */
export interface EventInternals {
  /** The model's own content blocks of an assistant turn (on `span.model_request_end`). */
  assistantContent?: unknown[];
  /** The model's tool_use id behind an `agent.tool_use` / `agent.custom_tool_use` event. */
  toolUseId?: string;
  /** The step that wrote the event. */
  stepSeq?: number;
  /** A file rubric's text as read when its `user.define_outcome` was sent (shown to the agent). */
  rubricText?: string;
  /** A workflow run's result as its agent reads it (on `workflow_run.status_ended`). */
  workflowResult?: string;
  /** On an event a user sent: which send wrote it, so that the send's retry is recognised. */
  sent?: SentMark;
}

export interface LoggedEvent {
  seq: number;
  event: SessionEvent;
  internals: EventInternals;
}

export class EventLog {
  constructor(
    private readonly store: DocumentStore,
    private readonly notifier: EventNotifier,
  ) {}

  /** Reserves `count` consecutive sequence numbers for a session and returns the first. */
  async allocate(sessionId: string, count: number): Promise<number> {
    const last = await this.store.increment("resources", `seq#${sessionId}`, "seq", "value", count);
    return last - count + 1;
  }

  /**
   * Writes events at their sequences. Unconditional and idempotent: a sequence is allocated to one
   * event only, so a retried writer puts the very same item again. With `guard` — the record that
   * names these events, put under its condition (a step record, an emit-once marker) — the guard
   * goes first in one group of writes: if its condition fails, ConditionFailedError is thrown and
   * none of the events is written (the caller writes the ones the stored guard names).
   */
  async write(sessionId: string, entries: LoggedEvent[], guard?: GroupedPut): Promise<void> {
    const items: StoredItem[] = entries.map((e) => ({
      pk: sessionId,
      sk: e.seq,
      event: e.event,
      internals: e.internals,
    }));
    if (guard) await this.store.putAll([guard, ...items.map((item) => ({ table: "events" as const, item }))]);
    else if (items.length === 1) await this.store.put("events", items[0] as StoredItem);
    else if (items.length > 1) await this.store.putMany("events", items);
    if (entries.length > 0) this.notifier.notify(sessionId, entries);
  }

  /** Allocates sequences for `events` and writes them; returns them as logged. */
  async append(
    sessionId: string,
    events: SessionEvent[],
    internals: EventInternals = {},
  ): Promise<LoggedEvent[]> {
    if (events.length === 0) return [];
    const first = await this.allocate(sessionId, events.length);
    const entries = events.map((event, i) => ({ seq: first + i, event, internals }));
    await this.write(sessionId, entries);
    return entries;
  }

  async exists(sessionId: string, seq: number): Promise<boolean> {
    return (await this.store.get("events", sessionId, seq)) !== undefined;
  }

  /** Events in sequence order, optionally after/before a sequence and limited. */
  async read(
    sessionId: string,
    options: { after?: number; before?: number; limit?: number; order?: "asc" | "desc" } = {},
  ): Promise<LoggedEvent[]> {
    const items = await this.store.query("events", sessionId, options);
    return items.map(toLogged);
  }

  /** The highest sequence allocated so far (0 when none). */
  async lastAllocated(sessionId: string): Promise<number> {
    const item = await this.store.get("resources", `seq#${sessionId}`, "seq");
    return typeof item?.value === "number" ? item.value : 0;
  }

  /** Deletes every event of a session (session delete). */
  async deleteAll(sessionId: string): Promise<void> {
    for (;;) {
      const batch = await this.store.query("events", sessionId, { limit: 200 });
      if (batch.length === 0) break;
      await Promise.all(batch.map((item) => this.store.delete("events", sessionId, item.sk)));
    }
    await this.store.delete("resources", `seq#${sessionId}`, "seq");
  }
}

function toLogged(item: StoredItem): LoggedEvent {
  return {
    seq: Number(item.sk),
    event: item.event as SessionEvent,
    internals: (item.internals ?? {}) as EventInternals,
  };
}
