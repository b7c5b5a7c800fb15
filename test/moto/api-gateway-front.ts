/**
 * An HTTP front that calls the API functions the way Reverie's REST API in API Gateway does
 * (infra/aws/reverie-runtime.ts, createApi): under the stage path, every request but `GET /health`
 * first goes to the REQUEST authorizer (no result caching, CDK's default), whose policy must allow
 * the method ARN and whose context reaches the function as `requestContext.authorizer`; JSON routes
 * are a Lambda proxy integration of `api`, or of `api-memory` / `api-workspace` for the collections
 * those serve (`restApiFunctionOf`; 29 s integration timeout, 10 MB request limit, Lambda's 6 MB
 * payloads), the session and thread event streams (`restApiStreamOf`) a response-streaming integration of
 * `api-stream`. Bodies whose Content-Type is a binary media type reach the function base64-encoded;
 * a response marked `isBase64Encoded` is turned back into bytes only when the request's first
 * Accept type is a binary media type — otherwise the client receives the base64 text, as on AWS.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayAuthorizerResult, APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import {
  type RestApiFunction,
  restApiBinaryMediaTypes,
  restApiDefaultStageName,
  restApiFunctionOf,
  restApiStreamOf,
} from "../../shared/infra-spec/rest-api.js";
import type { InvokeOutcome, LambdaFunction } from "./lambda-service.js";
import { MOTO_ACCOUNT, MOTO_REGION } from "./moto-server.js";

/** API Gateway's request payload limit (REST APIs). */
const REQUEST_LIMIT_BYTES = 10 * 1024 * 1024;
/** REST APIs' default integration timeout. */
const INTEGRATION_TIMEOUT_MS = 29_000;
const API_ID = "motoapi";

export interface ApiGatewayFrontOptions {
  /** The JSON API's functions: `api` and those serving their own collections (restApiFunctionOf). */
  api: Record<RestApiFunction, LambdaFunction>;
  apiStream: LambdaFunction;
  authorizer: LambdaFunction;
  stage?: string;
  binaryMediaTypes?: readonly string[];
}

export interface ApiGatewayFront {
  /** The invoke URL with its stage, e.g. `http://127.0.0.1:41234/prod` — the SDK's baseURL. */
  url: string;
  /** Requests answered, by status. */
  statuses: Map<number, number>;
  close(): Promise<void>;
}

/** `type/subtype` of a Content-Type or Accept value, lower-cased, without parameters. */
const mediaTypeOf = (value: string | undefined) => value?.split(";")[0]?.trim().toLowerCase() ?? "";

export function matchesMediaType(type: string, patterns: readonly string[]): boolean {
  if (!type) return false;
  return patterns.some((pattern) => {
    const p = pattern.toLowerCase();
    if (p === "*/*") return true;
    if (p.endsWith("/*")) return type.startsWith(p.slice(0, -1));
    return p === type;
  });
}

/** Whether a policy statement's resource (with `*` and `?` wildcards) covers `arn`. */
function resourceCovers(pattern: string, arn: string): boolean {
  const regex = new RegExp(
    `^${pattern
      .replace(/[.+^${}()|[\]\\]/g, "\\$&")
      .replaceAll("*", ".*")
      .replaceAll("?", ".")}$`,
  );
  return regex.test(arn);
}

/** Whether an authorizer's policy allows `methodArn` (an explicit Deny wins). */
export function policyAllows(result: APIGatewayAuthorizerResult, methodArn: string): boolean {
  let allowed = false;
  for (const statement of result.policyDocument?.Statement ?? []) {
    const s = statement as { Effect: string; Action?: string | string[]; Resource?: string | string[] };
    const actions = [s.Action ?? []].flat();
    if (!actions.some((a) => a === "execute-api:Invoke" || a === "execute-api:*" || a === "*")) continue;
    const resources = [s.Resource ?? []].flat();
    if (!resources.some((r) => resourceCovers(r, methodArn))) continue;
    if (s.Effect === "Deny") return false;
    if (s.Effect === "Allow") allowed = true;
  }
  return allowed;
}

