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
 * on it — a reset within a round trip of the write, before any byte of an answer. A request that
 * fails that way is sent once more, on a new connection (the pool's other idle sockets are dropped
 * first: after a thaw they are as dead). A model call is not idempotent — it is billed, and a
 * non-streamed answer comes whole after the generation — so nothing else is re-sent: not an error on
 * a fresh connection, not one after a byte of the answer arrived, not one later than
 * `STALE_SOCKET_WINDOW_MS` after the socket was taken (a connection reset mid-generation); those
 * reach the caller, whose retry policy (the step's backoff) decides.
 */
import type { Agent, IncomingMessage } from "node:http";

/** Statuses whose response has no body (the Response constructor refuses one). */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

/** How a dead kept-alive socket fails the request written on it. */
const STALE_SOCKET_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

/**
 * How soon after a reused socket was taken its reset still means "dead before the request reached
 * the server": a dead socket fails within a round trip; later, the server may be generating.
 */
const STALE_SOCKET_WINDOW_MS = 300;

export function nodeHttpFetch(options: { staleSocketWindowMs?: number } = {}): typeof fetch {
  const staleWindowMs = options.staleSocketWindowMs ?? STALE_SOCKET_WINDOW_MS;
  // The modules themselves, not ES module imports: `node:http`'s ESM facade reads every export, its
  // lazy WebSocket getters included, which load undici (node-http-module.ts) — ~25 ms of a cold start.
  const http = process.getBuiltinModule("node:http");
  const https = process.getBuiltinModule("node:https");
  const { Readable } = process.getBuiltinModule("node:stream");
  // Proxies as Node applies them to its own fetch: HTTP(S)_PROXY and NO_PROXY when
  // NODE_USE_ENV_PROXY=1 or --use-env-proxy, which is when Node gives its global agents a
  // `proxyEnv`; a custom agent takes them only when handed it.
  const proxyOf = (agent: object) => {
    const proxyEnv = (agent as { options?: { proxyEnv?: NodeJS.ProcessEnv } }).options?.proxyEnv;
    return proxyEnv ? { proxyEnv } : {};
  };
  const agents = {
    http: new http.Agent({ keepAlive: true, ...proxyOf(http.globalAgent) }),
    https: new https.Agent({ keepAlive: true, ...proxyOf(https.globalAgent) }),
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
    const agent = secure ? agents.https : agents.http;
    const send = (mayResend: boolean): Promise<Response> =>
      new Promise<Response>((resolve, reject) => {
        let responded = false;
        let taken: { at: number; bytesRead: number } | undefined;
        const request = (secure ? https.request : http.request)(
          url,
          {
            method: init.method ?? "GET",
            headers,
            agent,
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
        request.once("socket", (socket) => {
          taken = { at: performance.now(), bytesRead: socket.bytesRead };
        });
        // An abort rejects with the signal's AbortError, which the SDK tells from a failed connection.
        request.on("error", (error: NodeJS.ErrnoException) => {
          const stale =
            mayResend &&
            request.reusedSocket &&
            !responded &&
            !init.signal?.aborted &&
            STALE_SOCKET_CODES.has(error.code ?? "") &&
            taken !== undefined &&
            request.socket?.bytesRead === taken.bytesRead &&
            performance.now() - taken.at <= staleWindowMs;
          if (!stale) return reject(error);
          dropIdleSockets(agent);
          resolve(send(false));
        });
        request.end(body ?? undefined);
      });
    return send(true);
  }) as typeof fetch;
}

/** Closes an agent's idle kept-alive sockets, so that the next request opens a new connection. */
function dropIdleSockets(agent: Agent): void {
  for (const sockets of Object.values(agent.freeSockets))
    for (const socket of sockets ?? []) socket.destroy();
}

function headersOf(response: IncomingMessage): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    if (Array.isArray(value)) for (const one of value) headers.append(name, one);
    else if (value !== undefined) headers.set(name, value);
  }
  return headers;
}
