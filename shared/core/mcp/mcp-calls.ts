/**
 * Running one MCP tool call server-side, exactly once per `agent.mcp_tool_use` event: the call goes
 * through `runOnce` (an MCP tool's effects cannot be compared afterwards), so a step retried after a
 * crash never calls the server a second time — it reports the call as interrupted instead. Whatever
 * the server does (goes away, answers late, answers something that is not JSON-RPC, refuses the
 * credentials), the model gets an error result and the turn goes on.
 */
import { idPrefix } from "../../contract/ids.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import { capToolResultEvent } from "../events/result-size.js";
import { type McpCallResult, McpServerError } from "../ports.js";
import { runOnce } from "../runtime/tool-intents.js";
import type { ToolOutcome, ToolResultBlock } from "../tools/toolset.js";
import type { McpDeps, McpServers } from "./mcp-servers.js";

/** Image types the Messages API reads. */
const IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

/** One MCP tool call of a run: its event and what the model asked for. */
export interface McpCall {
  /** The `agent.mcp_tool_use` event id (keys the call's intent and result). */
  toolUseEventId: string;
  server: string;
  /** The server's name for the tool. */
  tool: string;
  input: Record<string, unknown>;
}

const str = (value: unknown): string | undefined => (typeof value === "string" ? value : undefined);

function note(text: string): ToolResultBlock {
  return { type: "text", text };
}

/** An MCP content block as the SDK's result blocks (text, image, document), or a note for the rest. */
function blockOf(item: Record<string, unknown>): ToolResultBlock | undefined {
  switch (item.type) {
    case "text": {
      const text = str(item.text);
      return text ? { type: "text", text } : undefined;
    }
    case "image": {
      const data = str(item.data);
      const mimeType = str(item.mimeType) ?? "";
      if (data && IMAGE_TYPES.has(mimeType))
        return { type: "image", source: { type: "base64", media_type: mimeType, data } };
      return note(`[an image of type ${mimeType || "unknown"} was left out: the model cannot read it]`);
    }
    case "audio":
      return note(`[audio (${str(item.mimeType) ?? "unknown type"}) was left out: the model cannot hear it]`);
    case "resource_link": {
      const uri = str(item.uri) ?? "";
      const name = str(item.name) ?? uri;
      const description = str(item.description);
      return note(`[resource] ${name}: ${uri}${description ? ` — ${description}` : ""}`);
    }
    case "resource": {
      const resource = (item.resource ?? {}) as Record<string, unknown>;
      const uri = str(resource.uri) ?? "";
      const mimeType = str(resource.mimeType) ?? "";
      const text = str(resource.text);
      if (text !== undefined) return note(`[resource ${uri}]\n${text}`);
      const blob = str(resource.blob);
      if (blob && mimeType === "application/pdf")
        return { type: "document", source: { type: "base64", media_type: "application/pdf", data: blob } };
      if (blob && IMAGE_TYPES.has(mimeType))
        return { type: "image", source: { type: "base64", media_type: mimeType, data: blob } };
      return note(`[resource ${uri} (${mimeType || "binary"}) was left out: the model cannot read it]`);
    }
    default:
      return note(`[a ${String(item.type)} block the model cannot read was left out]`);
  }
}

/** What an MCP result becomes in `agent.mcp_tool_result` (and the model's tool_result). */
export function mcpOutcome(result: McpCallResult): ToolOutcome {
  const blocks: ToolResultBlock[] = [];
  for (const item of result.content) {
    if (item && typeof item === "object") {
      const block = blockOf(item);
      if (block) blocks.push(block);
    }
  }
  if (blocks.length === 0)
    blocks.push(
      note(
        result.structuredContent !== undefined
          ? JSON.stringify(result.structuredContent)
          : "(the tool returned no content)",
      ),
    );
  const capped = capToolResultEvent({ content: blocks }).content as ToolResultBlock[];
  const text = capped
    .filter((b): b is Extract<ToolResultBlock, { type: "text" }> => b.type === "text")
    .map((b) => b.text)
    .join("\n");
  return { isError: result.isError, content: text, blocks: capped };
}

/** What the model is told when a call got no answer from the server. */
export function describeMcpFailure(
  call: Pick<McpCall, "server" | "tool">,
  error: unknown,
  timeoutMs: number,
): string {
  const detail = error instanceof Error ? error.message : String(error);
  const { server, tool } = call;
  if (!(error instanceof McpServerError)) return `The MCP tool ${tool} on server ${server} failed: ${detail}`;
  switch (error.kind) {
    case "unauthorized":
      return `The MCP server ${server} refused the session's credentials for ${tool} (401): ${detail}`;
    case "refused":
      return `The MCP server ${server} could not be called: ${detail}`;
    case "timeout":
      return `The MCP tool ${tool} on server ${server} did not answer within ${Math.round(timeoutMs / 1000)} s; it may or may not have taken effect.`;
    case "protocol":
      return `The MCP server ${server} did not answer ${tool} with a valid MCP response: ${detail}`;
    case "unreachable":
      return `The MCP server ${server} could not be reached: ${detail}`;
  }
}

/** A call's timeout: the configured one, kept inside the step's lease like a `bash` command's. */
function callTimeout(deps: McpDeps, servers: McpServers): number {
  return Math.max(1_000, Math.min(servers.timeouts.callMs, deps.leaseMs - 10_000));
}

/**
 * Calls the tool once (see the module comment) and returns its outcome: the server's result, or an
 * error result saying why there is none. A 401 during the call reconnects with a refreshed
 * credential and calls again (the server refused the request, so it did not run).
 */
export async function runMcpCall(deps: McpDeps, servers: McpServers, call: McpCall): Promise<ToolOutcome> {
  const timeoutMs = callTimeout(deps, servers);
  return runOnce(
    deps,
    servers.run.runId,
    call.toolUseEventId,
    `${call.tool} (MCP server ${call.server})`,
    async () => {
      try {
        if (!servers.server(call.server))
          return { isError: true, content: `The agent has no MCP server named ${call.server}.` };
        let connection = await servers.connection(call.server);
        try {
          return mcpOutcome(await connection.callTool(call.tool, call.input, { timeoutMs }));
        } catch (error) {
          if (!(error instanceof McpServerError) || error.kind !== "unauthorized") throw error;
          connection = await servers.reconnectAfterUnauthorized(call.server);
          return mcpOutcome(await connection.callTool(call.tool, call.input, { timeoutMs }));
        }
      } catch (error) {
        // A connection that timed out or broke is closed: the step's next call to the server reconnects.
        if (error instanceof McpServerError && error.kind !== "protocol") await servers.discard(call.server);
        deps.logger.warn("an MCP tool call failed", {
          runId: servers.run.runId,
          server: call.server,
          tool: call.tool,
          error: String((error as Error)?.message ?? error),
        });
        return { isError: true, content: describeMcpFailure(call, error, timeoutMs) };
      }
    },
  );
}

/** The `agent.mcp_tool_result` event of an outcome. */
export function mcpResultEvent(
  deps: Pick<McpDeps, "ids" | "clock">,
  toolUseEventId: string,
  outcome: ToolOutcome,
  id: string = deps.ids.next(idPrefix.event),
): SessionEvent {
  const content = outcome.blocks ?? [{ type: "text" as const, text: outcome.content }];
  return {
    type: "agent.mcp_tool_result",
    id,
    processed_at: new Date(deps.clock.now()).toISOString(),
    mcp_tool_use_id: toolUseEventId,
    is_error: outcome.isError,
    content: capToolResultEvent({ content }).content,
  };
}
