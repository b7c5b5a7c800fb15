/**
 * API keys: stored only as SHA-256 hashes, each mapped to its workspace. The authorizer (AWS) and
 * the local server both resolve `x-api-key` through this.
 */
import { createHash, randomBytes } from "node:crypto";
import type { DocumentStore } from "../ports.js";

/**
 * A narrower credential than a workspace API key (self-hosted environments):
 * - `environment`: an environment key; it may only poll and work its own environment's queue.
 * - `session`: the `sessions_token` of one claimed work item; it may only serve that work item's
 *   session (its events, its mounted memory stores) and only while that lease generation holds.
 */
export type CredentialScope =
  | { kind: "environment"; environmentId: string }
  | { kind: "session"; environmentId: string; workId: string; sessionId: string; generation: number };

export interface Principal {
  workspaceId: string;
  apiKeyId: string;
  /** Absent for a workspace API key (full access to its workspace). */
  scope?: CredentialScope;
}

const hashOf = (key: string) => createHash("sha256").update(key).digest("hex");

/**
 * The credential of a request: `x-api-key`, or `Authorization: Bearer …` (what @anthropic-ai/sdk
 * 1.12 sends for `apiKey`). Header names are lower-case.
 */
export function credentialOf(headers: Record<string, string | undefined>): string | undefined {
  // `(\S.*)`, not `(.+)`: the key starts after the spaces, so no split of them is retried.
  const bearer = headers.authorization?.match(/^Bearer\s+(\S.*)$/i)?.[1];
  return headers["x-api-key"] || bearer || undefined;
}

export class ApiKeys {
  private readonly cache = new Map<string, { principal: Principal; until: number }>();

  /**
   * @param cacheMs how long a resolved key is remembered in this process (a revoked key keeps
   *   working here for at most this long; API Gateway's authorizer cache behaves the same way).
   */
  constructor(
    private readonly store: DocumentStore,
    private readonly cacheMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** A new random key in Anthropic's visual format (`sk-ant-…`). */
  static generate(): string {
    return `sk-ant-rev-${randomBytes(24).toString("base64url")}`;
  }

  /** Registers `key` for `workspaceId` (idempotent). */
  async register(key: string, principal: Principal): Promise<void> {
    await this.store.put("resources", { pk: "apikey", sk: hashOf(key), ...principal });
  }

  /** Removes a key (idempotent); this process forgets it at once, others within `cacheMs`. */
  async revoke(key: string): Promise<void> {
    await this.revokeHash(hashOf(key));
  }

  /** The stored hash of a key, for records that must revoke it later without keeping the key. */
  static hash(key: string): string {
    return hashOf(key);
  }

  /** Removes a key by its hash (see {@link ApiKeys.hash}). */
  async revokeHash(hash: string): Promise<void> {
    this.cache.delete(hash);
    await this.store.delete("resources", "apikey", hash);
  }

  async resolve(key: string | undefined): Promise<Principal | undefined> {
    if (!key) return undefined;
    const hash = hashOf(key);
    const cached = this.cache.get(hash);
    if (cached && cached.until > this.now()) return cached.principal;
    const item = await this.store.get("resources", "apikey", hash);
    if (!item) return undefined;
    const principal: Principal = { workspaceId: String(item.workspaceId), apiKeyId: String(item.apiKeyId) };
    if (item.scope) principal.scope = item.scope as CredentialScope;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { principal, until: this.now() + this.cacheMs });
    return principal;
  }
}
