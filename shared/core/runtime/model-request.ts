/**
 * Builds one Messages API request for a step. The stable prefix (tools, then system) carries the
 * prompt-caching breakpoints, so every step of a session after the first reads it from cache.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { AgentToolset, CustomTool, SessionAgent } from "../../contract/sdk-types.js";
import type { ModelRequest } from "../ports.js";
import { builtinToolDefinitions } from "../tools/toolset.js";

const DEFAULT_MAX_TOKENS = 8192;

/** Which hands the session has: `bash` is offered only where a sandbox (or a worker) runs it. */
export interface ToolOffer {
  bash: boolean;
  /** Tools the run's extensions offer (coordinator, dreamer, …), after the agent's own tools. */
  extension?: readonly Anthropic.Messages.Tool[];
  /** The agent's MCP servers' tools as offered this step (offered last, after every other tool). */
  mcp?: readonly Anthropic.Messages.Tool[];
}

/** The tools offered to the model: the enabled builtin tools, the agent's custom tools, extension tools, MCP tools. */
export function toolDefinitions(
  agent: SessionAgent,
  offer: ToolOffer = { bash: false },
): Anthropic.Messages.Tool[] {
  const tools: Anthropic.Messages.Tool[] = [];
  for (const tool of agent.tools) {
    if (tool.type === "agent_toolset_20260401")
      tools.push(...builtinToolDefinitions(tool as AgentToolset, { bash: offer.bash }));
    if (tool.type === "custom") {
      const custom = tool as CustomTool;
      tools.push({ name: custom.name, description: custom.description, input_schema: custom.input_schema });
    }
  }
  tools.push(...(offer.extension ?? []));
  tools.push(...(offer.mcp ?? []));
  return tools;
}

/**
 * @param systemNote a session-constant addition to the system prompt (the memory mounts' note): it
 *   follows the agent's system prompt and carries the cache breakpoint, so it is cached with it.
 */
export function buildModelRequest(
  agent: SessionAgent,
  messages: Anthropic.Messages.MessageParam[],
  systemNote?: string,
  offer: ToolOffer = { bash: false },
): ModelRequest {
  const tools = toolDefinitions(agent, offer);
  const last = tools.at(-1);
  if (last) tools[tools.length - 1] = { ...last, cache_control: { type: "ephemeral" } };
  const request: ModelRequest = {
    model: agent.model.id,
    max_tokens: DEFAULT_MAX_TOKENS,
    messages,
  };
  const system = [agent.system, systemNote].filter((text): text is string => Boolean(text));
  if (system.length > 0)
    request.system = system.map((text, i) => ({
      type: "text" as const,
      text,
      ...(i === system.length - 1 ? { cache_control: { type: "ephemeral" as const } } : {}),
    }));
  if (tools.length > 0) request.tools = tools;
  return request;
}
