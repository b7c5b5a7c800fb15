/**
 * The authorizer's own composition: an API key's hash → its principal, read from the resources
 * table. It needs one DynamoDB read and nothing of the container (no configuration schema, no
 * services), so its bundle is the key code and the store adapter. The read goes over DynamoDB's
 * HTTP API signed with the function's credentials, as every function's do (aws-clients.ts).
 */
import { DynamoDbDocumentStore } from "../adapters/aws/dynamodb-document-store.js";
import { ApiKeys } from "../core/auth/api-keys.js";
import { dynamoDbTransport } from "./aws-clients.js";
import { tableNamesOf } from "./table-names.js";

let apiKeys: ApiKeys | undefined;

/** This container's key resolver (keys resolved here are cached per container, see ApiKeys). */
export function authorizerApiKeys(env: Record<string, string | undefined> = process.env): ApiKeys {
  apiKeys ??= new ApiKeys(
    new DynamoDbDocumentStore({ transport: dynamoDbTransport(env), tableNames: tableNamesOf(env) }),
  );
  return apiKeys;
}
