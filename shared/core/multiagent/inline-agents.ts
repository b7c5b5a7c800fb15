/**
 * Inline agents (`multiagent_20261001`, `inline_agents: enabled`): an agent the model defines when it
 * spawns a thread — its name, model, system prompt and tools — and that is never saved. What it may
 * have is bounded by its parent: its tools are a subset of the parent's (the parent's builtin tools
 * that are enabled, its custom tools, its MCP servers), each kept with the parent's configuration and
 * permission policy; the environment then decides what runs (`bash` only where a sandbox does), as it
 * does for the parent. It inherits the parent's skills and execution principal; an omitted field
 * takes the parent's value.
 */
import type { BetaManagedAgentsInlineAgent } from "@anthropic-ai/sdk/resources/beta/sessions/threads/threads";
import * as z from "zod";
import { AGENT_LIMITS, AGENT_TOOL_NAMES, defaultEffortFor } from "../../contract/agents.js";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { AgentToolset, SessionAgent } from "../../contract/sdk-types.js";
import { listPrice } from "../runtime/budget.js";
import { threadAgentOf } from "./session-multiagent.js";

/** An inline agent as the model writes it in a tool call. */
export const InlineAgentInputSchema = lazySchema(() =>
  z.strictObject({
    name: z.string().min(1).max(64).optional(),
    model: z.string().min(1).max(128).optional(),
    system: z.string().min(1).max(AGENT_LIMITS.systemMaxLength).optional(),
    tools: z.array(z.string().min(1)).max(AGENT_LIMITS.maxTools).optional(),
  }),
);
export type InlineAgentInput = z.infer<typeof InlineAgentInputSchema>;

/** The JSON Schema of {@link InlineAgentInputSchema}, for a tool definition. */
export const inlineAgentJsonSchema = {
  type: "object",
  description:
    "An inline agent, defined here and not saved. Omitted fields take your own values (model, system prompt, all of your tools).",
  properties: {
    name: { type: "string", description: "A short name for the agent (shown on its thread)." },
    model: { type: "string", description: "The Claude model it runs on (default: yours)." },
    system: { type: "string", description: "Its system prompt: its role, scope and how to report." },
    tools: {
      type: "array",
      items: { type: "string" },
      description:
        "Names of your tools it may use (builtin tools such as read or grep, your custom tools, your MCP server names). Default: all of them.",
    },
  },
  additionalProperties: false,
} as const;

/** Names an inline agent's `tools` may list: what its parent has. */
export function inlineToolNames(parent: Pick<SessionAgent, "tools">): string[] {
  const names: string[] = [];
  for (const tool of parent.tools) {
    if (tool.type === "agent_toolset_20260401") {
      const toolset = tool as AgentToolset;
      for (const name of AGENT_TOOL_NAMES) {
        const config = toolset.configs.find((c) => c.name === name);
        if (config?.enabled ?? toolset.default_config?.enabled ?? true) names.push(name);
      }
    } else if (tool.type === "custom") names.push(tool.name);
    else if (tool.type === "mcp_toolset") names.push(tool.mcp_server_name);
  }
  return names;
}

/** Why an inline agent definition cannot run, in words the model can act on. */
export class InlineAgentError extends Error {
  override readonly name = "InlineAgentError";
}

/**
 * The agent an inline definition runs as (a session agent without `multiagent`: threads are one
 * level deep), built from its parent.
 *
 * @param options.budgeted the session has a budget: the model must have a list price.
 * @throws InlineAgentError naming a tool the parent does not have, or a model that cannot be budgeted.
 */
export function buildInlineAgent(
  parent: SessionAgent,
  input: InlineAgentInput,
  options: { budgeted: boolean; defaultName: string },
): SessionAgent {
  const allowed = inlineToolNames(parent);
  const wanted = input.tools ?? allowed;
  const unknown = wanted.filter((name) => !allowed.includes(name));
  if (unknown.length > 0)
    throw new InlineAgentError(
      `An inline agent can only have tools you have: ${unknown.map((n) => JSON.stringify(n)).join(", ")} ${unknown.length > 1 ? "are" : "is"} not among them (${allowed.join(", ") || "you have none"}).`,
    );
  const modelId = input.model ?? parent.model.id;
  if (options.budgeted && !listPrice(modelId))
    throw new InlineAgentError(
      `The session has a budget and model ${modelId} has no list price: choose a Claude model (opus, sonnet or haiku), or omit model to use yours.`,
    );
  const keep = new Set(wanted);
  const tools: SessionAgent["tools"] = [];
  for (const tool of parent.tools) {
    if (tool.type === "agent_toolset_20260401") {
      const toolset = tool as AgentToolset;
      const fallback = {
        enabled: toolset.default_config?.enabled ?? true,
        permission_policy: toolset.default_config?.permission_policy ?? { type: "always_allow" as const },
      };
      // Every tool listed, so a tool without a config of its own does not fall back to enabled.
      const configs = AGENT_TOOL_NAMES.map((name) => {
        const config = toolset.configs.find((c) => c.name === name) ?? { name, type: name, ...fallback };
        return { ...config, enabled: (config.enabled ?? fallback.enabled) && keep.has(name) };
      });
      if (configs.some((c) => c.enabled))
        tools.push({
          ...toolset,
          default_config: { ...fallback, enabled: false },
          configs: configs as AgentToolset["configs"],
        });
    } else if (tool.type === "custom" ? keep.has(tool.name) : keep.has(tool.mcp_server_name)) {
      tools.push(structuredClone(tool));
    }
  }
  const servers = new Set(tools.flatMap((t) => (t.type === "mcp_toolset" ? [t.mcp_server_name] : [])));
  return {
    ...parent,
    name: input.name ?? options.defaultName,
    description: null,
    model:
      modelId === parent.model.id
        ? parent.model
        : { id: modelId, effort: { type: defaultEffortFor(modelId) }, speed: "standard" },
    system: input.system ?? parent.system,
    tools,
    mcp_servers: parent.mcp_servers.filter((s) => servers.has(s.name)),
    multiagent: null,
  };
}

/** An inline agent as the threads API shows it: no `id` or `version` (it has no Agent resource). */
export function presentInlineAgent(agent: SessionAgent): BetaManagedAgentsInlineAgent {
  const { type: _type, id: _id, version: _version, ...definition } = threadAgentOf(agent);
  return { type: "inline", ...definition };
}
