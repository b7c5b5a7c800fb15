/**
 * dynalite (DynamoDB's wire API on LevelDB) for the embedded stack and the adapter tests, with the
 * tables of `shared/infra-spec` created on start.
 */
import { mkdir } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from "@aws-sdk/client-dynamodb";
import dynalite from "dynalite";
import { createTableRequest, type TableSpec, tableSpecs } from "../../infra-spec/tables.js";

export interface DynaliteOptions {
  /** LevelDB directory; undefined keeps everything in memory. */
  dataDir?: string;
  /** 0 (the default) picks a free port. */
  port?: number;
}

export interface RunningDynalite {
  endpoint: string;
  client: DynamoDBClient;
  close(): Promise<void>;
}

export async function startDynalite(options: DynaliteOptions = {}): Promise<RunningDynalite> {
  if (options.dataDir !== undefined) await mkdir(options.dataDir, { recursive: true });
  const server = dynalite({
    ...(options.dataDir !== undefined ? { path: options.dataDir } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    maxAttempts: 3,
  });
  const close = async (): Promise<void> => {
    client.destroy();
    // Keep-alive sockets would hold the server open; dynalite's close then closes LevelDB.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) =>
      server.close((error) => (error ? reject(error) : resolve())),
    );
  };
  try {
    for (const spec of Object.values(tableSpecs)) await ensureTable(client, spec);
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  return { endpoint, client, close };
}

async function ensureTable(client: DynamoDBClient, spec: TableSpec): Promise<void> {
  try {
    await client.send(new CreateTableCommand(createTableRequest(spec)));
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await waitUntilActive(client, spec.name);
}

async function waitUntilActive(client: DynamoDBClient, tableName: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    try {
      const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
      if (Table?.TableStatus === "ACTIVE") return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`dynalite table ${tableName} did not become ACTIVE`);
}
