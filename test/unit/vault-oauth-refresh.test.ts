/**
 * Refreshing `mcp_oauth` credentials at the moment of use: before expiry, after a 401, a failed
 * refresh (the `vault_credential.refresh_failed` event, the old token still handed out), and two
 * concurrent refreshers that must not lose a rotated refresh token.
 */
import { beforeEach, describe, expect, it } from "vitest";
import { AesSecretSealer } from "../../shared/adapters/local/aes-secret-sealer.js";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import { TimeSortableIds } from "../../shared/contract/ids.js";
import type { DomainEvent, HttpFetcher, HttpSendRequest } from "../../shared/core/ports.js";
import { CredentialsService } from "../../shared/core/vaults/credentials-service.js";
import { exchangeRefreshToken, OAuthRefresher } from "../../shared/core/vaults/oauth-refresh.js";
import { VaultCredentials } from "../../shared/core/vaults/vault-credentials.js";
import type { VaultDeps } from "../../shared/core/vaults/vault-deps.js";
import { credentialKey } from "../../shared/core/vaults/vault-records.js";
import { VaultsService } from "../../shared/core/vaults/vaults-service.js";

const WS = "wrkspc_t";
const SERVER = "https://mcp.example.com/mcp";
const TOKEN_ENDPOINT = "https://auth.example.com/token";

/** A token endpoint that rotates refresh tokens: only the latest one is accepted. */
class TokenEndpoint implements HttpFetcher {
  calls: Array<{ url: string; form: URLSearchParams; headers: Record<string, string> }> = [];
  currentRefresh = "refresh-0";
  generation = 0;
  failWith: number | undefined;
  /** Resolves the next answer only when released (to hold a refresh in flight). */
  gate: Promise<void> | undefined;

  async fetchText(): Promise<never> {
    throw new Error("not used");
  }

  async send(url: string, request: HttpSendRequest) {
    const form = new URLSearchParams(request.body);
    this.calls.push({ url, form, headers: request.headers ?? {} });
    await this.gate;
    if (this.failWith)
      return {
        status: this.failWith,
        contentType: "application/json",
        body: JSON.stringify({ error: "invalid_grant", refresh_token: form.get("refresh_token") }),
      };
    if (form.get("refresh_token") !== this.currentRefresh)
      return { status: 400, contentType: "application/json", body: '{"error":"invalid_grant"}' };
    this.generation++;
    this.currentRefresh = `refresh-${this.generation}`;
    return {
      status: 200,
      contentType: "application/json",
      body: JSON.stringify({
        access_token: `access-${this.generation}`,
        refresh_token: this.currentRefresh,
        expires_in: 3600,
        token_type: "Bearer",
      }),
    };
  }
}

let now: number;
let endpoint: TokenEndpoint;
let events: DomainEvent[];
let logs: string[];
let deps: VaultDeps;
let resolver: VaultCredentials;
let vaultId: string;
let credentialId: string;

async function createCredential(expiresInMs: number) {
  const credentials = new CredentialsService(deps);
  const vaults = new VaultsService(deps, credentials);
  vaultId = (await vaults.create(WS, { display_name: "v" })).id;
  credentialId = (
    await credentials.create(WS, vaultId, {
      auth: {
        type: "mcp_oauth",
        access_token: "access-0",
        mcp_server_url: SERVER,
        expires_at: new Date(now + expiresInMs).toISOString(),
        refresh: {
          client_id: "client",
          refresh_token: "refresh-0",
          token_endpoint: TOKEN_ENDPOINT,
          token_endpoint_auth: { type: "client_secret_basic", client_secret: "shh" },
        },
      },
    })
  ).id;
}

beforeEach(() => {
  now = Date.parse("2026-05-01T12:00:00Z");
  endpoint = new TokenEndpoint();
  events = [];
  logs = [];
  const log = (message: string, attributes?: Record<string, unknown>) =>
    logs.push(`${message} ${JSON.stringify(attributes ?? {})}`);
  deps = {
    store: new MemoryDocumentStore(),
    ids: new TimeSortableIds(() => now),
    clock: { now: () => now },
    domainEvents: { publish: async (e) => void events.push(e) },
    logger: { info: log, warn: log, error: log },
    sealer: new AesSecretSealer(),
    fetcher: endpoint,
  };
  resolver = new VaultCredentials(deps, new OAuthRefresher(deps, { pollMs: 2 }));
});

