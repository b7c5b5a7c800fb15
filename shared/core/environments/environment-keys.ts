/**
 * Environment keys (Reverie extension; Anthropic issues them in its console): the standing
 * credential of a self-hosted environment's workers. A key is shown once at creation and stored
 * only as a hash; it may poll and work its own environment's queue and nothing else.
 */
import { randomBytes } from "node:crypto";
import { InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { idPrefix } from "../../contract/ids.js";
import type { Environment } from "../../contract/sdk-types.js";
import type { EnvironmentKey, EnvironmentKeyCreate } from "../../contract/work.js";
import { ApiKeys } from "../auth/api-keys.js";
import type { Clock, DocumentStore, IdGenerator } from "../ports.js";

const keysKey = (workspaceId: string, environmentId: string) => `ws#${workspaceId}#envkey#${environmentId}`;

export class EnvironmentKeysService {
  constructor(
    private readonly store: DocumentStore,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
    private readonly apiKeys: ApiKeys,
    private readonly environments: { retrieve(workspaceId: string, id: string): Promise<Environment> },
  ) {}

  /** `POST /v1/environments/{id}/keys` → the key record plus `key`, which is never shown again. */
  async create(
    workspaceId: string,
    environmentId: string,
    body: EnvironmentKeyCreate,
  ): Promise<EnvironmentKey & { key: string }> {
    const environment = await this.environments.retrieve(workspaceId, environmentId);
    if (environment.config.type !== "self_hosted")
      throw new InvalidRequestError(
        `environment ${environmentId} is not self_hosted: only self-hosted environments take keys`,
      );
    if (environment.archived_at) throw new InvalidRequestError(`environment ${environmentId} is archived`);
    const key = `sk-ant-env-${randomBytes(24).toString("base64url")}`;
    const record: EnvironmentKey = {
      id: this.ids.next(idPrefix.environmentKey),
      type: "environment_key",
      environment_id: environmentId,
      name: body.name ?? null,
      hint: key.slice(-4),
      created_at: new Date(this.clock.now()).toISOString(),
      revoked_at: null,
    };
    // The record first: a key that works is always listed (and so revocable).
    await this.store.put("resources", {
      pk: keysKey(workspaceId, environmentId),
      sk: record.id,
      key: record,
      hash: ApiKeys.hash(key),
    });
    await this.apiKeys.register(key, {
      workspaceId,
      apiKeyId: record.id,
      scope: { kind: "environment", environmentId },
    });
    return { ...record, key };
  }

  async list(workspaceId: string, environmentId: string): Promise<{ data: EnvironmentKey[] }> {
    await this.environments.retrieve(workspaceId, environmentId);
    const items = await this.store.query("resources", keysKey(workspaceId, environmentId), {});
    return { data: items.map((i) => i.key as EnvironmentKey) };
  }

  /** `DELETE /v1/environments/{id}/keys/{key_id}`: the key stops working (idempotent). */
  async revoke(workspaceId: string, environmentId: string, keyId: string): Promise<EnvironmentKey> {
    await this.environments.retrieve(workspaceId, environmentId);
    const item = await this.store.get("resources", keysKey(workspaceId, environmentId), keyId);
    if (!item) throw new NotFoundError("environment key", keyId);
    const record = item.key as EnvironmentKey;
    await this.apiKeys.revokeHash(String(item.hash));
    if (record.revoked_at) return record;
    const revoked = { ...record, revoked_at: new Date(this.clock.now()).toISOString() };
    await this.store.put("resources", { ...item, key: revoked });
    return revoked;
  }
}
