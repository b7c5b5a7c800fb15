/**
 * `npm run create-api-key -- --local [--data-dir DIR] [--workspace wrkspc_…]`: a key for the embedded
 * stack's data dir — a second workspace (or another key for one). The stack must be stopped: one
 * process owns a data dir (its lock says which).
 */
import { resolve } from "node:path";
import { openLocalDocumentStore } from "../../shared/adapters/local/local-document-store.js";
import { idPrefix, TimeSortableIds } from "../../shared/contract/ids.js";
import { ApiKeys } from "../../shared/core/auth/api-keys.js";
import { lockDataDir } from "./data-dir-lock.js";

export async function createLocalApiKey(dataDir: string, workspaceId?: string, store = loadStoreKind()) {
  const dir = resolve(dataDir);
  const unlock = lockDataDir(dir);
  const documents = await openLocalDocumentStore(dir, store);
  try {
    const ids = new TimeSortableIds();
    const key = ApiKeys.generate();
    const principal = {
      workspaceId: workspaceId ?? ids.next(idPrefix.workspace),
      apiKeyId: ids.next(idPrefix.apiKey),
    };
    await new ApiKeys(documents.store).register(key, principal);
    return { key, ...principal };
  } finally {
    await documents.close();
    unlock();
  }
}

/** REVERIE_STORE, as the stack reads it (undefined: whatever the data dir holds). */
function loadStoreKind(): "sqlite" | "dynalite" | undefined {
  const value = process.env.REVERIE_STORE;
  return value === "sqlite" || value === "dynalite" ? value : undefined;
}
