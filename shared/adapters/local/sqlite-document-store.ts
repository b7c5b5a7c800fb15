/**
 * The DocumentStore port on SQLite (`node:sqlite`, built into Node 24): the embedded stack's default
 * store. One file in the data dir, WAL journal, every write committed before the call returns, so
 * `kill -9` loses nothing that was acknowledged.
 *
 * DynamoDB's semantics, checked by the same behaviour suite as the DynamoDB adapter: single-item
 * conditional puts, strict key ranges, sort keys ordered as numbers by value and strings by their
 * UTF-8 bytes (SQLite's BINARY collation compares UTF-8 bytes), `undefined` attributes dropped, and
 * DynamoDB's limits (400 KB items, 2,048-byte partition and 1,024-byte sort keys) and refusals (a sort
 * key of the wrong type, duplicate keys in a group, a limit below 1: core/document-store-rules.ts) so
 * that what works here works on AWS. The calls are synchronous underneath: one process owns the data
 * dir (its lock), and a read-check-write runs without interleaving, so conditional writes need no
 * transaction.
 * The hot writes are each one statement (a conditional put checks its condition in its own `WHERE`
 * or `ON CONFLICT`; an increment updates the counter in place): no read, decode and re-encode of the
 * item in JavaScript before the write.
 */
import type { DatabaseSync, StatementSync } from "node:sqlite";
import {
  checkBatch,
  checkGroup,
  checkItemKey,
  checkKey,
  checkPutOptions,
  checkQuery,
} from "../../core/document-store-rules.js";
import {
  ConditionFailedError,
  type DocumentStore,
  type GroupedPut,
  type PutOptions,
  type QueryOptions,
  type StoredItem,
  StoreValidationError,
  type TableName,
} from "../../core/ports.js";
import { openSqliteDatabase } from "./node-sqlite.js";

type SortKey = string | number;

/** An attribute name that needs no escaping in a JSON path (`$."name"`). */
const PLAIN_ATTRIBUTE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** DynamoDB's limits, enforced here so the embedded stack refuses what AWS would. */
export const SQLITE_STORE_LIMITS = {
  itemBytes: 400 * 1024,
  partitionKeyBytes: 2048,
  sortKeyBytes: 1024,
} as const;

export class SqliteDocumentStore implements DocumentStore {
  private readonly db: DatabaseSync;
  private readonly statements: {
    get: StatementSync;
    put: StatementSync;
    insertNew: StatementSync;
    replaceAtRev: StatementSync;
    incrementNumber: StatementSync;
    delete: StatementSync;
  };
  private readonly queries = new Map<string, StatementSync>();

