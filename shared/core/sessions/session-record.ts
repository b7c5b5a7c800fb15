/**
 * The stored session: the SDK-visible session document plus the runtime's durable run state.
 * Run state carries a schemaVersion and is validated on read (DESIGN.md §9).
 */
import * as z from "zod/mini";
import "../../contract/zod-mini.js";
import type { Session } from "../../contract/sdk-types.js";
import { ConditionFailedError, type DocumentStore, type GroupedPut, type StoredItem } from "../ports.js";

export const runStateSchema = z.object({
  schemaVersion: z.literal(1),
  /** The step the session expects next; a queue message for any other step is stale. */
  stepSeq: z.number().check(z.int(), z.minimum(0)),
  /** A step holds the session while `leaseUntil` (epoch ms) is in the future. */
  leaseUntil: z.optional(z.number()),
  leaseOwner: z.optional(z.string()),
  /** Claims of the current step so far: on the first there can be no step record or marker yet. */
  stepClaims: z._default(z.number().check(z.int(), z.minimum(0)), 0),
  /** Model-call attempts already made for the current step (for backoff). */
  attempt: z.number().check(z.int(), z.minimum(0)),
  /** Highest event sequence the last model call saw. */
  watermark: z.number().check(z.int(), z.minimum(0)),
  /** Highest sequence of a user event that asks the agent to act (message, tool result, confirmation). */
  lastInputSeq: z.number().check(z.int(), z.minimum(0)),
  /** Highest sequence of a user.interrupt, and the highest one already honoured. */
  interruptSeq: z.number().check(z.int(), z.minimum(0)),
  interruptHandledSeq: z.number().check(z.int(), z.minimum(0)),
  /** Event ids the session waits on while idle with `requires_action`. */
  awaiting: z.array(z.string()),
  /** The sweeper may re-nudge a running session with no live lease after this time (epoch ms). */
  nudgeAfter: z.optional(z.number()),
  /** Epoch ms when the session last went running (for active_seconds). */
  runningSince: z.optional(z.number()),
  activeMs: z.number().check(z.minimum(0)),
  /** Set while the grader evaluates an outcome: agent steps wait, the sweeper re-nudges the grader. */
  grading: z.optional(
    z.object({
      outcomeId: z.string(),
      iteration: z.number().check(z.int(), z.minimum(0)),
      /**
       * Attempts of this evaluation that failed so far: a retryable model error, or anything else
       * before the verdict was pinned (for backoff, and to end it `failed` after the last).
       */
      attempt: z._default(z.number().check(z.int(), z.minimum(0)), 0),
      /**
       * Claims of this evaluation so far. A claim that ended without an attempt counted or a verdict
       * pinned is a process that died mid-grade (killed, timed out, out of memory): no error was
       * caught to count it, so claims beyond the attempts count those.
       */
      claims: z._default(z.number().check(z.int(), z.minimum(0)), 0),
      leaseUntil: z.optional(z.number()),
      leaseOwner: z.optional(z.string()),
    }),
  ),
  /** A run parked by step `parkedStep`: it waits (running, no lease) for work outside the loop. */
  parkedStep: z.optional(z.number().check(z.int(), z.minimum(0))),
  /** The extension that parked it and resumes it (run-extension.ts; `threads` for a fan-out). */
  parkedBy: z.optional(z.string()),
  /** Each child thread's cumulative usage, counted into the session's usage and budget (threads). */
  threadUsage: z.optional(z.record(z.string(), z.any())),
  /** Who runs the toolset: absent = the server (cloud); `worker` = a self-hosted environment's worker. */
  hands: z.optional(z.literal("worker")),
  /** A step waiting for a worker's `user.tool_result`s: since when, and which calls are still open. */
  workerWait: z.optional(z.object({ since: z.number(), toolUseIds: z.array(z.string()) })),
});
export type RunState = z.infer<typeof runStateSchema>;

/** Run state written before the run kernel: a coordinator's `fanoutStep` is a run parked by `threads`. */
function fromEarlierRunState(run: unknown): unknown {
  if (typeof run !== "object" || run === null || !("fanoutStep" in run)) return run;
  const { fanoutStep, ...rest } = run as { fanoutStep?: number };
  return fanoutStep === undefined ? rest : { ...rest, parkedStep: fanoutStep, parkedBy: "threads" };
}

export function newRunState(): RunState {
  return {
    schemaVersion: 1,
    stepSeq: 0,
    stepClaims: 0,
    attempt: 0,
    watermark: 0,
    lastInputSeq: 0,
    interruptSeq: 0,
    interruptHandledSeq: 0,
    awaiting: [],
    activeMs: 0,
  };
}

