/**
 * Credential resolution at the moment of use: the `Authorization` header an MCP connection of a
 * session sends, from the session's vaults. Secrets are opened here and handed to the caller only;
 * nothing here logs them or puts them in an event.
 */
import { normalizeServerUrl } from "../../contract/vaults.js";
import type { VaultDeps } from "./vault-deps.js";
import {
  type CredentialItem,
  credentialKey,
  identityKey,
  openSecrets,
  type VaultItem,
  vaultKey,
} from "./vault-records.js";

export interface AuthorizationOptions {
  /** The MCP server just answered 401 with the header this returned: refresh an OAuth token first. */
  afterUnauthorized?: boolean;
}

/** Resolves the credentials of a session's vaults for the MCP servers it connects to. */
export class VaultCredentials {
  constructor(
    private readonly deps: VaultDeps,
    private readonly refresher?: {
      /** Returns the credential item to use after refreshing it when it needs to be (mcp_oauth). */
      fresh(item: CredentialItem, options: AuthorizationOptions): Promise<CredentialItem>;
    },
  ) {}

  /**
   * The full `Authorization` header value (`Bearer …`) of the credential for `mcpServerUrl` in the
   * first of `vaultIds` (in order) that holds an active one, or undefined when none does. Vaults that
   * are gone, being deleted, archived or of another workspace are skipped. An `mcp_oauth` token is
   * refreshed when it expires within a minute or when `afterUnauthorized` is set.
   *
   * ```ts
   * const header = await deps.vaultCredentials?.authorizationFor(ws, session.vault_ids, server.url);
   * ```
   */
  async authorizationFor(
    workspace: string,
    vaultIds: readonly string[],
    mcpServerUrl: string,
    options: AuthorizationOptions = {},
  ): Promise<string | undefined> {
    const item = await this.credentialFor(workspace, vaultIds, mcpServerUrl);
    if (!item) return undefined;
    const auth = item.credential.auth;
    if (auth.type === "static_bearer") {
      const { token } = await openSecrets(this.deps.sealer, item);
      return token ? `Bearer ${token}` : undefined;
    }
    if (auth.type === "mcp_oauth") {
      const current = this.refresher ? await this.refresher.fresh(item, options) : item;
      if (current.credential.archived_at) return undefined;
      const { access_token } = await openSecrets(this.deps.sealer, current);
      return access_token ? `Bearer ${access_token}` : undefined;
    }
    return undefined;
  }

  /** The active credential for an MCP server URL in the first vault that has one. */
  async credentialFor(
    workspace: string,
    vaultIds: readonly string[],
    mcpServerUrl: string,
  ): Promise<CredentialItem | undefined> {
    const identity = `url:${normalizeServerUrl(mcpServerUrl)}`;
    for (const vaultId of vaultIds) {
      const vault = (await this.deps.store.get("resources", vaultKey(workspace), vaultId)) as
        | VaultItem
        | undefined;
      if (!vault || vault.deletingAt || vault.vault.archived_at) continue;
      const marker = await this.deps.store.get("resources", identityKey(vaultId), identity);
      if (!marker) continue;
      const item = (await this.deps.store.get(
        "resources",
        credentialKey(vaultId),
        String(marker.credentialId),
      )) as CredentialItem | undefined;
      if (!item || item.workspaceId !== workspace || item.credential.archived_at) continue;
      return item;
    }
    return undefined;
  }
}
