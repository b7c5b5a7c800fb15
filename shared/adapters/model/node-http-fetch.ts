/**
 * A `fetch` for the Anthropic SDK over `node:http`/`node:https` with keep-alive agents — what the AWS
 * SDK's Node handler uses — instead of Node's built-in fetch (undici), whose request and response
 * machinery costs about 0.3 ms more CPU per model call (measured against a local Messages server:
 * 0.82 → 0.54 ms per call, the server's share included). It serves what the SDK's Messages calls
 * send — a method, headers, a string or byte body, an AbortSignal — and hands anything else (a
 * `Request`, a streamed or form body) to the built-in fetch. An event stream's body is passed on as
 * it arrives; any other body is read whole before the promise resolves, as the SDK reads it whole.
 *
 * A kept-alive socket can be dead by the time it is reused: the server closed it while it sat idle,
 * or while a Lambda sandbox was frozen, and the close is seen only when the next request is written
 * on it. A request that fails that way on a reused socket, before any response, is sent again on
 * another (the next one of the pool or a new connection), as Node's documentation of
 * `request.reusedSocket` recommends; an error on a fresh connection, or after a response began, is
 * the caller's to see.
 */
import type { IncomingMessage } from "node:http";

/** Statuses whose response has no body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** How a dead kept-alive socket fails the request written on it. */
const STALE_SOCKET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/** Sends on a reused socket that turns out dead, at most (each try takes one socket from the pool). */
const MAX_STALE_SOCKET_RETRIES = 4;

export function nodeHttpFetch(): typeof fetch {
  // The modules themselves, not ES module imports: `node:http`'s ESM facade reads every export, its
  // lazy WebSocket getters included, which load undici (node-http-module.ts) — ~25 ms of a cold start.
  const http = process.getBuiltinModule("node:http");
  const https = process.getBuiltinModule("node:https");
  const { Readable } = process.getBuiltinModule("node:stream");
  // Proxies as Node applies them to its own fetch and agents: from HTTP(S)_PROXY and NO_PROXY when
  // NODE_USE_ENV_PROXY is set (a custom agent takes them only when given them).
  const proxyEnv = process.env.NODE_USE_ENV_PROXY ? { proxyEnv: process.env } : {};
  const agents = {
    http: new http.Agent({ keepAlive: true, ...proxyEnv }),
    https: new https.Agent({ keepAlive: true, ...proxyEnv }),
  };
  const served = (input: unknown, body: unknown): input is string | URL =>
    (typeof input === "string" || input instanceof URL) &&
    (body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array);

  return (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (!served(input, init.body)) return fetch(input, init);
    const url = new URL(input);
    if (url.protocol !== "http:" && url.protocol !== "https:") return fetch(input, init);
    const headers: Record<string, string> = {};
    new Headers(init.headers).forEach((value, name) => {
      headers[name] = value;
    });
    const body = init.body as string | Uint8Array | null | undefined;
    if (body !== undefined && body !== null) headers["content-length"] = String(Buffer.byteLength(body));
    const secure = url.protocol === "https:";
    const send = (retriesLeft: number): Promise<Response> =>
      new Promise<Response>((resolve, reject) => {
        let responded = false;
        const request = (secure ? https.request : http.request)(
          url,
          {
            method: init.method ?? "GET",
            headers,
            agent: secure ? agents.https : agents.http,
            ...(init.signal ? { signal: init.signal } : {}),
          },
          (response) => {
            responded = true;
            const status = response.statusCode ?? 502;
            const responseHeaders = headersOf(response);
            if (NULL_BODY_STATUSES.has(status)) {
              response.resume();
              resolve(new Response(null, { status, headers: responseHeaders }));
            } else if (responseHeaders.get("content-type")?.startsWith("text/event-stream")) {
              resolve(
                new Response(Readable.toWeb(response) as ReadableStream, {
                  status,
                  headers: responseHeaders,
                }),
              );
            } else {
              const chunks: Buffer[] = [];
              response.on("data", (chunk: Buffer) => chunks.push(chunk));
              response.on("end", () =>
                resolve(new Response(Buffer.concat(chunks), { status, headers: responseHeaders })),
              );
              response.on("error", reject);
            }
          },
        );
        // An abort rejects with the signal's AbortError, which the SDK tells from a failed connection.
        request.on("error", (error: NodeJS.ErrnoException) => {
          const stale =
            request.reusedSocket &&
            !responded &&
            !init.signal?.aborted &&
            STALE_SOCKET_CODES.has(error.code ?? "");
          if (stale && retriesLeft > 0) resolve(send(retriesLeft - 1));
          else reject(error);
        });
        request.end(body ?? undefined);
      });
    return send(MAX_STALE_SOCKET_RETRIES);
  }) as typeof fetch;
}

function headersOf(response: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (Array.isArray(value)) for (const one of value) headers.append(name, one);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}
