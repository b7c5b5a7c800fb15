/**
 * A WHATWG `fetch` over node:http(s) for clients that take one (the MCP SDK's transports), with the
 * SSRF guard of `GuardedFetcher` in front of every request: the host is resolved and vetted by the
 * caller's `vet`, and the socket connects to that vetted address (its `lookup` is pinned), so a DNS
 * answer that changes between check and connect cannot reach an internal service. Redirects are
 * returned, never followed: a client that follows one sends the next hop back through here.
 *
 * Bodies stream (a Server-Sent Events response is read as it arrives), up to `maxResponseBytes`;
 * the caller's `signal` aborts the request and its body. Connecting is bounded by `connectTimeoutMs`; how long a response may
 * take is the caller's to bound with its signal (a slow tool call answers late by design).
 */
import type { IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import { nodeHttpModule } from "./node-http-module.js";

/** The `fetch` signature the MCP SDK (and most HTTP clients) accept. */
export type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Where a vetted request connects. */
export interface PinnedAddress {
  address: string;
  family: 4 | 6;
}

export interface GuardedFetchOptions {
  /** Sent when the request has no `user-agent` of its own. */
  userAgent?: string;
  /** How long DNS, TCP and TLS may take before the request fails, ms; default 10 s. */
  connectTimeoutMs?: number;
  /**
   * Most bytes a response body may carry (an event stream's over its whole life); past it the
   * connection is cut and the body fails with a GuardedFetchError. Default 16 MiB: the MCP SDK
   * buffers a whole JSON answer, so a server must not be able to fill the process's memory.
   */
  maxResponseBytes?: number;
}

/** A request the guarded fetch could not make: refused by `vet`, unreachable, or cut off. */
export class GuardedFetchError extends Error {
  override name = "GuardedFetchError";
}

/** Statuses whose response has no body (the Response constructor refuses one). */
const NULL_BODY = new Set([204, 205, 304]);

function bodyOf(init: RequestInit | undefined, headers: Record<string, string>): string | Buffer | undefined {
  const body = init?.body;
  if (body === undefined || body === null) return undefined;
  if (typeof body === "string") return body;
  if (body instanceof URLSearchParams) {
    headers["content-type"] ??= "application/x-www-form-urlencoded;charset=UTF-8";
    return body.toString();
  }
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  throw new TypeError("guarded fetch: only string, URLSearchParams and byte bodies are supported");
}

function headersOf(init: RequestInit | undefined, userAgent: string): Record<string, string> {
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => {
    headers[key] = value;
  });
  headers["user-agent"] ??= userAgent;
  // node:http does not decompress: ask for the body as it is.
  headers["accept-encoding"] = "identity";
  return headers;
}

/** Cuts `res` once more than `max` bytes arrived (it counts beside the reader, not instead of it). */
function capBody(res: IncomingMessage, max: number, where: string): void {
  let received = 0;
  const count = (chunk: Buffer) => {
    received += chunk.length;
    if (received <= max) return;
    res.off("data", count);
    res.destroy(new GuardedFetchError(`the response of ${where} is larger than ${max} bytes: cut there`));
  };
  res.on("data", count);
}

function responseOf(res: IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) {
    headers.append(res.rawHeaders[i] as string, res.rawHeaders[i + 1] as string);
  }
  const status = res.statusCode ?? 0;
  const noBody = NULL_BODY.has(status) || method === "HEAD";
  if (noBody) res.resume();
  return new Response(
    noBody
      ? null
      : (process.getBuiltinModule("node:stream").Readable.toWeb(res) as ReadableStream<Uint8Array>),
    {
      status,
      statusText: res.statusMessage ?? "",
      headers,
    },
  );
}

/**
 * A fetch whose every request is vetted by `vet` (which throws to refuse a URL, and returns the one
 * address to connect to) and made to that address. Only http(s) URLs; no redirects followed.
 */
export function guardedFetch(
  vet: (url: URL) => Promise<PinnedAddress>,
  options: GuardedFetchOptions = {},
): FetchLike {
  const userAgent = options.userAgent ?? "Reverie/0.1";
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const maxResponseBytes = options.maxResponseBytes ?? 16 * 1024 * 1024;
  return async (input, init) => {
    const url = new URL(typeof input === "string" ? input : input.href);
    if (url.protocol !== "http:" && url.protocol !== "https:")
      throw new GuardedFetchError(`only http and https URLs can be fetched, not ${url.protocol}`);
    const signal = init?.signal ?? undefined;
    signal?.throwIfAborted();
    const method = (init?.method ?? "GET").toUpperCase();
    const headers = headersOf(init, userAgent);
    const body = bodyOf(init, headers);
    if (body !== undefined) headers["content-length"] = String(Buffer.byteLength(body));
    const target = await vet(url);
    signal?.throwIfAborted();
    const lookup: LookupFunction = (_hostname, lookupOptions, callback) => {
      if (lookupOptions.all) callback(null, [{ address: target.address, family: target.family }]);
      else callback(null, target.address, target.family);
    };
    const where = `${url.origin}${url.pathname}`;
    const client = nodeHttpModule(url.protocol);
    return new Promise<Response>((resolve, reject) => {
      const request = client.request(url, { method, headers, lookup, signal, agent: false }, (res) => {
        clearTimeout(connectTimer);
        const status = res.statusCode ?? 0;
        if (status < 200 || status > 599) {
          res.destroy();
          reject(new GuardedFetchError(`${method} ${where} answered with status ${status}`));
          return;
        }
        const response = responseOf(res, method);
        capBody(res, maxResponseBytes, `${method} ${where}`);
        resolve(response);
      });
      const connectTimer = setTimeout(
        () =>
          request.destroy(
            new GuardedFetchError(`connecting to ${url.host} timed out after ${connectTimeoutMs} ms`),
          ),
        connectTimeoutMs,
      );
      request.on("socket", (socket) => {
        socket.once(url.protocol === "https:" ? "secureConnect" : "connect", () =>
          clearTimeout(connectTimer),
        );
      });
      request.on("error", (error) => {
        clearTimeout(connectTimer);
        if (signal?.aborted) reject(signal.reason ?? error);
        else if (error instanceof GuardedFetchError) reject(error);
        else reject(new GuardedFetchError(`${method} ${where} failed: ${error.message}`, { cause: error }));
      });
      request.end(body);
    });
  };
}
