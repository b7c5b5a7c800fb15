/**
 * The tool lists of a run's MCP servers, kept durably so that a step on another process offers the
 * model the same tools without reconnecting. One item per server under the run:
 * pk `mcptools#<runId>`, sk the agent's server name, holding what `tools/list` answered last (kept
 * when a later attempt fails: a server that went down still has its tools offered, and a call to one
 * gets an error result) and when listing last failed (so a server that is down is not retried on
 * every step). Written whenever a connection is (re)established; purged with the session.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { DocumentStore, Logger, McpTool } from "../ports.js";

/** The partition of a run's (a session's or a thread's) MCP tool lists. */
export const mcpToolListKey = (runId: string) => `mcptools#${runId}`;

/** The most one server's list may take as stored (an item is ≤ 400 KB in DynamoDB). */
export const MAX_TOOL_LIST_BYTES = 300_000;

/** The longest tool description kept. */
const MAX_DESCRIPTION = 10_000;

const toolSchema = lazySchema(() =>
  z.object({
    name: z.string(),
    description: z.string().optional(),
    inputSchema: z.record(z.string(), z.unknown()),
    annotations: z.record(z.string(), z.unknown()).optional(),
  }),
);

const toolListSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    /** The server URL the list came from (an agent's URL never changes within a session). */
    url: z.string(),
    tools: z.array(toolSchema).optional(),
    listedAt: z.number().optional(),
    failedAt: z.number().optional(),
  }),
);
export type McpToolList = z.infer<typeof toolListSchema>;

/** Every server's stored list for a run, by server name (lists from another URL are ignored). */
export async function loadMcpToolLists(
  store: DocumentStore,
  runId: string,
  servers: ReadonlyArray<{ name: string; url: string }>,
): Promise<Map<string, McpToolList>> {
  const items = await store.query("resources", mcpToolListKey(runId), { limit: 100 });
  const lists = new Map<string, McpToolList>();
  for (const item of items) {
    const parsed = toolListSchema.safeParse(item.list);
    const server = servers.find((s) => s.name === item.sk);
    if (parsed.success && server && parsed.data.url === server.url) lists.set(server.name, parsed.data);
  }
  return lists;
}

/** Cuts what does not fit one stored item: long descriptions, then tools past the size budget. */
function fitted(tools: readonly McpTool[], logger?: Logger, server?: string): McpTool[] {
  const kept: McpTool[] = [];
  let size = 0;
  for (const tool of tools) {
    const entry: McpTool = {
      name: tool.name,
      ...(tool.description !== undefined ? { description: tool.description.slice(0, MAX_DESCRIPTION) } : {}),
      inputSchema: tool.inputSchema ?? { type: "object" },
      ...(tool.annotations ? { annotations: tool.annotations } : {}),
    };
    const bytes = Buffer.byteLength(JSON.stringify(entry), "utf8");
    if (size + bytes > MAX_TOOL_LIST_BYTES) {
      logger?.warn("an MCP server lists more tools than fit; the rest are not offered", {
        server,
        offered: kept.length,
        listed: tools.length,
      });
      break;
    }
    size += bytes;
    kept.push(entry);
  }
  return kept;
}

/** Stores what a server listed just now. */
export async function saveMcpToolList(
  deps: { store: DocumentStore; logger?: Logger },
  runId: string,
  server: { name: string; url: string },
  tools: readonly McpTool[],
  now: number,
): Promise<McpToolList> {
  const list: McpToolList = {
    schemaVersion: 1,
    url: server.url,
    tools: fitted(tools, deps.logger, server.name),
    listedAt: now,
  };
  await deps.store.put("resources", { pk: mcpToolListKey(runId), sk: server.name, list });
  return list;
}

/** Records that listing a server failed now, keeping the tools it listed before (if any). */
export async function saveMcpListFailure(
  store: DocumentStore,
  runId: string,
  server: { name: string; url: string },
  previous: McpToolList | undefined,
  now: number,
): Promise<McpToolList> {
  const list: McpToolList = { ...(previous ?? { schemaVersion: 1, url: server.url }), failedAt: now };
  await store.put("resources", { pk: mcpToolListKey(runId), sk: server.name, list });
  return list;
}
