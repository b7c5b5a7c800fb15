/**
 * The DocumentStore port on DynamoDB (and on dynalite, which speaks the same wire API). Single-item
 * conditional writes only: dynalite has no TransactWriteItems (DESIGN.md §5).
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  type PutCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import {
  ConditionFailedError,
  type DocumentStore,
  type PutOptions,
  type QueryOptions,
  type StoredItem,
  type TableName,
} from "../../core/ports.js";

export interface DynamoDbDocumentStoreOptions {
  client: DynamoDBClient;
  /** Physical table name for each logical table. */
  tableNames: Record<TableName, string>;
}

type SortKey = string | number;

export class DynamoDbDocumentStore implements DocumentStore {
  private readonly documents: DynamoDBDocumentClient;
  private readonly tableNames: Record<TableName, string>;

  constructor(options: DynamoDbDocumentStoreOptions) {
    this.documents = DynamoDBDocumentClient.from(options.client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.tableNames = options.tableNames;
  }

  async get(table: TableName, pk: string, sk: SortKey): Promise<StoredItem | undefined> {
    const output = await this.documents.send(
      new GetCommand({ TableName: this.tableNames[table], Key: { pk, sk }, ConsistentRead: true }),
    );
    return output.Item as StoredItem | undefined;
  }

  async put(table: TableName, item: StoredItem, options: PutOptions = {}): Promise<void> {
    const input: PutCommandInput = { TableName: this.tableNames[table], Item: item };
    const conditions: string[] = [];
    if (options.ifNotExists || options.expectedRev === 0) conditions.push("attribute_not_exists(pk)");
    if (options.expectedRev !== undefined && options.expectedRev !== 0) {
      conditions.push("#rev = :rev");
      input.ExpressionAttributeNames = { "#rev": "rev" };
      input.ExpressionAttributeValues = { ":rev": options.expectedRev };
    }
    if (conditions.length > 0) input.ConditionExpression = conditions.join(" AND ");
    try {
      await this.documents.send(new PutCommand(input));
    } catch (error) {
      throw mapConditionFailure(error, `put ${table} ${item.pk}/${item.sk}`);
    }
  }

  async delete(table: TableName, pk: string, sk: SortKey): Promise<void> {
    await this.documents.send(new DeleteCommand({ TableName: this.tableNames[table], Key: { pk, sk } }));
  }

  /**
   * DynamoDB allows one sort-key condition, and only inclusive ranges; so the key condition selects an
   * inclusive superset that starts where the traversal starts, and the strict bounds and the prefix are
   * checked here, stopping as soon as an item lies past the far end.
   */
  async query(table: TableName, pk: string, options: QueryOptions = {}): Promise<StoredItem[]> {
    const plan = planKeyCondition(options);
    if (plan === "empty") return [];
    const descending = options.order === "desc";
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const items: StoredItem[] = [];
    let exclusiveStartKey: Record<string, unknown> | undefined;
    do {
      const remaining = limit - items.length;
      const input: QueryCommandInput = {
        TableName: this.tableNames[table],
        KeyConditionExpression: `#pk = :pk${plan.expression ? ` AND ${plan.expression}` : ""}`,
        ExpressionAttributeNames: { "#pk": "pk", ...(plan.expression ? { "#sk": "sk" } : {}) },
        ExpressionAttributeValues: { ":pk": pk, ...plan.values },
        ScanIndexForward: !descending,
        ConsistentRead: true,
        ExclusiveStartKey: exclusiveStartKey,
        // Up to two inclusive endpoints may be dropped below, so ask for that much slack.
        Limit: Number.isFinite(remaining) ? remaining + (plan.expression ? 2 : 0) : undefined,
      };
      const output = await this.documents.send(new QueryCommand(input));
      for (const item of (output.Items ?? []) as StoredItem[]) {
        if (isPastEnd(item.sk, options, descending)) return items;
        if (!matches(item.sk, options)) continue;
        items.push(item);
        if (items.length >= limit) return items;
      }
      exclusiveStartKey = output.LastEvaluatedKey;
    } while (exclusiveStartKey);
    return items;
  }

  async increment(table: TableName, pk: string, sk: SortKey, attribute: string, by: number): Promise<number> {
    const output = await this.documents.send(
      new UpdateCommand({
        TableName: this.tableNames[table],
        Key: { pk, sk },
        UpdateExpression: "ADD #a :by",
        ExpressionAttributeNames: { "#a": attribute },
        ExpressionAttributeValues: { ":by": by },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    const value = output.Attributes?.[attribute];
    if (typeof value !== "number") throw new Error(`increment of ${attribute} returned ${String(value)}`);
    return value;
  }
}

function mapConditionFailure(error: unknown, what: string): unknown {
  const failed =
    error instanceof ConditionalCheckFailedException ||
    (error instanceof Error && error.name === "ConditionalCheckFailedException");
  return failed ? new ConditionFailedError(`condition failed: ${what}`, { cause: error }) : error;
}

interface KeyConditionPlan {
  expression?: string;
  values: Record<string, SortKey>;
}

function planKeyCondition(options: QueryOptions): KeyConditionPlan | "empty" {
  const { after, before, beginsWith, order } = options;
  // `begins_with` is the best start unless the near bound (after for asc, before for desc) lies inside
  // or beyond the prefix's range; then that bound starts the traversal and the prefix is checked here.
  const prefixStartsTraversal =
    order === "desc" ? before === undefined : after === undefined || !isAbove(after, beginsWith ?? "");
  if (beginsWith !== undefined && prefixStartsTraversal) {
    return { expression: "begins_with(#sk, :prefix)", values: { ":prefix": beginsWith } };
  }
  let lower: SortKey | undefined = after;
  if (beginsWith !== undefined && (lower === undefined || isAbove(beginsWith, lower))) lower = beginsWith;
  if (lower !== undefined && before !== undefined) {
    if (compareSortKeys(lower, before) > 0) return "empty";
    return { expression: "#sk BETWEEN :lower AND :upper", values: { ":lower": lower, ":upper": before } };
  }
  if (lower !== undefined) return { expression: "#sk >= :lower", values: { ":lower": lower } };
  if (before !== undefined) return { expression: "#sk <= :upper", values: { ":upper": before } };
  return { values: {} };
}

function isAbove(a: SortKey, b: SortKey): boolean {
  return compareSortKeys(a, b) > 0;
}

function matches(sk: SortKey, { after, before, beginsWith }: QueryOptions): boolean {
  if (after !== undefined && compareSortKeys(sk, after) <= 0) return false;
  if (before !== undefined && compareSortKeys(sk, before) >= 0) return false;
  if (beginsWith !== undefined && !(typeof sk === "string" && sk.startsWith(beginsWith))) return false;
  return true;
}

/** True once an item lies beyond the far end of the traversal, so no later item can match. */
function isPastEnd(sk: SortKey, { after, before, beginsWith }: QueryOptions, descending: boolean): boolean {
  const leftPrefix =
    beginsWith !== undefined &&
    typeof sk === "string" &&
    !sk.startsWith(beginsWith) &&
    (descending ? compareSortKeys(sk, beginsWith) < 0 : compareSortKeys(sk, beginsWith) > 0);
  if (descending) return leftPrefix || (after !== undefined && compareSortKeys(sk, after) <= 0);
  return leftPrefix || (before !== undefined && compareSortKeys(sk, before) >= 0);
}

/** DynamoDB's order: numbers by value, strings by their UTF-8 bytes. */
function compareSortKeys(a: SortKey, b: SortKey): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  return Buffer.compare(Buffer.from(String(a)), Buffer.from(String(b)));
}
