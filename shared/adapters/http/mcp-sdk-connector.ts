/**
 * The McpConnector on `@modelcontextprotocol/sdk`'s Client: Streamable HTTP first, then — when the
 * server answers the initialize POST with a 4xx other than 401/403, as the MCP spec's backwards
 * compatibility section describes — the older HTTP+SSE transport. Every request (the POSTs, the SSE
 * GET, the DELETE that ends a session) goes through the `fetch` it is given: the SSRF guard's.
 *
 * Every operation is bounded: connecting (initialize included), listing and calling each race a
 * timer that closes the transport, so a server that never answers, or answers with something that
 * is not JSON-RPC on an open stream, cannot hold a step. Failures become McpServerError with a kind
 * the core acts on; messages name the server by origin only (a URL may carry a secret) and never
 * repeat the credential the connection sent (a server may echo it in an error body).
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JsonSchemaValidator, jsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/types.js";
import {
  type McpCallResult,
  type McpConnection,
  type McpConnector,
  type McpFailureKind,
  McpServerError,
  type McpTool,
} from "../../core/ports.js";
import type { FetchLike } from "./guarded-fetch.js";

export interface McpSdkConnectorOptions {
  /** The guarded fetch every request goes through (`GuardedFetcher.fetch`). */
  fetch: FetchLike;
  /** How Reverie introduces itself in `initialize`. */
  clientInfo?: { name: string; version: string };
  /** Most pages of `tools/list` read from one server (a runaway cursor stops here); default 20. */
  maxToolPages?: number;
}

/** JSON-RPC / MCP error codes the SDK raises for its own timeouts and closed connections. */
const REQUEST_TIMEOUT = -32001;
const CONNECTION_CLOSED = -32000;

const HTTP_STATUS = /\b(?:HTTP |status |code )?([45]\d\d)\b/;

/** The status an SDK transport error carries (`StreamableHTTPError.code`, `SseError.code`). */
function statusOf(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "number" && code >= 100 && code < 600 ? code : undefined;
}

function chain(error: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = error; e && out.length < 8; e = (e as { cause?: unknown }).cause) out.push(e);
  return out;
}

/** Decides what kind of failure an error from the SDK (or the guard underneath it) is. */
export function classifyMcpFailure(error: unknown): McpFailureKind {
  for (const e of chain(error)) {
    const name = (e as { name?: unknown })?.name;
    if (name === "FetchBlockedError") return "refused";
    if (name === "UnauthorizedError") return "unauthorized";
    if (name === "McpServerError") return (e as McpServerError).kind;
  }
  const status = statusOf(error);
  if (status === 401) return "unauthorized";
  if (status === 403) return "refused";
  if (status !== undefined && status >= 500) return "unreachable";
  const code = (error as { code?: unknown } | null)?.code;
  if (code === REQUEST_TIMEOUT) return "timeout";
  if (code === CONNECTION_CLOSED) return "unreachable";
  for (const e of chain(error)) {
    const name = (e as { name?: unknown })?.name;
    if (name === "GuardedFetchError" || name === "FetchFailedError") return "unreachable";
    if (name === "ZodError" || name === "SyntaxError") return "protocol";
  }
  if (status !== undefined) return "protocol";
  const message = String((error as Error)?.message ?? error);
  const inMessage = HTTP_STATUS.exec(message)?.[1];
  if (inMessage === "401") return "unauthorized";
  if (/ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENOTFOUND|socket hang up|fetch failed|terminated/i.test(message))
    return "unreachable";
  return "protocol";
}

/**
 * What a connection must never repeat: the values of the headers it sends (a vault credential's
 * `authorization`), each one's credential without its scheme (`Bearer <token>` → `<token>`), and
 * their percent- and JSON-escaped forms. A server (or a gateway in front of it) may quote a request's
 * headers in an error body, and the SDK quotes the body in its error message. Longest first, so a
 * whole value is replaced before a part of it.
 */
