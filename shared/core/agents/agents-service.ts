/**
 * /v1/agents: every change makes a new immutable version; the agent item holds the latest.
 * Updates carry the version they were based on, and a stale one is a 409.
 */
import {
  type AgentCreate,
  type AgentListQuery,
  type AgentRefParams,
  type AgentUpdate,
  AgentUpdateSchema,
  applyAgentUpdate,
  multiagentReferences,
  type NormalizeAgentOptions,
  normalizeAgentFields,
} from "../../contract/agents.js";
import { ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { idPrefix } from "../../contract/ids.js";
import type { Agent, SessionAgent } from "../../contract/sdk-types.js";
import type { SessionCreateBody } from "../../contract/sessions.js";
import { parseBody } from "../../contract/validation.js";
import { pinSessionMultiagent } from "../multiagent/session-multiagent.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type IdGenerator,
  type StoredItem,
} from "../ports.js";
import { changeRevisioned } from "../revisioned-item.js";

const agentsKey = (ws: string) => `ws#${ws}#agent`;
const versionsKey = (ws: string, agentId: string) => `ws#${ws}#agentver#${agentId}`;
const versionSk = (version: number) => version.toString().padStart(10, "0");

/** Checks an agent's `skills[]` against the workspace's skills (400 naming the entry). */
export type SkillReferenceCheck = (workspaceId: string, skills: Agent["skills"]) => Promise<void>;

export class AgentsService {
  constructor(
    private readonly store: DocumentStore,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly checkSkills?: SkillReferenceCheck,
  ) {}

