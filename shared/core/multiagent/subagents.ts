/**
 * Subagents (`multiagent_20261001` with `subagents: {type: "enabled"}`): the session's primary thread
 * delegates to session threads through the same two tools a coordinator has — `list_agents` and
 * `send_to_agent` — and the same fan-out engine (threads/threads-runtime.ts): one turn's calls run in
 * parallel on Step Functions, each thread fails on its own, follow-ups reach a thread that keeps its
 * history. What differs is where the agents come from: the predefined agents copied into the session
 * when it was created (session-multiagent.ts), and — when `inline_agents` is enabled — an agent the
 * model defines in the call itself (`send_to_agent` with `agent: {name, model, system, tools}`,
 * inline-agents.ts), which is never saved.
 *
 * Anthropic's docs name the coordinator's delegation tools (`list_agents`, `send_to_agent`); for
 * `multiagent_20261001` they name none, so Reverie offers the same two, extended for inline agents.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { SessionAgent } from "../../contract/sdk-types.js";
import {
  coordinatorToolDefinitions,
  delegationTools,
  SendToAgentInputSchema,
} from "../threads/coordinator-tools.js";
import {
  buildInlineAgent,
  InlineAgentError,
  InlineAgentInputSchema,
  inlineAgentJsonSchema,
} from "./inline-agents.js";
import { runnableAgent, subagentsOf } from "./session-multiagent.js";

/** `send_to_agent` of a `multiagent_20261001` agent: a roster agent, an inline agent, or a thread. */
export const SubagentSendInputSchema = lazySchema(() =>
  SendToAgentInputSchema.extend({
    agent: InlineAgentInputSchema.optional(),
  }),
);
export type SubagentSendInput = z.infer<typeof SubagentSendInputSchema>;

/** Whether a run's agent delegates to threads (a coordinator, or multiagent_20261001 with subagents). */
export function delegates(agent: Pick<SessionAgent, "multiagent">): boolean {
  return agent.multiagent?.type === "coordinator" || subagentsOf(agent) !== undefined;
}

/** The predefined agents a `multiagent_20261001` session may spawn, as threads run them. */
export function predefinedMembers(agent: SessionAgent): Array<{ name: string; agent: SessionAgent }> {
  return (subagentsOf(agent)?.predefined ?? []).map((definition) => ({
    name: definition.name,
    agent: runnableAgent(definition),
  }));
}

/** The delegation tools a run's model is offered: a coordinator's, or a subagent-spawning agent's. */
export function delegationToolDefinitions(agent: SessionAgent): Anthropic.Messages.Tool[] {
  if (agent.multiagent?.type === "coordinator") return coordinatorToolDefinitions(agent);
  const subagents = subagentsOf(agent);
  if (!subagents) return [];
  // The coordinator's definitions, adjusted: the roster is the predefined agents, plus inline agents.
  const [list, send] = delegationTools();
  const schema = structuredClone(send.input_schema) as {
    properties: Record<string, unknown>;
    required?: string[];
  };
  if (subagents.inline) schema.properties.agent = structuredClone(inlineAgentJsonSchema);
  const whom = subagents.inline
    ? "Without thread_id a new thread is started: for agent_name, one of your predefined agents, or for agent, an inline agent you define here (not saved; its tools are a subset of yours)."
    : "Without thread_id a new thread is started for agent_name, one of your predefined agents.";
  return [
    {
      ...list,
      description: `List the predefined agents you can start threads for: name, id, version, description and model.${subagents.inline ? " You may also define inline agents in send_to_agent." : ""}`,
    },
    {
      ...send,
      description: `Send a message to a subagent, which works in its own thread on your workspace files and reports back. ${whom} With thread_id the message is a follow-up in that thread, which keeps its history. Every send_to_agent call of one turn runs in parallel; each returns the subagent's reply (or an error) as its result.`,
      input_schema: schema as Anthropic.Messages.Tool["input_schema"],
    },
  ];
}

/** An inline agent a `send_to_agent` call defines, or why it cannot run (a refusal the model reads). */
export function inlineDispatch(
  parent: SessionAgent,
  input: SubagentSendInput,
  options: { budgeted: boolean; ordinal: number },
): { agent: SessionAgent } | { refusal: string } {
  const subagents = subagentsOf(parent);
  if (!subagents?.inline)
    return {
      refusal:
        "Inline agents are disabled for this agent: start a thread for one of your predefined agents (agent_name) instead.",
    };
  if (input.agent_name)
    return { refusal: "Give either agent_name (a predefined agent) or agent (an inline agent), not both." };
  try {
    return {
      agent: buildInlineAgent(parent, input.agent ?? {}, {
        budgeted: options.budgeted,
        defaultName: `inline-${options.ordinal}`,
      }),
    };
  } catch (error) {
    if (error instanceof InlineAgentError) return { refusal: error.message };
    throw error;
  }
}