export function secretsOf(headers: Record<string, string>): string[] {
  const found = new Set<string>();
  for (const value of Object.values(headers)) {
    found.add(value);
    const credential = /^\s*[A-Za-z][\w-]*\s+(\S.*)$/.exec(value)?.[1];
    if (credential !== undefined) found.add(credential.trim());
  }
  for (const secret of [...found]) {
    found.add(encodeURIComponent(secret));
    found.add(JSON.stringify(secret).slice(1, -1));
  }
  // a fragment this short is no secret worth hiding, and replacing it would garble the message
  return [...found].filter((secret) => secret.length >= 6).sort((a, b) => b.length - a.length);
}

/**
 * An error message safe to show the model and the client: no credential the connection sent, no URL
 * beyond its origin, bounded.
 */
function describe(error: unknown, origin: string, secrets: readonly string[]): string {
  let message = String((error as Error)?.message ?? error);
  for (const secret of secrets) message = message.split(secret).join("[redacted]");
  // The SDK's messages may quote a response body or a URL with its query: keep them short and origin-only.
  message = message.replace(/https?:\/\/[^\s"'<>]+/g, (u) => {
    try {
      return new URL(u).origin;
    } catch {
      return "<url>";
    }
  });
  if (message.length > 500) message = `${message.slice(0, 500)}…`;
  return `${origin}: ${message}`;
}

/**
 * The failure the core sees. The SDK's error stays its `cause` for classification in this process
 * only; nothing Reverie logs, stores or shows reads more than the message.
 */
function failure(error: unknown, origin: string, doing: string, secrets: readonly string[]): McpServerError {
  if (error instanceof McpServerError) return error;
  return new McpServerError(
    classifyMcpFailure(error),
    `${doing} failed: ${describe(error, origin, secrets)}`,
    {
      cause: error,
    },
  );
}

