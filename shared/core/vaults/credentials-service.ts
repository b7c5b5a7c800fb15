/**
 * /v1/vaults/{vault_id}/credentials: create, retrieve, update, list, delete, archive. Secrets are
 * sealed before they are stored and never leave in a response: the public record holds only what
 * the SDK's `BetaManagedAgentsCredential` types.
 */
import { ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { applyMetadataPatch } from "../../contract/validation.js";
import {
  type Credential,
  type CredentialAuth,
  type CredentialCreate,
  type CredentialListQuery,
  type CredentialUpdate,
  type DeletedCredential,
  normalizeServerUrl,
  VAULT_LIMITS,
  vaultIdPrefix,
} from "../../contract/vaults.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import { ConditionFailedError, type StoredItem } from "../ports.js";
import { publishVaultEvent, type VaultDeps } from "./vault-deps.js";
import {
  type CredentialItem,
  type CredentialSecrets,
  credentialKey,
  IDENTITY_CLAIM_LEASE_MS,
  type IdentityMarker,
  identityKey,
  loadCredential,
  loadVault,
  openSecrets,
  RELEASED_IDENTITY,
  sealSecrets,
  type VaultItem,
  vaultKey,
} from "./vault-records.js";

type McpOAuthAuth = Extract<CredentialAuth, { type: "mcp_oauth" }>;
type EnvironmentVariableAuth = Extract<CredentialAuth, { type: "environment_variable" }>;

/** A credential that was archived keeps its record; its secrets are gone. */
export class CredentialArchivedError extends InvalidRequestError {
  override name = "CredentialArchivedError";
  constructor(id: string) {
    super(`credential ${id} is archived: its secrets were purged; create a new credential instead`);
  }
}

/** Whether credentials of type `environment_variable` can be honoured here, and if not, why. */
export type EnvironmentVariableSupport = () => { supported: true } | { supported: false; reason: string };

export class CredentialsService {
  constructor(
    private readonly deps: VaultDeps,
    private readonly environmentVariables: EnvironmentVariableSupport = () => ({
      supported: false,
      reason:
        "the sandbox would see the real secret: neither the local bubblewrap sandbox (one egress proxy shared by every session) nor the AWS Lambda sandbox (no egress proxy) can give it a placeholder and substitute the secret only into outbound requests to the allowed hosts",
    }),
  ) {}

  private now() {
    return new Date(this.deps.clock.now()).toISOString();
  }

  private assertFuture(expiresAt: string | null | undefined, field: string) {
    if (expiresAt && Date.parse(expiresAt) <= this.deps.clock.now())
      throw new InvalidRequestError(`${field}: must be in the future`);
  }

  async create(workspaceId: string, vaultId: string, body: CredentialCreate): Promise<Credential> {
    const vault = (await loadVault(this.deps.store, workspaceId, vaultId)).vault;
    if (vault.archived_at)
      throw new InvalidRequestError(`vault ${vaultId} is archived: it takes no new credentials`);
    const auth = body.auth;
    if (auth.type === "environment_variable") {
      const support = this.environmentVariables();
      if (!support.supported)
        throw new InvalidRequestError(
          `auth.type: environment_variable credentials are not supported by this deployment: ${support.reason}`,
        );
      if (
        auth.injection_location &&
        !auth.injection_location.body &&
        auth.injection_location.header === false
      )
        throw new InvalidRequestError(
          "auth.injection_location: at least one of body and header must be enabled",
        );
    }
    if (auth.type === "mcp_oauth") this.assertFuture(auth.expires_at, "auth.expires_at");
    const existing = await this.deps.store.query("resources", credentialKey(vaultId), {
      limit: VAULT_LIMITS.credentialsPerVault + 1,
    });
    if (existing.length >= VAULT_LIMITS.credentialsPerVault)
      throw new InvalidRequestError(
        `vault ${vaultId} already holds ${VAULT_LIMITS.credentialsPerVault} credentials, the most a vault can hold: delete one first`,
      );

    const id = this.deps.ids.next(vaultIdPrefix.credential);
    const identity =
      auth.type === "environment_variable"
        ? `env:${auth.secret_name}`
        : `url:${normalizeServerUrl(auth.mcp_server_url)}`;

    const now = this.now();
    const credential: Credential = {
      id,
      type: "vault_credential",
      vault_id: vaultId,
      auth: publicAuth(auth),
      display_name: body.display_name ?? null,
      metadata: body.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    const secrets: CredentialSecrets =
      auth.type === "static_bearer"
        ? { token: auth.token }
        : auth.type === "mcp_oauth"
          ? {
              access_token: auth.access_token,
              ...(auth.refresh ? { refresh_token: auth.refresh.refresh_token } : {}),
              ...(auth.refresh && auth.refresh.token_endpoint_auth.type !== "none"
                ? { client_secret: auth.refresh.token_endpoint_auth.client_secret }
                : {}),
            }
          : { secret_value: auth.secret_value };
    const item: CredentialItem = {
      pk: credentialKey(vaultId),
      sk: id,
      rev: 1,
      workspaceId,
      credential,
      identity,
      sealed: null,
    };
    // Sealed before the claim, so that the claim and the record's write are back to back: the
    // window in which the marker names a record not written yet is two store calls long.
    item.sealed = await sealSecrets(this.deps.sealer, item, secrets);
    await this.claimIdentity(workspaceId, vaultId, identity, id);
    await this.deps.store.put("resources", item, { expectedRev: 0 });
    // A vault delete that started after this create loaded the vault may have purged its partitions
    // before the write above: take the credential back out rather than leave it behind the delete.
    const vaultNow = (await this.deps.store.get("resources", vaultKey(workspaceId), vaultId)) as
      | VaultItem
      | undefined;
    if (!vaultNow || vaultNow.deletingAt) {
      await this.deps.store.delete("resources", credentialKey(vaultId), id);
      // the vault is going: its identity partition is purged, so the marker goes too (not released)
      await this.deps.store.delete("resources", identityKey(vaultId), identity);
      throw new NotFoundError("vault", vaultId);
    }
    // The same for an archive: it marks the vault first, then archives the credentials it lists, so
    // one written after its list would stay active (secrets and all) in an archived vault. This
    // create answers as if it had come after the archive, and leaves nothing behind. (Only a create
    // that dies between its write and this read can leave one; archiving again archives it.)
    if (vaultNow.vault.archived_at) {
      await this.deps.store.delete("resources", credentialKey(vaultId), id);
      await this.releaseIdentity(item);
      throw new InvalidRequestError(`vault ${vaultId} is archived: it takes no new credentials`);
    }
    await publishVaultEvent(
      this.deps,
      "vault_credential.created",
      workspaceId,
      { id, vault_id: vaultId },
      "created",
    );
    return credential;
  }

  private async identityMarker(vaultId: string, identity: string): Promise<IdentityMarker | undefined> {
    return (await this.deps.store.get("resources", identityKey(vaultId), identity)) as
      | IdentityMarker
      | undefined;
  }

  /**
   * A 409 unless `marker` is free to claim: absent or released, or naming a credential that is
   * archived, or whose record is absent (deleted, or never written: a create that died between its
   * claim and its record) and was claimed longer than {@link IDENTITY_CLAIM_LEASE_MS} ago. A younger
   * claim whose record is not there yet is a create in progress: taking it over would let both
   * creates succeed.
   */
  private async assertIdentityFree(
    workspaceId: string,
    vaultId: string,
    identity: string,
    marker: IdentityMarker | undefined,
  ) {
    if (!marker || marker.credentialId === RELEASED_IDENTITY) return;
    const holder = (await this.deps.store.get(
      "resources",
      credentialKey(vaultId),
      String(marker.credentialId),
    )) as CredentialItem | undefined;
    const what = identity.startsWith("env:")
      ? `secret_name ${identity.slice(4)}`
      : `mcp_server_url ${holder && holder.credential.auth.type !== "environment_variable" ? holder.credential.auth.mcp_server_url : identity.slice(4)}`;
    if (holder && !holder.credential.archived_at && holder.workspaceId === workspaceId)
      throw new ConflictError(
        `vault ${vaultId} already has an active credential for ${what} (${holder.credential.id}): archive or delete it first`,
      );
    if (!holder && this.deps.clock.now() - Number(marker.claimedAt ?? 0) < IDENTITY_CLAIM_LEASE_MS)
      throw new ConflictError(
        `vault ${vaultId} has a credential for ${what} being created (${marker.credentialId}): list the vault's credentials, or retry in a minute`,
      );
  }

  /**
   * Takes the vault's identity marker (an MCP server URL or an environment variable name) for a new
   * credential with a rev-checked write, or throws the 409 of {@link assertIdentityFree}. Of two
   * concurrent creates one wins the write; the other reads the winner's claim (fresh) or record
   * (active) and gets the 409.
   */
  private async claimIdentity(workspaceId: string, vaultId: string, identity: string, credentialId: string) {
    for (;;) {
      const marker = await this.identityMarker(vaultId, identity);
      // ours already: a put that was applied although its answer was lost, and retried
      if (marker?.credentialId === credentialId) return;
      await this.assertIdentityFree(workspaceId, vaultId, identity, marker);
      try {
        const rev = Number(marker?.rev ?? 0);
        const claim: IdentityMarker = {
          pk: identityKey(vaultId),
          sk: identity,
          rev: rev + 1,
          credentialId,
          claimedAt: this.deps.clock.now(),
        };
        await this.deps.store.put("resources", claim, { expectedRev: rev });
        return;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
  }

  /**
   * Releases the identity marker if `item` still holds it: a rev-checked write, so a create that
   * took the marker over meanwhile (`item` archived) keeps it.
   */
  private async releaseIdentity(item: CredentialItem) {
    const marker = await this.identityMarker(item.credential.vault_id, item.identity);
    if (marker?.credentialId !== item.credential.id) return;
    try {
      await this.deps.store.put(
        "resources",
        { ...marker, rev: marker.rev + 1, credentialId: RELEASED_IDENTITY },
        { expectedRev: marker.rev },
      );
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  async retrieve(workspaceId: string, vaultId: string, credentialId: string): Promise<Credential> {
    return (await loadCredential(this.deps.store, workspaceId, vaultId, credentialId)).credential;
  }

  async update(
    workspaceId: string,
    vaultId: string,
    credentialId: string,
    body: CredentialUpdate,
  ): Promise<Credential> {
    for (;;) {
      const item = await loadCredential(this.deps.store, workspaceId, vaultId, credentialId);
      const current = item.credential;
      if (current.archived_at) throw new CredentialArchivedError(credentialId);
      const next: Credential = {
        ...current,
        display_name: body.display_name ?? current.display_name ?? null,
        metadata: applyMetadataPatch(current.metadata, body.metadata),
      };
      let secretsPatch: CredentialSecrets | undefined;
      let clearRefresh = false;
      if (body.auth) {
        if (body.auth.type !== current.auth.type)
          throw new InvalidRequestError(
            `auth.type: the credential is ${current.auth.type}; a credential's type can't be changed`,
          );
        const change = this.authChange(current.auth, body.auth);
        next.auth = change.auth;
        secretsPatch = change.secrets;
        clearRefresh = change.clearRefresh;
      }
      let sealed = item.sealed;
      if (secretsPatch || clearRefresh) {
        const secrets = { ...(await openSecrets(this.deps.sealer, item)), ...secretsPatch };
        if (clearRefresh) {
          delete secrets.refresh_token;
          delete secrets.client_secret;
        }
        sealed = await sealSecrets(this.deps.sealer, item, secrets);
      }
      const changed = sealed !== item.sealed || JSON.stringify(next) !== JSON.stringify(current);
      if (!changed) return current;
      next.updated_at = this.now();
      try {
        await this.deps.store.put(
          "resources",
          { ...item, rev: item.rev + 1, credential: next, sealed },
          { expectedRev: item.rev },
        );
        return next;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
  }

  /** The new public auth of an update, the secrets it replaces, and whether it drops the refresh config. */
  private authChange(
    current: CredentialAuth,
    patch: NonNullable<CredentialUpdate["auth"]>,
  ): { auth: CredentialAuth; secrets: CredentialSecrets; clearRefresh: boolean } {
    if (patch.type === "static_bearer" && current.type === "static_bearer")
      return { auth: current, secrets: patch.token ? { token: patch.token } : {}, clearRefresh: false };
    if (patch.type === "mcp_oauth" && current.type === "mcp_oauth") {
      const secrets: CredentialSecrets = {};
      const auth: McpOAuthAuth = { ...current };
      if (patch.access_token) secrets.access_token = patch.access_token;
      if (patch.expires_at) {
        this.assertFuture(patch.expires_at, "auth.expires_at");
        auth.expires_at = new Date(patch.expires_at).toISOString();
      }
      if (patch.refresh === null) {
        auth.refresh = null;
        return { auth, secrets, clearRefresh: true };
      }
      if (patch.refresh) {
        if (!current.refresh)
          throw new InvalidRequestError(
            "auth.refresh: the credential has no refresh configuration to update; create a new credential with one",
          );
        const refresh = { ...current.refresh };
        if (patch.refresh.refresh_token) secrets.refresh_token = patch.refresh.refresh_token;
        if (patch.refresh.scope !== undefined && patch.refresh.scope !== null)
          refresh.scope = patch.refresh.scope === "" ? null : patch.refresh.scope;
        const endpointAuth = patch.refresh.token_endpoint_auth;
        if (endpointAuth) {
          if (refresh.token_endpoint_auth.type === "none")
            throw new InvalidRequestError(
              "auth.refresh.token_endpoint_auth: the credential's token endpoint takes no client authentication (none): there is no client secret to replace",
            );
          // The credential keeps its type whatever type is sent with the secret (as the SDK documents).
          if (endpointAuth.client_secret) secrets.client_secret = endpointAuth.client_secret;
        }
        auth.refresh = refresh;
      }
      return { auth, secrets, clearRefresh: false };
    }
    if (patch.type === "environment_variable" && current.type === "environment_variable") {
      const auth: EnvironmentVariableAuth = { ...current };
      if (patch.injection_location) {
        auth.injection_location = {
          body: patch.injection_location.body ?? current.injection_location.body,
          header: patch.injection_location.header ?? current.injection_location.header,
        };
        if (!auth.injection_location.body && !auth.injection_location.header)
          throw new InvalidRequestError(
            "auth.injection_location: at least one of body and header must stay enabled",
          );
      }
      if (patch.networking) auth.networking = patch.networking;
      return {
        auth,
        secrets: patch.secret_value ? { secret_value: patch.secret_value } : {},
        clearRefresh: false,
      };
    }
    throw new InvalidRequestError(`auth.type: the credential is ${current.type}`);
  }

  async list(
    workspaceId: string,
    vaultId: string,
    query: CredentialListQuery,
  ): Promise<PageCursorBody<Credential>> {
    await loadVault(this.deps.store, workspaceId, vaultId);
    return collectPage<StoredItem, Credential>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, limit) =>
        this.deps.store.query("resources", credentialKey(vaultId), { after, limit, order: "asc" }),
      keyOf: (i) => i.sk,
      keep: (i) => {
        const item = i as CredentialItem;
        return item.workspaceId === workspaceId && (query.include_archived || !item.credential.archived_at);
      },
      map: (i) => (i as CredentialItem).credential,
    });
  }

  /** Archives: the record stays (with `archived_at`), the secrets are purged, the server URL is free again. */
  async archive(workspaceId: string, vaultId: string, credentialId: string): Promise<Credential> {
    for (;;) {
      const item = await loadCredential(this.deps.store, workspaceId, vaultId, credentialId);
      if (item.credential.archived_at) {
        await this.releaseIdentity(item);
        return item.credential;
      }
      const now = this.now();
      const credential = { ...item.credential, archived_at: now, updated_at: now };
      const archived: CredentialItem = { ...item, rev: item.rev + 1, credential, sealed: null };
      delete archived.refreshLeaseUntil;
      try {
        await this.deps.store.put("resources", archived, { expectedRev: item.rev });
      } catch (error) {
        if (error instanceof ConditionFailedError) continue;
        throw error;
      }
      await this.releaseIdentity(archived);
      await publishVaultEvent(
        this.deps,
        "vault_credential.archived",
        workspaceId,
        { id: credentialId, vault_id: vaultId },
        "archived",
      );
      return credential;
    }
  }

  async delete(workspaceId: string, vaultId: string, credentialId: string): Promise<DeletedCredential> {
    const item = await loadCredential(this.deps.store, workspaceId, vaultId, credentialId);
    await this.deps.store.delete("resources", credentialKey(vaultId), credentialId);
    await this.releaseIdentity(item);
    await publishVaultEvent(
      this.deps,
      "vault_credential.deleted",
      workspaceId,
      { id: credentialId, vault_id: vaultId },
      "deleted",
    );
    return { id: credentialId, type: "vault_credential_deleted" };
  }

  /** Every credential of a vault (the vault's own routes check the workspace first). */
  async allOf(vaultId: string): Promise<CredentialItem[]> {
    const out: CredentialItem[] = [];
    let after: string | number | undefined;
    for (;;) {
      const batch = await this.deps.store.query("resources", credentialKey(vaultId), { after, limit: 100 });
      out.push(...(batch as CredentialItem[]));
      if (batch.length < 100) return out;
      after = batch.at(-1)?.sk;
    }
  }
}

/** The non-secret part of a create's `auth`, as the SDK's response types it. */
function publicAuth(auth: CredentialCreate["auth"]): CredentialAuth {
  switch (auth.type) {
    case "static_bearer":
      return { type: "static_bearer", mcp_server_url: auth.mcp_server_url };
    case "mcp_oauth":
      return {
        type: "mcp_oauth",
        mcp_server_url: auth.mcp_server_url,
        expires_at: auth.expires_at ? new Date(auth.expires_at).toISOString() : null,
        refresh: auth.refresh
          ? {
              client_id: auth.refresh.client_id,
              token_endpoint: auth.refresh.token_endpoint,
              token_endpoint_auth: { type: auth.refresh.token_endpoint_auth.type },
              resource: auth.refresh.resource ?? null,
              scope: auth.refresh.scope ?? null,
            }
          : null,
      };
    case "environment_variable":
      return {
        type: "environment_variable",
        secret_name: auth.secret_name,
        networking: auth.networking,
        injection_location: {
          header: auth.injection_location?.header ?? true,
          body: auth.injection_location?.body ?? false,
        },
      };
  }
}
