/**
 * A client for AWS services that speak a JSON protocol (`POST /`, `X-Amz-Target: <prefix>.<Operation>`,
 * a JSON body) over node:http(s), signed with Signature V4 from node:crypto — without the AWS SDK,
 * whose clients cost well over 100 ms of every Lambda cold start on a 2-core machine
 * (docs/performance.md). DynamoDB and SQS go through it (dynamodb-http-transport.ts,
 * sqs-http-transport.ts). What it keeps of the SDK's behaviour, and how:
 * - credentials: Lambda's environment ones (`AWS_ACCESS_KEY_ID`, …), which are what the SDK's
 *   default chain reads on Lambda; they do not change during an execution environment's life;
 * - retries: the SDK's standard mode — its throttling, transient and network errors, up to
 *   `maxAttempts` (the SDK's 3, or `AWS_MAX_ATTEMPTS`), with full-jitter exponential backoff
 *   (50 ms base, 1 s for throttling, 20 s cap); not its retry quota or adaptive rate limiting;
 * - clock skew: a refusal that says the signature's time is off (`InvalidSignatureException`,
 *   `RequestTimeTooSkewed`, …) corrects this client's clock by the response's `Date` header, and the
 *   request is signed again and retried once, as the SDK does;
 * - errors: the service's exception name (`ConditionalCheckFailedException`, `QueueDoesNotExist`)
 *   is the error's `name`, as on the SDK's exceptions.
 */
import { createHash, createHmac } from "node:crypto";
import type { Agent as HttpAgent, IncomingHttpHeaders } from "node:http";

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** How a service is reached and signed. */
export interface AwsJsonService {
  /** The Signature V4 service name (`dynamodb`, `sqs`). */
  signingName: string;
  /** Before `.<Operation>` in `X-Amz-Target` (`DynamoDB_20120810`, `AmazonSQS`). */
  targetPrefix: string;
  /** `application/x-amz-json-1.0` or `-1.1`. */
  contentType: string;
  /** The service's suffix in `AWS_ENDPOINT_URL_<ID>` (`DYNAMODB`, `SQS`). */
  endpointId: string;
  /** The service's host name before the region (`dynamodb`, `sqs`). */
  hostPrefix: string;
}

export interface AwsJsonClientOptions {
  service: AwsJsonService;
  region: string;
  /** `https://<hostPrefix>.<region>.amazonaws.com` (`.com.cn` in China) unless given. */
  endpoint?: string;
  credentials: AwsCredentials;
  /** Attempts per request, the first included (a clock-skew retry comes on top). @default 3 */
  maxAttempts?: number;
  /** Socket inactivity per attempt. @default 5000 */
  timeoutMs?: number;
  /** This machine's clock (tests). */
  now?: () => number;
}

