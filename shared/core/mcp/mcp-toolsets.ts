/**
 * The rules of an agent's `mcp_toolset`s, pure: which of a server's tools are offered (per-tool
 * `configs` over `default_config`), under which model-facing name, with which permission.
 *
 * Names. The Messages API wants tool names of `[A-Za-z0-9_-]{1,64}`, unique in the request, while
 * MCP tool names are free-form and two servers may both offer `search`. A tool is offered as
 * `<server>__<tool>`; any other character becomes `_`. When that name had to change (a character
 * replaced, or longer than 64) or is already taken (another tool of the request, an earlier MCP
 * tool), it is shortened and suffixed with a hash of the exact server and tool names, so it stays
 * unique and the same on every step. Events carry the server's own names (`agent.mcp_tool_use`
 * `name` and `mcp_server_name`); only the model sees the offered name.
 */
import { createHash } from "node:crypto";
import type Anthropic from "@anthropic-ai/sdk";
import type { BetaManagedAgentsMCPToolset } from "@anthropic-ai/sdk/resources/beta/agents/agents";
import type {
  BetaManagedAgentsAgentEvaluatedPermission,
  BetaManagedAgentsAgentToolEvaluation,
} from "@anthropic-ai/sdk/resources/beta/sessions/events";
import type { SessionAgent } from "../../contract/sdk-types.js";
import type { McpTool } from "../ports.js";

/** The longest tool name offered to the model. */
export const MODEL_TOOL_NAME_MAX = 64;

export type McpToolset = BetaManagedAgentsMCPToolset;
export type McpPolicy = "always_allow" | "always_ask" | "auto";

/** One MCP tool as offered to the model. */
export interface OfferedMcpTool {
  /** The name the model calls it by. */
  modelName: string;
  /** The agent's name for the server (`mcp_servers[].name`). */
  server: string;
  tool: McpTool;
  policy: McpPolicy;
}

const UNSAFE = /[^A-Za-z0-9_-]/g;

/** The agent's `mcp_toolset` entries. */
export function mcpToolsets(agent: Pick<SessionAgent, "tools">): McpToolset[] {
  return agent.tools.filter((t): t is McpToolset => t.type === "mcp_toolset");
}

/** Whether the agent uses any MCP server at all. */
export const usesMcp = (agent: Pick<SessionAgent, "tools" | "mcp_servers">) =>
  agent.mcp_servers.length > 0 && mcpToolsets(agent).length > 0;

function configOf(toolset: McpToolset, tool: string) {
  return toolset.configs?.find((c) => c.name === tool);
}

/** Whether a server's tool is offered: its config's `enabled`, else the toolset default, else true. */
export function mcpToolEnabled(toolset: McpToolset, tool: string): boolean {
  return configOf(toolset, tool)?.enabled ?? toolset.default_config?.enabled ?? true;
}

/** A tool's permission policy: its config's, else the toolset default, else `always_ask`. */
export function mcpToolPolicy(toolset: McpToolset, tool: string): McpPolicy {
  return (
    configOf(toolset, tool)?.permission_policy?.type ??
    toolset.default_config?.permission_policy?.type ??
    "always_ask"
  );
}

/** `<server>__<tool>` with every character the Messages API refuses replaced by `_` (uncut). */
export function plainMcpToolName(server: string, tool: string): string {
  return `${server.replace(UNSAFE, "_")}__${tool.replace(UNSAFE, "_")}`;
}

/** The hashed form: the plain name cut to fit, then `_` and 8 hex digits of sha256(server, tool). */
export function hashedMcpToolName(server: string, tool: string): string {
  const hash = createHash("sha256").update(server).update("\u0000").update(tool).digest("hex").slice(0, 8);
  return `${plainMcpToolName(server, tool).slice(0, MODEL_TOOL_NAME_MAX - 9)}_${hash}`;
}

/**
 * The tools offered for the agent's MCP servers, in toolset order, then in the order each server
 * lists them: enabled tools only, each under a name unique among `reserved` (the request's other
 * tools) and the other MCP tools.
 *
 * @param lists each server's tools (by the agent's server name); a server without a list offers none.
 */
export function offeredMcpTools(
  agent: Pick<SessionAgent, "tools" | "mcp_servers">,
  lists: ReadonlyMap<string, readonly McpTool[]>,
  reserved: ReadonlySet<string>,
): OfferedMcpTool[] {
  const taken = new Set(reserved);
  const offered: OfferedMcpTool[] = [];
  for (const toolset of mcpToolsets(agent)) {
    const server = toolset.mcp_server_name;
    if (!agent.mcp_servers.some((s) => s.name === server)) continue;
    const seen = new Set<string>();
    for (const tool of lists.get(server) ?? []) {
      // A server that lists one name twice offers it once.
      if (seen.has(tool.name) || !mcpToolEnabled(toolset, tool.name)) continue;
      seen.add(tool.name);
      const plain = plainMcpToolName(server, tool.name);
      const exact = plain === `${server}__${tool.name}` && plain.length <= MODEL_TOOL_NAME_MAX;
      const modelName = exact && !taken.has(plain) ? plain : hashedMcpToolName(server, tool.name);
      // Two different pairs with one 32-bit hash: keep the first, leave the other out.
      if (taken.has(modelName)) continue;
      taken.add(modelName);
      offered.push({ modelName, server, tool, policy: mcpToolPolicy(toolset, tool.name) });
    }
  }
  return offered;
}

/**
 * A tool's input schema as the Messages API takes it: a JSON Schema object (`type: "object"`),
 * without `$schema` (a draft marker some servers add).
 */
export function modelInputSchema(schema: Record<string, unknown>): Anthropic.Messages.Tool.InputSchema {
  const { $schema: _draft, ...rest } = schema ?? {};
  return { ...rest, type: "object" } as Anthropic.Messages.Tool.InputSchema;
}

/** The definition the model is offered for an MCP tool. */
export function mcpToolDefinition(offered: OfferedMcpTool): Anthropic.Messages.Tool {
  const { tool } = offered;
  return {
    name: offered.modelName,
    description: tool.description ?? `The ${tool.name} tool of the MCP server ${offered.server}.`,
    input_schema: modelInputSchema(tool.inputSchema),
  };
}

/**
 * What a call's permission evaluates to. `auto` is Reverie's judgement: a tool the server marks
 * read-only (and not destructive) runs; anything else waits for the user, since a server's hints
 * are all there is to judge by.
 */
export function evaluateMcpPermission(offered: Pick<OfferedMcpTool, "policy" | "tool">): {
  permission: Exclude<BetaManagedAgentsAgentEvaluatedPermission, "deny">;
  evaluation: BetaManagedAgentsAgentToolEvaluation;
} {
  if (offered.policy === "always_allow") return { permission: "allow", evaluation: { type: "always_allow" } };
  if (offered.policy === "always_ask") return { permission: "ask", evaluation: { type: "always_ask" } };
  const hints = offered.tool.annotations ?? {};
  const readOnly = hints.readOnlyHint === true && hints.destructiveHint !== true;
  return readOnly
    ? { permission: "allow", evaluation: { type: "auto", evaluated_permission: { type: "allow" } } }
    : {
        permission: "ask",
        evaluation: { type: "auto", evaluated_permission: { type: "ask", reason_code: "indeterminate" } },
      };
}
