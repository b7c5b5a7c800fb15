/**
 * The signed HTTP client DynamoDB and SQS go through on Lambda: its Signature V4 is the SDK
 * signer's, byte for byte, for any JSON-protocol service; it retries what the SDK retries, corrects
 * a skewed clock from the server's Date, and keeps the service's exception names. The document
 * store's behaviour suite runs over it against dynalite (document-store.test.ts); the AWS-on-moto
 * tests send every function's DynamoDB and SQS requests through it.
 */
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Sha256 } from "@aws-crypto/sha256-js";
import { HttpRequest } from "@smithy/protocol-http";
import { SignatureV4 } from "@smithy/signature-v4";
import { afterEach, describe, expect, it } from "vitest";
import {
  AwsJsonClient,
  type AwsJsonService,
  awsEndpoint,
  signedAwsJsonHeaders,
} from "../../shared/adapters/aws/aws-json-client.js";
import {
  DYNAMODB_SERVICE,
  DynamoDbHttpTransport,
} from "../../shared/adapters/aws/dynamodb-http-transport.js";
import { SQS_SERVICE, SqsHttpTransport } from "../../shared/adapters/aws/sqs-http-transport.js";
import { SqsQueue } from "../../shared/adapters/aws/sqs-queue.js";

const credentials = {
  accessKeyId: "AKIDEXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  sessionToken: "token/with+chars=",
};

describe("signedAwsJsonHeaders", () => {
  it.each([
    ["DynamoDB, with a session token", DYNAMODB_SERVICE, "GetItem", credentials],
    [
      "DynamoDB, without one",
      DYNAMODB_SERVICE,
      "GetItem",
      { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey },
    ],
    ["SQS", SQS_SERVICE, "SendMessage", credentials],
    [
      "a JSON 1.1 service",
      {
        ...SQS_SERVICE,
        signingName: "logs",
        targetPrefix: "Logs_20140328",
        contentType: "application/x-amz-json-1.1",
      },
      "PutLogEvents",
      credentials,
    ],
  ])("signs a POST exactly as the SDK's SignatureV4 does (%s)", async (_, service, operation, creds) => {
    // Prepare
    const date = new Date("2026-12-02T10:31:07.123Z");
    const host = `${service.hostPrefix}.eu-west-1.amazonaws.com`;
    const target = `${service.targetPrefix}.${operation}`;
    const body = JSON.stringify({ TableName: "resources", Key: { pk: { S: "apikey" }, sk: { S: "abc" } } });
    const signer = new SignatureV4({
      service: service.signingName,
      region: "eu-west-1",
      credentials: creds,
      sha256: Sha256,
      applyChecksum: false,
    });
    // Act
    const ours = signedAwsJsonHeaders({
      service,
      host,
      target,
      body,
      region: "eu-west-1",
      credentials: creds,
      date,
    });
    const theirs = await signer.sign(
      new HttpRequest({
        method: "POST",
        protocol: "https:",
        hostname: host,
        path: "/",
        headers: { "content-type": service.contentType, host, "x-amz-target": target },
        body,
      }),
      { signingDate: date },
    );
    // Assess
    expect(ours.authorization).toBe(theirs.headers.authorization);
  });
});

describe("awsEndpoint", () => {
  it("follows AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, then the region's", () => {
    expect(
      awsEndpoint(
        { AWS_ENDPOINT_URL_DYNAMODB: "http://a", AWS_ENDPOINT_URL: "http://b" },
        DYNAMODB_SERVICE,
        "x",
      ),
    ).toBe("http://a");
    expect(awsEndpoint({ AWS_ENDPOINT_URL_DYNAMODB: "http://a" }, SQS_SERVICE, "x")).toBe(
      "https://sqs.x.amazonaws.com",
    );
    expect(awsEndpoint({ AWS_ENDPOINT_URL: "http://b" }, SQS_SERVICE, "x")).toBe("http://b");
    expect(awsEndpoint({}, DYNAMODB_SERVICE, "us-east-1")).toBe("https://dynamodb.us-east-1.amazonaws.com");
    expect(awsEndpoint({}, DYNAMODB_SERVICE, "cn-north-1")).toBe(
      "https://dynamodb.cn-north-1.amazonaws.com.cn",
    );
  });
});

