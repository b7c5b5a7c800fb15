/** /v1/sessions: create (resolving the agent snapshot), retrieve, update, list, delete, archive. */
import { DREAMER_AGENT_ID } from "../../contract/dreams.js";
import { ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { idPrefix } from "../../contract/ids.js";
import type { Session, SessionAgent } from "../../contract/sdk-types.js";
import type { SessionCreateBody, SessionListQuery, SessionUpdateBody } from "../../contract/sessions.js";
import { applyMetadataPatch } from "../../contract/validation.js";
import type { EventsService } from "../events/events-service.js";
import { publishLifecycleEvent } from "../events/resource-lifecycle.js";
import { checkOutcomesFit, validateOutcome } from "../outcomes/outcome-lifecycle.js";
import {
  type BidirectionalPageBody,
  collectPage,
  createdAtFilter,
  decodeDirectedCursor,
  encodeCursor,
} from "../paging.js";
import { listPrice, withThreadUsage } from "../runtime/budget.js";
import type { StepDeps } from "../runtime/step-deps.js";
import { deleteThreads, threadRepository } from "../threads/thread-record.js";
import { purgeRunData } from "./session-purge.js";
import { emptySessionUsage, newRunState, type SessionRecord } from "./session-record.js";

/** What sessions need from agents and environments. */
export interface SessionDependencies {
  resolveAgent(workspaceId: string, ref: SessionCreateBody["agent"]): Promise<SessionAgent>;
  environmentConfigType(workspaceId: string, environmentId: string): Promise<string>;
  /** Resolves `resources[]` (memory stores, …) into the session's resources; throws on bad ones. */
  resolveResources(
    workspaceId: string,
    params: NonNullable<SessionCreateBody["resources"]>,
  ): Promise<Session["resources"]>;
  /** Copies the content of resolved resources (files) into the new session's stores, before it exists. */
  mountResources?(workspaceId: string, sessionId: string, resources: Session["resources"]): Promise<void>;
  /**
   * Pins the skills of the new session's agents to concrete versions and lays out their files, before
   * the session exists; returns the agent with its skills pinned (throws a 400 for a bad skill).
   */
  prepareSkills?(
    workspaceId: string,
    sessionId: string,
    agent: SessionAgent,
    options: { selfHosted: boolean },
  ): Promise<SessionAgent>;
  /** Checks `vault_ids` (each a vault of the workspace, not archived) and returns them in order. */
  resolveVaults?(workspaceId: string, vaultIds: readonly string[]): Promise<string[]>;
  /**
   * Stops what the session runs in the background (its workflow runs: executions and their calls'
   * threads) and forgets it, before the session is deleted; safe to repeat.
   */
  stopBackgroundWork?(workspaceId: string, sessionId: string): Promise<void>;
}

export class SessionsService {
  constructor(
    private readonly deps: StepDeps,
    private readonly related: SessionDependencies,
    private readonly events: EventsService,
  ) {}

  /**
   * `options.sessionId` creates the session under an id the caller allocated (a deployment run
   * allocates it before creating, so a retried run finds its session instead of making a second);
   * `options.deploymentId` records the deployment the session was created from.
   */
  async create(
    workspaceId: string,
    body: SessionCreateBody,
    options: { sessionId?: string; deploymentId?: string } = {},
  ): Promise<Session> {
    const configType = await this.related.environmentConfigType(workspaceId, body.environment_id);
    const selfHosted = configType === "self_hosted";
    if (!selfHosted && configType !== "cloud")
      throw new InvalidRequestError(`environment ${body.environment_id} is ${configType}: not supported`);
    const agent = await this.related.resolveAgent(workspaceId, body.agent);
    if (selfHosted) checkSelfHostedSession(agent, body.resources ?? []);
    if (body.budget && !listPrice(agent.model.id)) {
      throw new InvalidRequestError(
        `budget: model ${agent.model.id} has no public list price (model_not_budgetable)`,
      );
    }
    for (const [i, event] of (body.initial_events ?? []).entries())
      if (event.type === "user.define_outcome") validateOutcome(event, `initial_events.${i}`);
    await this.events.fileRubrics(workspaceId, body.initial_events ?? [], "initial_events");
    const resources = await this.related.resolveResources(workspaceId, body.resources ?? []);
    const vaultIds = await this.resolveVaults(workspaceId, body.vault_ids ?? []);
    const now = new Date(this.deps.clock.now()).toISOString();
    const session: Session = {
      id: options.sessionId ?? this.deps.ids.next(idPrefix.session),
      type: "session",
      agent,
      archived_at: null,
      budget: body.budget ?? null,
      created_at: now,
      updated_at: now,
      environment_id: body.environment_id,
      metadata: body.metadata ?? {},
      outcome_evaluations: [],
      resources,
      stats: { active_seconds: 0, duration_seconds: 0 },
      status: "idle",
      title: body.title ?? null,
      usage: emptySessionUsage(),
      vault_ids: vaultIds,
      ...(options.deploymentId ? { deployment_id: options.deploymentId } : {}),
    };
    // Before anything is written: initial outcomes the session's record could not hold are a 400.
    checkOutcomesFit(session, body.initial_events ?? [], "initial_events");
    session.agent = await this.prepareSkills(workspaceId, session.id, agent, selfHosted);
    await this.related.mountResources?.(workspaceId, session.id, resources);
    const run = newRunState();
    if (selfHosted) run.hands = "worker";
    await this.deps.sessions.create({ workspaceId, session, run });
    // Before the initial events, so a receiver hears `session.created` before the session runs.
    await publishLifecycleEvent(this.deps, "session.created", workspaceId, session.id);
    if (body.initial_events?.length) await this.events.send(workspaceId, session.id, body.initial_events);
    return this.retrieve(workspaceId, session.id);
  }

  private async prepareSkills(
    workspaceId: string,
    sessionId: string,
    agent: SessionAgent,
    selfHosted: boolean,
  ) {
    if (agent.skills.length === 0) return agent;
    if (!this.related.prepareSkills)
      throw new InvalidRequestError("agent.skills: skills are not served here");
    return this.related.prepareSkills(workspaceId, sessionId, agent, { selfHosted });
  }

  private async resolveVaults(workspaceId: string, vaultIds: readonly string[]): Promise<string[]> {
    if (vaultIds.length === 0) return [];
    if (!this.related.resolveVaults) throw new InvalidRequestError("vault_ids: vaults are not served here");
    return this.related.resolveVaults(workspaceId, vaultIds);
  }

  async retrieve(workspaceId: string, sessionId: string): Promise<Session> {
    const record = await this.deps.sessions.get(workspaceId, sessionId);
    if (!record) throw new NotFoundError("session", sessionId);
    return this.present(record);
  }

  async update(workspaceId: string, sessionId: string, body: SessionUpdateBody): Promise<Session> {
    if (body.agent) throw new InvalidRequestError("agent: updating a session's agent is not supported yet");
    const result = await this.deps.sessions.mutate(workspaceId, sessionId, (current) => {
      const s = current.session;
      if (s.status === "terminated") throw new InvalidRequestError("session is terminated");
      if (body.budget !== undefined) {
        if (body.budget && !s.budget)
          throw new InvalidRequestError("budget: a budget can only be set at creation (budget_create_only)");
        s.budget = body.budget;
      }
      if (body.metadata !== undefined) s.metadata = applyMetadataPatch(s.metadata, body.metadata);
      if (body.title !== undefined) s.title = body.title;
      s.updated_at = new Date(this.deps.clock.now()).toISOString();
      return current;
    });
    if (!result) throw new NotFoundError("session", sessionId);
    return this.present(result.after);
  }

  /**
   * Sessions in creation order (`order`, newest first by default), filtered, one page at a time.
   * `prev_page` leads back towards the first page: it reads the other way from the page's first item.
   */
  async list(workspaceId: string, query: SessionListQuery): Promise<BidirectionalPageBody<Session>> {
    const statuses = query.statuses ? new Set<string>(query.statuses) : undefined;
    const inRange = createdAtFilter(query);
    const cursor = decodeDirectedCursor(query.page);
    const backwards = cursor?.direction === "prev";
    const order = backwards ? (query.order === "asc" ? "desc" : "asc") : query.order;
    const page = await collectPage<SessionRecord, Session>({
      limit: query.limit,
      start: cursor?.key,
      read: (after, batch) =>
        this.deps.sessions.list(workspaceId, {
          order,
          limit: batch,
          ...(order === "asc"
            ? { after: after as string | undefined }
            : { before: after as string | undefined }),
        }),
      keyOf: (r) => r.session.id,
      keep: ({ session: s }) =>
        (query.include_archived || !s.archived_at) &&
        (s.agent.id !== DREAMER_AGENT_ID ||
          query.include_dream_sessions ||
          query.agent_id === DREAMER_AGENT_ID) &&
        (!statuses || statuses.has(s.status)) &&
        (!query.agent_id || s.agent.id === query.agent_id) &&
        (!query.agent_version || s.agent.version === query.agent_version) &&
        (!query.memory_store_id ||
          s.resources.some(
            (r) => (r as { memory_store_id?: string }).memory_store_id === query.memory_store_id,
          )) &&
        (!query.deployment_id || s.deployment_id === query.deployment_id) &&
        inRange(s.created_at),
      map: (r) => this.present(r),
    });
    const first = backwards ? page.data.at(-1) : page.data[0];
    const last = backwards ? page.data[0] : page.data.at(-1);
    if (backwards) {
      return {
        data: page.data.reverse(),
        next_page: last ? encodeCursor(last.id) : null,
        prev_page: page.next_page && first ? encodeCursor(first.id, "prev") : null,
      };
    }
    return { ...page, prev_page: cursor && first ? encodeCursor(first.id, "prev") : null };
  }

  async archive(workspaceId: string, sessionId: string): Promise<Session> {
    await this.assertNoRunningThread(workspaceId, sessionId, "archiving");
    const result = await this.deps.sessions.mutate(workspaceId, sessionId, (current) => {
      if (current.session.status === "running" || current.session.status === "rescheduling") {
        throw new ConflictError("session is running: interrupt it before archiving");
      }
      current.session.archived_at ??= new Date(this.deps.clock.now()).toISOString();
      return current;
    });
    if (!result) throw new NotFoundError("session", sessionId);
    // Its worker lets go: the next heartbeat says stopped, and its sessions token stops working; its
    // sandboxed shell ends (the workspace stays).
    await this.deps.work?.stopForSession(workspaceId, sessionId);
    await this.deps.sandbox?.close(sessionId);
    return this.present(result.after);
  }

  async delete(workspaceId: string, sessionId: string): Promise<{ id: string; type: "session_deleted" }> {
    const record = await this.deps.sessions.get(workspaceId, sessionId);
    if (!record) throw new NotFoundError("session", sessionId);
    if (record.session.status === "running" || record.session.status === "rescheduling") {
      throw new ConflictError("session is running: interrupt it before deleting");
    }
    // Its workflow runs stop first: their threads, told to stop, end at their next decision point.
    await this.related.stopBackgroundWork?.(workspaceId, sessionId);
    await this.assertNoRunningThread(workspaceId, sessionId, "deleting");
    await this.deps.work?.stopForSession(workspaceId, sessionId);
    await this.deps.sandbox?.close(sessionId);
    // Everything that hangs off the session first, the record last: a retried delete finishes a crashed one.
    await deleteThreads(this.deps.store, this.deps.events, workspaceId, sessionId);
    await purgeRunData(this.deps.store, this.deps.events, sessionId);
    await this.deps.store.delete("resources", `ws#${workspaceId}#session`, sessionId);
    return { id: sessionId, type: "session_deleted" };
  }

  /** A child thread still at work (e.g. one its fan-out gave up on) must end before its session goes. */
  private async assertNoRunningThread(workspaceId: string, sessionId: string, action: string) {
    const threads = await threadRepository(this.deps.store, sessionId).list(workspaceId, {
      order: "asc",
      limit: 1000,
    });
    const busy = threads.find((t) => t.session.status === "running" || t.session.status === "rescheduling");
    if (busy)
      throw new ConflictError(
        `session thread ${busy.session.id} is running: wait for it to stop before ${action}`,
      );
  }

  /** The client's view: stats computed from the run state at read time. */
  private present(record: SessionRecord): Session {
    const now = this.deps.clock.now();
    const running = record.run.runningSince !== undefined ? now - record.run.runningSince : 0;
    const activeSeconds = Math.round((record.run.activeMs + running) / 1000);
    return {
      ...record.session,
      stats: {
        active_seconds: activeSeconds,
        duration_seconds: Math.round((now - Date.parse(record.session.created_at)) / 1000),
      },
      usage: {
        ...withThreadUsage(record.session.usage, record.run.threadUsage),
        active_seconds: activeSeconds,
      },
    };
  }
}

/**
 * What a self-hosted environment's worker cannot serve yet, refused up front: file resources (the
 * worker syncs memory stores, not session files) and multiagent threads (their tool calls would not
 * reach the worker); an advisor alone is served by Reverie and allowed.
 */
function checkSelfHostedSession(agent: Session["agent"], resources: ReadonlyArray<{ type: string }>) {
  const m = agent.multiagent;
  // Threads' tool calls would not reach the worker; an advisor alone runs on the server and may.
  const advisorOnly =
    m?.type === "multiagent_20261001" && m.subagents.type === "disabled" && m.workflows.type === "disabled";
  if (m && !advisorOnly)
    throw new InvalidRequestError(
      "agent: multiagent sessions with threads (a coordinator, or multiagent_20261001 with subagents or workflows enabled) are not supported on self_hosted environments yet; use a cloud environment",
    );
  const file = resources.findIndex((r) => r.type === "file");
  if (file >= 0)
    throw new InvalidRequestError(
      `resources.${file}: file resources are not supported on self_hosted environments yet (the worker syncs memory stores only); put the file in the worker's workdir`,
    );
}
