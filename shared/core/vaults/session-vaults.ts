/**
 * The vault checks other contexts make (a new session's `vault_ids`, a deployment's): small enough
 * to sit in every process, unlike the vault and credential services, which only the API carries.
 */
import { InvalidRequestError } from "../../contract/errors.js";
import type { Vault } from "../../contract/vaults.js";
import type { DocumentStore } from "../ports.js";
import { loadVault } from "./vault-records.js";

/** A vault that was archived is refused for new sessions and new credentials. */
export class VaultArchivedError extends InvalidRequestError {
  override name = "VaultArchivedError";
  constructor(id: string, field = "vault") {
    super(`${field}: vault ${id} is archived`);
  }
}

/** The vault, or a 404 (also for another workspace's). */
export async function retrieveVault(
  store: DocumentStore,
  workspaceId: string,
  vaultId: string,
): Promise<Vault> {
  return (await loadVault(store, workspaceId, vaultId)).vault;
}

/**
 * The `vault_ids` of a new session: each must be a vault of the workspace (404 otherwise, also for
 * another workspace's) that is not archived (400). Returns them in order.
 */
export async function checkSessionVaults(
  store: DocumentStore,
  workspaceId: string,
  vaultIds: readonly string[],
): Promise<string[]> {
  for (const [i, id] of vaultIds.entries()) {
    const vault = await retrieveVault(store, workspaceId, id);
    if (vault.archived_at) throw new VaultArchivedError(id, `vault_ids.${i}`);
  }
  return [...vaultIds];
}
