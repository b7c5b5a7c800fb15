/**
 * `npm run create-api-key -- --table <resources table> [--workspace wrkspc_…] [--region …]`: creates an
 * API key for a deployed stack (the table name is the stack's ResourcesTableName output). Only the
 * key's hash is stored; the key is printed once. With `--local [--data-dir DIR]` the key is for the
 * embedded stack's data dir instead (infra/local/local-api-key.ts).
 */
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDbDocumentStore } from "../../shared/adapters/aws/dynamodb-document-store.js";
import { idPrefix, TimeSortableIds } from "../../shared/contract/ids.js";
import { ApiKeys } from "../../shared/core/auth/api-keys.js";
import type { DocumentStore } from "../../shared/core/ports.js";

/** Registers a new key for a workspace (a new workspace when none is given) and returns it. */
export async function createApiKey(store: DocumentStore, workspaceId?: string) {
  const ids = new TimeSortableIds();
  const key = ApiKeys.generate();
  const principal = {
    workspaceId: workspaceId ?? ids.next(idPrefix.workspace),
    apiKeyId: ids.next(idPrefix.apiKey),
  };
  await new ApiKeys(store).register(key, principal);
  return { key, ...principal };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      table: { type: "string" },
      workspace: { type: "string" },
      region: { type: "string" },
      local: { type: "boolean" },
      "data-dir": { type: "string" },
    },
  });
  if (!values.table && !values.local) {
    process.stderr.write(
      "usage: npm run create-api-key -- --table <ResourcesTableName output> [--workspace wrkspc_…] [--region …]\n" +
        "       npm run create-api-key -- --local [--data-dir .reverie] [--workspace wrkspc_…]   (npm start stopped)\n",
    );
    process.exit(2);
  }
  let created: Awaited<ReturnType<typeof createApiKey>>;
  if (values.local) {
    const { createLocalApiKey } = await import("../local/local-api-key.js");
    const dataDir = values["data-dir"] ?? process.env.REVERIE_DATA_DIR ?? ".reverie";
    try {
      created = await createLocalApiKey(dataDir, values.workspace);
    } catch (error) {
      process.stderr.write(`create-api-key: ${(error as Error).message}\n`);
      process.exit(1);
    }
  } else {
    const store = new DynamoDbDocumentStore({
      client: new DynamoDBClient(values.region ? { region: values.region } : {}),
      tableNames: { resources: values.table as string, events: "unused" },
    });
    created = await createApiKey(store, values.workspace);
  }
  process.stdout.write(
    `workspace  ${created.workspaceId}\nkey id     ${created.apiKeyId}\napi key    ${created.key}\n(store the key now: only its hash is kept)\n`,
  );
}
