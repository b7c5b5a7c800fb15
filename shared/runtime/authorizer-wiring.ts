/**
 * The authorizer's own composition: an API key's hash → its principal, read from the resources
 * table. It needs one DynamoDB read and nothing of the container (no configuration schema, no
 * services), so its bundle is the key code and the store adapter. The read goes over DynamoDB's
 * HTTP API signed with the function's credentials (dynamodb-http-transport.ts): the authorizer runs
 * on every request's path, and the SDK's DynamoDB client would be most of its cold start. Without
 * credentials in the environment (not on Lambda) it falls back to the SDK's client.
 */
import { DynamoDbDocumentStore, type DynamoDbTransport } from "../adapters/aws/dynamodb-document-store.js";
import {
  credentialsFromEnv,
  DynamoDbHttpTransport,
  dynamoDbEndpoint,
} from "../adapters/aws/dynamodb-http-transport.js";
import { ApiKeys } from "../core/auth/api-keys.js";
import { tableNamesOf } from "./table-names.js";

let apiKeys: ApiKeys | undefined;

/** This container's key resolver (keys resolved here are cached per container, see ApiKeys). */
export function authorizerApiKeys(env: Record<string, string | undefined> = process.env): ApiKeys {
  apiKeys ??= new ApiKeys(
    new DynamoDbDocumentStore({ transport: authorizerTransport(env), tableNames: tableNamesOf(env) }),
  );
  return apiKeys;
}

function authorizerTransport(env: Record<string, string | undefined>): DynamoDbTransport {
  const credentials = credentialsFromEnv(env);
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (credentials && region)
    return new DynamoDbHttpTransport({ region, credentials, endpoint: dynamoDbEndpoint(env, region) });
  let sdk: Promise<DynamoDbTransport> | undefined;
  return {
    async send(operation, input) {
      sdk ??= Promise.all([
        import("@aws-sdk/client-dynamodb"),
        import("../adapters/aws/dynamodb-document-store.js"),
      ]).then(([{ DynamoDBClient }, { sdkTransport }]) => sdkTransport(new DynamoDBClient({})));
      return (await sdk).send(operation, input);
    },
  };
}
