/**
 * /v1/vaults and /v1/vaults/{id}/credentials through the official SDK against the embedded stack:
 * all 13 endpoints, the documented limits and 4xx (bad params, unknown ids, another workspace's
 * vault is a 404), write-only secrets, `vault_ids` on sessions, and credential resolution for MCP.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys } from "../../shared/core/auth/api-keys.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Credential = Anthropic.Beta.Vaults.BetaManagedAgentsCredential;

let h: Harness;
let other: Anthropic;
beforeAll(async () => {
  h = await startHarness({ env: { REVERIE_WEB_FETCH_ALLOW_PRIVATE: "1" } });
  const key = ApiKeys.generate();
  await h.stack.services.apiKeys.register(key, { workspaceId: "wrkspc_other", apiKeyId: "apikey_other" });
  other = new Anthropic({ baseURL: h.stack.url, apiKey: key, maxRetries: 0 });
});
afterAll(async () => h.close());

const vaults = () => h.client.beta.vaults;
const credentials = () => h.client.beta.vaults.credentials;
const resolver = () => {
  const r = h.stack.services.deps.vaultCredentials;
  if (!r) throw new Error("deps.vaultCredentials is not wired");
  return r;
};

async function all<T>(page: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of page) out.push(item);
  return out;
}

describe("vaults", () => {
  it("creates, retrieves, updates, lists, archives and deletes a vault", async () => {
    const vault = await vaults().create({ display_name: "Alice", metadata: { external_user_id: "usr_1" } });
    expect(vault).toMatchObject({
      type: "vault",
      display_name: "Alice",
      metadata: { external_user_id: "usr_1" },
      archived_at: null,
    });
    expect(vault.id).toMatch(/^vlt_/);
    expect(await vaults().retrieve(vault.id)).toEqual(vault);

    const updated = await vaults().update(vault.id, {
      display_name: "Alice B.",
      metadata: { external_user_id: null, team: "t" },
    });
    expect(updated).toMatchObject({ display_name: "Alice B.", metadata: { team: "t" } });

    const archived = await vaults().archive(vault.id);
    expect(archived.archived_at).not.toBeNull();
    expect((await all(vaults().list())).map((v) => v.id)).not.toContain(vault.id);
    expect((await all(vaults().list({ include_archived: true }))).map((v) => v.id)).toContain(vault.id);
    await rejection(vaults().update(vault.id, { display_name: "x" }), Anthropic.BadRequestError);

    expect(await vaults().delete(vault.id)).toEqual({ id: vault.id, type: "vault_deleted" });
    await rejection(vaults().retrieve(vault.id), Anthropic.NotFoundError);
  });

  it("pages through vaults", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await vaults().create({ display_name: `page ${i}` })).id);
    const first = await vaults().list({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.hasNextPage()).toBe(true);
    const listed = (await all(vaults().list({ limit: 1 }))).map((v) => v.id);
    for (const id of ids) expect(listed).toContain(id);
  });

  it("refuses bad params with a 400 naming the field", async () => {
    const empty = await rejection(vaults().create({ display_name: "" }), Anthropic.BadRequestError);
    expect(messageOf(empty)).toMatch(/display_name/);
    await rejection(vaults().create({ display_name: "x".repeat(256) }), Anthropic.BadRequestError);
    const metadata = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]));
    await rejection(vaults().create({ display_name: "m", metadata }), Anthropic.BadRequestError);
    await rejection(vaults().list({ limit: 0 }), Anthropic.BadRequestError);
  });

  it("answers 404 for an unknown vault and for another workspace's vault", async () => {
    await rejection(vaults().retrieve("vlt_unknown"), Anthropic.NotFoundError);
    const mine = await vaults().create({ display_name: "mine" });
    await rejection(other.beta.vaults.retrieve(mine.id), Anthropic.NotFoundError);
    await rejection(other.beta.vaults.update(mine.id, { display_name: "theirs" }), Anthropic.NotFoundError);
    await rejection(other.beta.vaults.archive(mine.id), Anthropic.NotFoundError);
    await rejection(other.beta.vaults.delete(mine.id), Anthropic.NotFoundError);
    await rejection(other.beta.vaults.credentials.list(mine.id), Anthropic.NotFoundError);
    await rejection(
      other.beta.vaults.credentials.create(mine.id, {
        auth: { type: "static_bearer", token: "t0ken-x", mcp_server_url: "https://mcp.example.com/mcp" },
      }),
      Anthropic.NotFoundError,
    );
    expect((await all(other.beta.vaults.list())).map((v) => v.id)).not.toContain(mine.id);
  });
});

describe("credentials", () => {
  it("creates, retrieves, updates, lists, archives and deletes a static bearer credential, never returning the token", async () => {
    const vault = await vaults().create({ display_name: "creds" });
    const token = "sk-static-bearer-never-returned";
    const created = await credentials().create(vault.id, {
      display_name: "Linear",
      metadata: { k: "v" },
      auth: { type: "static_bearer", token, mcp_server_url: "https://mcp.linear.app/mcp" },
    });
    expect(created).toMatchObject({
      type: "vault_credential",
      vault_id: vault.id,
      display_name: "Linear",
      metadata: { k: "v" },
      archived_at: null,
      auth: { type: "static_bearer", mcp_server_url: "https://mcp.linear.app/mcp" },
    });
    expect(created.id).toMatch(/^vcrd_/);
    expect(Object.keys(created.auth).sort()).toEqual(["mcp_server_url", "type"]);
    expect(JSON.stringify(created)).not.toContain(token);

    const retrieved = await credentials().retrieve(created.id, { vault_id: vault.id });
    expect(retrieved).toEqual(created);
    expect((await all(credentials().list(vault.id))).map((c) => c.id)).toEqual([created.id]);

    const rotated = "sk-static-bearer-rotated";
    const updated = await credentials().update(created.id, {
      vault_id: vault.id,
      display_name: "Linear (rotated)",
      auth: { type: "static_bearer", token: rotated },
    });
    expect(updated.display_name).toBe("Linear (rotated)");
    expect(JSON.stringify(updated)).not.toContain(rotated);
    expect(await resolver().authorizationFor("wrkspc_local", [vault.id], "https://mcp.linear.app/mcp")).toBe(
      `Bearer ${rotated}`,
    );

    const wrongType = await rejection(
      credentials().update(created.id, {
        vault_id: vault.id,
        auth: { type: "mcp_oauth", access_token: "x" },
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(wrongType)).toMatch(/type/);

    const archived = await credentials().archive(created.id, { vault_id: vault.id });
    expect(archived.archived_at).not.toBeNull();
    expect(await all(credentials().list(vault.id))).toEqual([]);
    expect((await all(credentials().list(vault.id, { include_archived: true }))).map((c) => c.id)).toEqual([
      created.id,
    ]);
    expect(
      await resolver().authorizationFor("wrkspc_local", [vault.id], "https://mcp.linear.app/mcp"),
    ).toBeUndefined();
    await rejection(
      credentials().update(created.id, { vault_id: vault.id, display_name: "again" }),
      Anthropic.BadRequestError,
    );

    expect(await credentials().delete(created.id, { vault_id: vault.id })).toEqual({
      id: created.id,
      type: "vault_credential_deleted",
    });
    await rejection(credentials().retrieve(created.id, { vault_id: vault.id }), Anthropic.NotFoundError);
  });

  it("keeps one active credential per MCP server URL in a vault (409), freed by archiving", async () => {
    const vault = await vaults().create({ display_name: "unique" });
    const auth = {
      type: "static_bearer" as const,
      token: "tok-1",
      mcp_server_url: "https://mcp.example.com/sse",
    };
    const first = await credentials().create(vault.id, { auth });
    await rejection(
      credentials().create(vault.id, { auth: { ...auth, mcp_server_url: "HTTPS://MCP.example.com/sse" } }),
      Anthropic.ConflictError,
    );
    await credentials().archive(first.id, { vault_id: vault.id });
    const second = await credentials().create(vault.id, { auth: { ...auth, token: "tok-2" } });
    expect(second.id).not.toBe(first.id);
  });

  it("refuses bad credential params with a 400 naming the field", async () => {
    const vault = await vaults().create({ display_name: "bad params" });
    const bad = async (auth: unknown) =>
      messageOf(
        await rejection(
          credentials().create(vault.id, { auth } as Anthropic.Beta.Vaults.CredentialCreateParams),
          Anthropic.BadRequestError,
        ),
      );
    expect(await bad({ type: "static_bearer", token: "", mcp_server_url: "https://a.example" })).toMatch(
      /auth\.token/,
    );
    expect(await bad({ type: "static_bearer", token: "t", mcp_server_url: "ftp://a.example" })).toMatch(
      /mcp_server_url/,
    );
    expect(
      await bad({ type: "static_bearer", token: "x".repeat(8193), mcp_server_url: "https://a.example" }),
    ).toMatch(/auth\.token/);
    expect(await bad({ type: "bearer", token: "t" })).toMatch(/auth\.type|auth/);
    expect(
      await bad({
        type: "mcp_oauth",
        access_token: "a",
        mcp_server_url: "https://a.example/mcp",
        expires_at: "2001-01-01T00:00:00Z",
      }),
    ).toMatch(/expires_at: must be in the future/);
    await rejection(credentials().list(vault.id, { limit: 101 }), Anthropic.BadRequestError);
    expect(
      await bad({
        type: "environment_variable",
        secret_name: "API_KEY",
        secret_value: "v",
        networking: { type: "limited", allowed_hosts: ["api.example.com:443"] },
      }),
    ).toMatch(/allowed_hosts\.0: .*ports/);
    // Well-formed, and still refused: no sandbox here can keep the value out of the sandbox.
    expect(
      await bad({
        type: "environment_variable",
        secret_name: "API_KEY",
        secret_value: "v",
        networking: { type: "limited", allowed_hosts: ["api.example.com", "*.example.org", "192.0.2.1"] },
      }),
    ).toMatch(
      /environment_variable credentials are not supported by this deployment: the sandbox would see the real secret/,
    );
  });

  it("answers 404 for unknown ids and a credential asked for through another vault", async () => {
    const a = await vaults().create({ display_name: "a" });
    const b = await vaults().create({ display_name: "b" });
    const cred = await credentials().create(a.id, {
      auth: { type: "static_bearer", token: "tok", mcp_server_url: "https://mcp.example.com/a" },
    });
    await rejection(credentials().retrieve("vcrd_unknown", { vault_id: a.id }), Anthropic.NotFoundError);
    await rejection(credentials().retrieve(cred.id, { vault_id: "vlt_unknown" }), Anthropic.NotFoundError);
    await rejection(credentials().list("vlt_unknown"), Anthropic.NotFoundError);
    await rejection(
      other.beta.vaults.credentials.retrieve(cred.id, { vault_id: a.id }),
      Anthropic.NotFoundError,
    );
    await rejection(
      other.beta.vaults.credentials.archive(cred.id, { vault_id: a.id }),
      Anthropic.NotFoundError,
    );
    await rejection(
      other.beta.vaults.credentials.delete(cred.id, { vault_id: a.id }),
      Anthropic.NotFoundError,
    );
    await rejection(
      other.beta.vaults.credentials.mcpOAuthValidate(cred.id, { vault_id: a.id }),
      Anthropic.NotFoundError,
    );
    // The same credential id through the wrong vault of the right workspace.
    await rejection(credentials().retrieve(cred.id, { vault_id: b.id }), Anthropic.NotFoundError);
  });

  it("resolves the Authorization header from the first vault, in order, that holds the server", async () => {
    const first = await vaults().create({ display_name: "first" });
    const second = await vaults().create({ display_name: "second" });
    const url = "https://mcp.example.com/ordered";
    await credentials().create(first.id, {
      auth: { type: "static_bearer", token: "from-first", mcp_server_url: url },
    });
    await credentials().create(second.id, {
      auth: { type: "static_bearer", token: "from-second", mcp_server_url: url },
    });
    expect(await resolver().authorizationFor("wrkspc_local", [first.id, second.id], url)).toBe(
      "Bearer from-first",
    );
    expect(await resolver().authorizationFor("wrkspc_local", [second.id, first.id], url)).toBe(
      "Bearer from-second",
    );
    expect(
      await resolver().authorizationFor("wrkspc_local", [first.id], "https://mcp.example.com/other"),
    ).toBe(undefined);
    expect(await resolver().authorizationFor("wrkspc_other", [first.id], url)).toBeUndefined();
  });
});

describe("vault_ids on sessions", () => {
  it("stores and returns the vault ids, and refuses unknown (404), another workspace's (404) and archived (400) vaults", async () => {
    const { agentId, environmentId } = await h.setup();
    const a = await vaults().create({ display_name: "session a" });
    const b = await vaults().create({ display_name: "session b" });
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      vault_ids: [b.id, a.id],
    });
    expect(session.vault_ids).toEqual([b.id, a.id]);
    expect((await h.client.beta.sessions.retrieve(session.id)).vault_ids).toEqual([b.id, a.id]);

    await rejection(
      h.client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        vault_ids: ["vlt_nope"],
      }),
      Anthropic.NotFoundError,
    );
    const theirs = await other.beta.vaults.create({ display_name: "theirs" });
    await rejection(
      h.client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        vault_ids: [theirs.id],
      }),
      Anthropic.NotFoundError,
    );
    const archived = await vaults().create({ display_name: "archived" });
    await vaults().archive(archived.id);
    const refused = await rejection(
      h.client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        vault_ids: [archived.id],
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(refused)).toMatch(/vault_ids\.0: vault .* is archived/);
    await rejection(
      h.client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        vault_ids: [a.id, a.id],
      }),
      Anthropic.BadRequestError,
    );
    const tooMany = Array.from({ length: 21 }, (_, i) => `vlt_${i}`);
    await rejection(
      h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, vault_ids: tooMany }),
      Anthropic.BadRequestError,
    );
    await rejection(
      h.client.beta.sessions.update(session.id, { vault_ids: [a.id] }),
      Anthropic.BadRequestError,
    );
  });
});

/** A token endpoint and an MCP server on loopback, recording what they were sent. */
interface OAuthServers {
  url: string;
  tokenRequests: URLSearchParams[];
  mcpAuthorizations: string[];
  /** The access token the MCP server accepts. */
  accept: string;
  /** What the token endpoint answers next. */
  next: { status: number; body: Record<string, unknown> };
  close(): Promise<void>;
}