/** The service refused the request (its exception name is the error's name) or could not be reached. */
export class AwsRequestError extends Error {
  /**
   * The requests the call made, this error's included. Above 1, an earlier request may have taken
   * effect although its answer was lost (a network error or a 5xx): a conditional write refused now
   * may be refused because of itself (dynamodb-document-store.ts checks its write token then).
   */
  attempts = 1;

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

/** The endpoint the SDK would use: `AWS_ENDPOINT_URL_<ID>`, `AWS_ENDPOINT_URL`, else the region's. */
export function awsEndpoint(
  env: Record<string, string | undefined>,
  service: Pick<AwsJsonService, "endpointId" | "hostPrefix">,
  region: string,
): string {
  const configured = env[`AWS_ENDPOINT_URL_${service.endpointId}`] || env.AWS_ENDPOINT_URL;
  if (configured) return configured;
  return `https://${service.hostPrefix}.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
}

const sha256Hex = (data: string) => createHash("sha256").update(data, "utf8").digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/**
 * The headers of a Signature V4 (`AWS4-HMAC-SHA256`) signed JSON-protocol `POST /`: `content-type`,
 * `host`, `x-amz-date`, the session token and `x-amz-target` are signed.
 */
export function signedAwsJsonHeaders(request: {
  service: Pick<AwsJsonService, "signingName" | "contentType">;
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
    "content-type": request.service.contentType,
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
  const service = request.service.signingName;
  const scope = `${day}/${request.region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n");
  const key = hmac(
    hmac(hmac(hmac(`AWS4${request.credentials.secretAccessKey}`, day), request.region), service),
    "aws4_request",
  );
  const signature = createHmac("sha256", key).update(toSign, "utf8").digest("hex");
  return {
    ...headers,
    authorization: `AWS4-HMAC-SHA256 Credential=${request.credentials.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`,
  };
}

/** The SDK's classification (@smithy/core's retry constants). */
const THROTTLING = new Set([
  "BandwidthLimitExceeded",
  "EC2ThrottledException",
  "LimitExceededException",
  "PriorRequestNotComplete",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "RequestThrottled",
  "RequestThrottledException",
  "SlowDown",
  "ThrottledException",
  "Throttling",
  "ThrottlingException",
  "TooManyRequestsException",
  "TransactionInProgressException",
]);
const TRANSIENT = new Set(["TimeoutError", "RequestTimeout", "RequestTimeoutException", "NetworkError"]);
const TRANSIENT_STATUS = new Set([500, 502, 503, 504]);
const CLOCK_SKEW = new Set([
  "AuthFailure",
  "InvalidSignatureException",
  "RequestExpired",
  "RequestInTheFuture",
  "RequestTimeTooSkewed",
  "SignatureDoesNotMatch",
]);

/** A refusal, with what the retry decision needs. */
class AwsRefusalError extends AwsRequestError {
  constructor(
    name: string,
    message: string,
    statusCode: number,
    readonly serverDate: string | undefined,
  ) {
    super(name, message, statusCode);
  }
}

export class AwsJsonClient {
  private readonly url: URL;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  /** Server time minus this machine's, learnt from a clock-skew refusal. */
  private clockOffsetMs = 0;
  private agent: HttpAgent | undefined;

  constructor(private readonly options: AwsJsonClientOptions) {
    this.url = new URL(options.endpoint ?? awsEndpoint({}, options.service, options.region));
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.now = options.now ?? Date.now;
  }

  /** One operation (`GetItem`, `SendMessage`): its JSON input in, the parsed JSON output back. */
  async call(operation: string, input: unknown): Promise<Record<string, unknown>> {
    const body = JSON.stringify(input);
    let skewCorrected = false;
    for (let attempt = 1; ; ) {
      try {
        return await this.post(operation, body);
      } catch (error) {
        if (!(error instanceof AwsRequestError)) throw error;
        if (!skewCorrected && error instanceof AwsRefusalError && this.correctClock(error)) {
          skewCorrected = true;
          continue;
        }
        const throttled = THROTTLING.has(error.name);
        const retryable =
          throttled ||
          TRANSIENT.has(error.name) ||
          (error.statusCode !== undefined && TRANSIENT_STATUS.has(error.statusCode));
        if (!retryable || attempt >= this.maxAttempts) {
          error.attempts = attempt;
          throw error;
        }
        const base = throttled ? 1000 : 50;
        await new Promise((resolve) =>
          setTimeout(resolve, Math.floor(Math.random() * Math.min(base * 2 ** (attempt - 1), 20_000))),
        );
        attempt++;
      }
    }
  }

  /** True when `refusal` is about the signature's time and the server's `Date` moved our clock. */
  private correctClock(refusal: AwsRefusalError): boolean {
    if (!CLOCK_SKEW.has(refusal.name) || refusal.serverDate === undefined) return false;
    const serverTime = Date.parse(refusal.serverDate);
    if (Number.isNaN(serverTime)) return false;
    const offset = serverTime - this.now();
    // The Date header has whole seconds: a second's difference is not a correction.
    if (Math.abs(offset - this.clockOffsetMs) < 1000) return false;
    this.clockOffsetMs = offset;
    return true;
  }

  private post(operation: string, body: string): Promise<Record<string, unknown>> {
    const https = this.url.protocol === "https:";
    // Taken on first use, not imported: see adapters/http/node-http-module.ts.
    const client = https ? process.getBuiltinModule("node:https") : process.getBuiltinModule("node:http");
    this.agent ??= new client.Agent({ keepAlive: true });
    const { service, region, credentials } = this.options;
    const headers = signedAwsJsonHeaders({
      service,
      host: this.url.host,
      target: `${service.targetPrefix}.${operation}`,
      body,
      region,
      credentials,
      date: new Date(this.now() + this.clockOffsetMs),
    });
    return new Promise((resolve, reject) => {
      const networkError = (error: Error) =>
        reject(
          new AwsRequestError(
            (error as { code?: string }).code === "ETIMEDOUT" ? "TimeoutError" : "NetworkError",
            `${operation}: ${error.message}`,
            undefined,
            { cause: error },
          ),
        );
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
          res.on("error", networkError);
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              // not JSON: reported below by status
            }
            if (status >= 200 && status < 300) return resolve(parsed);
            reject(refusalOf(operation, status, res.headers, parsed, text));
          });
        },
      );
      req.on("timeout", () =>
        req.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: "ETIMEDOUT" })),
      );
      req.on("error", networkError);
      req.end(body);
    });
  }
}

/** A non-2xx answer as an error named after the service's exception (`…#ThrottlingException`). */
function refusalOf(
  operation: string,
  status: number,
  headers: IncomingHttpHeaders,
  parsed: Record<string, unknown>,
  text: string,
): AwsRefusalError {
  // JSON services name it in `__type`; some (SQS's query-compatible errors) in a header too.
  const type = String(parsed.__type ?? headers["x-amzn-errortype"] ?? `HTTP${status}`)
    .split("#")
    .pop()
    ?.split(":")[0] as string;
  const message = String(parsed.message ?? parsed.Message ?? text.slice(0, 200));
  // An Age header means a cache answered: its Date says nothing about the server's clock (as the SDK).
  const date = headers.age === undefined ? headers.date : undefined;
  return new AwsRefusalError(type, `${operation}: ${type}: ${message}`, status, date);
}