function readBody(req: IncomingMessage): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= REQUEST_LIMIT_BYTES) chunks.push(chunk);
    });
    req.on("end", () => resolve(size > REQUEST_LIMIT_BYTES ? "too-large" : Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

export async function startApiGatewayFront(options: ApiGatewayFrontOptions): Promise<ApiGatewayFront> {
  const stage = options.stage ?? restApiDefaultStageName;
  const binaryTypes = options.binaryMediaTypes ?? restApiBinaryMediaTypes;
  const statuses = new Map<number, number>();

  async function serve(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://front");
    const method = req.method ?? "GET";
    const requestId = randomUUID();
    res.setHeader("x-amzn-requestid", requestId);
    const stagePrefix = `/${stage}`;
    if (url.pathname !== stagePrefix && !url.pathname.startsWith(`${stagePrefix}/`)) {
      return sendJson(res, 403, { message: "Forbidden" });
    }
    const path = url.pathname.slice(stagePrefix.length) || "/";
    const streamRoute = restApiStreamOf(path);
    if (streamRoute && method !== "GET") {
      // The stream resource has a GET method only (no ANY, no {proxy+} below it).
      return sendJson(res, 403, { message: "Missing Authentication Token" });
    }
    const raw = await readBody(req);
    if (raw === "too-large") return sendJson(res, 413, { message: "Request Too Long" });

    const target = restApiFunctionOf(path);
    // A collection with a function of its own is a resource of its own (`/v1/files`, `/v1/files/{proxy+}`).
    const collection = target === "api" ? undefined : path.split("/")[2];
    const resource =
      path === "/health"
        ? "/health"
        : streamRoute
          ? streamRoute.resource
          : collection
            ? path === `/v1/${collection}`
              ? path
              : `/v1/${collection}/{proxy+}`
            : path.startsWith("/v1/")
              ? "/v1/{proxy+}"
              : "/{proxy+}";
    const pathParameters = streamRoute
      ? streamRoute.pathParameters
      : resource.endsWith("{proxy+}")
        ? { proxy: path.replace(collection ? `/v1/${collection}/` : /^\/(v1\/)?/, "") }
        : null;
    const headers: Record<string, string> = {};
    const multiValueHeaders: Record<string, string[]> = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const name = req.rawHeaders[i] as string;
      const value = req.rawHeaders[i + 1] as string;
      headers[name] = value;
      multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
    }
    const query: Record<string, string> = {};
    const multiQuery: Record<string, string[]> = {};
    for (const [key, value] of url.searchParams) {
      query[key] = value;
      multiQuery[key] = [...(multiQuery[key] ?? []), value];
    }
    const hasQuery = Object.keys(query).length > 0;
    const methodArn = `arn:aws:execute-api:${MOTO_REGION}:${MOTO_ACCOUNT}:${API_ID}/${stage}/${method}${path}`;
    const requestContext = {
      accountId: MOTO_ACCOUNT,
      apiId: API_ID,
      stage,
      requestId,
      extendedRequestId: requestId,
      resourceId: "moto",
      resourcePath: resource,
      httpMethod: method,
      path: `${stagePrefix}${path}`,
      protocol: `HTTP/${req.httpVersion}`,
      requestTime: new Date().toUTCString(),
      requestTimeEpoch: Date.now(),
      domainName: req.headers.host ?? "localhost",
      domainPrefix: "moto",
      identity: {
        sourceIp: req.socket.remoteAddress ?? "127.0.0.1",
        userAgent: req.headers["user-agent"] ?? "",
      },
    };

    // What the authorizer's REQUEST event and the proxy event both carry.
    const requestFields = {
      resource,
      path,
      httpMethod: method,
      headers,
      multiValueHeaders,
      queryStringParameters: hasQuery ? query : null,
      multiValueQueryStringParameters: hasQuery ? multiQuery : null,
      pathParameters,
      stageVariables: null,
    };
    let authorizerContext: Record<string, unknown> | undefined;
    if (path !== "/health") {
      const outcome = await options.authorizer.invoke({
        type: "REQUEST",
        methodArn,
        ...requestFields,
        requestContext,
      });
      if (outcome.kind === "function-error" && outcome.errorMessage === "Unauthorized") {
        return sendJson(res, 401, { message: "Unauthorized" });
      }
      if (outcome.kind !== "result") return sendJson(res, 500, { message: null });
      const result = JSON.parse(outcome.payload) as APIGatewayAuthorizerResult;
      // Context values must be strings, numbers or booleans; anything else is a configuration error.
      const context = result.context ?? {};
      if (Object.values(context).some((v) => v !== null && typeof v === "object")) {
        return sendJson(res, 500, { message: null });
      }
      if (!policyAllows(result, methodArn)) {
        return sendJson(res, 403, { Message: "User is not authorized to access this resource" });
      }
      authorizerContext = { ...context, principalId: result.principalId, integrationLatency: 0 };
    }

    const binaryRequest = matchesMediaType(mediaTypeOf(req.headers["content-type"]), binaryTypes);
    const event = {
      ...requestFields,
      requestContext: { ...requestContext, authorizer: authorizerContext ?? null },
      body: raw.byteLength === 0 ? null : binaryRequest ? raw.toString("base64") : raw.toString("utf8"),
      isBase64Encoded: raw.byteLength > 0 && binaryRequest,
    } as unknown as APIGatewayProxyEvent;

    if (streamRoute) return streamThrough(event, req, res);

    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      options.api[target].invoke(event),
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), INTEGRATION_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
    if (outcome === "timeout") return sendJson(res, 504, { message: "Endpoint request timed out" });
    respond(outcome, req, res);
  }

  function respond(outcome: InvokeOutcome, req: IncomingMessage, res: ServerResponse) {
    // The Invoke call failing (payload over 6 MB, throttling) is API Gateway's 500; the function
    // failing or answering something that is not a proxy response, its 502.
    if (outcome.kind === "invoke-error") return sendJson(res, 500, { message: "Internal server error" });
    if (outcome.kind !== "result") return sendJson(res, 502, { message: "Internal server error" });
    const result = JSON.parse(outcome.payload) as APIGatewayProxyResult | null;
    if (!result || typeof result.statusCode !== "number") {
      return sendJson(res, 502, { message: "Internal server error" });
    }
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
    for (const [name, values] of Object.entries(result.multiValueHeaders ?? {})) {
      headers[name] = values.map(String);
    }
    if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
      headers["content-type"] = "application/json";
    }
    const firstAccept = mediaTypeOf(req.headers.accept?.split(",")[0]);
    const body =
      result.isBase64Encoded && matchesMediaType(firstAccept, binaryTypes)
        ? Buffer.from(result.body ?? "", "base64")
        : Buffer.from(result.body ?? "", "utf8");
    res.writeHead(result.statusCode, headers);
    res.end(body);
  }

  async function streamThrough(event: APIGatewayProxyEvent, req: IncomingMessage, res: ServerResponse) {
    let opened = false;
    const open = (meta: { statusCode?: number; headers?: Record<string, string> }) => {
      if (opened) return;
      opened = true;
      res.writeHead(meta.statusCode ?? 200, meta.headers ?? {});
      res.flushHeaders();
    };
    const call = options.apiStream.invokeStreaming(event, {
      head: open,
      chunk: (data) => {
        open({ statusCode: 200 });
        res.write(data);
      },
      end: () => {
        open({ statusCode: 200 });
        res.end();
      },
    });
    res.on("close", () => call.abort());
    const outcome = await call.outcome;
    if (!opened) {
      if (outcome.kind !== "result") return sendJson(res, 502, { message: "Internal server error" });
      open({ statusCode: 200 });
    }
    if (!res.writableEnded) res.end();
    void req;
  }

  const server: Server = createServer((req, res) => {
    res.on("finish", () => statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1));
    serve(req, res).catch((error) => {
      if (!res.headersSent) sendJson(res, 500, { message: `front failed: ${String(error)}` });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${stage}`,
    statuses,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
