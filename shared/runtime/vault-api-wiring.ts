/**
 * The vault and credential services behind /v1/vaults, wired only by the processes that serve the
 * API (the api Lambda, the embedded stack), which pass `buildVaultApi` as a port.
 */
import { CredentialValidator } from "../core/vaults/credential-validation.js";
import { CredentialsService, type EnvironmentVariableSupport } from "../core/vaults/credentials-service.js";
import { VaultsService } from "../core/vaults/vaults-service.js";
import type { Vaulting } from "./vaults-wiring.js";

export function buildVaultApi(vaulting: Vaulting, environmentVariables?: EnvironmentVariableSupport) {
  const credentials = new CredentialsService(vaulting.deps, environmentVariables);
  return {
    vaults: new VaultsService(vaulting.deps, credentials),
    credentials,
    validator: new CredentialValidator(vaulting.deps, vaulting.refresher),
  };
}

export type VaultApi = ReturnType<typeof buildVaultApi>;
