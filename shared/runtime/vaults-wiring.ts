/**
 * Wires what every process needs of the vaults context: credential resolution for MCP (with the
 * OAuth refresher) and the vault checks of sessions and deployments. The vault and credential
 * services that only the API serves are wired apart (vault-api-wiring.ts), so that the step
 * bundles do not carry them.
 */
import type { SecretSealer } from "../core/ports.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import { OAuthRefresher } from "../core/vaults/oauth-refresh.js";
import { checkSessionVaults, retrieveVault } from "../core/vaults/session-vaults.js";
import { VaultCredentials } from "../core/vaults/vault-credentials.js";
import { UnconfiguredSecretSealer, type VaultDeps } from "../core/vaults/vault-deps.js";

/**
 * The vaults context over `deps`. Without a sealer (a process given no key) credentials can be
 * neither stored nor used, and the error says what to configure.
 */
export function buildVaults(deps: StepDeps, sealer: SecretSealer | undefined) {
  const vaultDeps: VaultDeps = {
    store: deps.store,
    ids: deps.ids,
    clock: deps.clock,
    domainEvents: deps.domainEvents,
    logger: deps.logger,
    sealer: sealer ?? new UnconfiguredSecretSealer(),
    fetcher: deps.fetcher,
  };
  const refresher = new OAuthRefresher(vaultDeps);
  return {
    deps: vaultDeps,
    refresher,
    vaultCredentials: new VaultCredentials(vaultDeps, refresher),
    /** The checks of a new session's or a deployment's `vault_ids`. */
    vaults: {
      retrieve: (ws: string, id: string) => retrieveVault(vaultDeps.store, ws, id),
      forSession: (ws: string, ids: readonly string[]) => checkSessionVaults(vaultDeps.store, ws, ids),
    },
  };
}

export type Vaulting = ReturnType<typeof buildVaults>;
