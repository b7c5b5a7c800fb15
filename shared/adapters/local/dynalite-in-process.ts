/**
 * dynalite in the embedded stack's own process, without its HTTP server: DynamoDB requests go
 * straight to dynalite's validations and actions on its LevelDB store. The DynamoDB adapter on top
 * is the one AWS uses (only its transport differs), with the same requests, conditions and errors.
 * Why: a step makes a dozen DynamoDB calls; through the SDK and a loopback socket each costs ~0.5 ms
 * of signing, middleware and HTTP, in process ~0.05 ms (see `npm run bench`).
 */
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import type { TableName } from "../../core/ports.js";
import { createTableRequest, type TableSpec, tableSpecs } from "../../infra-spec/tables.js";
import {
  DynamoDbDocumentStore,
  type DynamoDbOperation,
  type DynamoDbTransport,
} from "../aws/dynamodb-document-store.js";
import { fromWire, toWire } from "../aws/dynamodb-wire.js";

const require = createRequire(import.meta.url);

interface DynaliteError {
  statusCode?: number;
  body?: { __type?: string; message?: string };
}
type Callback = (error: DynaliteError | null, result?: Record<string, unknown>) => void;
interface DynaliteStore {
  db: { close(cb: (error?: Error) => void): void };
}
interface Action {
  run: (store: DynaliteStore, data: unknown, cb: Callback) => void;
  validation: { types: unknown; custom?: unknown };
}

const dynaliteDb = require("dynalite/db") as { create(options: Record<string, unknown>): DynaliteStore };
const validations = require("dynalite/validations") as {
  checkTypes(data: unknown, types: unknown): unknown;
  checkValidations(data: unknown, types: unknown, custom: unknown, store: DynaliteStore): void;
};

const actions = new Map<string, Action>();
function action(operation: string): Action {
  let found = actions.get(operation);
  if (!found) {
    const name = operation[0]?.toLowerCase() + operation.slice(1);
    found = { run: require(`dynalite/actions/${name}`), validation: require(`dynalite/validations/${name}`) };
    actions.set(operation, found);
  }
  return found;
}

/** A DynamoDB error as the SDK would raise it (the adapter maps ConditionalCheckFailedException). */
export class LocalDynamoDbError extends Error {
  constructor(type: string, message: string | undefined) {
    super(message ?? type);
    this.name = type.split("#").pop() ?? type;
  }
}

/** dynalite's engine in this process, as a DynamoDB transport. */
export class InProcessDynalite implements DynamoDbTransport {
  private readonly store: DynaliteStore;

  /** `path` is a LevelDB directory; without one everything stays in memory. */
  constructor(path?: string) {
    this.store = dynaliteDb.create({
      ...(path ? { path } : {}),
      createTableMs: 0,
      deleteTableMs: 0,
      updateTableMs: 0,
    });
  }

  /** Runs one operation on DynamoDB-JSON data (as dynalite's HTTP server would after parsing). */
  call(operation: string, request: unknown): Promise<Record<string, unknown>> {
    const { run, validation } = action(operation);
    return new Promise((resolve, reject) => {
      try {
        const data = validations.checkTypes(request, validation.types);
        validations.checkValidations(data, validation.types, validation.custom, this.store);
        run(this.store, data, (error, result) => (error ? reject(toError(error)) : resolve(result ?? {})));
      } catch (error) {
        reject(toError(error as DynaliteError));
      }
    });
  }

  async send(operation: DynamoDbOperation, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    return fromWire(await this.call(operation, toWire(operation, input)));
  }

  /** Creates a table from its spec unless it exists, and waits until it is active. */
  async ensureTable(spec: TableSpec): Promise<void> {
    try {
      await this.call("CreateTable", createTableRequest(spec));
    } catch (error) {
      if ((error as Error).name !== "ResourceInUseException") throw error;
    }
    for (;;) {
      const described = (await this.call("DescribeTable", { TableName: spec.name })) as {
        Table?: { TableStatus?: string };
      };
      if (described.Table?.TableStatus === "ACTIVE") return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.store.db.close((error) => (error ? reject(error) : resolve())),
    );
  }
}

function toError(error: DynaliteError | Error): Error {
  const body = (error as DynaliteError).body;
  if ((error as DynaliteError).statusCode && body?.__type)
    return new LocalDynamoDbError(body.__type, body.message);
  return error instanceof Error ? error : new Error(String(body?.message ?? error));
}

/** The embedded stack's DynamoDB: the tables of `shared/infra-spec` in an in-process dynalite. */
export async function startLocalDynamoDb(options: { dataDir?: string } = {}) {
  if (options.dataDir) await mkdir(options.dataDir, { recursive: true });
  const dynalite = new InProcessDynalite(options.dataDir);
  for (const spec of Object.values(tableSpecs)) await dynalite.ensureTable(spec);
  const tableNames = Object.fromEntries(Object.values(tableSpecs).map((s) => [s.name, s.name])) as Record<
    TableName,
    string
  >;
  return {
    store: new DynamoDbDocumentStore({ transport: dynalite, tableNames }),
    close: () => dynalite.close(),
  };
}
