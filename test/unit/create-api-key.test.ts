import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createApiKey } from "../../infra/aws/create-api-key.js";
import { lockDataDir } from "../../infra/local/data-dir-lock.js";
import { createLocalApiKey } from "../../infra/local/local-api-key.js";
import { openLocalDocumentStore } from "../../shared/adapters/local/local-document-store.js";
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

describe("createLocalApiKey", () => {
  it("adds a key for a new workspace to a stopped embedded stack's data dir, and refuses a running one", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "reverie-local-key-"));
    try {
      const created = await createLocalApiKey(dataDir);
      expect(created.workspaceId).toMatch(/^wrkspc_01/);
      const documents = await openLocalDocumentStore(dataDir);
      try {
        expect(documents.kind).toBe("sqlite");
        expect(await new ApiKeys(documents.store).resolve(created.key)).toEqual({
          workspaceId: created.workspaceId,
          apiKeyId: created.apiKeyId,
        });
      } finally {
        await documents.close();
      }
      // A process holding the data dir (here: a lock under a live pid, as `npm start` takes it).
      const unlock = lockDataDir(dataDir);
      try {
        // Another live process holds it (the lock names our parent's pid).
        writeFileSync(join(dataDir, "reverie.pid"), String(process.ppid));
        await expect(createLocalApiKey(dataDir)).rejects.toThrow(/is in use by another Reverie/);
      } finally {
        unlock();
      }
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
