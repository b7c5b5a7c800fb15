/**
 * /v1/sessions/{id}/threads: a session's child threads (list, retrieve, archive) and each thread's own
 * event log (list, live stream), as `resources/beta/sessions/threads/**` types them.
 */
import type { BetaManagedAgentsSessionThread } from "@anthropic-ai/sdk/resources/beta/sessions/threads/threads";
import { ConflictError, NotFoundError } from "../../contract/errors.js";
import type { EventListQuery } from "../../contract/events.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import type { EventsService } from "../events/events-service.js";
import { presentInlineAgent } from "../multiagent/inline-agents.js";
import { threadAgentOf } from "../multiagent/session-multiagent.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import type { StepDeps } from "../runtime/step-deps.js";
import type { SessionRecord } from "../sessions/session-record.js";
import { metaOf, threadRepository } from "./thread-record.js";

export type SessionThread = BetaManagedAgentsSessionThread;

export interface ThreadListQuery {
  limit: number;
  page?: string;
  statuses?: string[];
}

export class ThreadsService {
  constructor(
    private readonly deps: StepDeps,
    private readonly events: EventsService,
  ) {}

  private async thread(workspaceId: string, sessionId: string, threadId: string): Promise<SessionRecord> {
    if (!(await this.deps.sessions.get(workspaceId, sessionId)))
      throw new NotFoundError("session", sessionId);
    const record = await threadRepository(this.deps.store, sessionId).get(workspaceId, threadId);
    if (!record) throw new NotFoundError("session thread", threadId);
    return record;
  }

  async list(
    workspaceId: string,
    sessionId: string,
    query: ThreadListQuery,
  ): Promise<PageCursorBody<SessionThread>> {
    if (!(await this.deps.sessions.get(workspaceId, sessionId)))
      throw new NotFoundError("session", sessionId);
    const threads = threadRepository(this.deps.store, sessionId);
    const statuses = query.statuses ? new Set(query.statuses) : undefined;
    return collectPage<SessionRecord, SessionThread>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, limit) =>
        threads.list(workspaceId, { after: after as string | undefined, limit, order: "asc" }),
      keyOf: (r) => r.session.id,
      keep: (r) => !statuses || statuses.has(r.session.status),
      map: (r) => this.present(r),
    });
  }

  async retrieve(workspaceId: string, sessionId: string, threadId: string): Promise<SessionThread> {
    return this.present(await this.thread(workspaceId, sessionId, threadId));
  }

  /** Archives a thread: it takes no more messages (a running one must finish or be interrupted first). */
  async archive(workspaceId: string, sessionId: string, threadId: string): Promise<SessionThread> {
    await this.thread(workspaceId, sessionId, threadId);
    const result = await threadRepository(this.deps.store, sessionId).mutate(
      workspaceId,
      threadId,
      (current) => {
        if (current.session.status === "running" || current.session.status === "rescheduling")
          throw new ConflictError("session thread is running: wait until it is idle before archiving");
        const meta = metaOf(current);
        if (meta.archivedAt) return undefined;
        meta.archivedAt = new Date(this.deps.clock.now()).toISOString();
        current.thread = meta;
        current.session.updated_at = meta.archivedAt;
        return current;
      },
    );
    if (!result) throw new NotFoundError("session thread", threadId);
    return this.present(result.after);
  }

  async listEvents(
    workspaceId: string,
    sessionId: string,
    threadId: string,
    query: EventListQuery,
  ): Promise<PageCursorBody<SessionEvent>> {
    await this.thread(workspaceId, sessionId, threadId);
    return this.events.listLog(threadId, query);
  }

  /** A thread's live stream: like a session's, over the thread's own log. */
  async openStream(
    workspaceId: string,
    sessionId: string,
    threadId: string,
    options: { lastEventId?: number | string; signal?: AbortSignal },
  ) {
    await this.thread(workspaceId, sessionId, threadId);
    return this.events.streamLog(threadId, options, async () => {
      await this.thread(workspaceId, sessionId, threadId);
    });
  }

  private present(record: SessionRecord): SessionThread {
    const meta = metaOf(record);
    const s = record.session;
    const now = this.deps.clock.now();
    const running = record.run.runningSince !== undefined ? now - record.run.runningSince : 0;
    const activeSeconds = Math.round((record.run.activeMs + running) / 1000);
    const agent: SessionThread["agent"] =
      meta.agentKind === "inline"
        ? presentInlineAgent(s.agent)
        : meta.agentKind === "advisor"
          ? { type: "advisor", model: s.agent.model.id }
          : threadAgentOf(s.agent);
    return {
      id: s.id,
      type: "session_thread",
      agent,
      archived_at: meta.archivedAt,
      created_at: s.created_at,
      parent_thread_id: meta.parentThreadId,
      session_id: meta.sessionId,
      stats: {
        active_seconds: activeSeconds,
        duration_seconds: Math.round((now - Date.parse(s.created_at)) / 1000),
        startup_seconds: 0,
      },
      status: s.status,
      updated_at: s.updated_at,
      usage: { ...s.usage, active_seconds: activeSeconds },
      workflow_run_id: meta.workflowRunId ?? null,
    };
  }
}
