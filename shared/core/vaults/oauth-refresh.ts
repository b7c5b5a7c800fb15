/**
 * Refreshing `mcp_oauth` credentials: the refresh-token grant against the credential's token
 * endpoint (through the SSRF-guarded fetcher), and the rev-checked writes around it. One refresher
 * at a time holds a short lease on the credential, so two processes never both spend a refresh
 * token that the server rotates: the second waits and uses what the first stored.
 */
import type { CapturedHttpResponse, CredentialAuth } from "../../contract/vaults.js";
import { ConditionFailedError } from "../ports.js";
import type { AuthorizationOptions } from "./vault-credentials.js";
import { publishVaultEvent, type VaultDeps } from "./vault-deps.js";
import {
  type CredentialItem,
  type CredentialSecrets,
  credentialKey,
  openSecrets,
  sealSecrets,
} from "./vault-records.js";

type McpOAuthAuth = Extract<CredentialAuth, { type: "mcp_oauth" }>;

/** How a refresh-token exchange went (the SDK's `BetaManagedAgentsRefreshObject.status`, plus the tokens). */
export type RefreshAttempt =
  | { status: "succeeded"; accessToken: string; refreshToken?: string; expiresInSeconds?: number }
  | { status: "failed"; httpResponse: CapturedHttpResponse }
  | { status: "connect_error"; message: string }
  | { status: "no_refresh_token" };

export interface OAuthRefreshSettings {
  /** Refresh when the access token expires within this long; default one minute. */
  refreshBeforeMs?: number;
  /** How long a refresher holds its lease; default 30 s. */
  leaseMs?: number;
  /** Timeout of a token endpoint call; default 10 s. */
  timeoutMs?: number;
  /** How often a process waiting on another's refresh looks again; default 100 ms. */
  pollMs?: number;
  /** Sleeps (tests pass a fake). */
  sleep?: (ms: number) => Promise<void>;
}

/** Longest captured body of an error response (it is scrubbed of secrets first). */
export const CAPTURED_BODY_MAX = 2048;

const SECRET_FIELDS =
  /("(?:access_token|refresh_token|id_token|client_secret|token)"\s*:\s*)"(?:[^"\\]|\\.)*"/g;

/** An HTTP response as the validation endpoint shows it: secrets scrubbed, the body cut to 2 kB. */
export function captureResponse(
  response: { status: number; contentType: string; body: string },
  secrets: readonly (string | undefined)[],
): CapturedHttpResponse {
  let body = response.body.replace(SECRET_FIELDS, '$1"[redacted]"');
  for (const secret of secrets)
    if (secret && secret.length >= 4) body = body.split(secret).join("[redacted]");
  const truncated = body.length > CAPTURED_BODY_MAX;
  return {
    status_code: response.status,
    content_type: response.contentType,
    body: truncated ? body.slice(0, CAPTURED_BODY_MAX) : body,
    body_truncated: truncated,
  };
}

/** RFC 6749 §2.3.1: the client id and secret are form-encoded before they go into Basic. */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");