  /** `path` is the database file, or `:memory:` (tests). */
  constructor(path: string) {
    this.db = openSqliteDatabase(path);
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS items (
        tbl TEXT NOT NULL,
        pk TEXT NOT NULL,
        sk ANY NOT NULL,
        doc TEXT NOT NULL,
        PRIMARY KEY (tbl, pk, sk)
      ) STRICT, WITHOUT ROWID;
    `);
    this.statements = {
      get: this.db.prepare("SELECT doc FROM items WHERE tbl = ? AND pk = ? AND sk = ?"),
      put: this.db.prepare("INSERT OR REPLACE INTO items (tbl, pk, sk, doc) VALUES (?, ?, ?, ?)"),
      insertNew: this.db.prepare(
        "INSERT INTO items (tbl, pk, sk, doc) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      ),
      replaceAtRev: this.db.prepare(
        "UPDATE items SET doc = ? WHERE tbl = ? AND pk = ? AND sk = ? AND json_extract(doc, '$.rev') = ?",
      ),
      // only an attribute that is already a number: anything else takes increment's general path
      incrementNumber: this.db.prepare(
        `UPDATE items SET doc = json_set(doc, ?1, json_extract(doc, ?1) + ?2)
         WHERE tbl = ?3 AND pk = ?4 AND sk = ?5 AND json_type(doc, ?1) IN ('integer', 'real')
         RETURNING json_extract(doc, ?1) AS value`,
      ),
      delete: this.db.prepare("DELETE FROM items WHERE tbl = ? AND pk = ? AND sk = ?"),
    };
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  async get(table: TableName, pk: string, sk: SortKey): Promise<StoredItem | undefined> {
    checkKey(table, sk);
    return this.read(table, pk, sk);
  }

  async put(table: TableName, item: StoredItem, options: PutOptions = {}): Promise<void> {
    checkItemKey(table, item);
    checkPutOptions(table, item, options);
    this.write(table, item, options);
  }

  async putAll(puts: ReadonlyArray<GroupedPut>): Promise<void> {
    checkGroup(puts);
    this.writeGroup(puts);
  }

  async putMany(table: TableName, items: StoredItem[]): Promise<void> {
    checkBatch(table, items);
    this.writeGroup(items.map((item) => ({ table, item })));
  }

  /** A checked group in one transaction: all of it, or (a failed condition) none of it. */
  private writeGroup(puts: ReadonlyArray<GroupedPut>): void {
    if (puts.length === 0) return;
    const docs = puts.map(({ item }) => this.encode(item));
    this.db.exec("BEGIN");
    try {
      puts.forEach(({ table, item, options }, i) => {
        this.write(table, item, options ?? {}, docs[i]);
      });
      this.db.exec("COMMIT");
    } catch (error) {
      this.db.exec("ROLLBACK");
      throw error;
    }
  }

  /** One put, within the caller's transaction if there is one; `doc` is the item already encoded. */
  private write(table: TableName, item: StoredItem, options: PutOptions, doc = this.encode(item)): void {
    if (options.ifNotExists || options.expectedRev === 0) {
      if (this.statements.insertNew.run(table, item.pk, item.sk, doc).changes === 0)
        throw new ConditionFailedError(`condition failed: put ${table} ${item.pk}/${item.sk} (exists)`);
    } else if (options.expectedRev !== undefined) {
      const { changes } = this.statements.replaceAtRev.run(doc, table, item.pk, item.sk, options.expectedRev);
      if (changes === 0) {
        const rev = this.read(table, item.pk, item.sk)?.rev;
        throw new ConditionFailedError(
          `condition failed: put ${table} ${item.pk}/${item.sk} (rev ${String(rev)} ≠ ${options.expectedRev})`,
        );
      }
    } else {
      this.statements.put.run(table, item.pk, item.sk, doc);
    }
  }

  async delete(table: TableName, pk: string, sk: SortKey): Promise<void> {
    checkKey(table, sk);
    this.statements.delete.run(table, pk, sk);
  }

  async query(table: TableName, pk: string, options: QueryOptions = {}): Promise<StoredItem[]> {
    checkQuery(table, options);
    const { after, before, beginsWith, limit, order } = options;
    const where = ["tbl = ?", "pk = ?"];
    const params: Array<string | number> = [table, pk];
    if (after !== undefined) {
      where.push("sk > ?");
      params.push(after);
    }
    if (before !== undefined) {
      where.push("sk < ?");
      params.push(before);
    }
    if (beginsWith !== undefined) {
      // the range bound lets the primary key index do the work; substr checks the prefix exactly
      // (SQLite counts characters, where a JavaScript length counts UTF-16 units: length(?) agrees)
      where.push("sk >= ?", "typeof(sk) = 'text'", "substr(sk, 1, length(?)) = ?");
      params.push(beginsWith, beginsWith, beginsWith);
    }
    let sql = `SELECT pk, sk, doc FROM items WHERE ${where.join(" AND ")} ORDER BY sk ${order === "desc" ? "DESC" : "ASC"}`;
    if (limit !== undefined) {
      sql += " LIMIT ?";
      params.push(limit);
    }
    const rows = this.statement(sql).all(...params) as Array<{ sk: SortKey; doc: string }>;
    return rows.map((row) => decode(pk, row.sk, row.doc));
  }

  async increment(table: TableName, pk: string, sk: SortKey, attribute: string, by: number): Promise<number> {
    checkKey(table, sk);
    if (PLAIN_ATTRIBUTE.test(attribute)) {
      // an integer is bound as one, so that the stored counter stays an integer
      const step = Number.isSafeInteger(by) ? BigInt(by) : by;
      const row = this.statements.incrementNumber.get(`$."${attribute}"`, step, table, pk, sk) as
        | { value: number }
        | undefined;
      if (row !== undefined) return row.value;
    }
    const item = this.read(table, pk, sk) ?? { pk, sk };
    const current = item[attribute] ?? 0;
    if (typeof current !== "number") throw new TypeError(`${attribute} of ${pk}/${sk} is not a number`);
    item[attribute] = current + by;
    this.statements.put.run(table, pk, sk, this.encode(item));
    return current + by;
  }

  private read(table: TableName, pk: string, sk: SortKey): StoredItem | undefined {
    const row = this.statements.get.get(table, pk, sk) as { doc: string } | undefined;
    return row === undefined ? undefined : decode(pk, sk, row.doc);
  }

  private statement(sql: string): StatementSync {
    let statement = this.queries.get(sql);
    if (statement === undefined) {
      statement = this.db.prepare(sql);
      this.queries.set(sql, statement);
    }
    return statement;
  }

  /** The item's attributes besides its keys, as JSON, within DynamoDB's limits. */
  private encode(item: StoredItem): string {
    const { pk, sk, ...attributes } = item;
    if (Buffer.byteLength(pk) > SQLITE_STORE_LIMITS.partitionKeyBytes)
      throw new StoreValidationError(
        `One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of ${SQLITE_STORE_LIMITS.partitionKeyBytes} bytes`,
      );
    if (typeof sk === "string" && Buffer.byteLength(sk) > SQLITE_STORE_LIMITS.sortKeyBytes)
      throw new StoreValidationError(
        `One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of ${SQLITE_STORE_LIMITS.sortKeyBytes} bytes`,
      );
    const doc = JSON.stringify(attributes, dropUndefinedEntries);
    if (Buffer.byteLength(doc) + Buffer.byteLength(pk) + String(sk).length > SQLITE_STORE_LIMITS.itemBytes)
      throw new StoreValidationError("Item size has exceeded the maximum allowed size");
    return doc;
  }
}

function decode(pk: string, sk: SortKey, doc: string): StoredItem {
  return { pk, sk, ...(JSON.parse(doc) as Record<string, unknown>) };
}

/**
 * `undefined` dropped from objects and arrays alike, as DynamoDB's `removeUndefinedValues` stores it:
 * JSON.stringify already leaves out undefined properties, and this replacer filters them out of
 * lists (where JSON would write `null`), without copying the documents that have none.
 */
function dropUndefinedEntries(_key: string, value: unknown): unknown {
  return Array.isArray(value) && value.includes(undefined)
    ? value.filter((entry) => entry !== undefined)
    : value;
}
