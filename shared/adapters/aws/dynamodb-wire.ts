/**
 * DynamoDB's wire format for the operations the document store sends through a `DynamoDbTransport`
 * without the SDK's document client: plain values in, attribute values on the wire, plain values
 * back (the HTTP transport of the Lambda functions, the in-process dynalite of the embedded stack).
 *
 * The marshalling is `@aws-sdk/util-dynamodb`'s (`removeUndefinedValues`) for the values the
 * document store writes — strings, numbers, booleans, null, lists and maps — written here because
 * loading that package was ~10 ms of every Lambda cold start. As the SDK's, a number beyond 2^53 is
 * refused on the way in and read back as a BigInt; sets and binary, which the store never writes,
 * are refused.
 */
import type { DynamoDbOperation } from "./dynamodb-document-store.js";

/** One attribute value on the wire (`{ S: "x" }`, `{ N: "1" }`, …). */
export type AttributeValue = Record<string, unknown>;

function marshallValue(value: unknown): AttributeValue {
  if (typeof value === "string") return { S: value };
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new Error(`Special numeric value ${value} is not allowed`);
    if (!Number.isSafeInteger(value) && Number.isInteger(value))
      throw new Error(`Number ${value} is outside Number.MAX_SAFE_INTEGER; use a BigInt`);
    return { N: String(value) };
  }
  if (typeof value === "bigint") return { N: value.toString() };
  if (typeof value === "boolean") return { BOOL: value };
  if (value === null) return { NULL: true };
  if (Array.isArray(value)) return { L: value.filter((item) => item !== undefined).map(marshallValue) };
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype)
    return { M: marshall(value as Record<string, unknown>) };
  throw new Error(
    `cannot marshall ${Object.prototype.toString.call(value)} (the document store writes JSON values)`,
  );
}

/** A record of plain values as attribute values, undefined ones left out. */
export function marshall(record: Record<string, unknown>): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const [key, value] of Object.entries(record)) if (value !== undefined) out[key] = marshallValue(value);
  return out;
}

function unmarshallValue(attribute: AttributeValue): unknown {
  const [type, value] = Object.entries(attribute)[0] ?? [];
  switch (type) {
    case "S":
      return value;
    case "N": {
      const number = Number(value);
      // As the SDK: an integer beyond 2^53 comes back as a BigInt, not rounded.
      if (Number.isFinite(number) && Number.isInteger(number) && !Number.isSafeInteger(number))
        return BigInt(value as string);
      return number;
    }
    case "BOOL":
      return value;
    case "NULL":
      return null;
    case "L":
      return (value as AttributeValue[]).map(unmarshallValue);
    case "M":
      return unmarshall(value as Record<string, AttributeValue>);
    default:
      throw new Error(`cannot unmarshall a ${String(type)} attribute (the document store writes none)`);
  }
}

/** Attribute values as a record of plain values. */
export function unmarshall(record: Record<string, AttributeValue>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) out[key] = unmarshallValue(value);
  return out;
}

/** Fields holding attribute values, in the inputs the document store uses. */
const INPUT_VALUES = ["Item", "Key", "ExpressionAttributeValues", "ExclusiveStartKey"] as const;

type BatchRequests = Record<string, Array<{ PutRequest?: { Item: Record<string, unknown> } }>>;

/** Maps the items of BatchWriteItem's `RequestItems` / `UnprocessedItems`. */
function mapBatch(requests: unknown, map: (item: Record<string, unknown>) => unknown): BatchRequests {
  return Object.fromEntries(
    Object.entries(requests as BatchRequests).map(([table, entries]) => [
      table,
      entries.map((entry) =>
        entry.PutRequest ? { PutRequest: { Item: map(entry.PutRequest.Item) } } : entry,
      ),
    ]),
  ) as BatchRequests;
}

/** An operation's input with its plain values marshalled. */
export function toWire(
  operation: DynamoDbOperation,
  input: Record<string, unknown>,
): Record<string, unknown> {
  const request: Record<string, unknown> = { ...input };
  if (operation === "BatchWriteItem")
    request.RequestItems = mapBatch(input.RequestItems, (item) => marshall(item));
  for (const field of INPUT_VALUES)
    if (request[field] !== undefined) request[field] = marshall(request[field] as Record<string, unknown>);
  return request;
}

/** An operation's output with its attribute values unmarshalled. */
export function fromWire(output: Record<string, unknown>): Record<string, unknown> {
  const plain = (value: unknown) => (value ? unmarshall(value as Record<string, AttributeValue>) : undefined);
  return {
    ...output,
    Item: plain(output.Item),
    Attributes: plain(output.Attributes),
    LastEvaluatedKey: plain(output.LastEvaluatedKey),
    Items: Array.isArray(output.Items) ? output.Items.map(plain) : undefined,
    UnprocessedItems: output.UnprocessedItems
      ? mapBatch(output.UnprocessedItems, (item) => plain(item) as Record<string, unknown>)
      : undefined,
  };
}
