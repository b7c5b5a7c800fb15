/**
 * The DocumentStore port on DynamoDB (and on dynalite, which speaks the same wire API). Single-item
 * conditional writes only: dynalite has no TransactWriteItems (DESIGN.md §5). The requests go through
 * a transport: the AWS SDK's document client by default, signed HTTP without the SDK
 * (dynamodb-http-transport.ts, what the Lambda functions use) or an in-process dynalite (embedded
 * stack).
 */
import { randomUUID } from "node:crypto";
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { PutCommandInput, QueryCommandInput } from "@aws-sdk/lib-dynamodb";
import { checkBatch, checkGroup, checkPutOptions, checkQuery } from "../../core/document-store-rules.js";
import {
  ConditionFailedError,
  type DocumentStore,
  type GroupedPut,
  type PutOptions,
  type QueryOptions,
  type StoredItem,
  type TableName,
} from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

/**
 * Sends one DynamoDB request whose attribute values are plain JavaScript (the document client's
 * shape, as `@aws-sdk/lib-dynamodb` takes them) and returns the output in the same shape.
 */
export interface DynamoDbTransport {
  send(operation: DynamoDbOperation, input: Record<string, unknown>): Promise<Record<string, unknown>>;
}
export type DynamoDbOperation =
  | "GetItem"
  | "PutItem"
  | "DeleteItem"
  | "Query"
  | "UpdateItem"
  | "BatchWriteItem";

export type DynamoDbDocumentStoreOptions = {
  /** Physical table name for each logical table. */
  tableNames: Record<TableName, string>;
} & (
  | { client: SdkClient<DynamoDBClient>; transport?: undefined }
  | { transport: DynamoDbTransport; client?: undefined }
);

/**
 * Items are stored as their keys, `rev` (for conditions) and counters as native attributes, and the
 * rest as one JSON string: documents carry user and model JSON (tool inputs, schemas, metadata) with
 * keys such as `constructor` and numbers beyond 2^53 that DynamoDB's marshalling rejects, and one
 * string is cheaper to marshal than a deep map.
 */
const DOCUMENT_ATTRIBUTE = "doc";
const NATIVE_ATTRIBUTES = new Set(["pk", "sk", "rev"]);

/**
 * A conditional put's own random token, stored beside the item and never read back into it. The
 * transports retry a request whose answer was lost (a dropped connection, a 5xx), and DynamoDB may
 * have applied it: the retry is then refused by the condition the first request satisfied — the
 * put's own write taken for someone else's (a create answered 409, a session save taken for a lost
 * race, so the step stops before its next message). A refusal after more than one attempt reads the
 * item: if it carries this put's token, the put took effect and succeeds. Another writer's item,
 * even an identical one, carries another token, so a real conflict is still one.
 */
const WRITE_TOKEN_ATTRIBUTE = "wt";

function encodeItem(item: StoredItem): Record<string, unknown> {
  const native: Record<string, unknown> = {};
  const rest: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(item)) {
    if (NATIVE_ATTRIBUTES.has(key)) native[key] = value;
    else rest[key] = value;
  }
  // Like the marshaller's removeUndefinedValues: undefined list entries are dropped, not nulled.
  const json = JSON.stringify(rest, (_key, value) =>
    Array.isArray(value) ? value.filter((entry) => entry !== undefined) : value,
  );
  return { ...native, [DOCUMENT_ATTRIBUTE]: json };
}

const isConditional = ({ options }: GroupedPut): boolean =>
  options?.ifNotExists === true || options?.expectedRev !== undefined;

function decodeItem(raw: Record<string, unknown>): StoredItem {
  const { [DOCUMENT_ATTRIBUTE]: document, [WRITE_TOKEN_ATTRIBUTE]: _token, ...native } = raw;
  return { ...native, ...(typeof document === "string" ? JSON.parse(document) : {}) } as StoredItem;
}

/**
 * The AWS SDK's document client as a transport. `@aws-sdk/lib-dynamodb` is imported on the first
 * request: this module imports nothing of the SDK at load, so a function whose DynamoDB requests go
 * through another transport (dynamodb-http-transport.ts) never loads it. The DynamoDB client is
 * the caller's: an instance, or a factory that imports it on first use (sdk-client.ts).
 */
