/**
 * A child thread is stored as a run record like a session's (same RunState, same step loop) in its
 * session's own partition `thread#<sessionId>`, keyed by its `sthr_` id; what only a thread has —
 * its roster name, archive time, the dispatch it is answering — is {@link ThreadMeta}.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { EventLog } from "../events/event-log.js";
import type { DocumentStore } from "../ports.js";
import { purgeRunData } from "../sessions/session-purge.js";
import { type SessionRecord, SessionRepository } from "../sessions/session-record.js";

export const threadsKey = (sessionId: string) => `thread#${sessionId}`;

/** The dispatch a thread is working on or last answered: at most one at a time. */
const dispatchSchema = lazySchema(() =>
  z.object({
    /** The coordinator step that dispatched it. */
    fanoutKey: z.string(),
    toolUseEventId: z.string(),
    /** The current task token (a restarted execution brings a new one). */
    taskToken: z.string().optional(),
    /** Extension: the thread's own token budget for this dispatch (input + output tokens). */
    tokenBudget: z.number().int().positive().optional(),
    /** Usage of the thread when the dispatch started, to apply `tokenBudget` to this dispatch only. */
    startTokens: z.number().int().min(0).default(0),
    /**
     * The first step of the thread sure to read this dispatch's message: its step then, or the next
     * one if a step was under way (it may have read the log before the message). A turn that ends
     * before it began before the task and cannot answer it (a cancelled task's turn ending late).
     */
    fromStep: z.number().int().min(0).optional(),
    /** The task's message while it waits for the earlier turn to end (then logged, `dispatch#<key>`). */
    pendingMessage: z.string().optional(),
    /** Set when siblings are cancelled (failure policy `cancel_siblings`). */
    cancelled: z.boolean().optional(),
    /** Why it was cancelled (a failed sibling, the coordinator's interrupt, its fan-out giving up). */
    cancelReason: z.string().optional(),
    outcome: z
      .object({
        ok: z.boolean(),
        reply: z.string().optional(),
        error: z.string().optional(),
        /** The thread's stop reason (SDK shape), for the primary stream's `session.thread_status_idle`. */
        stop: z.record(z.string(), z.unknown()).optional(),
      })
      .optional(),
    /** Set once the task was answered; until then a crash is finished by the sweeper. */
    answered: z.boolean().optional(),
  }),
);

export const threadMetaSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    sessionId: z.string(),
    agentName: z.string(),
    /**
     * What runs the thread: a saved agent (absent: the default), an inline agent the model defined
     * (multiagent_20261001; it has no Agent resource), or an advisor consultation.
     */
    agentKind: z.enum(["agent", "inline", "advisor"]).optional(),
    /** The workflow run that created the thread (core/workflows); absent for any other thread. */
    workflowRunId: z.string().optional(),
    parentThreadId: z.string().nullable(),
    archivedAt: z.string().nullable(),
    dispatch: dispatchSchema.optional(),
  }),
);
export type ThreadMeta = z.infer<typeof threadMetaSchema>;
export type ThreadDispatch = z.infer<typeof dispatchSchema>;

/** A session's child threads, as run records (get / mutate / list work as for sessions). */
export function threadRepository(store: DocumentStore, sessionId: string): SessionRepository {
  return new SessionRepository(store, () => threadsKey(sessionId), sessionId);
}

/** The validated thread fields of a thread's run record. */
export function metaOf(record: SessionRecord): ThreadMeta {
  return threadMetaSchema.parse(record.thread);
}

/** Deletes a session's child threads and all their run data (session delete). */
export async function deleteThreads(
  store: DocumentStore,
  events: Pick<EventLog, "deleteAll">,
  workspaceId: string,
  sessionId: string,
): Promise<void> {
  const threads = threadRepository(store, sessionId);
  for (;;) {
    const batch = await threads.list(workspaceId, { order: "asc", limit: 100 });
    if (batch.length === 0) return;
    for (const thread of batch) {
      await purgeRunData(store, events, thread.session.id);
      await store.delete("resources", threadsKey(sessionId), thread.session.id);
    }
  }
}
