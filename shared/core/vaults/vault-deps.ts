/** What the vaults context needs from outside, and how it publishes its domain events. */
import { ApiError } from "../../contract/errors.js";
import type {
  Clock,
  DocumentStore,
  DomainEvents,
  HttpFetcher,
  IdGenerator,
  Logger,
  SecretSealer,
} from "../ports.js";

export interface VaultDeps {
  store: DocumentStore;
  ids: IdGenerator;
  clock: Clock;
  domainEvents: DomainEvents;
  logger: Logger;
  sealer: SecretSealer;
  /** The SSRF-guarded fetcher: token endpoints and MCP probes go through its `send`. */
  fetcher: HttpFetcher;
}

/**
 * Publishes a vault or credential domain event with an id deterministic for the change (`discriminator`),
 * so a retried publish is deduplicated downstream. A failure is logged: the change itself is committed.
 */
export async function publishVaultEvent(
  deps: Pick<VaultDeps, "domainEvents" | "clock" | "logger">,
  type: string,
  workspaceId: string,
  data: { id: string; vault_id?: string },
  discriminator: string,
): Promise<void> {
  try {
    await deps.domainEvents.publish({
      type,
      id: `${type}:${data.id}:${discriminator}`,
      workspaceId,
      createdAt: new Date(deps.clock.now()).toISOString(),
      data,
    });
  } catch (error) {
    deps.logger.error("publishing a vault event failed", { type, subjectId: data.id, error: String(error) });
  }
}

/**
 * A SecretSealer for a process with no key configured: nothing can be sealed or opened, and the
 * message says what to configure.
 */
export class UnconfiguredSecretSealer implements SecretSealer {
  async seal(): Promise<string> {
    throw new SecretsUnavailableError();
  }
  async open(): Promise<string> {
    throw new SecretsUnavailableError();
  }
}

export class SecretsUnavailableError extends ApiError {
  override name = "SecretsUnavailableError";
  constructor() {
    super(
      "api_error",
      "no secret key is configured in this process: set REVERIE_SECRETS_KMS_KEY_ID (AWS) or run the embedded stack",
    );
  }
}