export function sdkTransport(client: SdkClient<DynamoDBClient>): DynamoDbTransport {
  const dynamoDb = sdkClientGetter(client);
  let documents:
    | Promise<{
        lib: typeof import("@aws-sdk/lib-dynamodb");
        client: { send(command: unknown): Promise<unknown> };
      }>
    | undefined;
  const commandOf = {
    BatchWriteItem: "BatchWriteCommand",
    GetItem: "GetCommand",
    PutItem: "PutCommand",
    DeleteItem: "DeleteCommand",
    Query: "QueryCommand",
    UpdateItem: "UpdateCommand",
  } as const;
  return {
    async send(operation, input) {
      documents ??= Promise.all([import("@aws-sdk/lib-dynamodb"), dynamoDb()]).then(([lib, client]) => ({
        lib,
        client: lib.DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
      }));
      const { lib, client: document } = await documents;
      const Command = lib[commandOf[operation]] as unknown as new (input: unknown) => unknown;
      return (await document.send(new Command(input))) as Record<string, unknown>;
    },
  };
}

type SortKey = string | number;

export class DynamoDbDocumentStore implements DocumentStore {
  private readonly transport: DynamoDbTransport;
  private readonly tableNames: Record<TableName, string>;

  constructor(options: DynamoDbDocumentStoreOptions) {
    this.transport = options.transport ?? sdkTransport(options.client);
    this.tableNames = options.tableNames;
  }

  async get(table: TableName, pk: string, sk: SortKey): Promise<StoredItem | undefined> {
    const output = await this.transport.send("GetItem", {
      TableName: this.tableNames[table],
      Key: { pk, sk },
      ConsistentRead: true,
    });
    return output.Item ? decodeItem(output.Item as Record<string, unknown>) : undefined;
  }

  async put(table: TableName, item: StoredItem, options: PutOptions = {}): Promise<void> {
    checkPutOptions(table, item, options);
    await this.putItem(table, item, options);
  }

  /** One PutItem under its conditions; DynamoDB checks the key. */
  private async putItem(table: TableName, item: StoredItem, options: PutOptions = {}): Promise<void> {
    const input: PutCommandInput = { TableName: this.tableNames[table], Item: encodeItem(item) };
    const conditions: string[] = [];
    if (options.ifNotExists || options.expectedRev === 0) conditions.push("attribute_not_exists(pk)");
    if (options.expectedRev !== undefined && options.expectedRev !== 0) {
      conditions.push("#rev = :rev");
      input.ExpressionAttributeNames = { "#rev": "rev" };
      input.ExpressionAttributeValues = { ":rev": options.expectedRev };
    }
    if (conditions.length === 0) {
      await this.transport.send("PutItem", input as Record<string, unknown>);
      return;
    }
    input.ConditionExpression = conditions.join(" AND ");
    const token = randomUUID();
    (input.Item as Record<string, unknown>)[WRITE_TOKEN_ATTRIBUTE] = token;
    try {
      await this.transport.send("PutItem", input as Record<string, unknown>);
    } catch (error) {
      if (isConditionFailure(error) && attemptsOf(error) > 1 && (await this.tokenOf(table, item)) === token)
        return;
      throw mapConditionFailure(error, `put ${table} ${item.pk}/${item.sk}`);
    }
  }

  /** The write token of the item stored under `item`'s key (see {@link WRITE_TOKEN_ATTRIBUTE}). */
  private async tokenOf(table: TableName, item: StoredItem): Promise<unknown> {
    const output = await this.transport.send("GetItem", {
      TableName: this.tableNames[table],
      Key: { pk: item.pk, sk: item.sk },
      ConsistentRead: true,
      ProjectionExpression: "#wt",
      ExpressionAttributeNames: { "#wt": WRITE_TOKEN_ATTRIBUTE },
    });
    return (output.Item as Record<string, unknown> | undefined)?.[WRITE_TOKEN_ATTRIBUTE];
  }