  async create(workspaceId: string, body: AgentCreate): Promise<Agent> {
    const now = new Date(this.clock.now()).toISOString();
    const id = this.ids.next(idPrefix.agent);
    const roster = await this.rosterResolver(workspaceId, id, 1, body.multiagent);
    const agent: Agent = {
      ...normalizeAgentFields(body, roster),
      id,
      type: "agent",
      version: 1,
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    if (agent.skills.length > 0) await this.checkSkills?.(workspaceId, agent.skills);
    // The version first: an agent item never points at a version that does not exist.
    await this.store.put(
      "resources",
      { pk: versionsKey(workspaceId, agent.id), sk: versionSk(1), agent },
      { ifNotExists: true },
    );
    await this.store.put(
      "resources",
      { pk: agentsKey(workspaceId), sk: agent.id, rev: 1, agent },
      { expectedRev: 0 },
    );
    return agent;
  }

  private async item(workspaceId: string, agentId: string): Promise<StoredItem> {
    const item = await this.store.get("resources", agentsKey(workspaceId), agentId);
    if (!item) throw new NotFoundError("agent", agentId);
    return item;
  }

  async retrieve(workspaceId: string, agentId: string, version?: number): Promise<Agent> {
    const latest = (await this.item(workspaceId, agentId)).agent as Agent;
    if (version === undefined || version === latest.version) return latest;
    const item = await this.store.get("resources", versionsKey(workspaceId, agentId), versionSk(version));
    if (!item) throw new NotFoundError("agent version", `${agentId}@${version}`);
    return item.agent as Agent;
  }

  async update(workspaceId: string, agentId: string, body: AgentUpdate): Promise<Agent> {
    const item = await this.item(workspaceId, agentId);
    const current = item.agent as Agent;
    if (current.archived_at) throw new InvalidRequestError(`agent ${agentId} is archived`);
    if (body.version !== undefined && body.version !== current.version) {
      throw new ConflictError(
        `agent ${agentId} is at version ${current.version}, not ${body.version}: retrieve it and retry`,
      );
    }
    const roster = await this.rosterResolver(workspaceId, agentId, current.version + 1, body.multiagent);
    const { fields, changed } = applyAgentUpdate(current, body, roster);
    if (!changed) return current;
    if (body.skills && fields.skills.length > 0) await this.checkSkills?.(workspaceId, fields.skills);
    const agent: Agent = {
      ...current,
      ...fields,
      version: current.version + 1,
      updated_at: new Date(this.clock.now()).toISOString(),
    };
    try {
      await this.store.put(
        "resources",
        { pk: versionsKey(workspaceId, agentId), sk: versionSk(agent.version), agent },
        { ifNotExists: true },
      );
      await this.store.put(
        "resources",
        { ...item, rev: Number(item.rev) + 1, agent },
        { expectedRev: Number(item.rev) },
      );
    } catch (error) {
      if (error instanceof ConditionFailedError) {
        throw new ConflictError(`agent ${agentId} changed concurrently: retrieve it and retry`, {
          retryable: true,
        });
      }
      throw error;
    }
    return agent;
  }

  async archive(workspaceId: string, agentId: string): Promise<Agent> {
    return changeRevisioned<Agent>(
      this.store,
      "resources",
      "agent",
      () => this.item(workspaceId, agentId),
      (current) =>
        current.archived_at
          ? undefined
          : { ...current, archived_at: new Date(this.clock.now()).toISOString() },
    );
  }

  async list(workspaceId: string, query: AgentListQuery): Promise<PageCursorBody<Agent>> {
    const gte = query["created_at[gte]"] ? Date.parse(query["created_at[gte]"]) : undefined;
    const lte = query["created_at[lte]"] ? Date.parse(query["created_at[lte]"]) : undefined;
    return collectPage<StoredItem, Agent>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, limit) =>
        this.store.query("resources", agentsKey(workspaceId), { after, limit, order: "asc" }),
      keyOf: (i) => i.sk,
      keep: (i) => {
        const a = i.agent as Agent;
        const at = Date.parse(a.created_at);
        return (
          (query.include_archived || !a.archived_at) &&
          (gte === undefined || at >= gte) &&
          (lte === undefined || at <= lte)
        );
      },
      map: (i) => i.agent as Agent,
    });
  }

  async listVersions(
    workspaceId: string,
    agentId: string,
    query: { limit: number; page?: string },
  ): Promise<PageCursorBody<Agent>> {
    await this.item(workspaceId, agentId);
    return collectPage<StoredItem, Agent>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (before, limit) =>
        this.store.query("resources", versionsKey(workspaceId, agentId), { before, limit, order: "desc" }),
      keyOf: (i) => i.sk,
      keep: () => true,
      map: (i) => i.agent as Agent,
    });
  }

  /**
   * Looks up every agent a multiagent roster names (404 if missing, 400 if archived or itself a
   * coordinator: rosters are one level deep) and pins each to a concrete version.
   */
  private async rosterResolver(
    workspaceId: string,
    selfId: string,
    selfVersion: number,
    multiagent: AgentCreate["multiagent"],
  ): Promise<NormalizeAgentOptions> {
    const pinned = new Map<string, Agent>();
    for (const ref of multiagentReferences(multiagent)) {
      if (ref.type !== "agent" || ref.id === selfId) continue;
      const member = await this.retrieve(workspaceId, ref.id, ref.version);
      if (member.archived_at) throw new InvalidRequestError(`multiagent: agent ${ref.id} is archived`);
      if (member.multiagent)
        throw new InvalidRequestError(
          `multiagent: agent ${ref.id} is itself multiagent; rosters are one level deep`,
        );
      pinned.set(`${ref.id}@${ref.version ?? "latest"}`, member);
    }
    return {
      resolveAgent: (ref: AgentRefParams) => {
        if (ref.type === "self" || ref.id === selfId)
          return { type: "agent", id: selfId, version: selfVersion };
        const member = pinned.get(`${ref.id}@${ref.version ?? "latest"}`) as Agent;
        return { type: "agent", id: member.id, version: member.version };
      },
    };
  }

  /**
   * The agent snapshot a session runs with: by id (latest), by {id, version}, or with overrides; a
   * `multiagent_20261001` configuration resolved to the session's copy (full predefined agents).
   */
  async resolveForSession(workspaceId: string, ref: SessionCreateBody["agent"]): Promise<SessionAgent> {
    const id = typeof ref === "string" ? ref : ref.id;
    const version = typeof ref === "string" ? undefined : ref.version;
    const agent = await this.retrieve(workspaceId, id, version);
    if (agent.archived_at) throw new InvalidRequestError(`agent ${id} is archived`);
    let fields: Partial<Agent> = {};
    if (typeof ref !== "string" && ref.type === "agent_with_overrides") {
      const { type: _type, id: _id, version: _version, ...overrides } = ref;
      const update = parseBody(
        AgentUpdateSchema,
        { ...overrides, version: agent.version },
        { root: "agent" },
      );
      fields = applyAgentUpdate(agent, update).fields;
    }
    const {
      archived_at: _a,
      created_at: _c,
      updated_at: _u,
      metadata: _m,
      ...snapshot
    } = { ...agent, ...fields };
    // multiagent_20261001: its predefined agents are copied into the session, at their pinned versions.
    return pinSessionMultiagent(snapshot, (pinned) => this.retrieve(workspaceId, pinned.id, pinned.version));
  }
}
