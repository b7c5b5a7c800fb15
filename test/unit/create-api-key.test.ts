import { describe, expect, it } from "vitest";
import { createApiKey } from "../../infra/aws/create-api-key.js";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import { ApiKeys } from "../../shared/core/auth/api-keys.js";

describe("createApiKey", () => {
  it("stores only the hash and resolves the key to its workspace", async () => {
    const store = new MemoryDocumentStore();
    const created = await createApiKey(store, "wrkspc_team");
    expect(created.workspaceId).toBe("wrkspc_team");
    expect(await new ApiKeys(store).resolve(created.key)).toEqual({
      workspaceId: "wrkspc_team",
      apiKeyId: created.apiKeyId,
    });
    const stored = await store.query("resources", "apikey");
    expect(JSON.stringify(stored)).not.toContain(created.key);
  });

  it("makes a new workspace when none is named", async () => {
    const created = await createApiKey(new MemoryDocumentStore());
    expect(created.workspaceId).toMatch(/^wrkspc_01/);
  });
});
