/**
 * Sealed credentials survive a restart of the embedded stack on the same data dir: the key file is
 * created 0600 on first start and reused; without it (a lost key file) the credential cannot be
 * opened, and the stack says so instead of handing out anything.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, describe, expect, it } from "vitest";
import { type EmbeddedStack, startEmbeddedStack } from "../../infra/local/embedded-stack.js";
import { loadConfig } from "../../shared/runtime/config.js";
import { quietLogger } from "../fixtures/reverie-harness.js";

const dataDir = mkdtempSync(join(tmpdir(), "reverie-vault-restart-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const start = () =>
  startEmbeddedStack({
    config: loadConfig({ PORT: "0" }),
    dataDir,
    port: 0,
    logger: quietLogger,
    sandbox: null,
  });

const clientOf = (stack: EmbeddedStack) =>
  new Anthropic({ baseURL: stack.url, apiKey: stack.apiKey, maxRetries: 0 });
const SERVER = "https://mcp.example.com/restart";

describe("vault credentials across restarts", () => {
  it("are opened with the same key file after a restart, and not at all without it", async () => {
    let stack = await start();
    const vault = await clientOf(stack).beta.vaults.create({ display_name: "durable" });
    await clientOf(stack).beta.vaults.credentials.create(vault.id, {
      auth: { type: "static_bearer", token: "survives-restarts", mcp_server_url: SERVER },
    });
    expect(statSync(join(dataDir, "secrets.key")).mode & 0o777).toBe(0o600);
    await stack.stop();

    stack = await start();
    expect(
      await stack.services.deps.vaultCredentials?.authorizationFor("wrkspc_local", [vault.id], SERVER),
    ).toBe("Bearer survives-restarts");
    await stack.stop();

    rmSync(join(dataDir, "secrets.key"));
    stack = await start();
    try {
      await expect(
        stack.services.deps.vaultCredentials?.authorizationFor("wrkspc_local", [vault.id], SERVER),
      ).rejects.toThrow(/not under this key/);
      // The record itself is still there and readable without its secrets.
      const listed = await clientOf(stack).beta.vaults.credentials.list(vault.id);
      expect(listed.data).toHaveLength(1);
    } finally {
      await stack.stop();
    }
  }, 60_000);
});
