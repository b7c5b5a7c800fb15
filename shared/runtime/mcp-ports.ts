/**
 * `withMcp`: the MCP client for the processes that run steps (agent-step, the embedded stack) — the
 * `@modelcontextprotocol/sdk` client behind the same SSRF guard as `web_fetch`. The API bundles do
 * not import this file, so they carry no MCP client.
 */
import { GuardedFetcher } from "../adapters/http/guarded-fetcher.js";
import { McpSdkConnector } from "../adapters/http/mcp-sdk-connector.js";
import type { Config } from "./config.js";
import type { Ports } from "./container.js";

export function withMcp(config: Pick<Config, "REVERIE_WEB_FETCH_ALLOW_PRIVATE">): Pick<Ports, "mcp"> {
  // One setting for every outbound request a session makes: web_fetch, MCP servers, token endpoints.
  const guard = new GuardedFetcher({ allowPrivate: config.REVERIE_WEB_FETCH_ALLOW_PRIVATE });
  return { mcp: new McpSdkConnector({ fetch: guard.fetch }) };
}
