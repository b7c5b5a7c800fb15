/**
 * `multiagent_20261001` on a session: the agent's stored configuration (predefined agents as pinned
 * `{type:"agent", id, version}` references) is resolved once, when the session is created, into the
 * session's copy — `BetaManagedAgentsSessionMultiagent20261001`, whose predefined agents are full
 * agent definitions. Threads and workflow runs read their agents from that copy only, so a later
 * update or archive of a referenced agent never changes a running session.
 *
 * The `self` entry (the agent that owns the configuration) resolves to the session's own agent, with
 * the session's overrides (Anthropic: overrides apply to the coordinator and its self copies), and
 * without `multiagent`: threads are one level deep.
 */
import type {
  BetaManagedAgentsAgentReference,
  BetaManagedAgentsSessionThreadAgent,
} from "@anthropic-ai/sdk/resources/beta/agents/agents";
import type {
  BetaManagedAgentsSessionMultiagent20261001,
  BetaManagedAgentsSessionMultiagentSubagents,
  BetaManagedAgentsSessionMultiagentWorkflows,
} from "@anthropic-ai/sdk/resources/beta/sessions/sessions";
import { InvalidRequestError } from "../../contract/errors.js";
import type { Agent, SessionAgent } from "../../contract/sdk-types.js";

/** A predefined agent's pinned version, as stored (archived or not: the agents service decides). */
export type PinnedAgentLookup = (ref: { id: string; version: number }) => Promise<Agent>;

/** The agent a session starts from, before its multiagent configuration is resolved. */
export type UnpinnedSessionAgent = Omit<SessionAgent, "multiagent"> & { multiagent: Agent["multiagent"] };

/** An agent definition as a thread runs it (no roster of its own). */
export function threadAgentOf(agent: Omit<SessionAgent, "multiagent">): BetaManagedAgentsSessionThreadAgent {
  return {
    type: "agent",
    id: agent.id,
    version: agent.version,
    name: agent.name,
    description: agent.description,
    execution_identity: agent.execution_identity,
    mcp_servers: agent.mcp_servers,
    model: agent.model,
    skills: agent.skills,
    system: agent.system,
    tools: agent.tools,
  };
}

/** A thread's agent definition as the step loop runs it: a session agent without multiagent. */
export function runnableAgent(definition: BetaManagedAgentsSessionThreadAgent): SessionAgent {
  const { type: _type, ...rest } = definition;
  return { ...rest, type: "agent", multiagent: null } as SessionAgent;
}

/**
 * Resolves a `multiagent_20261001` configuration into the session's copy; other configurations
 * (none, `coordinator`) are returned as they are.
 *
 * @throws InvalidRequestError (400) naming the entry when a predefined agent was archived since it
 *   was listed, or has gained a `multiagent` of its own (depth limit 1).
 */
export async function pinSessionMultiagent(
  agent: UnpinnedSessionAgent,
  lookup: PinnedAgentLookup,
): Promise<SessionAgent> {
  const m = agent.multiagent;
  if (m?.type !== "multiagent_20261001") return agent as SessionAgent;
  const { multiagent: _m, ...own } = agent;
  const resolveList = async (refs: readonly BetaManagedAgentsAgentReference[], key: string) => {
    const out: BetaManagedAgentsSessionThreadAgent[] = [];
    for (const [i, ref] of refs.entries()) {
      if (ref.id === agent.id) {
        out.push(threadAgentOf(own));
        continue;
      }
      const member = await lookup({ id: ref.id, version: ref.version });
      const where = `agent.multiagent.${key}.predefined_agents.${i}`;
      if (member.archived_at) throw new InvalidRequestError(`${where}: agent ${ref.id} is archived`);
      if (member.multiagent)
        throw new InvalidRequestError(
          `${where}: agent ${ref.id} is itself multiagent; predefined agents are one level deep`,
        );
      out.push(threadAgentOf(member));
    }
    return out;
  };
  const subagents: BetaManagedAgentsSessionMultiagentSubagents =
    m.subagents.type === "enabled"
      ? {
          type: "enabled",
          inline_agents: m.subagents.inline_agents,
          predefined_agents: await resolveList(m.subagents.predefined_agents, "subagents"),
        }
      : { type: "disabled" };
  const workflows: BetaManagedAgentsSessionMultiagentWorkflows =
    m.workflows.type === "enabled"
      ? {
          type: "enabled",
          inline_agents: m.workflows.inline_agents,
          predefined_agents: await resolveList(m.workflows.predefined_agents, "workflows"),
        }
      : { type: "disabled" };
  const pinned: BetaManagedAgentsSessionMultiagent20261001 = {
    type: "multiagent_20261001",
    advisor: m.advisor,
    subagents,
    workflows,
  };
  return { ...own, multiagent: pinned } as SessionAgent;
}

/** The session's `multiagent_20261001` copy, or undefined for any other agent. */
export function sessionMultiagent(
  agent: Pick<SessionAgent, "multiagent">,
): BetaManagedAgentsSessionMultiagent20261001 | undefined {
  const m = agent.multiagent;
  return m?.type === "multiagent_20261001" ? m : undefined;
}

/** What a session's primary thread may spawn as subagent threads (undefined: subagents disabled). */
export function subagentsOf(
  agent: Pick<SessionAgent, "multiagent">,
): { inline: boolean; predefined: BetaManagedAgentsSessionThreadAgent[] } | undefined {
  const s = sessionMultiagent(agent)?.subagents;
  if (s?.type !== "enabled") return undefined;
  return { inline: s.inline_agents.type === "enabled", predefined: s.predefined_agents };
}

/**
 * The advisor model a session's primary thread may consult, if it has one: `multiagent_20261001`'s
 * enabled `advisor`, or a coordinator roster's `{type: "advisor", model}` entry (the same advisor in
 * the older topology: invisible to `list_agents`, unreachable through `send_to_agent`).
 */
export function advisorModelOf(agent: Pick<SessionAgent, "multiagent">): string | undefined {
  const m = agent.multiagent;
  if (m?.type === "coordinator")
    return m.agents.find((e): e is { type: "advisor"; model: string } => e.type === "advisor")?.model;
  const a = sessionMultiagent(agent)?.advisor;
  return a?.type === "enabled" ? a.model : undefined;
}

/** Every agent definition a session may run besides its own (their skills are the session's too). */
export function pinnedMembers(agent: Pick<SessionAgent, "multiagent">): SessionAgent[] {
  const m = sessionMultiagent(agent);
  if (!m) return [];
  const lists = [m.subagents, m.workflows].flatMap((s) => (s.type === "enabled" ? s.predefined_agents : []));
  return lists.map(runnableAgent);
}