describe("mcp_oauth refresh at the moment of use", () => {
  it("hands out the stored token while it is fresh, without calling the token endpoint", async () => {
    await createCredential(10 * 60_000);
    expect(await resolver.authorizationFor(WS, [vaultId], SERVER)).toBe("Bearer access-0");
    expect(endpoint.calls).toHaveLength(0);
  });

  it("refreshes a token that expires within a minute, with client_secret_basic, and stores the rotation", async () => {
    await createCredential(59_000);
    expect(await resolver.authorizationFor(WS, [vaultId], SERVER)).toBe("Bearer access-1");
    expect(endpoint.calls).toHaveLength(1);
    const call = endpoint.calls[0];
    expect(call?.url).toBe(TOKEN_ENDPOINT);
    expect(Object.fromEntries(call?.form ?? [])).toEqual({
      grant_type: "refresh_token",
      refresh_token: "refresh-0",
    });
    expect(call?.headers.authorization).toBe(`Basic ${Buffer.from("client:shh").toString("base64")}`);
    const stored = await deps.store.get("resources", credentialKey(vaultId), credentialId);
    expect(JSON.stringify(stored)).not.toMatch(/access-1|refresh-1|shh/);
    expect(
      (stored as unknown as { credential: { auth: { expires_at: string } } }).credential.auth.expires_at,
    ).toBe(new Date(now + 3600_000).toISOString());
    // The rotated refresh token is the one used next time.
    now += 3600_000;
    expect(await resolver.authorizationFor(WS, [vaultId], SERVER)).toBe("Bearer access-2");
    expect(endpoint.calls[1]?.form.get("refresh_token")).toBe("refresh-1");
  });

  it("refreshes after the MCP server answered 401, even before the expiry", async () => {
    await createCredential(3600_000);
    expect(await resolver.authorizationFor(WS, [vaultId], SERVER, { afterUnauthorized: true })).toBe(
      "Bearer access-1",
    );
    expect(endpoint.calls).toHaveLength(1);
  });

  it("publishes vault_credential.refresh_failed when the refresh fails, logs no secret, and keeps the old token", async () => {
    await createCredential(30_000);
    endpoint.failWith = 400;
    expect(await resolver.authorizationFor(WS, [vaultId], SERVER)).toBe("Bearer access-0");
    const failed = events.filter((e) => e.type === "vault_credential.refresh_failed");
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ workspaceId: WS, data: { id: credentialId, vault_id: vaultId } });
    expect(JSON.stringify(events)).not.toMatch(/access-0|refresh-0|shh/);
    expect(logs.join("\n")).not.toMatch(/access-0|refresh-0|shh/);
    // The lease is released: the next use tries again.
    endpoint.failWith = undefined;
    expect(await resolver.authorizationFor(WS, [vaultId], SERVER)).toBe("Bearer access-1");
  });

  it("lets only one of two concurrent refreshers spend the refresh token; both get the new access token", async () => {
    await createCredential(10_000);
    let release: () => void = () => {};
    endpoint.gate = new Promise((resolve) => {
      release = resolve;
    });
    const other = new VaultCredentials(deps, new OAuthRefresher(deps, { pollMs: 2 }));
    const a = resolver.authorizationFor(WS, [vaultId], SERVER);
    const b = other.authorizationFor(WS, [vaultId], SERVER, { afterUnauthorized: true });
    await new Promise((resolve) => setTimeout(resolve, 30));
    release();
    expect(await Promise.all([a, b])).toEqual(["Bearer access-1", "Bearer access-1"]);
    expect(endpoint.calls).toHaveLength(1);
    expect(events.filter((e) => e.type === "vault_credential.refresh_failed")).toHaveLength(0);
    // The rotated refresh token was kept: the next refresh spends refresh-1 and succeeds.
    now += 3600_000;
    expect(await resolver.authorizationFor(WS, [vaultId], SERVER)).toBe("Bearer access-2");
  });

  it("merges onto an update made through the API while its refresh ran: the user's token stands, the rotated refresh token is kept, the lease released", async () => {
    await createCredential(10_000);
    let release: () => void = () => {};
    endpoint.gate = new Promise((resolve) => {
      release = resolve;
    });
    const pending = resolver.authorizationFor(WS, [vaultId], SERVER);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await new CredentialsService(deps).update(WS, vaultId, credentialId, {
      auth: {
        type: "mcp_oauth",
        access_token: "access-from-user",
        expires_at: new Date(now + 7200_000).toISOString(),
      },
    });
    release();
    expect(await pending).toBe("Bearer access-from-user");
    const stored = await deps.store.get("resources", credentialKey(vaultId), credentialId);
    expect(stored?.refreshLeaseUntil).toBeUndefined();
    // The refresh token the server rotated meanwhile was merged in, not lost: the next refresh works.
    expect(await resolver.authorizationFor(WS, [vaultId], SERVER, { afterUnauthorized: true })).toBe(
      "Bearer access-2",
    );
    expect(endpoint.calls.map((c) => c.form.get("refresh_token"))).toEqual(["refresh-0", "refresh-1"]);
  });

  it("takes over a lease left by a refresher that died", async () => {
    await createCredential(10_000);
    const item = await deps.store.get("resources", credentialKey(vaultId), credentialId);
    await deps.store.put("resources", {
      ...item,
      rev: Number(item?.rev) + 1,
      refreshLeaseUntil: now + 30_000,
    } as never);
    const pending = resolver.authorizationFor(WS, [vaultId], SERVER);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(endpoint.calls).toHaveLength(0);
    now += 31_000;
    expect(await pending).toBe("Bearer access-1");
  });
});

describe("a failed token exchange's captured response", () => {
  it("holds no secret the request carried, however the token endpoint echoes it", async () => {
    const secrets = {
      refresh_token: "refresh/tok+en=1",
      client_secret: "s3cr3t client",
      access_token: "old",
    };
    const echo: HttpFetcher = {
      async fetchText(): Promise<never> {
        throw new Error("not used");
      },
      async send(_url: string, request: HttpSendRequest) {
        const body = `bad request: ${request.headers?.authorization} body ${request.body}`;
        return { status: 400, contentType: "text/plain", body };
      },
    };
    const attempt = await exchangeRefreshToken(
      { fetcher: echo },
      {
        type: "mcp_oauth",
        mcp_server_url: SERVER,
        access_token: "old",
        refresh: {
          token_endpoint: TOKEN_ENDPOINT,
          client_id: "client-1",
          token_endpoint_auth: { type: "client_secret_basic" },
        },
      } as Parameters<typeof exchangeRefreshToken>[1],
      secrets,
      5_000,
    );
    expect(attempt.status).toBe("failed");
    const captured = attempt.status === "failed" ? attempt.httpResponse.body : "";
    expect(captured).toContain("bad request");
    const basic = Buffer.from("client-1:s3cr3t+client").toString("base64");
    for (const leaked of [basic, "refresh%2Ftok%2Ben%3D1", "s3cr3t", "refresh/tok+en=1"])
      expect(captured).not.toContain(leaked);
  });
});
