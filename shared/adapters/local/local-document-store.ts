/**
 * The embedded stack's document store: SQLite (`<data dir>/reverie.sqlite`) by default, or dynalite
 * (`<data dir>/dynamodb`, DynamoDB's semantics in process) with `REVERIE_STORE=dynalite`. A data dir
 * made before SQLite was the default holds only a dynalite store; it keeps working on dynalite.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { DocumentStore } from "../../core/ports.js";
import { startLocalDynamoDb } from "./dynalite-in-process.js";
import { SqliteDocumentStore } from "./sqlite-document-store.js";

export type LocalStoreKind = "sqlite" | "dynalite";

export interface LocalDocumentStore {
  store: DocumentStore;
  kind: LocalStoreKind;
  /** Why this kind was chosen when it was not asked for (shown in the banner), if it matters. */
  note?: string;
  close(): Promise<void>;
}

const SQLITE_FILE = "reverie.sqlite";
const DYNALITE_DIR = "dynamodb";

/** The kind a data dir gets: the one asked for, else the one it already holds, else SQLite. */
export function localStoreKind(
  dataDir: string | undefined,
  requested: LocalStoreKind | undefined,
): { kind: LocalStoreKind; note?: string } {
  if (requested) return { kind: requested };
  if (dataDir && !existsSync(join(dataDir, SQLITE_FILE)) && holdsFiles(join(dataDir, DYNALITE_DIR))) {
    return {
      kind: "dynalite",
      note: `this data dir holds a dynalite store (${DYNALITE_DIR}/), so it stays on dynalite; set REVERIE_STORE=sqlite with a new REVERIE_DATA_DIR to start on SQLite`,
    };
  }
  return { kind: "sqlite" };
}

/** Opens the store of a data dir (undefined: in memory, for tests). */
export async function openLocalDocumentStore(
  dataDir: string | undefined,
  requested?: LocalStoreKind,
): Promise<LocalDocumentStore> {
  const { kind, note } = localStoreKind(dataDir, requested);
  if (kind === "dynalite") {
    const dynamodb = await startLocalDynamoDb({ dataDir: dataDir ? join(dataDir, DYNALITE_DIR) : undefined });
    return { store: dynamodb.store, kind, note, close: () => dynamodb.close() };
  }
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const sqlite = new SqliteDocumentStore(dataDir ? join(dataDir, SQLITE_FILE) : ":memory:");
  return { store: sqlite, kind, note, close: async () => sqlite.close() };
}

function holdsFiles(dir: string): boolean {
  try {
    return readdirSync(dir).length > 0;
  } catch {
    return false;
  }
}
