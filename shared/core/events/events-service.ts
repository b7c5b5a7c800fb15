/**
 * Sending, listing and streaming a session's events. Sent events are written to the log first and
 * then wake the session; the step that follows reads them from the log (DESIGN.md §5).
 */
import { ApiError, ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { type EventListQuery, sendableEventSchema } from "../../contract/events.js";
import { idPrefix } from "../../contract/ids.js";
import type { DefineOutcomeParams } from "../../contract/outcomes.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import { parseBody } from "../../contract/validation.js";
import type { CredentialScope } from "../auth/api-keys.js";
import type { FilesService } from "../files/files-service.js";
import {
  checkOutcomesFit,
  checkRubricText,
  defineOutcome,
  outcomeEcho,
  validateOutcome,
} from "../outcomes/outcome-lifecycle.js";
import { rubricText } from "../outcomes/rubric-files.js";
import { collectPage, createdAtFilter, decodeCursor, type PageCursorBody } from "../paging.js";
import { wakeSession } from "../runtime/session-status.js";
import type { StepDeps } from "../runtime/step-deps.js";
import { stepMessage } from "../runtime/step-message.js";
import { checkWorkerResults, recordToolResult, workerResultArrived } from "../runtime/worker-hands.js";
import { isWorkerTool } from "../runtime/worker-tools.js";
import type { SessionRecord } from "../sessions/session-record.js";
import type { LoggedEvent, SentMark } from "./event-log.js";
import { type DeltaType, type PreviewedEntry, withPreviews } from "./event-previews.js";
import { capToolResultEvent } from "./result-size.js";
import { findEarlierAttempt, type SendAttempt, sentDigest } from "./send-attempts.js";

const unsupportedTypes = new Set(["system.message"]);
/** How long a follower that went past an unwritten sequence still delivers it when it is written. */
const OVERDUE_MS = 60 * 60_000;
/** A stream's look back at the log where it starts. */
const RECENT_PAGE = 100;

/**
 * The sequences up to `seq` that are not written (yet), going back as far as `recent` (one page of
 * the log, newest first, reaching down from `seq`) shows: a tool's result, whose place is taken when its
 * step commits and which is written when the tool is done. A stream starting after `seq` still
 * delivers them when they come.
 */
function unwrittenUpTo(recent: readonly LoggedEvent[], seq: number): number[] {
  const present = new Set(recent.map((e) => e.seq));
  // A full page may not reach the log's start: below its oldest event nothing is known.
  const from = recent.length >= RECENT_PAGE ? Math.min(...present) : 1;
  const missing: number[] = [];
  for (let s = Math.max(from, seq - RECENT_PAGE + 1); s <= seq; s++) if (!present.has(s)) missing.push(s);
  return missing;
}

/**
 * An event a follower yields. `resumeAfter`, on an event delivered late (below events already
 * delivered): where a client that saw it resumes — the follower's position, not the event's own
 * sequence, which would deliver the events after it a second time. Its SSE frame's `id:`.
 */
export type FollowedEvent = LoggedEvent & { resumeAfter?: number };

/** Where a stream starts, what ends it, and which previews (`event_deltas`) it wants. */
export interface StreamOptions {
  lastEventId?: number | string;
  signal?: AbortSignal;
  deltas?: ReadonlySet<DeltaType>;
}

/**
 * What a sessions token must not be shown unrecorded: a call a self-hosted worker runs, and an
 * `allow` confirmation (the worker holds an `ask` call until it sees one, then runs it). Every
 * `allow` counts, whichever call it confirms: recording too high a sequence only covers more.
 */
const isWorkerCall = (e: LoggedEvent) =>
  (e.event.type === "agent.tool_use" && isWorkerTool(e.event.name)) ||
  (e.event.type === "user.tool_confirmation" && e.event.result === "allow");

export class EventsService {
  constructor(
    private readonly deps: StepDeps,
    /** Reads file rubrics of `user.define_outcome`; without it they are a 400. */
    private readonly files?: FilesService,
  ) {}

  /**
   * Reads the rubric file of every `user.define_outcome` with `rubric: {type: "file"}` and checks its
   * text, before anything is written; the texts by event index.
   */
  async fileRubrics(
    workspaceId: string,
    events: readonly unknown[],
    root: string,
  ): Promise<Map<number, string>> {
    const texts = new Map<number, string>();
    for (const [i, event] of events.entries()) {
      const e = event as { type?: string; rubric?: { type?: string } };
      if (e.type !== "user.define_outcome" || e.rubric?.type !== "file") continue;
      const at = `${root}.${i}`;
      const text = await rubricText(this.files, workspaceId, event as DefineOutcomeParams, at);
      checkRubricText(text, `${at}.rubric`);
      texts.set(i, text);
    }
    return texts;
  }

  private async session(workspaceId: string, sessionId: string) {
    const record = await this.deps.sessions.get(workspaceId, sessionId);
    if (!record) throw new NotFoundError("session", sessionId);
    return record;
  }

  /**
   * Validates every event first (all or nothing), then records and acts on each in order. A send that
   * repeats an attempt whose answer was lost (`attempt`; see send-attempts.ts) writes nothing the
   * attempt wrote: it finishes what that attempt may not have done (the wake) and answers with the
   * stored events, as the attempt would have.
   */
  async send(
    workspaceId: string,
    sessionId: string,
    rawEvents: unknown[],
    scope?: CredentialScope,
    attempt: SendAttempt = { retry: false },
  ): Promise<{ data: SessionEvent[] }> {
    const record = await this.session(workspaceId, sessionId);
    if (record.session.status === "terminated") throw new InvalidRequestError("session is terminated");
    if (record.session.archived_at) throw new InvalidRequestError("session is archived");
    if (record.session.metadata?.reverie_dream_id)
      throw new InvalidRequestError(
        `session ${sessionId} belongs to dream ${record.session.metadata.reverie_dream_id} and takes no events: cancel the dream instead`,
      );
    const events = rawEvents.map((raw, i) => {
      const type = (raw as { type?: unknown } | null)?.type;
      if (typeof type === "string" && unsupportedTypes.has(type)) {
        throw new InvalidRequestError(`events.${i}.type: ${type} is not supported by this server yet`);
      }
      const event = parseBody(sendableEventSchema, raw, { root: `events.${i}` });
      if (event.type === "user.define_outcome") validateOutcome(event, `events.${i}`);
      // A worker's sessions token answers tool calls; it does not speak for the user.
      if (scope && event.type !== "user.tool_result")
        throw new ApiError(
          "permission_error",
          `events.${i}.type: a sessions token may only send user.tool_result`,
        );
      return event;
    });
    const digests = events.map(sentDigest);
    // Before the checks of the session's state: the earlier attempt changed it (a tool call it
    // answered is no longer awaited, and would be refused as a conflict).
    const now = this.deps.clock.now();
    const earlier = await findEarlierAttempt(this.deps.events, sessionId, digests, attempt, now);
    if (earlier.length > 0) await this.finishEarlier(workspaceId, sessionId, record, earlier);
    const done = earlier.length;
    if (done === events.length) return { data: earlier.map((e) => e.event) };

    // The events still to write (all of them, unless an earlier attempt died midway): `done + i`.
    const fresh = events.slice(done);
    checkOutcomesFit(record.session, fresh, "events");
    await checkWorkerResults(this.deps, record, fresh);
    const rubrics = await this.fileRubrics(workspaceId, fresh, "events");
    const awaiting = new Set(record.run.awaiting);
    for (const [i, event] of fresh.entries()) {
      const ref =
        event.type === "user.custom_tool_result"
          ? event.custom_tool_use_id
          : event.type === "user.tool_confirmation"
            ? event.tool_use_id
            : undefined;
      if (ref !== undefined && !awaiting.has(ref)) {
        throw new ConflictError(`events.${done + i}: the session is not waiting on event ${ref}`);
      }
    }

    const processedAt = new Date(now).toISOString();
    const written: SessionEvent[] = earlier.map((e) => e.event);
    // The attempt is named by its first event's id (an earlier attempt's, when this one finishes it).
    let group = earlier[0]?.internals.sent?.group;
    // The first change to the session starts from the record read above (its save is rev-checked);
    // after it, that record is out of date.
    let known: SessionRecord | undefined = done === 0 ? record : undefined;
    for (const [i, event] of fresh.entries()) {
      const full =
        event.type === "user.define_outcome"
          ? outcomeEcho(this.deps, event, processedAt)
          : ({ ...event, id: this.deps.ids.next(idPrefix.event), processed_at: processedAt } as SessionEvent);
      group ??= full.id;
      const index = done + i;
      const sent: SentMark = {
        group,
        index,
        count: events.length,
        digest: digests[index] as string,
        at: now,
        ...(attempt.idempotencyKey === undefined ? {} : { key: attempt.idempotencyKey }),
      };
      const rubric = rubrics.get(i);
      const [logged] =
        full.type === "user.tool_result"
          ? [await recordToolResult(this.deps, sessionId, capToolResultEvent(full), { sent })]
          : await this.deps.events.append(
              sessionId,
              [full],
              rubric === undefined ? { sent } : { rubricText: rubric, sent },
            );
      const entry = logged as LoggedEvent;
      written.push(entry.event);
      const from = known;
      known = undefined;
      await this.actOn(workspaceId, sessionId, entry, from);
    }
    return { data: written };
  }

  /** What a sent event sets going once it is in the log: a wake, an interrupt, an outcome. */
  private async actOn(workspaceId: string, sessionId: string, logged: LoggedEvent, from?: SessionRecord) {
    const { event, seq } = logged;
    if (event.type === "user.define_outcome")
      await defineOutcome(this.deps, workspaceId, sessionId, event, seq, logged.internals.rubricText);
    else if (event.type === "user.interrupt") await this.interrupt(workspaceId, sessionId, seq);
    else if (event.type === "user.message")
      await wakeSession(this.deps, workspaceId, sessionId, seq, "*", from);
    else if (event.type === "user.custom_tool_result")
      await wakeSession(this.deps, workspaceId, sessionId, seq, event.custom_tool_use_id, from);
    else if (event.type === "user.tool_confirmation")
      await wakeSession(this.deps, workspaceId, sessionId, seq, event.tool_use_id, from);
    else if (event.type === "user.tool_result")
      await workerResultArrived(this.deps, workspaceId, sessionId, seq, event.tool_use_id);
  }

  /**
   * Does for an earlier attempt's events what that attempt may have died before doing. It acted on
   * them in order, each change a save of the session, so `record` (read before this retry touched
   * anything) tells how far it got: an input it took in raised `lastInputSeq` to its sequence (or a
   * later input did, whose wake covers it), an interrupt set `interruptSeq`. Acting again on input
   * taken in would wake a session whose turn may be over, for nothing new. An outcome is defined
   * again always: its entry and its wake are two writes (a death between them leaves it listed as
   * running with nobody at work), and defineOutcome, idempotent, only redoes the wake of a running one.
   */
  private async finishEarlier(
    workspaceId: string,
    sessionId: string,
    record: SessionRecord,
    earlier: readonly LoggedEvent[],
  ) {
    let known: SessionRecord | undefined = record;
    for (const logged of earlier) {
      const { event, seq } = logged;
      const acted =
        event.type === "user.interrupt"
          ? record.run.interruptSeq >= seq
          : event.type !== "user.define_outcome" && record.run.lastInputSeq >= seq;
      if (acted) continue;
      const from = known;
      known = undefined;
      await this.actOn(workspaceId, sessionId, logged, from);
    }
  }

  /** Marks the interrupt; a running step honours it at its next decision point. */
  private async interrupt(workspaceId: string, sessionId: string, seq: number) {
    const saved = await this.deps.sessions.mutate(workspaceId, sessionId, (current) => {
      current.run.interruptSeq = seq;
      if (current.session.status === "idle") {
        current.run.interruptHandledSeq = seq;
        current.run.awaiting = [];
      }
      return current;
    });
    // A step waiting on a worker holds no lease: nudge it, so it honours the interrupt now.
    const after = saved?.after;
    if (after?.run.workerWait && after.session.status === "running" && after.run.leaseOwner === undefined)
      await this.deps.steps.send(stepMessage(workspaceId, sessionId, after.run.stepSeq));
    // Outside work the run started (a coordinator's fan-out) stops, so the run resumes to honour
    // the interrupt (a crash here is finished by the sweeper's re-nudge of a parked run).
    if (after)
      for (const extension of this.deps.extensions ?? []) await extension.interrupted?.(this.deps, after);
  }

  /**
   * A page of a session's events. A worker's sessions token (`scope`) is shown the worker calls on the
   * page only once its work item records them (`noteDelivered`): whoever is handed the item next must
   * know which calls this worker may have run.
   */
  async list(
    workspaceId: string,
    sessionId: string,
    query: EventListQuery,
    scope?: CredentialScope,
  ): Promise<PageCursorBody<SessionEvent>> {
    await this.session(workspaceId, sessionId);
    let lastCall = 0;
    const page = await this.listLog(sessionId, query, (e) => {
      if (isWorkerCall(e)) lastCall = Math.max(lastCall, e.seq);
    });
    if (
      scope?.kind === "session" &&
      lastCall > 0 &&
      !(await this.noteDelivered(workspaceId, scope, lastCall))
    )
      throw new ApiError("authentication_error", "this sessions token no longer holds its work item's lease");
    return page;
  }

  private async noteDelivered(workspaceId: string, scope: CredentialScope, seq: number): Promise<boolean> {
    if (scope.kind !== "session" || !this.deps.work?.noteDelivered) return true;
    return this.deps.work.noteDelivered(workspaceId, scope, seq);
  }

  /**
   * A page of one event log (a session's, or a thread's: `logId` is its id); the caller checked
   * access. `shown` sees each entry the page holds.
   */
  listLog(
    logId: string,
    query: EventListQuery,
    shown?: (entry: LoggedEvent) => void,
  ): Promise<PageCursorBody<SessionEvent>> {
    const inRange = createdAtFilter(query);
    const types = query.types ? new Set(query.types) : undefined;
    return collectPage<LoggedEvent, SessionEvent>({
      limit: query.limit,
      start: decodeCursor(query.page, "number") as number | undefined,
      read: (cursor, batch) =>
        this.deps.events.read(logId, {
          order: query.order,
          limit: batch,
          ...(query.order === "asc"
            ? { after: cursor as number | undefined }
            : { before: cursor as number | undefined }),
        }),
      keyOf: (e) => e.seq,
      keep: (e) =>
        (!types || types.has(e.event.type)) && inRange((e.event as { processed_at?: string }).processed_at),
      map: (e) => {
        shown?.(e);
        return e.event;
      },
    });
  }

  /**
   * Opens a live stream of a session's events (404 for an unknown session): after `lastEventId`
   * when the client resumes, else after the last event allocated now — fixed before the response
   * opens, so an event sent right after the client sees the stream open is never missed.
   */
  async openStream(
    workspaceId: string,
    sessionId: string,
    options: StreamOptions,
    scope?: CredentialScope,
  ): Promise<AsyncGenerator<PreviewedEntry<FollowedEvent | "heartbeat">>> {
    await this.session(workspaceId, sessionId);
    const stream = await this.streamLog(sessionId, options, async () => {
      await this.session(workspaceId, sessionId);
    });
    return scope?.kind === "session"
      ? this.recordingDelivery(workspaceId, scope, stream, options.signal)
      : stream;
  }

  /**
   * A worker's stream (as `list`): each worker call is recorded on the work item before it is sent,
   * and the stream ends once the token no longer holds its item, so a worker that lost its lease is
   * not shown calls the next one will run.
   */
  private async *recordingDelivery(
    workspaceId: string,
    scope: CredentialScope,
    stream: AsyncGenerator<PreviewedEntry<FollowedEvent | "heartbeat">>,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<PreviewedEntry<FollowedEvent | "heartbeat">> {
    for await (const entry of stream) {
      if (typeof entry === "object" && "seq" in entry && isWorkerCall(entry)) {
        // A worker that is gone (its connection closed) is not shown it: nothing to record.
        if (signal?.aborted) return;
        if (!(await this.noteDelivered(workspaceId, scope, entry.seq))) return;
      }
      yield entry;
    }
  }

  /**
   * Follows one event log (a session's or a thread's) from `lastEventId`, else from the last event
   * allocated now, with the previews `deltas` asks for merged in; the caller checked access, and
   * `check` checks it again while the stream is idle (it throws once the session or thread is gone).
   */
  async streamLog(
    logId: string,
    options: StreamOptions,
    check?: () => Promise<void>,
  ): Promise<AsyncGenerator<PreviewedEntry<FollowedEvent | "heartbeat">>> {
    // The stream starts after `afterSeq`; `recent`: a page of the log, newest first, reaching down from it.
    let afterSeq: number;
    let recent: LoggedEvent[];
    if (typeof options.lastEventId === "string") {
      // An event id (`sevt_…`): resume after that event.
      const id = options.lastEventId;
      const found = await this.seqOfEvent(logId, id);
      if (found === undefined)
        throw new InvalidRequestError(`Last-Event-ID: ${id.slice(0, 64)} is not an event of this stream`);
      ({ seq: afterSeq, recent } = found);
    } else {
      const last = await this.deps.events.lastAllocated(logId);
      afterSeq = options.lastEventId ?? last;
      // A place the log has not reached (another log's, a client's bug): the stream would wait
      // there and pass over every event up to it.
      if (afterSeq > last)
        throw new InvalidRequestError(`Last-Event-ID: ${afterSeq} is past the last event of this stream`);
      recent =
        afterSeq > 0
          ? await this.deps.events.read(logId, { order: "desc", before: afterSeq + 1, limit: RECENT_PAGE })
          : [];
    }
    const overdue = unwrittenUpTo(recent, afterSeq);
    const followed = this.follow(logId, { afterSeq, overdue, signal: options.signal, check });
    const previews = this.deps.notifier.previews;
    return withPreviews(followed, previews, logId, options.deltas ?? new Set(), options.signal);
  }

  /**
   * The sequence number of event `id` in a log, looked for from the newest event back, a page at a
   * time: a stream resumes near the end of its log, so a long session is not read whole. With it, the
   * page it was found in (newest first).
   */
  private async seqOfEvent(
    logId: string,
    id: string,
  ): Promise<{ seq: number; recent: LoggedEvent[] } | undefined> {
    let before: number | undefined;
    for (;;) {
      const page = await this.deps.events.read(logId, { order: "desc", limit: RECENT_PAGE, before });
      const found = page.find((e) => e.event.id === id);
      if (found) return { seq: found.seq, recent: page };
      if (page.length < RECENT_PAGE) return undefined;
      before = (page.at(-1) as LoggedEvent).seq;
    }
  }

  /**
   * Follows a session's events from after `afterSeq`: yields each event once, as it is written, in
   * order. A sequence that was allocated but is not written yet (a writer between the two) is waited
   * for briefly, so a follower does not pass an event that is about to appear. Past that wait (a
   * tool's result whose place was taken at its step's commit, and a later event written meanwhile),
   * the follower goes on, and delivers the overdue event when it is written, out of order rather
   * than never, for up to an hour. `overdue`: such sequences at or below `afterSeq`. The caller has
   * checked that the session exists (see `openStream`); `check`, run before each heartbeat, throws
   * once it is gone (deleted): its log will never grow again, and the stream ends rather than
   * sending heartbeats for as long as the client stays.
   */
  async *follow(
    sessionId: string,
    options: {
      afterSeq: number;
      overdue?: readonly number[];
      signal?: AbortSignal;
      gapWaitMs?: number;
      heartbeatMs?: number;
      check?: () => Promise<void>;
    },
  ): AsyncGenerator<FollowedEvent | "heartbeat"> {
    let cursor = options.afterSeq;
    let gapSince: number | undefined;
    let lastYield = this.deps.clock.now();
    // Passed sequences still awaited, with when the follower stops awaiting each.
    const overdue = new Map<number, number>();
    const awaitOverdue = (seq: number) => overdue.set(seq, this.deps.clock.now() + OVERDUE_MS);
    for (const seq of options.overdue ?? []) awaitOverdue(seq);
    const arrived: LoggedEvent[] = [];
    // Events written in this process arrive pushed and are served without a read; the table is read
    // to catch up, to fill a gap, and when a wait times out (a write from another process).
    const pushed = new Map<number, LoggedEvent>();
    const unsubscribe = this.deps.notifier.subscribe(sessionId, (written) => {
      for (const entry of written as LoggedEvent[]) {
        if (entry.seq > cursor) pushed.set(entry.seq, entry);
        else if (overdue.delete(entry.seq)) arrived.push(entry);
      }
    });
    let mustRead = true;
    try {
      while (!options.signal?.aborted) {
        for (let late = arrived.shift(); late; late = arrived.shift()) {
          lastYield = this.deps.clock.now();
          yield { ...late, resumeAfter: cursor };
        }
        for (let next = pushed.get(cursor + 1); next; next = pushed.get(cursor + 1)) {
          pushed.delete(next.seq);
          cursor = next.seq;
          gapSince = undefined;
          lastYield = this.deps.clock.now();
          yield next;
        }
        if (mustRead || pushed.size > 0) {
          // Passed events written since by another process first: nearer their place.
          for (const late of await this.overdueWritten(sessionId, overdue)) {
            lastYield = this.deps.clock.now();
            yield { ...late, resumeAfter: cursor };
          }
          const batch = await this.deps.events.read(sessionId, { after: cursor, limit: 100 });
          let progressed = false;
          for (const entry of batch) {
            if (entry.seq !== cursor + 1) {
              const now = this.deps.clock.now();
              gapSince ??= now;
              if (now - gapSince < (options.gapWaitMs ?? 1500)) break;
              for (let seq = cursor + 1; seq < entry.seq; seq++) awaitOverdue(seq);
            }
            gapSince = undefined;
            cursor = entry.seq;
            progressed = true;
            lastYield = this.deps.clock.now();
            yield entry;
          }
          for (const seq of pushed.keys()) if (seq <= cursor) pushed.delete(seq);
          mustRead = progressed && batch.length === 100;
          if (mustRead) continue;
        }
        if (pushed.has(cursor + 1) || arrived.length > 0) continue;
        if (this.deps.clock.now() - lastYield >= (options.heartbeatMs ?? 15_000)) {
          await options.check?.();
          lastYield = this.deps.clock.now();
          yield "heartbeat";
        }
        const waitMs = gapSince !== undefined || pushed.size > 0 ? 50 : 1000;
        const notified = await this.deps.notifier.wait(sessionId, waitMs, options.signal);
        if (!notified) mustRead = true;
      }
    } finally {
      unsubscribe();
    }
  }

  /** The awaited sequences written since (another process's writes), taken out of `overdue`. */
  private async overdueWritten(logId: string, overdue: Map<number, number>): Promise<LoggedEvent[]> {
    const now = this.deps.clock.now();
    for (const [seq, until] of overdue) if (until <= now) overdue.delete(seq);
    if (overdue.size === 0) return [];
    const seqs = [...overdue.keys()];
    const before = Math.max(...seqs) + 1;
    const found: LoggedEvent[] = [];
    for (let after = Math.min(...seqs) - 1; ; ) {
      const page = await this.deps.events.read(logId, { after, before, limit: 100 });
      found.push(...page.filter((e) => overdue.delete(e.seq)));
      if (page.length < 100 || overdue.size === 0) return found;
      after = (page.at(-1) as LoggedEvent).seq;
    }
  }
}
