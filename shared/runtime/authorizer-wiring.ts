/**
 * The authorizer's own composition: an API key's hash → its principal, read from the resources
 * table. It needs one DynamoDB read and nothing of the container (no configuration schema, no
 * services, no other AWS client), so its bundle is the key code, the store adapter and the client.
 */
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDbDocumentStore } from "../adapters/aws/dynamodb-document-store.js";
import { ApiKeys } from "../core/auth/api-keys.js";
import { tableNamesOf } from "./table-names.js";

let apiKeys: ApiKeys | undefined;

/** This container's key resolver (keys resolved here are cached per container, see ApiKeys). */
export function authorizerApiKeys(env: Record<string, string | undefined> = process.env): ApiKeys {
  apiKeys ??= new ApiKeys(
    new DynamoDbDocumentStore({ client: new DynamoDBClient({}), tableNames: tableNamesOf(env) }),
  );
  return apiKeys;
}