  /**
   * BatchWriteItem, 25 items a request, retrying what DynamoDB leaves unprocessed. Duplicate keys are
   * refused before the first request: DynamoDB would refuse them only within one request, after the
   * requests before it were written.
   */
  async putMany(table: TableName, items: StoredItem[]): Promise<void> {
    checkBatch(table, items);
    await this.writeBatches(table, items);
  }

  private async writeBatches(table: TableName, items: StoredItem[]): Promise<void> {
    const name = this.tableNames[table];
    for (let start = 0; start < items.length; start += 25) {
      let requests: unknown[] = items
        .slice(start, start + 25)
        .map((item) => ({ PutRequest: { Item: encodeItem(item) } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0)
          await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 10 * 2 ** attempt)));
        if (attempt > 10) throw new Error(`putMany ${table}: ${requests.length} items still unprocessed`);
        const output = (await this.transport.send("BatchWriteItem", {
          RequestItems: { [name]: requests },
        })) as {
          UnprocessedItems?: Record<string, unknown[]>;
        };
        requests = output.UnprocessedItems?.[name] ?? [];
      }
    }
  }

  async putAll(puts: ReadonlyArray<GroupedPut>): Promise<void> {
    // Checked whole before the first request: DynamoDB sees one request at a time, so a key given
    // twice would pass across requests, and a refused key would be refused after the requests before.
    checkGroup(puts);
    // Runs of unconditional puts to one table go as batches; a conditional put goes alone, in order.
    for (let start = 0; start < puts.length; ) {
      const first = puts[start] as GroupedPut;
      if (isConditional(first)) {
        await this.putItem(first.table, first.item, first.options);
        start += 1;
        continue;
      }
      let end = start + 1;
      while (end < puts.length && !isConditional(puts[end] as GroupedPut) && puts[end]?.table === first.table)
        end++;
      const run = puts.slice(start, end).map((put) => put.item);
      if (run.length === 1) await this.putItem(first.table, first.item);
      else await this.writeBatches(first.table, run);
      start = end;
    }
  }

  async delete(table: TableName, pk: string, sk: SortKey): Promise<void> {
    await this.transport.send("DeleteItem", { TableName: this.tableNames[table], Key: { pk, sk } });
  }

  /**
   * DynamoDB allows one sort-key condition, and only inclusive ranges; so the key condition selects an
   * inclusive superset that starts where the traversal starts, and the strict bounds and the prefix are
   * checked here, stopping as soon as an item lies past the far end. The options are checked first:
   * the key condition may leave a bound or the prefix out (and the limit gets slack), so DynamoDB
   * would not see a bound of the wrong type or a limit of 0.
   */
  async query(table: TableName, pk: string, options: QueryOptions = {}): Promise<StoredItem[]> {
    checkQuery(table, options);
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
      const output = (await this.transport.send("Query", input as Record<string, unknown>)) as {
        Items?: unknown[];
        LastEvaluatedKey?: Record<string, unknown>;
      };
      for (const raw of output.Items ?? []) {
        const item = decodeItem(raw as Record<string, unknown>);
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
    const output = (await this.transport.send("UpdateItem", {
      TableName: this.tableNames[table],
      Key: { pk, sk },
      UpdateExpression: "ADD #a :by",
      ExpressionAttributeNames: { "#a": attribute },
      ExpressionAttributeValues: { ":by": by },
      ReturnValues: "UPDATED_NEW",
    })) as { Attributes?: Record<string, unknown> };
    const value = output.Attributes?.[attribute];
    if (typeof value !== "number") throw new Error(`increment of ${attribute} returned ${String(value)}`);
    return value;
  }
}

function isConditionFailure(error: unknown): boolean {
  // The SDK's exception and the HTTP transport's error both carry DynamoDB's exception name.
  return error instanceof Error && error.name === "ConditionalCheckFailedException";
}

/** How many requests the transport made for the call that failed: the HTTP transport's, or the SDK's. */
function attemptsOf(error: unknown): number {
  const { attempts, $metadata } = error as { attempts?: number; $metadata?: { attempts?: number } };
  return attempts ?? $metadata?.attempts ?? 1;
}

function mapConditionFailure(error: unknown, what: string): unknown {
  return isConditionFailure(error)
    ? new ConditionFailedError(`condition failed: ${what}`, { cause: error })
    : error;
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
