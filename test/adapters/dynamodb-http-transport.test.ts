/**
 * The authorizer's DynamoDB transport: its Signature V4 is the SDK signer's, byte for byte, and it
 * retries what DynamoDB says may succeed later (the store behaviour suite runs it against dynalite
 * in document-store.test.ts).
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterEach, describe, expect, it } from "vitest";
import {
  DynamoDbHttpTransport,
  dynamoDbEndpoint,
  signedDynamoDbHeaders,
} from "../../shared/adapters/aws/dynamodb-http-transport.js";

const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "token/with+chars=",
};

describe("signedDynamoDbHeaders", () => {
  it.each([
    ["with a session token", credentials],
    ["without one", { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey }],
  ])("signs a POST exactly as the SDK's SignatureV4 does (%s)", async (_, creds) => {
    const date = new Date("2026-12-02T10:31:07.123Z");
    const body = JSON.stringify({ TableName: "resources", Key: { pk: { S: "apikey" }, sk: { S: "abc" } } });
    const ours = signedDynamoDbHeaders({
      host: "dynamodb.eu-west-1.amazonaws.com",
      target: "DynamoDB_20120810.GetItem",
      body,
      region: "eu-west-1",
      credentials: creds,
      date,
    });
    const signer = new SignatureV4({
      service: "dynamodb",
      region: "eu-west-1",
      credentials: creds,
      sha256: Sha256,
      applyChecksum: false,
    });
    const theirs = await signer.sign(
      new HttpRequest({
        method: "POST",
        protocol: "https:",
        hostname: "dynamodb.eu-west-1.amazonaws.com",
        path: "/",
        headers: {
          "content-type": "application/x-amz-json-1.0",
          host: "dynamodb.eu-west-1.amazonaws.com",
          "x-amz-target": "DynamoDB_20120810.GetItem",
        },
        body,
      }),
      { signingDate: date },
    );
    expect(ours.authorization).toBe(theirs.headers.authorization);
  });
});

describe("dynamoDbEndpoint", () => {
  it("follows AWS_ENDPOINT_URL_DYNAMODB, then AWS_ENDPOINT_URL, then the region's", () => {
    expect(
      dynamoDbEndpoint({ AWS_ENDPOINT_URL_DYNAMODB: "http://a", AWS_ENDPOINT_URL: "http://b" }, "x"),
    ).toBe("http://a");
    expect(dynamoDbEndpoint({ AWS_ENDPOINT_URL: "http://b" }, "x")).toBe("http://b");
    expect(dynamoDbEndpoint({}, "us-east-1")).toBe("https://dynamodb.us-east-1.amazonaws.com");
    expect(dynamoDbEndpoint({}, "cn-north-1")).toBe("https://dynamodb.cn-north-1.amazonaws.com.cn");
  });
});

describe("DynamoDbHttpTransport", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function serve(answers: Array<[number, unknown]>) {
    const seen: Array<{ target: string | undefined; authorization: string | undefined }> = [];
    server = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        seen.push({
          target: req.headers["x-amz-target"] as string,
          authorization: req.headers.authorization,
        });
        const [status, body] = answers.shift() ?? [500, {}];
        res.writeHead(status, { "content-type": "application/x-amz-json-1.0", connection: "close" });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const transport = new DynamoDbHttpTransport({
      region: "us-east-1",
      endpoint: `http://127.0.0.1:${port}`,
      credentials,
    });
    return { transport, seen };
  }

  it("retries throttling and 5xx answers, then returns the unmarshalled item", async () => {
    const { transport, seen } = await serve([
      [400, { __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException", message: "slow down" }],
      [500, { __type: "com.amazonaws.dynamodb.v20120810#InternalServerError" }],
      [200, { Item: { pk: { S: "apikey" }, sk: { S: "h" }, rev: { N: "3" } } }],
    ]);
    const output = await transport.send("GetItem", { TableName: "t", Key: { pk: "apikey", sk: "h" } });
    expect(output.Item).toEqual({ pk: "apikey", sk: "h", rev: 3 });
    expect(seen).toHaveLength(3);
    expect(seen[0]?.target).toBe("DynamoDB_20120810.GetItem");
    expect(seen[0]?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/dynamodb\/aws4_request/,
    );
  });

  it("does not retry a refusal, and names the error after DynamoDB's exception", async () => {
    const { transport, seen } = await serve([
      [400, { __type: "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", message: "no" }],
    ]);
    await expect(
      transport.send("PutItem", { TableName: "t", Item: { pk: "a", sk: "b" } }),
    ).rejects.toMatchObject({
      name: "ConditionalCheckFailedException",
      statusCode: 400,
    });
    expect(seen).toHaveLength(1);
  });
});