/** Runs `work`, failing with a `timeout` McpServerError (and running `onTimeout`) after `ms`. */
async function within<T>(ms: number, what: string, work: Promise<T>, onTimeout: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(new McpServerError("timeout", `${what} timed out after ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The client checks a tool's `structuredContent` against its `outputSchema` with this. Reverie hands
 * the model a result as the server sent it, so it does not check (the SDK's default, Ajv, would
 * refuse a mismatching result outright); with this set, nothing at run time needs Ajv, and a bundle
 * may alias `ajv` / `ajv-formats` to an empty module.
 */
const acceptAnyOutput: jsonSchemaValidator = {
  getValidator<T>(): JsonSchemaValidator<T> {
    return (input) => ({ valid: true, data: input as T, errorMessage: undefined });
  },
};

/** An initialized client and the transport it runs on. */
class SdkMcpConnection implements McpConnection {
  private closed = false;

  constructor(
    private readonly client: Client,
    private readonly transportImpl: Transport,
    readonly transport: "streamable_http" | "sse",
    private readonly origin: string,
    private readonly maxToolPages: number,
    private readonly secrets: readonly string[],
  ) {}

  async listTools(options: { timeoutMs: number }): Promise<McpTool[]> {
    const tools: McpTool[] = [];
    const work = (async () => {
      let cursor: string | undefined;
      for (let page = 0; page < this.maxToolPages; page++) {
        const result = await this.client.listTools(cursor ? { cursor } : undefined, {
          timeout: options.timeoutMs,
        });
        for (const tool of result.tools) {
          tools.push({
            name: tool.name,
            ...(tool.description ? { description: tool.description } : {}),
            inputSchema: tool.inputSchema as Record<string, unknown>,
            ...(tool.annotations ? { annotations: { ...tool.annotations } } : {}),
          });
        }
        cursor = result.nextCursor;
        if (!cursor) break;
      }
      return tools;
    })();
    try {
      return await within(options.timeoutMs, `${this.origin}: tools/list`, work, () => void this.close());
    } catch (error) {
      throw failure(error, this.origin, "tools/list", this.secrets);
    }
  }

  async callTool(
    name: string,
    args: Record<string, unknown>,
    options: { timeoutMs: number },
  ): Promise<McpCallResult> {
    const work = this.client.callTool({ name, arguments: args }, undefined, { timeout: options.timeoutMs });
    try {
      const result = await within(options.timeoutMs, `${this.origin}: tools/call ${name}`, work, () => {
        void this.close();
      });
      const content = Array.isArray(result.content) ? (result.content as Record<string, unknown>[]) : [];
      return {
        content,
        isError: result.isError === true,
        ...(result.structuredContent !== undefined ? { structuredContent: result.structuredContent } : {}),
      };
    } catch (error) {
      throw failure(error, this.origin, `tools/call ${name}`, this.secrets);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Ends the server's session when it keeps one (a DELETE), without waiting long for it.
    if (this.transportImpl instanceof StreamableHTTPClientTransport && this.transportImpl.sessionId) {
      await within(
        2_000,
        "session end",
        this.transportImpl.terminateSession().catch(() => undefined),
        () => {},
      ).catch(() => undefined);
    }
    await this.client.close().catch(() => undefined);
  }
}

export class McpSdkConnector implements McpConnector {
  private readonly fetch: FetchLike;
  private readonly clientInfo: { name: string; version: string };
  private readonly maxToolPages: number;

  constructor(options: McpSdkConnectorOptions) {
    this.fetch = options.fetch;
    this.clientInfo = options.clientInfo ?? { name: "reverie", version: "0.1.0" };
    this.maxToolPages = options.maxToolPages ?? 20;
  }

  async connect(
    url: string,
    options: { headers: Record<string, string>; timeoutMs: number },
  ): Promise<McpConnection> {
    const endpoint = new URL(url);
    const origin = endpoint.origin;
    const deadline = Date.now() + options.timeoutMs;
    const requestInit: RequestInit = { headers: { ...options.headers } };
    const secrets = secretsOf(options.headers);
    try {
      return await this.open(
        new StreamableHTTPClientTransport(endpoint, { fetch: this.fetch, requestInit }),
        "streamable_http",
        origin,
        options.timeoutMs,
        secrets,
      );
    } catch (error) {
      const status = statusOf((error as McpServerError).cause ?? error);
      const kind = (error as McpServerError).kind;
      // Spec (backwards compatibility): a 4xx to the initialize POST, other than an auth answer,
      // means a server of the older HTTP+SSE transport; try that on what is left of the time.
      const legacy =
        status !== undefined && status >= 400 && status < 500 && status !== 401 && status !== 403;
      const left = deadline - Date.now();
      if (!legacy || kind === "unauthorized" || left < 500) throw error;
      return this.open(
        new SSEClientTransport(endpoint, { fetch: this.fetch, requestInit }),
        "sse",
        origin,
        left,
        secrets,
      );
    }
  }

  private async open(
    transport: StreamableHTTPClientTransport | SSEClientTransport,
    kind: "streamable_http" | "sse",
    origin: string,
    timeoutMs: number,
    secrets: readonly string[],
  ): Promise<McpConnection> {
    const client = new Client(this.clientInfo, { capabilities: {}, jsonSchemaValidator: acceptAnyOutput });
    // Errors the transport reports outside a request (a broken notification stream) are not ours to
    // throw: a request that depended on them times out or fails on its own.
    client.onerror = () => {};
    try {
      await within(
        timeoutMs,
        `${origin}: initialize`,
        client.connect(transport, { timeout: timeoutMs }),
        () => {
          void client.close().catch(() => undefined);
        },
      );
    } catch (error) {
      await client.close().catch(() => undefined);
      throw failure(
        error,
        origin,
        `connecting (${kind === "sse" ? "HTTP+SSE" : "Streamable HTTP"})`,
        secrets,
      );
    }
    return new SdkMcpConnection(client, transport, kind, origin, this.maxToolPages, secrets);
  }
}