/** A session as stored: the document clients see (stats computed on read) and its run state. */
export interface SessionRecord {
  workspaceId: string;
  session: Session;
  run: RunState;
  rev: number;
  /** Set on a child thread's record (threads/thread-record.ts); validated there. */
  thread?: unknown;
}

export const sessionKey = (workspaceId: string) => `ws#${workspaceId}#session`;

/** Reads and writes session records with optimistic concurrency on `rev`. */
export class SessionRepository {
  /**
   * `keyOf` picks the partition: sessions by default; a session's child threads use their own, and
   * name that session (`parentSessionId`), which their entries in the sweeper's index carry.
   */
  constructor(
    private readonly store: DocumentStore,
    private readonly keyOf: (workspaceId: string) => string = sessionKey,
    readonly parentSessionId?: string,
  ) {}

  async get(workspaceId: string, sessionId: string): Promise<SessionRecord | undefined> {
    const item = await this.store.get("resources", this.keyOf(workspaceId), sessionId);
    if (!item) return undefined;
    return fromItem(workspaceId, item);
  }

  /** Creates a new record; fails if one exists. */
  async create(record: Omit<SessionRecord, "rev">): Promise<SessionRecord> {
    const stored = { ...record, rev: 1 };
    await this.store.put("resources", toItem(stored, this.keyOf), { expectedRev: 0 });
    return stored;
  }

  /**
   * Writes `record` if nobody changed it since it was read; throws ConditionFailedError otherwise.
   * `alongside`: puts written with the record in one group, ahead of it — all or none where the
   * store has transactions (SQLite); on DynamoDB they land first, so each must be harmless alone
   * (a crash before the record, or a failed rev check, leaves them without the change).
   */
  async save(record: SessionRecord, alongside: readonly GroupedPut[] = []): Promise<SessionRecord> {
    const next = { ...record, rev: record.rev + 1 };
    const put: GroupedPut = {
      table: "resources",
      item: toItem(next, this.keyOf),
      options: { expectedRev: record.rev },
    };
    if (alongside.length === 0) await this.store.put(put.table, put.item, put.options);
    else await this.store.putAll([...alongside, put]);
    return next;
  }

  /**
   * Read-modify-write with retries on concurrent change. `change` returns the new record, or
   * undefined to leave it as it is; it may run several times, so it must be pure. With `from` (a
   * record the caller read moments ago) the first attempt starts from it instead of reading again:
   * the save is rev-checked all the same, so a change made since — or a `change` that finds nothing
   * to do on `from` — falls back to the usual read-modify-write. `alongside` names the puts that go
   * in the same group as a save, from the record before and after the change.
   */
  async mutate(
    workspaceId: string,
    sessionId: string,
    change: (current: SessionRecord) => SessionRecord | undefined,
    options: {
      from?: SessionRecord;
      alongside?: (before: SessionRecord, after: SessionRecord) => GroupedPut[];
    } = {},
  ): Promise<{ before: SessionRecord; after: SessionRecord } | undefined> {
    const known = options.from;
    const saveOver = (before: SessionRecord, changed: SessionRecord) =>
      this.save(changed, options.alongside?.(before, changed));
    const changed = known && change(structuredClone(known));
    if (known && changed) {
      try {
        return { before: known, after: await saveOver(known, changed) };
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.get(workspaceId, sessionId);
      if (!current) return undefined;
      const changed = change(structuredClone(current));
      if (!changed) return { before: current, after: current };
      try {
        return { before: current, after: await saveOver(current, changed) };
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    throw new Error(`session ${sessionId}: too much contention`);
  }

  async list(
    workspaceId: string,
    options: { after?: string; before?: string; order: "asc" | "desc"; limit: number },
  ) {
    const items = await this.store.query("resources", this.keyOf(workspaceId), options);
    return items.map((i) => fromItem(workspaceId, i));
  }
}

function toItem(record: SessionRecord, keyOf: (workspaceId: string) => string): StoredItem {
  const item: StoredItem = {
    pk: keyOf(record.workspaceId),
    sk: record.session.id,
    rev: record.rev,
    session: record.session,
    run: record.run,
  };
  if (record.thread !== undefined) item.thread = record.thread;
  return item;
}

function fromItem(workspaceId: string, item: StoredItem): SessionRecord {
  return {
    workspaceId,
    session: item.session as Session,
    run: runStateSchema.parse(fromEarlierRunState(item.run)),
    rev: Number(item.rev),
    ...(item.thread !== undefined ? { thread: item.thread } : {}),
  };
}

/** A new session's (or thread's) token usage: nothing spent yet. */
export function emptySessionUsage() {
  return {
    input_tokens: 0,
    output_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
  };
}
