/**
 * Which DynamoDB and SQS transport a Lambda container gets (shared/runtime/aws-clients.ts): signed
 * HTTP with the environment's credentials, the SDK's clients (imported on first request) where the
 * environment has none or asks for endpoints the HTTP client does not resolve.
 */
import { beforeEach, describe, expect, it, vi } from "vitest";
import { DynamoDbHttpTransport } from "../../shared/adapters/aws/dynamodb-http-transport.js";
import { SqsHttpTransport } from "../../shared/adapters/aws/sqs-http-transport.js";

const lambda = {
  AWS_REGION: "eu-west-1",
  AWS_ACCESS_KEY_ID: "AKID",
  AWS_SECRET_ACCESS_KEY: "secret",
  AWS_SESSION_TOKEN: "token",
};

/** A fresh copy of the module: its transports are memoised per container. */
async function freshClients() {
  vi.resetModules();
  return import("../../shared/runtime/aws-clients.js");
}

describe("dynamoDbTransport / sqsTransport", () => {
  beforeEach(() => {
    vi.resetModules();
  });

  it("go over signed HTTP with Lambda's environment credentials, one per container", async () => {
    // Prepare
    const clients = await freshClients();
    // Act
    const dynamoDb = clients.dynamoDbTransport(lambda);
    const sqs = clients.sqsTransport(lambda);
    // Assess
    expect(dynamoDb.constructor.name).toBe(DynamoDbHttpTransport.name);
    expect(sqs.constructor.name).toBe(SqsHttpTransport.name);
    expect(clients.dynamoDbTransport(lambda)).toBe(dynamoDb);
    expect(clients.sqsTransport(lambda)).toBe(sqs);
  });

  it.each([
    ["no credentials", { AWS_REGION: "eu-west-1" }],
    ["no region", { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "secret" }],
    ["FIPS endpoints", { ...lambda, AWS_USE_FIPS_ENDPOINT: "true" }],
    ["dual-stack endpoints", { ...lambda, AWS_USE_DUALSTACK_ENDPOINT: "true" }],
  ])("fall back to the SDK's clients with %s", async (_, env) => {
    // Prepare
    const clients = await freshClients();
    // Act
    const dynamoDb = clients.dynamoDbTransport(env);
    const sqs = clients.sqsTransport(env);
    // Assess
    expect(dynamoDb.constructor.name).not.toBe(DynamoDbHttpTransport.name);
    expect(sqs.constructor.name).not.toBe(SqsHttpTransport.name);
  });
});
