/**
 * `npm run create-api-key -- --local [--data-dir DIR] [--workspace wrkspc_…]`: a key for the embedded
 * stack's data dir — a second workspace (or another key for one). The stack must be stopped: one
 * process owns a data dir (its lock says which).
 */
import { join, resolve } from "node:path";
import { startLocalDynamoDb } from "../../shared/adapters/local/dynalite-in-process.js";
import { idPrefix, TimeSortableIds } from "../../shared/contract/ids.js";
import { ApiKeys } from "../../shared/core/auth/api-keys.js";
import { lockDataDir } from "./data-dir-lock.js";

export async function createLocalApiKey(dataDir: string, workspaceId?: string) {
  const dir = resolve(dataDir);
  const unlock = lockDataDir(dir);
  const dynamodb = await startLocalDynamoDb({ dataDir: join(dir, "dynamodb") });
  try {
    const ids = new TimeSortableIds();
    const key = ApiKeys.generate();
    const principal = {
      workspaceId: workspaceId ?? ids.next(idPrefix.workspace),
      apiKeyId: ids.next(idPrefix.apiKey),
    };
    await new ApiKeys(dynamodb.store).register(key, principal);
    return { key, ...principal };
  } finally {
    await dynamodb.close();
    unlock();
  }
}
