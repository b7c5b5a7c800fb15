/**
 * The API coverage report: every Managed Agents endpoint the pinned SDK can call, read from the SDK's
 * own code, matched against the embedded stack's routes; README.md's generated block must be current.
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedStack, startEmbeddedStack } from "../../infra/local/embedded-stack.js";
import { loadConfig } from "../../shared/runtime/config.js";
import {
  coverage,
  coverageMarkdown,
  README_END,
  README_START,
  sdkEndpoints,
  sdkInfo,
} from "../api-coverage/api-coverage.js";

let stack: EmbeddedStack;
beforeAll(async () => {
  const quiet = { info() {}, warn() {}, error() {} };
  stack = await startEmbeddedStack({
    config: loadConfig({ PORT: "0", REVERIE_LOG_LEVEL: "SILENT" }),
    port: 0,
    logger: quiet,
    sandbox: null,
  });
});
afterAll(() => stack?.stop());

describe("API coverage", () => {
  it("reads every Managed Agents endpoint from the pinned SDK", () => {
    const endpoints = sdkEndpoints();
    expect(sdkInfo().version).toBe("1.15.0");
    // A parser that misses a resource or a method would shrink this; a duplicate would show here.
    expect(new Set(endpoints.map((e) => `${e.method} ${e.path}`)).size).toBe(endpoints.length);
    expect(endpoints).toContainEqual({
      call: "sessions.events.stream",
      method: "GET",
      path: "/v1/sessions/{sessionID}/events/stream",
    });
    expect(endpoints).toContainEqual({
      call: "vaults.credentials.mcpOAuthValidate",
      method: "POST",
      path: "/v1/vaults/{vault_id}/credentials/{credentialID}/mcp_oauth_validate",
    });
    expect(endpoints.length).toBe(101);
  });

  it("matches routes by method and path shape, whatever the params are called", () => {
    const rows = coverage(
      [
        { call: "a.retrieve", method: "GET", path: "/v1/a/{aID}" },
        { call: "a.archive", method: "POST", path: "/v1/a/{aID}/archive" },
      ],
      [
        { method: "GET", path: "/v1/a/{a_id}" },
        { method: "GET", path: "/v1/a/{a_id}/archive" },
      ],
    );
    expect(rows.map((r) => r.served)).toEqual([true, false]);
  });

  it("README.md's coverage block is what `npm run coverage:api -- --write` generates", () => {
    const rows = coverage(sdkEndpoints(), stack.services.api?.router.list() ?? []);
    const readme = readFileSync("README.md", "utf8");
    const block = readme.slice(readme.indexOf(README_START), readme.indexOf(README_END) + README_END.length);
    const served = rows.filter((r) => r.served).length;
    console.log(`API coverage: ${served} / ${rows.length} Managed Agents endpoints served`);
    expect(block, "run `npm run coverage:api -- --write`").toBe(coverageMarkdown(rows, sdkInfo().version));
  });
});
