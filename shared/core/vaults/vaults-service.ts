/** /v1/vaults: create, retrieve, update, list, delete, archive; and the `vault_ids` check of sessions. */
import { applyMetadataPatch } from "../../contract/validation.js";
import {
  type DeletedVault,
  type Vault,
  type VaultCreate,
  type VaultListQuery,
  type VaultUpdate,
  vaultIdPrefix,
} from "../../contract/vaults.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import type { StoredItem } from "../ports.js";
import { changeRevisioned } from "../revisioned-item.js";
import type { CredentialsService } from "./credentials-service.js";
import { checkSessionVaults, VaultArchivedError } from "./session-vaults.js";
import { publishVaultEvent, type VaultDeps } from "./vault-deps.js";
import { credentialKey, identityKey, loadVault, vaultKey } from "./vault-records.js";

export { VaultArchivedError };

export class VaultsService {
  constructor(
    private readonly deps: VaultDeps,
    private readonly credentials: CredentialsService,
  ) {}

  private now() {
    return new Date(this.deps.clock.now()).toISOString();
  }

  async create(workspaceId: string, body: VaultCreate): Promise<Vault> {
    const now = this.now();
    const vault: Vault = {
      id: this.deps.ids.next(vaultIdPrefix.vault),
      type: "vault",
      display_name: body.display_name,
      metadata: body.metadata ?? {},
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    await this.deps.store.put(
      "resources",
      { pk: vaultKey(workspaceId), sk: vault.id, rev: 1, vault },
      { expectedRev: 0 },
    );
    await publishVaultEvent(this.deps, "vault.created", workspaceId, { id: vault.id }, "created");
    return vault;
  }

  async retrieve(workspaceId: string, vaultId: string): Promise<Vault> {
    return (await loadVault(this.deps.store, workspaceId, vaultId)).vault;
  }

  async update(workspaceId: string, vaultId: string, body: VaultUpdate): Promise<Vault> {
    return changeRevisioned<Vault>(
      this.deps.store,
      "resources",
      "vault",
      () => loadVault(this.deps.store, workspaceId, vaultId),
      (current) => {
        if (current.archived_at) throw new VaultArchivedError(vaultId);
        const next: Vault = {
          ...current,
          display_name: body.display_name ?? current.display_name,
          metadata: applyMetadataPatch(current.metadata, body.metadata),
        };
        if (JSON.stringify(next) === JSON.stringify(current)) return undefined;
        return { ...next, updated_at: this.now() };
      },
    );
  }

  async list(workspaceId: string, query: VaultListQuery): Promise<PageCursorBody<Vault>> {
    return collectPage<StoredItem, Vault>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, limit) =>
        this.deps.store.query("resources", vaultKey(workspaceId), { after, limit, order: "asc" }),
      keyOf: (i) => i.sk,
      keep: (i) => query.include_archived || !(i.vault as Vault).archived_at,
      map: (i) => i.vault as Vault,
    });
  }

  /**
   * Archives the vault and, with it, every credential in it (their secrets are purged). The vault is
   * marked first: a crash before the credentials are done is finished by archiving again.
   */
  async archive(workspaceId: string, vaultId: string): Promise<Vault> {
    const vault = await changeRevisioned<Vault>(
      this.deps.store,
      "resources",
      "vault",
      () => loadVault(this.deps.store, workspaceId, vaultId),
      (current) => {
        if (current.archived_at) return undefined;
        const now = this.now();
        return { ...current, archived_at: now, updated_at: now };
      },
    );
    for (const item of await this.credentials.allOf(vaultId))
      if (!item.credential.archived_at)
        await this.credentials.archive(workspaceId, vaultId, item.credential.id);
    await publishVaultEvent(this.deps, "vault.archived", workspaceId, { id: vaultId }, "archived");
    return vault;
  }

  /**
   * Deletes the vault item first — from then on none of its credentials is reachable, since every
   * route and every resolution checks the vault — then its credentials and identity markers.
   */
  async delete(workspaceId: string, vaultId: string): Promise<DeletedVault> {
    await loadVault(this.deps.store, workspaceId, vaultId);
    await this.deps.store.delete("resources", vaultKey(workspaceId), vaultId);
    await publishVaultEvent(this.deps, "vault.deleted", workspaceId, { id: vaultId }, "deleted");
    for (const pk of [credentialKey(vaultId), identityKey(vaultId)]) {
      for (;;) {
        const items = await this.deps.store.query("resources", pk, { limit: 100 });
        for (const item of items) await this.deps.store.delete("resources", pk, item.sk);
        if (items.length < 100) break;
      }
    }
    return { id: vaultId, type: "vault_deleted" };
  }

  /** The `vault_ids` of a new session (see {@link checkSessionVaults}). */
  forSession(workspaceId: string, vaultIds: readonly string[]): Promise<string[]> {
    return checkSessionVaults(this.deps.store, workspaceId, vaultIds);
  }
}
