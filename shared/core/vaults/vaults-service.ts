/** /v1/vaults: create, retrieve, update, list, delete, archive; and the `vault_ids` check of sessions. */
import { NotFoundError } from "../../contract/errors.js";
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
import { changeRevisioned, markDeleting } from "../revisioned-item.js";
import type { CredentialsService } from "./credentials-service.js";
import { checkSessionVaults, VaultArchivedError } from "./session-vaults.js";
import { publishVaultEvent, type VaultDeps } from "./vault-deps.js";
import { credentialKey, identityKey, loadVault, type VaultItem, vaultKey } from "./vault-records.js";

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
      keep: (i) =>
        !(i as VaultItem).deletingAt && (query.include_archived || !(i.vault as Vault).archived_at),
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
    for (const item of await this.credentials.allOf(vaultId)) {
      if (item.credential.archived_at) continue;
      try {
        await this.credentials.archive(workspaceId, vaultId, item.credential.id);
      } catch (error) {
        // Deleted since the list (by its route, or by a create that found the vault archived).
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    await publishVaultEvent(this.deps, "vault.archived", workspaceId, { id: vaultId }, "archived");
    return vault;
  }

  /**
   * Marks the vault as being deleted (a rev-checked write of `deletingAt`: from then on it is a 404
   * for every route and skipped by sessions and resolution), then purges its credentials (their
   * sealed secrets) and identity markers, and deletes the vault item last. A delete that dies midway
   * leaves the marked item, so a retried delete finds it and finishes the job.
   */
  async delete(workspaceId: string, vaultId: string): Promise<DeletedVault> {
    const pk = vaultKey(workspaceId);
    await markDeleting(
      this.deps.store,
      "resources",
      { pk, sk: vaultId },
      this.now(),
      () => new NotFoundError("vault", vaultId),
    );
    await this.purgeCredentials(vaultId);
    await publishVaultEvent(this.deps, "vault.deleted", workspaceId, { id: vaultId }, "deleted");
    await this.deps.store.delete("resources", pk, vaultId);
    return { id: vaultId, type: "vault_deleted" };
  }

  /** Deletes every credential of a vault (the sealed secrets), then its identity markers. */
  private async purgeCredentials(vaultId: string) {
    for (const pk of [credentialKey(vaultId), identityKey(vaultId)]) {
      for (;;) {
        const items = await this.deps.store.query("resources", pk, { limit: 100 });
        for (const item of items) await this.deps.store.delete("resources", pk, item.sk);
        if (items.length < 100) break;
      }
    }
  }

  /** The `vault_ids` of a new session (see {@link checkSessionVaults}). */
  forSession(workspaceId: string, vaultIds: readonly string[]): Promise<string[]> {
    return checkSessionVaults(this.deps.store, workspaceId, vaultIds);
  }
}