interface Seen {
  target: string | undefined;
  amzDate: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}
type Answer = [status: number, body: unknown, headers?: Record<string, string>];

describe("AwsJsonClient", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  /** A server that gives `answers` in order (500 once they run out) and records the requests. */
  async function serve(answers: Answer[]) {
    const seen: Seen[] = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        seen.push({
          target: req.headers["x-amz-target"] as string,
          amzDate: req.headers["x-amz-date"] as string,
          authorization: req.headers.authorization,
          contentType: req.headers["content-type"],
          body: Buffer.concat(chunks).toString("utf8"),
        });
        const [status, body, headers] = answers.shift() ?? [500, {}];
        res.writeHead(status, {
          "content-type": "application/x-amz-json-1.0",
          connection: "close",
          ...headers,
        });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { endpoint: `http://127.0.0.1:${port}`, seen };
  }

  const service: AwsJsonService = DYNAMODB_SERVICE;

  it("retries throttling and 5xx answers, then returns the output (DynamoDB's, unmarshalled)", async () => {
    // Prepare
    const { endpoint, seen } = await serve([
      [400, { __type: "com.amazonaws.dynamodb.v20120810#ThrottlingException", message: "slow down" }],
      [500, { __type: "com.amazonaws.dynamodb.v20120810#InternalServerError" }],
      [200, { Item: { pk: { S: "apikey" }, sk: { S: "h" }, rev: { N: "3" } } }],
    ]);
    const transport = new DynamoDbHttpTransport({ region: "us-east-1", endpoint, credentials });
    // Act
    const output = await transport.send("GetItem", { TableName: "t", Key: { pk: "apikey", sk: "h" } });
    // Assess
    expect(output.Item).toEqual({ pk: "apikey", sk: "h", rev: 3 });
    expect(seen).toHaveLength(3);
    expect(seen[0]?.target).toBe("DynamoDB_20120810.GetItem");
    expect(JSON.parse(seen[0]?.body ?? "")).toEqual({
      TableName: "t",
      Key: { pk: { S: "apikey" }, sk: { S: "h" } },
    });
    expect(seen[0]?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/dynamodb\/aws4_request/,
    );
  });

  it("does not retry a refusal, and names the error after the service's exception", async () => {
    // Prepare
    const { endpoint, seen } = await serve([
      [400, { __type: "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", message: "no" }],
    ]);
    const client = new AwsJsonClient({ service, region: "us-east-1", endpoint, credentials });
    // Act
    const calling = client.call("PutItem", { TableName: "t" });
    // Assess
    await expect(calling).rejects.toMatchObject({
      name: "ConditionalCheckFailedException",
      statusCode: 400,
      message: "PutItem: ConditionalCheckFailedException: no",
      attempts: 1,
    });
    expect(seen).toHaveLength(1);
  });

  it("says how many requests a call made when it fails: above 1, an earlier one may have taken effect", async () => {
    // Prepare: a 5xx (DynamoDB may have applied the write), then the condition refuses the retry
    const { endpoint, seen } = await serve([
      [500, { __type: "com.amazonaws.dynamodb.v20120810#InternalServerError" }],
      [400, { __type: "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException", message: "no" }],
    ]);
    const client = new AwsJsonClient({ service, region: "us-east-1", endpoint, credentials });
    // Act
    const calling = client.call("PutItem", { TableName: "t" });
    // Assess
    await expect(calling).rejects.toMatchObject({ name: "ConditionalCheckFailedException", attempts: 2 });
    expect(seen).toHaveLength(2);
  });

  it("gives up after maxAttempts", async () => {
    // Prepare
    const { endpoint, seen } = await serve([]);
    const client = new AwsJsonClient({ service, region: "us-east-1", endpoint, credentials, maxAttempts: 2 });
    // Act
    const calling = client.call("GetItem", {});
    // Assess
    await expect(calling).rejects.toMatchObject({ name: "HTTP500", statusCode: 500 });
    expect(seen).toHaveLength(2);
  });

  it("retries a connection that fails, and reports it as a NetworkError when it keeps failing", async () => {
    // Prepare: a port nothing listens on
    const { endpoint } = await serve([]);
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    server = undefined;
    const client = new AwsJsonClient({ service, region: "us-east-1", endpoint, credentials, maxAttempts: 2 });
    // Act
    const calling = client.call("GetItem", {});
    // Assess
    await expect(calling).rejects.toMatchObject({ name: "NetworkError", message: /ECONNREFUSED/ });
  });

  it("corrects a skewed clock from the refusal's Date header and retries once, signed anew", async () => {
    // Prepare: this machine is an hour behind the server
    const serverNow = Date.parse("2026-12-02T12:00:00Z");
    const skewRefusal: Answer = [
      400,
      { __type: "com.amazon.coral.service#InvalidSignatureException", message: "Signature expired" },
      { date: new Date(serverNow).toUTCString() },
    ];
    const { endpoint, seen } = await serve([skewRefusal, [200, { ok: true }], [200, { ok: true }]]);
    const client = new AwsJsonClient({
      service,
      region: "us-east-1",
      endpoint,
      credentials,
      now: () => serverNow - 3_600_000,
    });
    // Act
    const first = await client.call("GetItem", {});
    const second = await client.call("GetItem", {});
    // Assess
    expect(first).toEqual({ ok: true });
    expect(second).toEqual({ ok: true });
    expect(seen.map((s) => s.amzDate)).toEqual(["20261202T110000Z", "20261202T120000Z", "20261202T120000Z"]);
  });

  it("does not retry a signature refusal that a correction cannot fix", async () => {
    // Prepare: the server's Date agrees with this machine's clock
    const { endpoint, seen } = await serve([
      [
        400,
        { __type: "com.amazon.coral.service#InvalidSignatureException", message: "wrong key" },
        { date: new Date().toUTCString() },
      ],
    ]);
    const client = new AwsJsonClient({ service, region: "us-east-1", endpoint, credentials });
    // Act
    const calling = client.call("GetItem", {});
    // Assess
    await expect(calling).rejects.toMatchObject({ name: "InvalidSignatureException" });
    expect(seen).toHaveLength(1);
  });
});

