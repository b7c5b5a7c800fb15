/**
 * Vault and credential writes under concurrency and crashes (DESIGN.md §5): two creates for one MCP
 * server URL while the secret is being sealed (exactly one wins), a create that dies after claiming
 * the URL (its claim is taken over once stale, not before), a release that must not clobber a newer
 * claim, and a vault delete that dies midway (a retry finishes it; no sealed secret is left behind).
 */
import { beforeEach, describe, expect, it } from "vitest";
import { AesSecretSealer } from "../../shared/adapters/local/aes-secret-sealer.js";
import { ConflictError, NotFoundError } from "../../shared/contract/errors.js";
import { TimeSortableIds } from "../../shared/contract/ids.js";
import type { CredentialCreate } from "../../shared/contract/vaults.js";
import type { SecretSealer } from "../../shared/core/ports.js";
import { CredentialsService } from "../../shared/core/vaults/credentials-service.js";
import { checkSessionVaults } from "../../shared/core/vaults/session-vaults.js";
import { VaultCredentials } from "../../shared/core/vaults/vault-credentials.js";
import type { VaultDeps } from "../../shared/core/vaults/vault-deps.js";
import {
  type CredentialItem,
  credentialKey,
  IDENTITY_CLAIM_LEASE_MS,
  identityKey,
  vaultKey,
} from "../../shared/core/vaults/vault-records.js";
import { VaultsService } from "../../shared/core/vaults/vaults-service.js";
import { CrashError, CrashingStore } from "../fixtures/crashing-store.js";

const WS = "wrkspc_t";
const SERVER = "https://mcp.example.com/mcp";

const bearer = (token: string): CredentialCreate => ({
  auth: { type: "static_bearer", token, mcp_server_url: SERVER },
});

let now: number;
let store: CrashingStore;
let sealer: SecretSealer & { delayMs: number; onSeal?: () => Promise<void> };
let deps: VaultDeps;
let credentials: CredentialsService;
let vaults: VaultsService;
let vaultId: string;

/** What sessions of the vault would send to SERVER. */
const inUse = () => new VaultCredentials(deps).authorizationFor(WS, [vaultId], SERVER);
const activeIds = async () =>
  (await credentials.list(WS, vaultId, { limit: 100 } as never)).data.map((c) => c.id);

beforeEach(async () => {
  now = Date.parse("2026-05-01T12:00:00Z");
  store = new CrashingStore();
  const aes = new AesSecretSealer();
  sealer = {
    delayMs: 0,
    // As slow as a KMS round trip when asked to be; `onSeal` runs a competing request meanwhile.
    async seal(plaintext, context) {
      const hook = sealer.onSeal;
      sealer.onSeal = undefined;
      await hook?.();
      if (sealer.delayMs) await new Promise((resolve) => setTimeout(resolve, sealer.delayMs));
      return aes.seal(plaintext, context);
    },
    open: (envelope, context) => aes.open(envelope, context),
  };
  const log = () => {};
  deps = {
    store,
    ids: new TimeSortableIds(() => now),
    clock: { now: () => now },
    domainEvents: { publish: async () => {} },
    logger: { info: log, warn: log, error: log },
    sealer,
    fetcher: { fetchText: async () => ({}) as never, send: async () => ({}) as never },
  };
  credentials = new CredentialsService(deps);
  vaults = new VaultsService(deps, credentials);
  vaultId = (await vaults.create(WS, { display_name: "v" })).id;
});

describe("one active credential per MCP server URL", () => {
  it("of two creates racing while their secrets are sealed, exactly one wins; the other is a 409", async () => {
    sealer.delayMs = 30;
    const results = await Promise.allSettled(
      ["token-A", "token-B"].map((token) => credentials.create(WS, vaultId, bearer(token))),
    );
    const won = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const lost = results.flatMap((r) => (r.status === "rejected" ? [r.reason] : []));
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]).toBeInstanceOf(ConflictError);
    const winner = won[0]?.id ?? "";
    expect(await activeIds()).toEqual([winner]);
    // The credential the user sees is the one sessions use: rotating it takes effect.
    const before = await inUse();
    await credentials.update(WS, vaultId, winner, { auth: { type: "static_bearer", token: "rotated" } });
    expect(await inUse()).toBe("Bearer rotated");
    expect(before).not.toBe("Bearer rotated");
  });

  it("a create that died after claiming the URL holds it (409) while the claim is fresh, then is taken over", async () => {
    store.crashOn = { op: "put", pk: /#cred$/ };
    await expect(credentials.create(WS, vaultId, bearer("token-A"))).rejects.toBeInstanceOf(CrashError);
    store.restart();
    expect(await store.query("resources", credentialKey(vaultId))).toEqual([]);

    await expect(credentials.create(WS, vaultId, bearer("token-B"))).rejects.toBeInstanceOf(ConflictError);
    now += IDENTITY_CLAIM_LEASE_MS;
    const created = await credentials.create(WS, vaultId, bearer("token-B"));
    expect(await activeIds()).toEqual([created.id]);
    expect(await inUse()).toBe("Bearer token-B");
  });

  it("archiving releases the URL without clobbering a create that took it over meanwhile", async () => {
    const first = await credentials.create(WS, vaultId, bearer("token-A"));
    let second: { id: string } | undefined;
    // The archive's release reads the marker (still naming `first`), and before it writes, a new
    // create (which sees `first` archived) takes the marker over.
    store.afterGet = {
      pk: /#ident$/,
      run: async () => {
        second = await credentials.create(WS, vaultId, bearer("token-B"));
      },
    };
    await credentials.archive(WS, vaultId, first.id);
    expect(second).toBeDefined();
    const marker = await store.get("resources", identityKey(vaultId), `url:${SERVER}`);
    expect(marker?.credentialId).toBe(second?.id);
    expect(await inUse()).toBe("Bearer token-B");
    await expect(credentials.create(WS, vaultId, bearer("token-C"))).rejects.toBeInstanceOf(ConflictError);
  });
});

