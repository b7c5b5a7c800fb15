/** Wires the vaults context (services, OAuth refresher, credential resolution) from the step deps. */
import type { SecretSealer } from "../core/ports.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import { CredentialValidator } from "../core/vaults/credential-validation.js";
import { CredentialsService, type EnvironmentVariableSupport } from "../core/vaults/credentials-service.js";
import { OAuthRefresher } from "../core/vaults/oauth-refresh.js";
import { VaultCredentials } from "../core/vaults/vault-credentials.js";
import { UnconfiguredSecretSealer, type VaultDeps } from "../core/vaults/vault-deps.js";
import { VaultsService } from "../core/vaults/vaults-service.js";

/**
 * The vaults services over `deps`. Without a sealer (a process given no key) credentials can be
 * neither stored nor used, and the error says what to configure.
 */
export function buildVaults(
  deps: StepDeps,
  sealer: SecretSealer | undefined,
  environmentVariables?: EnvironmentVariableSupport,
) {
  const vaultDeps: VaultDeps = {
    store: deps.store,
    ids: deps.ids,
    clock: deps.clock,
    domainEvents: deps.domainEvents,
    logger: deps.logger,
    sealer: sealer ?? new UnconfiguredSecretSealer(),
    fetcher: deps.fetcher,
  };
  const credentials = new CredentialsService(vaultDeps, environmentVariables);
  const vaults = new VaultsService(vaultDeps, credentials);
  const refresher = new OAuthRefresher(vaultDeps);
  const validator = new CredentialValidator(vaultDeps, refresher);
  const vaultCredentials = new VaultCredentials(vaultDeps, refresher);
  return { vaults, credentials, validator, refresher, vaultCredentials };
}

export type Vaulting = ReturnType<typeof buildVaults>;