describe("SqsHttpTransport", () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve())));

  async function sqsServer(md5Of: (body: string) => string) {
    const seen: Array<{ target: unknown; contentType: unknown; input: Record<string, unknown> }> = [];
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        const input = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Record<string, unknown>;
        seen.push({ target: req.headers["x-amz-target"], contentType: req.headers["content-type"], input });
        res.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
        res.end(JSON.stringify({ MessageId: "m-1", MD5OfMessageBody: md5Of(String(input.MessageBody)) }));
      });
    });
    await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    return { endpoint: `http://127.0.0.1:${port}`, seen };
  }
  const md5 = (body: string) => createHash("md5").update(body, "utf8").digest("hex");
  const queueUrl = "https://sqs.us-east-1.amazonaws.com/123456789012/agent-steps";

  it("sends SendMessage in SQS's JSON protocol, the queue URL in the body, the delay clamped", async () => {
    // Prepare
    const { endpoint, seen } = await sqsServer(md5);
    const queue = new SqsQueue<{ n: number }>({
      transport: new SqsHttpTransport({ region: "us-east-1", endpoint, credentials }),
      queueUrl,
    });
    // Act
    await queue.send({ n: 1 });
    await queue.send({ n: 2 }, { delaySeconds: 2.5 });
    // Assess
    expect(seen).toEqual([
      {
        target: "AmazonSQS.SendMessage",
        contentType: "application/x-amz-json-1.0",
        input: { QueueUrl: queueUrl, MessageBody: '{"n":1}' },
      },
      {
        target: "AmazonSQS.SendMessage",
        contentType: "application/x-amz-json-1.0",
        input: { QueueUrl: queueUrl, MessageBody: '{"n":2}', DelaySeconds: 3 },
      },
    ]);
  });

  it("refuses an answer whose MD5 is not the body's, as the SDK's client does", async () => {
    // Prepare
    const { endpoint } = await sqsServer(() => md5("something else"));
    const transport = new SqsHttpTransport({ region: "us-east-1", endpoint, credentials });
    // Act
    const sending = transport.sendMessage({ QueueUrl: queueUrl, MessageBody: "{}" });
    // Assess
    await expect(sending).rejects.toMatchObject({ name: "SqsChecksumError" });
  });
});