describe("deleting a vault", () => {
  const leftOver = async () => ({
    vault: await store.get("resources", vaultKey(WS), vaultId),
    credentials: await store.query("resources", credentialKey(vaultId)),
    markers: await store.query("resources", identityKey(vaultId)),
  });

  for (const [where, crashOn] of [
    ["before its credentials are purged", { op: "delete", pk: /#cred$/ }],
    ["before its identity markers are purged", { op: "delete", pk: /#ident$/ }],
    ["before the vault item goes", { op: "delete", pk: /^ws#.*#vault$/ }],
  ] as const) {
    it(`a delete that dies ${where} is finished by a retry; nothing of the vault is usable meanwhile`, async () => {
      await credentials.create(WS, vaultId, bearer("secret-token"));
      await credentials.create(WS, vaultId, {
        auth: { type: "static_bearer", token: "other", mcp_server_url: "https://other.example/mcp" },
      });
      store.crashOn = crashOn;
      await expect(vaults.delete(WS, vaultId)).rejects.toBeInstanceOf(CrashError);
      store.restart();

      // Deletion has started: the vault is gone for every route, new sessions and resolution.
      await expect(vaults.retrieve(WS, vaultId)).rejects.toBeInstanceOf(NotFoundError);
      expect((await vaults.list(WS, { limit: 100, include_archived: true } as never)).data).toEqual([]);
      await expect(checkSessionVaults(store, WS, [vaultId])).rejects.toBeInstanceOf(NotFoundError);
      await expect(credentials.list(WS, vaultId, { limit: 10 } as never)).rejects.toBeInstanceOf(
        NotFoundError,
      );
      await expect(credentials.create(WS, vaultId, bearer("late"))).rejects.toBeInstanceOf(NotFoundError);
      expect(await inUse()).toBeUndefined();

      expect(await vaults.delete(WS, vaultId)).toEqual({ id: vaultId, type: "vault_deleted" });
      expect(await leftOver()).toEqual({ vault: undefined, credentials: [], markers: [] });
      await expect(vaults.delete(WS, vaultId)).rejects.toBeInstanceOf(NotFoundError);
    });
  }

  it("a credential created while the vault is being deleted is not left behind", async () => {
    // The create loads the vault, then the whole delete runs while it seals, then it writes.
    sealer.onSeal = async () => {
      await vaults.delete(WS, vaultId);
    };
    await expect(credentials.create(WS, vaultId, bearer("secret-token"))).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect(await leftOver()).toEqual({ vault: undefined, credentials: [], markers: [] });
  });
});

describe("archiving a vault", () => {
  it("a credential created while the vault is being archived is not left active in it", async () => {
    // The create loads the vault (not archived yet), then the whole archive runs while it seals,
    // then it writes: the archive's pass over the credentials has already happened.
    sealer.onSeal = async () => {
      await vaults.archive(WS, vaultId);
    };
    await expect(credentials.create(WS, vaultId, bearer("secret-token"))).rejects.toThrow(/archived/);

    const left = (await store.query("resources", credentialKey(vaultId))) as CredentialItem[];
    expect(left.filter((i) => i.credential.archived_at === null || i.sealed !== null)).toEqual([]);
    expect(await activeIds()).toEqual([]);
    // The marker does not hold the server URL for a credential that is not there.
    const marker = await store.get("resources", identityKey(vaultId), `url:${SERVER}`);
    expect(marker === undefined || marker.credentialId === "released").toBe(true);
  });

  it("a create that dies before taking its credential back out is finished by archiving again", async () => {
    sealer.onSeal = async () => {
      await vaults.archive(WS, vaultId);
    };
    store.crashOn = { op: "delete", pk: /#cred$/ };
    await expect(credentials.create(WS, vaultId, bearer("secret-token"))).rejects.toBeInstanceOf(CrashError);
    store.restart();
    expect(await activeIds()).toHaveLength(1); // the one residue: resolution skips the archived vault
    expect(await inUse()).toBeUndefined();

    await vaults.archive(WS, vaultId);

    expect(await activeIds()).toEqual([]);
    const left = await store.query("resources", credentialKey(vaultId));
    expect(left.map((i) => i.sealed)).toEqual([null]);
  });

  it("an archive whose pass meets a credential deleted meanwhile still completes", async () => {
    const created = await credentials.create(WS, vaultId, bearer("secret-token"));
    // The archive lists the credentials; the credential is deleted before the archive reaches it.
    const query = store.query.bind(store);
    store.query = async (...args: Parameters<typeof query>) => {
      const items = await query(...args);
      if (args[1] === credentialKey(vaultId) && items.length > 0) {
        store.query = query;
        await credentials.delete(WS, vaultId, created.id);
      }
      return items;
    };
    await expect(vaults.archive(WS, vaultId)).resolves.toMatchObject({ id: vaultId });
    expect((await vaults.retrieve(WS, vaultId)).archived_at).not.toBeNull();
  });
});
