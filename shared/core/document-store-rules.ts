/**
 * What every DocumentStore refuses because DynamoDB refuses it, checked the same way by each store
 * (SQLite, memory, and the DynamoDB adapter where DynamoDB cannot see the whole call): without these,
 * code that works on the embedded stack fails on AWS. The checks are a `typeof` or two per call, and a
 * Set only for a group of more than one item: the SQLite store runs them on the step's critical path.
 * The messages are DynamoDB's (as dynalite words them), so a failure reads the same everywhere.
 */
import { tableSpecs } from "../infra-spec/tables.js";
import {
  type GroupedPut,
  type PutOptions,
  type QueryOptions,
  type StoredItem,
  StoreValidationError,
  type TableName,
} from "./ports.js";

type SortKey = string | number;

/** The JavaScript type of each table's sort key, from its key schema (`S` or `N`). */
const SORT_KEY_TYPES = Object.fromEntries(
  Object.values(tableSpecs).map((spec) => [spec.name, spec.sortKey.type === "N" ? "number" : "string"]),
) as Record<TableName, "string" | "number">;

const attributeType = (value: unknown): string =>
  typeof value === "number" ? "N" : typeof value === "string" ? "S" : typeof value;

/** A put's item: its sort key of the table's type (PutItem's wording). */
export function checkItemKey(table: TableName, item: StoredItem): void {
  const expected = SORT_KEY_TYPES[table];
  if (typeof item.sk !== expected)
    throw new StoreValidationError(
      `One or more parameter values were invalid: Type mismatch for key sk expected: ${expected === "number" ? "N" : "S"} actual: ${attributeType(item.sk)}`,
    );
}

/** The key of a get, delete or increment (or of a batch's item): its sort key of the table's type. */
export function checkKey(table: TableName, sk: SortKey): void {
  if (typeof sk !== SORT_KEY_TYPES[table])
    throw new StoreValidationError("The provided key element does not match the schema");
}

/** `ifNotExists` with a rev to expect can never succeed: a programming error, not a failed condition. */
export function checkPutOptions(table: TableName, item: StoredItem, options: PutOptions): void {
  if (options.ifNotExists && options.expectedRev !== undefined && options.expectedRev !== 0)
    throw new TypeError(
      `put ${table} ${item.pk}/${item.sk}: ifNotExists contradicts expectedRev ${options.expectedRev} (an item that must not exist has no rev)`,
    );
}

/** A putAll group: each put's key and options, and no key twice (the group is refused whole). */
export function checkGroup(puts: ReadonlyArray<GroupedPut>): void {
  const seen = puts.length > 1 ? new Set<string>() : undefined;
  for (const { table, item, options } of puts) {
    checkItemKey(table, item);
    if (options !== undefined) checkPutOptions(table, item, options);
    if (seen !== undefined) addUnique(seen, table, item);
  }
}

/** A putMany batch: each item's key (BatchWriteItem's wording), and no key twice. */
export function checkBatch(table: TableName, items: readonly StoredItem[]): void {
  const seen = items.length > 1 ? new Set<string>() : undefined;
  for (const item of items) {
    checkKey(table, item.sk);
    if (seen !== undefined) addUnique(seen, table, item);
  }
}

/**
 * A query's options: bounds of the table's sort key type (DynamoDB refuses a key condition whose
 * value has another type), a prefix only on string keys, and a limit that is an integer ≥ 1.
 */
export function checkQuery(table: TableName, options: QueryOptions): void {
  const { after, before, beginsWith, limit } = options;
  const expected = SORT_KEY_TYPES[table];
  if (
    (after !== undefined && typeof after !== expected) ||
    (before !== undefined && typeof before !== expected) ||
    (beginsWith !== undefined && expected !== "string")
  )
    throw new StoreValidationError(
      "One or more parameter values were invalid: Condition parameter type does not match schema type",
    );
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1))
    throw new StoreValidationError(
      Number.isInteger(limit)
        ? `1 validation error detected: Value '${limit}' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1`
        : `Value '${limit}' at 'limit' is not an integer`,
    );
}

/**
 * Adds an item's key to `seen`, refusing one already there. The key's parts cannot run into each
 * other: the table names are fixed words, the partition key's length marks where the sort key starts,
 * and a sort key's type is already the table's.
 */
function addUnique(seen: Set<string>, table: TableName, { pk, sk }: StoredItem): void {
  const key = `${table}:${pk.length}:${pk}${sk}`;
  if (seen.has(key)) throw new StoreValidationError("Provided list of item keys contains duplicates");
  seen.add(key);
}