/** The refresh-token grant (RFC 6749 §6) against the credential's token endpoint. */
export async function exchangeRefreshToken(
  deps: Pick<VaultDeps, "fetcher">,
  auth: McpOAuthAuth,
  secrets: CredentialSecrets,
  timeoutMs: number,
): Promise<RefreshAttempt> {
  const refresh = auth.refresh;
  if (!refresh || !secrets.refresh_token) return { status: "no_refresh_token" };
  if (!deps.fetcher.send)
    return { status: "connect_error", message: "this process cannot send HTTP requests" };
  const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: secrets.refresh_token });
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  const method = refresh.token_endpoint_auth.type;
  if (method === "client_secret_basic") {
    const basic = `${formEncode(refresh.client_id)}:${formEncode(secrets.client_secret ?? "")}`;
    headers.authorization = `Basic ${Buffer.from(basic, "utf8").toString("base64")}`;
  } else {
    form.set("client_id", refresh.client_id);
    if (method === "client_secret_post") form.set("client_secret", secrets.client_secret ?? "");
  }
  if (refresh.scope) form.set("scope", refresh.scope);
  if (refresh.resource) form.set("resource", refresh.resource);
  let response: { status: number; contentType: string; body: string };
  try {
    response = await deps.fetcher.send(refresh.token_endpoint, {
      method: "POST",
      headers,
      body: form.toString(),
      maxBytes: 64 * 1024,
      timeoutMs,
    });
  } catch (error) {
    return { status: "connect_error", message: (error as Error).message };
  }
  // A token endpoint may echo the request: its form (secrets form-encoded) or its Basic header.
  const sent = [secrets.refresh_token, secrets.client_secret, secrets.access_token];
  const scrub = [
    headers.authorization,
    headers.authorization?.slice("Basic ".length),
    ...sent,
    ...sent.map((secret) => (secret === undefined ? undefined : formEncode(secret))),
  ];
  if (response.status >= 200 && response.status < 300) {
    try {
      const parsed = JSON.parse(response.body) as Record<string, unknown>;
      if (typeof parsed.access_token === "string" && parsed.access_token.length > 0) {
        const expiresIn = Number(parsed.expires_in);
        return {
          status: "succeeded",
          accessToken: parsed.access_token,
          refreshToken:
            typeof parsed.refresh_token === "string" && parsed.refresh_token
              ? parsed.refresh_token
              : undefined,
          expiresInSeconds: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : undefined,
        };
      }
    } catch {
      // not JSON: reported as a failed exchange below
    }
  }
  return { status: "failed", httpResponse: captureResponse(response, scrub) };
}

/**
 * Keeps `mcp_oauth` credentials fresh at the moment of use and refreshes them on demand (validation),
 * publishing `vault_credential.refresh_failed` when a refresh fails.
 */
