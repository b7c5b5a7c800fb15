/**
 * DynamoDB's wire format for the operations the document store sends through a `DynamoDbTransport`
 * without the SDK's document client: plain values in, attribute values on the wire, plain values
 * back (the HTTP transport of the authorizer, the in-process dynalite of the embedded stack).
 */
import { marshall, unmarshall } from "@aws-sdk/util-dynamodb";
import type { DynamoDbOperation } from "./dynamodb-document-store.js";

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
    request.RequestItems = mapBatch(input.RequestItems, (item) =>
      marshall(item, { removeUndefinedValues: true }),
    );
  for (const field of INPUT_VALUES)
    if (request[field] !== undefined)
      request[field] = marshall(request[field] as Record<string, unknown>, { removeUndefinedValues: true });
  return request;
}

/** An operation's output with its attribute values unmarshalled. */
export function fromWire(output: Record<string, unknown>): Record<string, unknown> {
  const plain = (value: unknown) =>
    value ? unmarshall(value as Parameters<typeof unmarshall>[0]) : undefined;
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