async function startOAuthServers(): Promise<OAuthServers> {
  const state: Omit<OAuthServers, "url" | "close"> = {
    tokenRequests: [],
    mcpAuthorizations: [],
    accept: "",
    next: { status: 200, body: {} },
  };
  const read = async (req: IncomingMessage) => {
    let body = "";
    for await (const chunk of req) body += chunk;
    return body;
  };
  const server: Server = createServer(async (req, res) => {
    const body = await read(req);
    if (req.url === "/token") {
      state.tokenRequests.push(new URLSearchParams(body));
      res.writeHead(state.next.status, { "content-type": "application/json" });
      res.end(JSON.stringify(state.next.body));
      return;
    }
    state.mcpAuthorizations.push(String(req.headers.authorization));
    if (req.headers.authorization !== `Bearer ${state.accept}`) {
      res.writeHead(401, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: "invalid_token", echoed: req.headers.authorization }));
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({ jsonrpc: "2.0", id: 1, result: { protocolVersion: "2025-06-18", capabilities: {} } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }) as OAuthServers;
}

describe("mcp_oauth credentials", () => {
  let oauth: OAuthServers;
  beforeAll(async () => {
    oauth = await startOAuthServers();
  });
  afterAll(async () => oauth.close());

  const create = async (vaultId: string, accessToken: string, expiresAt?: string) =>
    credentials().create(vaultId, {
      auth: {
        type: "mcp_oauth",
        access_token: accessToken,
        mcp_server_url: `${oauth.url}/mcp`,
        expires_at: expiresAt ?? new Date(Date.now() + 3600_000).toISOString(),
        refresh: {
          client_id: "client-1",
          refresh_token: "refresh-1",
          token_endpoint: `${oauth.url}/token`,
          token_endpoint_auth: { type: "client_secret_post", client_secret: "client-secret-1" },
          scope: "read",
        },
      },
    });

  it("returns only the non-secret fields", async () => {
    const vault = await vaults().create({ display_name: "oauth" });
    const created: Credential = await create(vault.id, "access-1");
    expect(created.auth).toEqual({
      type: "mcp_oauth",
      mcp_server_url: `${oauth.url}/mcp`,
      expires_at: expect.any(String),
      refresh: {
        client_id: "client-1",
        token_endpoint: `${oauth.url}/token`,
        token_endpoint_auth: { type: "client_secret_post" },
        resource: null,
        scope: "read",
      },
    });
    for (const secret of ["access-1", "refresh-1", "client-secret-1"])
      expect(JSON.stringify(created)).not.toContain(secret);
    await credentials().delete(created.id, { vault_id: vault.id });
  });

  it("validates: valid; 401 then a refresh that works; a refresh that fails; not for static bearer", async () => {
    const vault = await vaults().create({ display_name: "validate" });
    const cred = await create(vault.id, "access-ok");
    oauth.accept = "access-ok";
    const valid = await credentials().mcpOAuthValidate(cred.id, { vault_id: vault.id });
    expect(valid).toMatchObject({
      type: "vault_credential_validation",
      credential_id: cred.id,
      vault_id: vault.id,
      status: "valid",
      has_refresh_token: true,
      mcp_probe: null,
      refresh: null,
    });

    oauth.accept = "access-renewed";
    oauth.next = {
      status: 200,
      body: { access_token: "access-renewed", refresh_token: "refresh-2", expires_in: 3600 },
    };
    const renewed = await credentials().mcpOAuthValidate(cred.id, { vault_id: vault.id });
    expect(renewed).toMatchObject({ status: "valid", refresh: { status: "succeeded", http_response: null } });
    const sent = oauth.tokenRequests.at(-1) as URLSearchParams;
    expect(Object.fromEntries(sent)).toEqual({
      grant_type: "refresh_token",
      refresh_token: "refresh-1",
      client_id: "client-1",
      client_secret: "client-secret-1",
      scope: "read",
    });
    expect(await resolver().authorizationFor("wrkspc_local", [vault.id], `${oauth.url}/mcp`)).toBe(
      "Bearer access-renewed",
    );

    oauth.accept = "something-else";
    oauth.next = { status: 400, body: { error: "invalid_grant", refresh_token: "refresh-2" } };
    const failed = await credentials().mcpOAuthValidate(cred.id, { vault_id: vault.id });
    expect(failed.status).toBe("invalid");
    expect(failed.refresh?.status).toBe("failed");
    expect(failed.refresh?.http_response?.status_code).toBe(400);
    expect(failed.mcp_probe?.method).toBe("initialize");
    expect(failed.mcp_probe?.http_response?.status_code).toBe(401);
    const shown = JSON.stringify(failed);
    for (const secret of ["access-renewed", "refresh-2", "client-secret-1"])
      expect(shown).not.toContain(secret);

    const bearer = await credentials().create(vault.id, {
      auth: { type: "static_bearer", token: "t", mcp_server_url: "https://mcp.example.com/static" },
    });
    await rejection(
      credentials().mcpOAuthValidate(bearer.id, { vault_id: vault.id }),
      Anthropic.BadRequestError,
    );
  });

  it("updates: secrets replaced in part, the scope cleared with an empty string, refresh removed with null", async () => {
    const vault = await vaults().create({ display_name: "oauth updates" });
    const cred = await create(vault.id, "access-a");
    const later = new Date(Date.now() + 7200_000).toISOString();
    const updated = await credentials().update(cred.id, {
      vault_id: vault.id,
      auth: {
        type: "mcp_oauth",
        access_token: "access-b",
        expires_at: later,
        refresh: {
          scope: "",
          token_endpoint_auth: { type: "client_secret_basic", client_secret: "client-secret-2" },
        },
      },
    });
    expect(updated.auth).toMatchObject({
      type: "mcp_oauth",
      expires_at: later,
      // The credential keeps its token endpoint auth type, whatever type is sent with the new secret.
      refresh: { scope: null, token_endpoint_auth: { type: "client_secret_post" } },
    });
    expect(await resolver().authorizationFor("wrkspc_local", [vault.id], `${oauth.url}/mcp`)).toBe(
      "Bearer access-b",
    );
    const past = await rejection(
      credentials().update(cred.id, {
        vault_id: vault.id,
        auth: { type: "mcp_oauth", expires_at: "2020-01-01T00:00:00Z" },
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(past)).toMatch(/expires_at: must be in the future/);
    const cleared = await credentials().update(cred.id, {
      vault_id: vault.id,
      auth: { type: "mcp_oauth", refresh: null },
    });
    expect(cleared.auth).toMatchObject({ type: "mcp_oauth", refresh: null });
    const validation = await credentials().mcpOAuthValidate(cred.id, { vault_id: vault.id });
    expect(validation.has_refresh_token).toBe(false);
    await rejection(
      credentials().update(cred.id, {
        vault_id: vault.id,
        auth: { type: "mcp_oauth", refresh: { refresh_token: "r" } },
      }),
      Anthropic.BadRequestError,
    );
    const immutable = await rejection(
      credentials().update(cred.id, {
        vault_id: vault.id,
        auth: { type: "mcp_oauth", mcp_server_url: "https://elsewhere.example.com" },
      } as never),
      Anthropic.BadRequestError,
    );
    expect(messageOf(immutable)).toMatch(/mcp_server_url: unknown field/);
  });

  it("holds at most 20 credentials in a vault", async () => {
    const vault = await vaults().create({ display_name: "full" });
    for (let i = 0; i < 20; i++)
      await credentials().create(vault.id, {
        auth: { type: "static_bearer", token: `t${i}`, mcp_server_url: `https://mcp${i}.example.com/mcp` },
      });
    const full = await rejection(
      credentials().create(vault.id, {
        auth: { type: "static_bearer", token: "t", mcp_server_url: "https://mcp-extra.example.com/mcp" },
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(full)).toMatch(/20 credentials/);
  });

  it("refreshes a token that expires within a minute before handing it out", async () => {
    const vault = await vaults().create({ display_name: "expiring" });
    const cred = await create(vault.id, "about-to-expire", new Date(Date.now() + 30_000).toISOString());
    oauth.next = { status: 200, body: { access_token: "fresh-token", expires_in: 3600 } };
    const before = oauth.tokenRequests.length;
    expect(await resolver().authorizationFor("wrkspc_local", [vault.id], `${oauth.url}/mcp`)).toBe(
      "Bearer fresh-token",
    );
    expect(oauth.tokenRequests.length).toBe(before + 1);
    const after = await credentials().retrieve(cred.id, { vault_id: vault.id });
    expect(after.auth.type === "mcp_oauth" && Date.parse(after.auth.expires_at ?? "")).toBeGreaterThan(
      Date.now() + 3000_000,
    );
    // Fresh now: no second refresh.
    expect(await resolver().authorizationFor("wrkspc_local", [vault.id], `${oauth.url}/mcp`)).toBe(
      "Bearer fresh-token",
    );
    expect(oauth.tokenRequests.length).toBe(before + 1);
  });
});