export class OAuthRefresher {
  private readonly refreshBeforeMs: number;
  private readonly leaseMs: number;
  private readonly timeoutMs: number;
  private readonly pollMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    private readonly deps: VaultDeps,
    settings: OAuthRefreshSettings = {},
  ) {
    this.refreshBeforeMs = settings.refreshBeforeMs ?? 60_000;
    this.leaseMs = settings.leaseMs ?? 30_000;
    this.timeoutMs = settings.timeoutMs ?? 10_000;
    this.pollMs = settings.pollMs ?? 100;
    this.sleep = settings.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Whether the credential's access token expires within the refresh margin (unknown expiry: no). */
  expiresSoon(item: CredentialItem): boolean {
    const auth = item.credential.auth;
    if (auth.type !== "mcp_oauth" || !auth.expires_at) return false;
    return Date.parse(auth.expires_at) - this.deps.clock.now() < this.refreshBeforeMs;
  }

  /** The item to use: refreshed first when it expires soon or the server just refused it. */
  async fresh(item: CredentialItem, options: AuthorizationOptions): Promise<CredentialItem> {
    const auth = item.credential.auth;
    if (auth.type !== "mcp_oauth" || !auth.refresh) return item;
    if (!options.afterUnauthorized && !this.expiresSoon(item)) return item;
    return (await this.refresh(item)).item;
  }

  /**
   * Refreshes `seen` unless someone else changed its secrets since it was read (then their result is
   * used). Returns the item to use and how the exchange went (undefined when another process did it).
   */
  async refresh(seen: CredentialItem): Promise<{ item: CredentialItem; attempt?: RefreshAttempt }> {
    const vaultId = seen.credential.vault_id;
    const id = seen.credential.id;
    let leased: CredentialItem | undefined;
    while (!leased) {
      const current = await this.load(vaultId, id);
      if (!current || current.credential.archived_at || current.sealed !== seen.sealed)
        return { item: current ?? seen };
      const now = this.deps.clock.now();
      if (current.refreshLeaseUntil && current.refreshLeaseUntil > now) {
        await this.sleep(Math.min(this.pollMs, current.refreshLeaseUntil - now));
        continue;
      }
      const candidate: CredentialItem = {
        ...current,
        rev: current.rev + 1,
        refreshLeaseUntil: now + this.leaseMs,
      };
      try {
        await this.deps.store.put("resources", candidate, { expectedRev: current.rev });
        leased = candidate;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    const secrets = await openSecrets(this.deps.sealer, leased);
    const auth = leased.credential.auth as McpOAuthAuth;
    const attempt = await exchangeRefreshToken(this.deps, auth, secrets, this.timeoutMs);
    // Commit: rev-checked against the lease. If someone wrote meanwhile (an update through the API,
    // or a refresher after our lease ran out), merge onto what they wrote: a token they replaced
    // stands, a token they left as we found it takes what the exchange returned — so a refresh token
    // the server rotated is never lost.
    let base: CredentialItem = leased;
    let next: CredentialItem | undefined;
    for (;;) {
      const current = base === leased ? secrets : await openSecrets(this.deps.sealer, base);
      next = await this.merged(base, current, secrets, attempt, leased.refreshLeaseUntil);
      if (!next) break;
      try {
        await this.deps.store.put("resources", next, { expectedRev: base.rev });
        break;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        const reloaded = await this.load(vaultId, id);
        if (!reloaded || reloaded.credential.archived_at) return { item: reloaded ?? leased, attempt };
        base = reloaded;
      }
    }
    if (base !== leased)
      this.deps.logger.warn("a credential changed while its refresh ran; merged onto the newer version", {
        credentialId: id,
      });
    if (attempt.status !== "succeeded") {
      this.deps.logger.warn("refreshing an OAuth credential failed", {
        credentialId: id,
        vaultId,
        status: attempt.status,
        httpStatus: attempt.status === "failed" ? attempt.httpResponse.status_code : undefined,
      });
      await publishVaultEvent(
        this.deps,
        "vault_credential.refresh_failed",
        leased.workspaceId,
        { id, vault_id: vaultId },
        String(leased.rev),
      );
    }
    return { item: next ?? base, attempt };
  }

  /**
   * The item to write after an exchange, on top of `base` whose secrets are `current`; `spent` are
   * the secrets the exchange started from. Undefined when there is nothing to write.
   */
  private async merged(
    base: CredentialItem,
    current: CredentialSecrets,
    spent: CredentialSecrets,
    attempt: RefreshAttempt,
    lease: number | undefined,
  ): Promise<CredentialItem | undefined> {
    const ours = base.refreshLeaseUntil !== undefined && base.refreshLeaseUntil === lease;
    const next: CredentialItem = { ...base, rev: base.rev + 1 };
    delete next.refreshLeaseUntil;
    if (attempt.status !== "succeeded" || base.credential.auth.type !== "mcp_oauth")
      return ours ? next : undefined;
    const takeAccess = current.access_token === spent.access_token;
    const takeRefresh = Boolean(attempt.refreshToken) && current.refresh_token === spent.refresh_token;
    if (!takeAccess && !takeRefresh) return ours ? next : undefined;
    const now = this.deps.clock.now();
    next.sealed = await sealSecrets(this.deps.sealer, base, {
      ...current,
      ...(takeAccess ? { access_token: attempt.accessToken } : {}),
      ...(takeRefresh ? { refresh_token: attempt.refreshToken } : {}),
    });
    if (takeAccess)
      next.credential = {
        ...base.credential,
        auth: {
          ...base.credential.auth,
          expires_at: attempt.expiresInSeconds
            ? new Date(now + attempt.expiresInSeconds * 1000).toISOString()
            : null,
        },
        updated_at: new Date(now).toISOString(),
      };
    return next;
  }

  private async load(vaultId: string, credentialId: string): Promise<CredentialItem | undefined> {
    return (await this.deps.store.get("resources", credentialKey(vaultId), credentialId)) as
      | CredentialItem
      | undefined;
  }
}
