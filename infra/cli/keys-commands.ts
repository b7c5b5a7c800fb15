/**
 * `reverie keys create`: a key, shown once (only its hash is kept) —
 * - `--environment env_…`: an environment key for a self-hosted environment, through the API (the
 *   credential `reverie worker` polls with);
 * - `--local [--data-dir DIR] [--workspace wrkspc_…]`: a workspace API key in the embedded stack's
 *   data dir (with `npm start` stopped: one process owns a data dir);
 * - `--table <ResourcesTableName> [--region R] [--workspace wrkspc_…]`: a workspace API key for a
 *   deployed stack, written to its DynamoDB table with the caller's AWS credentials.
 */
import { type CliContext, CliError, ExitCode, UsageError } from "./cli-context.js";

export const keysCreateOptions = {
  environment: { type: "string" },
  name: { type: "string" },
  local: { type: "boolean" },
  table: { type: "string" },
  region: { type: "string" },
  workspace: { type: "string" },
} as const;

type Flags = {
  environment?: string;
  name?: string;
  local?: boolean;
  table?: string;
  region?: string;
  workspace?: string;
  "data-dir"?: string;
};

export async function keysCreate(ctx: CliContext, flags: Flags): Promise<ExitCode> {
  const targets = [flags.environment, flags.local, flags.table].filter(Boolean).length;
  if (targets !== 1)
    throw new UsageError("keys create needs exactly one of --environment env_…, --local or --table <table>");
  if (flags.environment) {
    const created = (await ctx
      .client()
      .post(`/v1/environments/${encodeURIComponent(flags.environment)}/keys`, {
        body: flags.name ? { name: flags.name } : {},
      })) as { id: string; key: string; environment_id: string };
    if (ctx.json) ctx.emit(created);
    else
      for (const line of [
        `environment  ${created.environment_id}`,
        `key id       ${created.id}`,
        `key          ${created.key}`,
        "(store the key now: only its hash is kept; `reverie worker` polls with it)",
      ])
        ctx.say(line);
    return ExitCode.ok;
  }
  let created: { key: string; workspaceId: string; apiKeyId: string };
  try {
    if (flags.local) {
      const { createLocalApiKey } = await import("../local/local-api-key.js");
      const dataDir = flags["data-dir"] ?? ctx.io.env.REVERIE_DATA_DIR ?? ".reverie";
      created = await createLocalApiKey(dataDir, flags.workspace);
    } else {
      const [{ DynamoDBClient }, { DynamoDbDocumentStore }, { createApiKey }] = await Promise.all([
        import("@aws-sdk/client-dynamodb"),
        import("../../shared/adapters/aws/dynamodb-document-store.js"),
        import("../aws/create-api-key.js"),
      ]);
      const store = new DynamoDbDocumentStore({
        client: new DynamoDBClient(flags.region ? { region: flags.region } : {}),
        tableNames: { resources: flags.table as string, events: "unused" },
      });
      created = await createApiKey(store, flags.workspace);
    }
  } catch (error) {
    throw new CliError(`keys create: ${(error as Error).message}`, ExitCode.failed, "key_create_error", {
      cause: error,
    });
  }
  if (ctx.json)
    ctx.emit({ type: "api_key", workspace_id: created.workspaceId, id: created.apiKeyId, key: created.key });
  else
    for (const line of [
      `workspace  ${created.workspaceId}`,
      `key id     ${created.apiKeyId}`,
      `api key    ${created.key}`,
      "(store the key now: only its hash is kept)",
    ])
      ctx.say(line);
  return ExitCode.ok;
}
