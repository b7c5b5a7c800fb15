/**
 * Secrets are write-only: a recognisable secret put in a vault (a static bearer token, an OAuth
 * access/refresh token and client secret, and the token a refresh rotates in) appears in no API
 * response, no session event, no domain event or webhook, no log line or console output of the
 * stack, no request to the upstream model, and not in the document store (sealed at rest) — for a
 * session whose agent calls two real MCP servers authorised from the vault (one OAuth credential
 * refreshed on the way), which receive exactly those secrets.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Logger } from "../../shared/core/ports.js";
import { credentialKey, identityKey, vaultKey } from "../../shared/core/vaults/vault-records.js";
import { type McpTestServer, startMcpTestServer } from "../fixtures/mcp-test-server.js";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

const SECRET = "sk-VAULT-CANARY-7f3a9c";
const ACCESS = `${SECRET}-access`;
const REFRESH = `${SECRET}-refresh`;
const CLIENT_SECRET = `${SECRET}-client`;
const ROTATED = `${SECRET}-rotated`;

/** Everything the stack said or sent, as text. */
const seen: string[] = [];
const record = (where: string, value: unknown) => seen.push(`${where}: ${JSON.stringify(value)}`);

const capturingLogger: Logger = {
  info: (m, a) => record("log.info", { m, a }),
  warn: (m, a) => record("log.warn", { m, a }),
  error: (m, a) => record("log.error", { m, a }),
};

let h: Harness;
let tokenEndpoint: Server;
let tokenUrl: string;
let webhookReceiver: Server;
let webhookUrl: string;
let staticMcp: McpTestServer;
let oauthMcp: McpTestServer;
const restore: Array<() => void> = [];

/** Records every byte written to stdout/stderr while the stack runs (Powertools, console, …). */
function captureStdio() {
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream);
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      record("stdio", String(chunk));
      return (original as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    restore.push(() => {
      stream.write = original;
    });
  }
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  captureStdio();
  tokenEndpoint = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ access_token: ROTATED, expires_in: 3600 }));
    });
  });
  tokenUrl = `${await listen(tokenEndpoint)}/token`;
  webhookReceiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => {
      body += c;
    });
    req.on("end", () => {
      record("webhook", { headers: req.headers, body });
      res.writeHead(200);
      res.end();
    });
  });
  webhookUrl = `${await listen(webhookReceiver)}/hook`;
  staticMcp = await startMcpTestServer({ tokens: [SECRET] });
  oauthMcp = await startMcpTestServer({ tokens: [ROTATED] });
  h = await startHarness({
    logger: capturingLogger,
    env: {
      REVERIE_MCP_ALLOW_PRIVATE: "1",
      REVERIE_WEB_FETCH_ALLOW_PRIVATE: "1",
      REVERIE_WEBHOOK_ALLOW_PRIVATE: "1",
      REVERIE_WEBHOOK_RETRY_BASE_SECONDS: "0",
      REVERIE_LOG_LEVEL: "DEBUG",
    },
  });
  h.stack.eventBus.subscribe((event) => record("eventbridge", event));
  h.stack.notifications.subscribe((message) => record("sns", message));
}, 60_000);

afterAll(async () => {
  await h.close();
  await staticMcp.close();
  await oauthMcp.close();
  await new Promise<void>((resolve) => tokenEndpoint.close(() => resolve()));
  await new Promise<void>((resolve) => webhookReceiver.close(() => resolve()));
  for (const undo of restore) undo();
});

