/**
 * `withMcp`: the MCP client for the processes that run steps (agent-step, the embedded stack) — the
 * `@modelcontextprotocol/sdk` client behind the same SSRF guard as `web_fetch`. The API bundles do
 * not import this file, so they carry no MCP client.
 *
 * The client is loaded when a session first connects to an MCP server, not at start: most steps
 * use none, and the SDK builds hundreds of zod schemas when its modules are evaluated. In
 * agent-step's Lambda asset it is a file of its own beside the bundle (`loadClient`); elsewhere a
 * bundled module reached only through `import()` is evaluated on its first import (see
 * SAME_PACKAGE_ALIASES in infra/aws/lambda-bundling.ts for what that needs of zod).
 */

import { GuardedFetcher } from "../adapters/http/guarded-fetcher.js";
import type { McpSdkConnector } from "../adapters/http/mcp-sdk-connector.js";
import type { McpConnector } from "../core/ports.js";
import type { Config } from "./config.js";
import type { Ports } from "./container.js";

/**
 * Set (esbuild `define`) in the Lambda bundles whose asset carries the MCP client as a file of its
 * own beside the bundle: infra/aws/lambda-side-files.ts.
 */
declare const __REVERIE_MCP_CLIENT_FILE__: string | undefined;

/**
 * The MCP client's module. In agent-step's Lambda asset it is a file of its own, so the bundle V8
 * compiles at every cold start does not carry it (esbuild drops the other branch when the constant is
 * defined); anywhere else, the module itself.
 */
function loadClient(): Promise<typeof import("../adapters/http/mcp-sdk-connector.js")> {
  return typeof __REVERIE_MCP_CLIENT_FILE__ === "string"
    ? import(new URL(__REVERIE_MCP_CLIENT_FILE__, import.meta.url).href)
    : import("../adapters/http/mcp-sdk-connector.js");
}

export function withMcp(config: Pick<Config, "REVERIE_WEB_FETCH_ALLOW_PRIVATE">): Pick<Ports, "mcp"> {
  // One setting for every outbound request a session makes: web_fetch, MCP servers, token endpoints.
  const guard = new GuardedFetcher({ allowPrivate: config.REVERIE_WEB_FETCH_ALLOW_PRIVATE });
  let connector: Promise<McpSdkConnector> | undefined;
  const mcp: McpConnector = {
    async connect(url, options) {
      connector ??= loadClient().then(({ McpSdkConnector }) => new McpSdkConnector({ fetch: guard.fetch }));
      return (await connector).connect(url, options);
    },
  };
  return { mcp };
}
