/**
 * A DynamoDbTransport straight over HTTP(S), without the AWS SDK's DynamoDB client: DynamoDB's JSON
 * protocol (`POST /`, `X-Amz-Target: DynamoDB_20120810.<Operation>`), signed with Signature V4 from
 * the credentials a Lambda function finds in its environment, values marshalled with the SDK's own
 * `@aws-sdk/util-dynamodb`. It exists for the authorizer, which runs on every request's path and
 * makes one GetItem per key it has not cached: loading the SDK's client costs ~100 ms of every cold
 * start on a 2-core machine (docs/performance.md), this module a few. Throttling, 5xx answers and
 * network errors are retried with jittered backoff; other errors keep DynamoDB's exception name
 * (`ConditionalCheckFailedException`, …) as the error's `name`, as the SDK's exceptions do.
 */
import { createHash, createHmac } from "node:crypto";
import type { Agent as HttpAgent } from "node:http";
import type { DynamoDbOperation, DynamoDbTransport } from "./dynamodb-document-store.js";
import { fromWire, toWire } from "./dynamodb-wire.js";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface DynamoDbHttpTransportOptions {
  region: string;
  /** `https://dynamodb.<region>.amazonaws.com` (`.com.cn` in China) unless given. */
  endpoint?: string;
  credentials: AwsCredentials;
  /** Attempts per request, the first included. @default 3 */
  maxAttempts?: number;
  /** Per attempt. @default 3000 */
  timeoutMs?: number;
  /** The signing clock (tests). */
  now?: () => Date;
}

/** DynamoDB refused the request (its exception name is the error's name) or could not be reached. */
export class DynamoDbRequestError extends Error {
  constructor(
    name: string,
    message: string,
    readonly statusCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = name;
  }
}

/** Lambda's credentials (`AWS_ACCESS_KEY_ID`, …) in `env`, or undefined when it has none. */
export function credentialsFromEnv(env: Record<string, string | undefined>): AwsCredentials | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined };
}

/** The endpoint the SDK would use: `AWS_ENDPOINT_URL_DYNAMODB`, `AWS_ENDPOINT_URL`, else the region's. */
export function dynamoDbEndpoint(env: Record<string, string | undefined>, region: string): string {
  const configured = env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL;
  if (configured) return configured;
  return `https://dynamodb.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
}

const sha256Hex = (data: string) => createHash("sha256").update(data, "utf8").digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/**
 * The headers of a Signature V4 (`AWS4-HMAC-SHA256`) signed `POST /` to DynamoDB: `host`,
 * `x-amz-date`, `x-amz-target`, `content-type` and the session token are signed.
 */
export function signedDynamoDbHeaders(request: {
  host: string;
  target: string;
  body: string;
  region: string;
  credentials: AwsCredentials;
  date: Date;
}): Record<string, string> {
  const amzDate = request.date.toISOString().replace(/[:-]|\.\d{3}/g, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    "content-type": "application/x-amz-json-1.0",
    host: request.host,
    "x-amz-date": amzDate,
    ...(request.credentials.sessionToken ? { "x-amz-security-token": request.credentials.sessionToken } : {}),
    "x-amz-target": request.target,
  };
  const names = Object.keys(headers).sort();
  const canonical = [
    "POST",
    "/",
    "",
    ...names.map((name) => `${name}:${(headers[name] as string).trim()}`),
    "",
    names.join(";"),
    sha256Hex(request.body),
  ].join("\n");
  const scope = `${day}/${request.region}/dynamodb/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n");
  const key = hmac(
    hmac(hmac(hmac(`AWS4${request.credentials.secretAccessKey}`, day), request.region), "dynamodb"),
    "aws4_request",
  );
  const signature = createHmac("sha256", key).update(toSign, "utf8").digest("hex");
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${request.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}

const RETRYABLE = new Set([
  "ProvisionedThroughputExceededException",
  "ThrottlingException",
  "RequestLimitExceeded",
  "InternalServerError",
  "ServiceUnavailable",
]);

export class DynamoDbHttpTransport implements DynamoDbTransport {
  private readonly url: URL;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private agent: HttpAgent | undefined;

  constructor(private readonly options: DynamoDbHttpTransportOptions) {
    this.url = new URL(options.endpoint ?? dynamoDbEndpoint({}, options.region));
    this.maxAttempts = options.maxAttempts ?? 3;
    this.timeoutMs = options.timeoutMs ?? 3000;
  }

  async send(operation: DynamoDbOperation, input: Record<string, unknown>): Promise<Record<string, unknown>> {
    return fromWire(await this.call(operation, JSON.stringify(toWire(operation, input))));
  }

  /** One operation, retried while DynamoDB (or the network) says it may succeed later. */
  private async call(operation: string, body: string): Promise<Record<string, unknown>> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.post(operation, body);
      } catch (error) {
        const retryable =
          error instanceof DynamoDbRequestError &&
          (RETRYABLE.has(error.name) || error.statusCode === undefined || error.statusCode >= 500);
        if (!retryable || attempt >= this.maxAttempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 50 * 2 ** attempt));
      }
    }
  }

  private post(operation: string, body: string): Promise<Record<string, unknown>> {
    const https = this.url.protocol === "https:";
    // Taken on first use, not imported: see node-http-module.ts.
    const client = https ? process.getBuiltinModule("node:https") : process.getBuiltinModule("node:http");
    this.agent ??= new client.Agent({ keepAlive: true });
    const headers = signedDynamoDbHeaders({
      host: this.url.host,
      target: `DynamoDB_20120810.${operation}`,
      body,
      region: this.options.region,
      credentials: this.options.credentials,
      date: this.options.now?.() ?? new Date(),
    });
    return new Promise((resolve, reject) => {
      const req = client.request(
        this.url,
        {
          method: "POST",
          headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
          agent: this.agent,
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("error", (error) =>
            reject(new DynamoDbRequestError("NetworkError", error.message, undefined, { cause: error })),
          );
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              // not JSON: reported below by status
            }
            const status = res.statusCode ?? 0;
            if (status >= 200 && status < 300) return resolve(parsed);
            const type = String(parsed.__type ?? `HTTP${status}`)
              .split("#")
              .pop() as string;
            const message = String(parsed.message ?? parsed.Message ?? text.slice(0, 200));
            reject(new DynamoDbRequestError(type, `${operation}: ${type}: ${message}`, status));
          });
        },
      );
      req.on("timeout", () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on("error", (error) =>
        reject(
          new DynamoDbRequestError("NetworkError", `${operation}: ${error.message}`, undefined, {
            cause: error,
          }),
        ),
      );
      req.end(body);
    });
  }
}