describe("vault secrets", () => {
  it("never leave through a response, an event, a log line, the model, or the store", async () => {
    const client = h.client;
    const api = <T>(where: string, value: T): T => {
      record(where, value);
      return value;
    };
    api(
      "webhook.create",
      await client.beta.organization.webhooks.create({
        url: webhookUrl,
        enabled_events: [
          "vault.created",
          "vault.archived",
          "vault_credential.created",
          "vault_credential.archived",
          "vault_credential.refresh_failed",
          "session.status_idled",
        ],
      } as never),
    );

    const vault = api("vault.create", await client.beta.vaults.create({ display_name: "canary" }));
    const bearer = api(
      "credential.create",
      await client.beta.vaults.credentials.create(vault.id, {
        auth: { type: "static_bearer", token: SECRET, mcp_server_url: staticMcp.url },
      }),
    );
    const oauth = api(
      "credential.create",
      await client.beta.vaults.credentials.create(vault.id, {
        auth: {
          type: "mcp_oauth",
          access_token: ACCESS,
          mcp_server_url: oauthMcp.url,
          expires_at: new Date(Date.now() + 20_000).toISOString(),
          refresh: {
            client_id: "client",
            refresh_token: REFRESH,
            token_endpoint: tokenUrl,
            token_endpoint_auth: { type: "client_secret_post", client_secret: CLIENT_SECRET },
          },
        },
      }),
    );
    // A bad request carrying a secret: the 400 must not echo it.
    api(
      "credential.create.400",
      await client.beta.vaults.credentials
        .create(vault.id, {
          auth: { type: "static_bearer", token: SECRET, mcp_server_url: "not a url" },
          extra: SECRET,
        } as never)
        .catch((e: InstanceType<typeof Anthropic.APIError>) => ({ status: e.status, body: e.error })),
    );
    api(
      "credential.retrieve",
      await client.beta.vaults.credentials.retrieve(bearer.id, { vault_id: vault.id }),
    );
    api("credential.list", (await client.beta.vaults.credentials.list(vault.id)).data);
    api(
      "credential.update",
      await client.beta.vaults.credentials.update(bearer.id, {
        vault_id: vault.id,
        auth: { type: "static_bearer", token: SECRET },
      }),
    );

    // A session whose agent calls both MCP servers, authorised from the vault.
    const environment = await client.beta.environments.create({ name: "canary" });
    const allow = { permission_policy: { type: "always_allow" as const } };
    const agent = await client.beta.agents.create({
      name: "canary",
      model: "claude-sonnet-4-6",
      mcp_servers: [
        { type: "url", name: "static", url: staticMcp.url },
        { type: "url", name: "oauth", url: oauthMcp.url },
      ],
      tools: [
        { type: "mcp_toolset", mcp_server_name: "static", default_config: allow },
        { type: "mcp_toolset", mcp_server_name: "oauth", default_config: allow },
      ],
    });
    h.upstream.script(
      mockToolUse("static__echo", { text: "via the static bearer" }),
      mockToolUse("oauth__echo", { text: "via the refreshed oauth token" }),
      mockText("done"),
    );
    const session = api(
      "session.create",
      await client.beta.sessions.create({
        agent: agent.id,
        environment_id: environment.id,
        vault_ids: [vault.id],
        initial_events: [{ type: "user.message", content: [{ type: "text", text: "hello" }] }],
      }),
    );
    api("session.idle", await h.waitIdle(session.id));
    // The servers got exactly the vault's secrets (the OAuth one refreshed on the way: it expired soon).
    expect(staticMcp.calls.map((c) => c.authorization)).toEqual([`Bearer ${SECRET}`]);
    expect(oauthMcp.calls.map((c) => c.authorization)).toEqual([`Bearer ${ROTATED}`]);
    api("validate", await client.beta.vaults.credentials.mcpOAuthValidate(oauth.id, { vault_id: vault.id }));
    api(
      "credential.after-refresh",
      await client.beta.vaults.credentials.retrieve(oauth.id, { vault_id: vault.id }),
    );

    h.upstream.script(mockText("again"));
    await client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "once more" }] }],
    });
    api("session.idle", await h.waitIdle(session.id));
    api("session.events", await h.allEvents(session.id));
    api("session.retrieve", await client.beta.sessions.retrieve(session.id));
    // At rest: what the store holds for the vault is sealed.
    const store = h.stack.services.deps.store;
    for (const pk of [vaultKey("wrkspc_local"), credentialKey(vault.id), identityKey(vault.id)])
      record("store", await store.query("resources", pk));
    const sealed = (await store.get("resources", credentialKey(vault.id), bearer.id)) as unknown as {
      sealed: string;
    };
    expect(sealed.sealed).toMatch(/^rv1\.aes256gcm\./);

    api("credential.archive", await client.beta.vaults.credentials.archive(oauth.id, { vault_id: vault.id }));
    api("vault.archive", await client.beta.vaults.archive(vault.id));
    // Let the webhooks drain: the last one is the vault's archive.
    for (
      let i = 0;
      i < 200 && !seen.some((l) => l.startsWith("webhook:") && l.includes("vault.archived"));
      i++
    )
      await new Promise((resolve) => setTimeout(resolve, 50));

    // The model saw every turn and never a secret.
    expect(h.upstream.requests.length).toBeGreaterThanOrEqual(2);
    record("upstream", h.upstream.received);

    // The canary made it everywhere it was meant to go, and nowhere else.
    const everything = seen.join("\n");
    expect(everything).toContain(vault.id);
    expect(everything).toMatch(/vault_credential\.created/);
    const channels = new Set(seen.map((line) => line.slice(0, line.indexOf(":"))));
    for (const channel of ["webhook", "eventbridge", "log.info", "upstream", "store", "session.events"])
      expect(channels, channel).toContain(channel);
    for (const secret of [SECRET, ACCESS, REFRESH, CLIENT_SECRET, ROTATED, "VAULT-CANARY"])
      expect(everything.includes(secret), `${secret} leaked`).toBe(false);
  });
});
