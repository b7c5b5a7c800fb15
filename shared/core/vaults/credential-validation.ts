/**
 * `POST /v1/vaults/{vault_id}/credentials/{credential_id}/mcp_oauth_validate`: probes the
 * credential's MCP server with an MCP `initialize` (through the SSRF-guarded fetcher), refreshes
 * the token on a 401 when it can, and reports the verdict without any secret in it.
 */
import { InvalidRequestError } from "../../contract/errors.js";
import type { CredentialAuth, CredentialValidation } from "../../contract/vaults.js";
import { captureResponse, type OAuthRefresher, type RefreshAttempt } from "./oauth-refresh.js";
import type { VaultDeps } from "./vault-deps.js";
import { type CredentialItem, loadCredential, openSecrets } from "./vault-records.js";

type McpOAuthAuth = Extract<CredentialAuth, { type: "mcp_oauth" }>;
type Probe = { ok: true } | { ok: false; status: number | null; captured: CredentialValidation["mcp_probe"] };

/** The JSON-RPC `initialize` a validation sends (the first message of any MCP connection). */
export const INITIALIZE_REQUEST = {
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "reverie-credential-validation", version: "1.0.0" },
  },
} as const;

export class CredentialValidator {
  constructor(
    private readonly deps: VaultDeps,
    private readonly refresher: OAuthRefresher,
    private readonly timeoutMs = 10_000,
  ) {}

  async validate(workspaceId: string, vaultId: string, credentialId: string): Promise<CredentialValidation> {
    let item = await loadCredential(this.deps.store, workspaceId, vaultId, credentialId);
    const auth = item.credential.auth;
    if (auth.type !== "mcp_oauth")
      throw new InvalidRequestError(
        `credential ${credentialId} is ${auth.type}: only mcp_oauth credentials can be validated`,
      );
    if (item.credential.archived_at)
      throw new InvalidRequestError(`credential ${credentialId} is archived: it has no token to validate`);
    const secrets = await openSecrets(this.deps.sealer, item);
    const result = (
      status: CredentialValidation["status"],
      mcpProbe: CredentialValidation["mcp_probe"],
      refresh: RefreshAttempt | undefined,
    ): CredentialValidation => ({
      type: "vault_credential_validation",
      credential_id: credentialId,
      vault_id: vaultId,
      has_refresh_token: Boolean(auth.refresh && secrets.refresh_token),
      status,
      mcp_probe: mcpProbe,
      refresh: refresh
        ? {
            status: refresh.status,
            http_response: refresh.status === "failed" ? refresh.httpResponse : null,
          }
        : null,
      validated_at: new Date(this.deps.clock.now()).toISOString(),
    });
    if (!secrets.access_token) return result("invalid", null, undefined);

    const first = await this.probe(auth, secrets.access_token, secrets);
    if (first.ok) return result("valid", null, undefined);
    if (first.status !== 401)
      return result(first.status === 403 ? "invalid" : "unknown", first.captured, undefined);

    // 401: the token is refused; try the refresh token, then probe again with what it gave.
    if (!auth.refresh || !secrets.refresh_token)
      return result("invalid", first.captured, { status: "no_refresh_token" });
    const refreshed = await this.refresher.refresh(item);
    item = refreshed.item;
    const attempt = refreshed.attempt ?? { status: "succeeded" as const, accessToken: "" };
    if (attempt.status === "connect_error") return result("unknown", first.captured, attempt);
    if (attempt.status !== "succeeded") return result("invalid", first.captured, attempt);
    const renewed = await openSecrets(this.deps.sealer, item as CredentialItem);
    if (!renewed.access_token) return result("unknown", first.captured, attempt);
    const second = await this.probe(auth, renewed.access_token, { ...secrets, ...renewed });
    if (second.ok) return result("valid", null, attempt);
    if (second.status === 401 || second.status === 403) return result("invalid", second.captured, attempt);
    return result("unknown", second.captured, attempt);
  }

  private async probe(
    auth: McpOAuthAuth,
    accessToken: string,
    secrets: { refresh_token?: string; client_secret?: string },
  ): Promise<Probe> {
    if (!this.deps.fetcher.send)
      return { ok: false, status: null, captured: { method: "initialize", http_response: null } };
    try {
      const response = await this.deps.fetcher.send(auth.mcp_server_url, {
        method: "POST",
        headers: {
          authorization: `Bearer ${accessToken}`,
          "content-type": "application/json",
          accept: "application/json, text/event-stream",
        },
        body: JSON.stringify(INITIALIZE_REQUEST),
        maxBytes: 8 * 1024,
        timeoutMs: this.timeoutMs,
      });
      if (response.status >= 200 && response.status < 300) return { ok: true };
      return {
        ok: false,
        status: response.status,
        captured: {
          method: "initialize",
          http_response: captureResponse(response, [
            accessToken,
            secrets.refresh_token,
            secrets.client_secret,
          ]),
        },
      };
    } catch {
      return { ok: false, status: null, captured: { method: "initialize", http_response: null } };
    }
  }
}
