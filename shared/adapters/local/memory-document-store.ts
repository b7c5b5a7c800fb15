/**
 * The DocumentStore port in memory, with DynamoDB's semantics (conditional puts, strict key ranges,
 * sort order by number value or UTF-8 bytes, `undefined` attributes dropped) and refusals (a sort key
 * of the wrong type, duplicate keys in a group, a limit below 1: core/document-store-rules.ts). For
 * unit tests.
 */
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
  type TableName,
} from "../../core/ports.js";

type SortKey = string | number;

export class MemoryDocumentStore implements DocumentStore {
  /** table → partition key → sort key (typed, so 1 and "1" differ) → item. */
  private readonly tables = new Map<TableName, Map<string, Map<string, StoredItem>>>();

  async get(table: TableName, pk: string, sk: SortKey): Promise<StoredItem | undefined> {
    checkKey(table, sk);
    const item = this.partition(table, pk)?.get(keyOf(sk));
    return item === undefined ? undefined : copy(item);
  }

  async put(table: TableName, item: StoredItem, options: PutOptions = {}): Promise<void> {
    checkItemKey(table, item);
    checkPutOptions(table, item, options);
    const existing = this.partition(table, item.pk)?.get(keyOf(item.sk));
    const mustNotExist = options.ifNotExists || options.expectedRev === 0;
    if (mustNotExist && existing !== undefined) {
      throw new ConditionFailedError(`condition failed: put ${table} ${item.pk}/${item.sk} (exists)`);
    }
    if (
      options.expectedRev !== undefined &&
      options.expectedRev !== 0 &&
      existing?.rev !== options.expectedRev
    ) {
      throw new ConditionFailedError(
        `condition failed: put ${table} ${item.pk}/${item.sk} (rev ${String(existing?.rev)} ≠ ${options.expectedRev})`,
      );
    }
    this.partition(table, item.pk, true).set(keyOf(item.sk), copy(item));
  }

  /**
   * Checked whole first, then put by put through `put` (as DynamoDB writes a group: one request after
   * another), so that a test's store that fails a chosen put fails it inside a group too.
   */
  async putMany(table: TableName, items: StoredItem[]): Promise<void> {
    checkBatch(table, items);
    for (const item of items) await this.put(table, item);
  }

  /** As putMany: the first failed condition ends the group, and what came before it stays. */
  async putAll(puts: ReadonlyArray<GroupedPut>): Promise<void> {
    checkGroup(puts);
    for (const { table, item, options } of puts) await this.put(table, item, options);
  }

  async delete(table: TableName, pk: string, sk: SortKey): Promise<void> {
    checkKey(table, sk);
    this.partition(table, pk)?.delete(keyOf(sk));
  }

  async query(table: TableName, pk: string, options: QueryOptions = {}): Promise<StoredItem[]> {
    checkQuery(table, options);
    const { after, before, beginsWith, limit, order } = options;
    const items = [...(this.partition(table, pk)?.values() ?? [])]
      .filter(
        ({ sk }) =>
          (after === undefined || compareSortKeys(sk, after) > 0) &&
          (before === undefined || compareSortKeys(sk, before) < 0) &&
          (beginsWith === undefined || (typeof sk === "string" && sk.startsWith(beginsWith))),
      )
      .sort((a, b) => compareSortKeys(a.sk, b.sk));
    if (order === "desc") items.reverse();
    return items.slice(0, limit ?? items.length).map(copy);
  }

  async increment(table: TableName, pk: string, sk: SortKey, attribute: string, by: number): Promise<number> {
    checkKey(table, sk);
    const partition = this.partition(table, pk, true);
    const item = partition.get(keyOf(sk)) ?? { pk, sk };
    const current = item[attribute] ?? 0;
    if (typeof current !== "number") throw new TypeError(`${attribute} of ${pk}/${sk} is not a number`);
    item[attribute] = current + by;
    partition.set(keyOf(sk), item);
    return current + by;
  }

  private partition(table: TableName, pk: string): Map<string, StoredItem> | undefined;
  private partition(table: TableName, pk: string, create: true): Map<string, StoredItem>;
  private partition(table: TableName, pk: string, create = false): Map<string, StoredItem> | undefined {
    let partitions = this.tables.get(table);
    if (partitions === undefined) {
      if (!create) return undefined;
      partitions = new Map();
      this.tables.set(table, partitions);
    }
    let partition = partitions.get(pk);
    if (partition === undefined && create) {
      partition = new Map();
      partitions.set(pk, partition);
    }
    return partition;
  }
}

function keyOf(sk: SortKey): string {
  return `${typeof sk}:${sk}`;
}

/** DynamoDB's order: numbers by value, strings by their UTF-8 bytes. */
function compareSortKeys(a: SortKey, b: SortKey): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}

/** A deep copy without `undefined` values, as DynamoDB's `removeUndefinedValues` would store it. */
function copy<T>(value: T): T {
  if (Array.isArray(value)) return value.filter((entry) => entry !== undefined).map(copy) as T;
  if (value instanceof Set) return new Set([...value].filter((entry) => entry !== undefined).map(copy)) as T;
  if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value)) {
    const result: Record<string, unknown> = {};
    for (const [key, entry] of Object.entries(value)) if (entry !== undefined) result[key] = copy(entry);
    return result as T;
  }
  return ArrayBuffer.isView(value) ? (structuredClone(value) as T) : value;
}
