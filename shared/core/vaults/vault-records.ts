/**
 * How vaults and credentials are stored. A vault is one item in its workspace's partition; a
 * credential is one item in its vault's partition holding the public record (exactly what the API
 * returns) and, apart, the sealed secrets. An identity marker per vault and MCP server URL (or
 * environment variable name) makes "one active credential per server" a conditional write.
 */
import { NotFoundError } from "../../contract/errors.js";
import type { Credential, Vault } from "../../contract/vaults.js";
import type { DocumentStore, SecretSealer, StoredItem } from "../ports.js";

export const vaultKey = (workspaceId: string) => `ws#${workspaceId}#vault`;
export const credentialKey = (vaultId: string) => `vault#${vaultId}#cred`;
export const identityKey = (vaultId: string) => `vault#${vaultId}#ident`;

/** The secrets of a credential, sealed together; which fields are set depends on its type. */
export interface CredentialSecrets {
  /** static_bearer */
  token?: string;
  /** mcp_oauth */
  access_token?: string;
  refresh_token?: string;
  client_secret?: string;
  /** environment_variable */
  secret_value?: string;
}

export interface VaultItem extends StoredItem {
  rev: number;
  vault: Vault;
  /**
   * Set (ISO time) by the first write of a delete: from then on the vault is gone for every route,
   * session and resolution, and a retried delete finishes purging it (the item goes last).
   */
  deletingAt?: string;
}

/** The identity marker of a vault's MCP server URL (`url:…`) or environment variable name (`env:…`). */
export interface IdentityMarker extends StoredItem {
  rev: number;
  /** The credential that holds the identity, or {@link RELEASED_IDENTITY} once it let it go. */
  credentialId: string;
  /** Epoch ms of the claim: a claim whose credential is not written yet is protected this long. */
  claimedAt?: number;
}

/** The `credentialId` of a marker whose credential was archived or deleted: free to claim. */
export const RELEASED_IDENTITY = "released";

/**
 * How long a claim on an identity marker whose credential record is not written yet counts as a
 * create in progress (409 to others) rather than a create that died (taken over). Twice the API
 * function's timeout (29 s): once it has passed, the claiming request is over, whatever happened.
 */
export const IDENTITY_CLAIM_LEASE_MS = 60_000;

export interface CredentialItem extends StoredItem {
  rev: number;
  workspaceId: string;
  credential: Credential;
  /** The sealed CredentialSecrets; null once archived (the secrets are purged). */
  sealed: string | null;
  /** The identity marker's sort key (`url:…` or `env:…`), released on archive and delete. */
  identity: string;
  /** While a refresh holds it: epoch ms after which another process may take over. */
  refreshLeaseUntil?: number;
}

/** What a sealed envelope is bound to: it opens for this credential of this vault and workspace only. */
export function sealContext(item: Pick<CredentialItem, "workspaceId" | "credential">) {
  return {
    workspace: item.workspaceId,
    vault: item.credential.vault_id,
    credential: item.credential.id,
  };
}

export async function sealSecrets(
  sealer: SecretSealer,
  item: Pick<CredentialItem, "workspaceId" | "credential">,
  secrets: CredentialSecrets,
): Promise<string> {
  return sealer.seal(JSON.stringify(secrets), sealContext(item));
}

export async function openSecrets(sealer: SecretSealer, item: CredentialItem): Promise<CredentialSecrets> {
  if (!item.sealed) return {};
  return JSON.parse(await sealer.open(item.sealed, sealContext(item))) as CredentialSecrets;
}

/** The vault item, or a 404 (also for another workspace's vault and for a vault being deleted). */
export async function loadVault(
  store: DocumentStore,
  workspaceId: string,
  vaultId: string,
): Promise<VaultItem> {
  const item = (await store.get("resources", vaultKey(workspaceId), vaultId)) as VaultItem | undefined;
  if (!item || item.deletingAt) throw new NotFoundError("vault", vaultId);
  return item;
}

/** The credential item of a vault that is in `workspaceId`, or a 404. */
export async function loadCredential(
  store: DocumentStore,
  workspaceId: string,
  vaultId: string,
  credentialId: string,
): Promise<CredentialItem> {
  await loadVault(store, workspaceId, vaultId);
  const item = await store.get("resources", credentialKey(vaultId), credentialId);
  if (!item || (item as CredentialItem).workspaceId !== workspaceId)
    throw new NotFoundError("credential", credentialId);
  return item as CredentialItem;
}
