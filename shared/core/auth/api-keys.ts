/**
 * API keys: stored only as SHA-256 hashes, each mapped to its workspace. The authorizer (AWS) and
 * the local server both resolve `x-api-key` through this.
 */
import { createHash, randomBytes } from "node:crypto";
import type { DocumentStore } from "../ports.js";

export interface Principal {
  workspaceId: string;
  apiKeyId: string;
}

const hashOf = (key: string) => createHash("sha256").update(key).digest("hex");

/**
 * The credential of a request: `x-api-key`, or `Authorization: Bearer …` (what @anthropic-ai/sdk
 * 1.12 sends for `apiKey`). Header names are lower-case.
 */
export function credentialOf(headers: Record<string, string | undefined>): string | undefined {
  const bearer = headers.authorization?.match(/^Bearer\s+(.+)$/i)?.[1];
  return headers["x-api-key"] || bearer || undefined;
}

export class ApiKeys {
  constructor(private readonly store: DocumentStore) {}

  /** A new random key in Anthropic's visual format (`sk-ant-…`). */
  static generate(): string {
    return `sk-ant-rev-${randomBytes(24).toString("base64url")}`;
  }

  /** Registers `key` for `workspaceId` (idempotent). */
  async register(key: string, principal: Principal): Promise<void> {
    await this.store.put("resources", { pk: "apikey", sk: hashOf(key), ...principal });
  }

  async resolve(key: string | undefined): Promise<Principal | undefined> {
    if (!key) return undefined;
    const item = await this.store.get("resources", "apikey", hashOf(key));
    if (!item) return undefined;
    return { workspaceId: String(item.workspaceId), apiKeyId: String(item.apiKeyId) };
  }
}
