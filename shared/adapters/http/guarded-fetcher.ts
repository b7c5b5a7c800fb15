/**
 * The HttpFetcher behind `web_fetch`, with an SSRF guard: every hop's hostname is resolved once, every
 * address it resolves to must be public unicast, and the connection is made to that very address (the
 * socket's `lookup` is pinned), so a DNS answer that changes between check and connect cannot reach an
 * internal service. Redirects are followed by hand, re-checking each hop.
 *
 * `node:net` and `node:dns` are taken with `process.getBuiltinModule` when used, not imported as ES
 * modules: an ES module import of a built-in builds its facade at every cold start of every function
 * that bundles this file (node-http-module.ts), whether or not the invocation makes a request.
 */
import type { IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import type { HttpFetcher, HttpSendRequest } from "../../core/ports.js";
import { type FetchLike, guardedFetch } from "./guarded-fetch.js";
import { nodeHttpModule } from "./node-http-module.js";

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface GuardedFetcherOptions {
  /** Allow loopback, private, link-local and other non-public addresses (local development, tests). */
  allowPrivate?: boolean;
  /** Redirects followed before giving up; default 5. */
  maxRedirects?: number;
  /**
   * Decides which resolved addresses may be connected to when `allowPrivate` is off; default
   * {@link isPublicAddress}. Lets a deployment admit one internal range (or a test admit loopback).
   */
  isAllowedAddress?: (address: string) => boolean;
  /** Resolves a hostname to all its addresses; default node:dns `lookup` with `all: true`. */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
  userAgent?: string;
}

/** A URL refused by the guard: bad scheme, a non-public address, too many redirects. */
export class FetchBlockedError extends Error {
  override name = "FetchBlockedError";
}

/** A fetch that failed on the way: DNS failure, connection error, timeout. */
export class FetchFailedError extends Error {
  override name = "FetchFailedError";
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * Whether an address may be reached without `allowPrivate`: only ipaddr.js's `unicast` range passes,
 * which leaves out loopback, RFC 1918, link-local (169.254/16, the metadata service, fe80::/10), CGNAT
 * 100.64/10, unique-local fc00::/7, unspecified, multicast, broadcast, reserved and documentation ranges
 * and the IPv6 forms that embed an IPv4 address (mapped, NAT64, 6to4, Teredo).
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) {
    parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  }
  return parsed.range() === "unicast";
}

async function defaultResolve(hostname: string): Promise<ResolvedAddress[]> {
  const dns = process.getBuiltinModule("node:dns/promises");
  const answers = await dns.lookup(hostname, { all: true, verbatim: true });
  return answers.map((answer) => ({ address: answer.address, family: answer.family === 6 ? 6 : 4 }));
}

function pinnedLookup(target: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) {
      callback(null, [{ address: target.address, family: target.family }]);
    } else {
      callback(null, target.address, target.family);
    }
  };
}

function charsetOf(contentType: string): string {
  const match = /charset\s*=\s*"?([^";\s]+)/i.exec(contentType);
  return match?.[1]?.toLowerCase() ?? "utf-8";
}

function decode(bytes: Buffer, contentType: string): string {
  try {
    return new TextDecoder(charsetOf(contentType)).decode(bytes);
  } catch {
    return new TextDecoder("utf-8").decode(bytes);
  }
}

export class GuardedFetcher implements HttpFetcher {
  private readonly allowPrivate: boolean;
  private readonly maxRedirects: number;
  private readonly resolve: (hostname: string) => Promise<ResolvedAddress[]>;
  private readonly isAllowedAddress: (address: string) => boolean;
  private readonly userAgent: string;

  /**
   * A WHATWG `fetch` behind the same guard, for clients that take one (the MCP SDK's transports):
   * every request's host is vetted like a `web_fetch` hop and the socket pinned to the vetted
   * address; redirects are returned, not followed, so each hop a client follows comes back here.
   */
  readonly fetch: FetchLike = guardedFetch((url) => this.vet(url));

  constructor(options: GuardedFetcherOptions = {}) {
    this.allowPrivate = options.allowPrivate ?? false;
    this.maxRedirects = options.maxRedirects ?? 5;
    this.resolve = options.resolve ?? defaultResolve;
    this.isAllowedAddress = options.isAllowedAddress ?? isPublicAddress;
    this.userAgent = options.userAgent ?? "Reverie-WebFetch/0.1";
  }

  /**
   * GETs `url`, following up to `maxRedirects` redirects. The body is cut at `maxBytes` (the connection
   * is closed there); `timeoutMs` bounds the whole fetch, redirects included.
   *
   * @throws FetchBlockedError when a hop is refused; FetchFailedError when the network fails or times out.
   */
  async fetchText(
    url: string,
    options: { maxBytes: number; timeoutMs: number },
  ): Promise<{ status: number; contentType: string; body: string }> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    let current = this.parse(url);
    for (let hop = 0; ; hop++) {
      const target = await this.vet(current);
      const response = await this.request(current, target, signal, options.timeoutMs);
      const location = response.headers.location;
      if (REDIRECT_STATUSES.has(response.statusCode ?? 0) && location) {
        response.resume();
        if (hop >= this.maxRedirects) {
          throw new FetchBlockedError(`too many redirects (more than ${this.maxRedirects})`);
        }
        current = this.parse(new URL(location, current).href);
        continue;
      }
      const contentType = String(response.headers["content-type"] ?? "");
      const bytes = await this.readBody(response, options.maxBytes, signal, options.timeoutMs);
      return { status: response.statusCode ?? 0, contentType, body: decode(bytes, contentType) };
    }
  }

  /**
   * Sends one request (method, headers, body) to `url` through the same guard; a redirect is returned
   * as it is, never followed. Secrets in `headers` or `body` go to the vetted address only.
   *
   * @throws FetchBlockedError when the target is refused; FetchFailedError when the network fails or times out.
   */
  async send(
    url: string,
    options: HttpSendRequest,
  ): Promise<{ status: number; contentType: string; body: string }> {
    const signal = AbortSignal.timeout(options.timeoutMs);
    const target = this.parse(url);
    const address = await this.vet(target);
    const response = await this.request(target, address, signal, options.timeoutMs, options);
    const contentType = String(response.headers["content-type"] ?? "");
    const bytes = await this.readBody(response, options.maxBytes, signal, options.timeoutMs);
    return { status: response.statusCode ?? 0, contentType, body: decode(bytes, contentType) };
  }

  private parse(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch (error) {
      throw new FetchBlockedError(`invalid URL ${JSON.stringify(raw)}`, { cause: error });
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new FetchBlockedError(`only http and https URLs can be fetched, not ${url.protocol}`);
    }
    return url;
  }

  /** Resolves the URL's host and checks every address; returns the one to connect to. */
  private async vet(url: URL): Promise<ResolvedAddress> {
    const hostname = url.hostname.replace(/^\[|\]$/g, "");
    let addresses: ResolvedAddress[];
    const literal = process.getBuiltinModule("node:net").isIP(hostname);
    if (literal !== 0) {
      addresses = [{ address: hostname, family: literal === 6 ? 6 : 4 }];
    } else {
      try {
        addresses = await this.resolve(hostname);
      } catch (error) {
        throw new FetchFailedError(`could not resolve ${hostname}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    const first = addresses[0];
    if (!first) throw new FetchFailedError(`${hostname} has no addresses`);
    if (!this.allowPrivate) {
      // Refuse if any answer is internal: a mixed answer set is how rebinding attacks hide.
      const internal = addresses.find((candidate) => !this.isAllowedAddress(candidate.address));
      if (internal) {
        throw new FetchBlockedError(
          `refusing to fetch ${url.host}: it resolves to ${internal.address}, a private, loopback, link-local or otherwise non-public address`,
        );
      }
    }
    return first;
  }

  private request(
    url: URL,
    target: ResolvedAddress,
    signal: AbortSignal,
    timeoutMs: number,
    send?: HttpSendRequest,
  ): Promise<IncomingMessage> {
    const client = nodeHttpModule(url.protocol);
    return new Promise((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: send?.method ?? "GET",
          lookup: pinnedLookup(target),
          // A connection of its own: Node's shared pool is keyed by host and port, not by the address
          // vetted here, so a pooled socket (a webhook's, to an address allowed there) would be reused.
          agent: false,
          signal,
          headers: {
            "user-agent": this.userAgent,
            accept: "text/html, text/plain, application/json, application/xml;q=0.9, */*;q=0.5",
            ...send?.headers,
            "accept-encoding": "identity",
          },
        },
        resolve,
      );
      request.on("error", (error) => reject(this.failure(url, error, signal, timeoutMs)));
      request.end(send?.body);
    });
  }

  private readBody(
    response: IncomingMessage,
    maxBytes: number,
    signal: AbortSignal,
    timeoutMs: number,
  ): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        signal.removeEventListener("abort", onAbort);
        resolve(Buffer.concat(chunks, Math.min(size, maxBytes)).subarray(0, maxBytes));
      };
      const onAbort = () => {
        if (done) return;
        done = true;
        response.destroy();
        reject(new FetchFailedError(`timed out after ${timeoutMs} ms`));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      response.on("data", (chunk: Buffer) => {
        if (done) return;
        chunks.push(chunk);
        size += chunk.length;
        if (size >= maxBytes) {
          finish();
          response.destroy();
        }
      });
      response.on("end", finish);
      response.on("error", (error) => {
        if (done) return;
        if (signal.aborted) return onAbort();
        done = true;
        signal.removeEventListener("abort", onAbort);
        reject(new FetchFailedError(`reading the response failed: ${error.message}`, { cause: error }));
      });
      // A connection closed without an error or an end still settles the promise.
      response.on("close", finish);
    });
  }

  private failure(url: URL, error: Error, signal: AbortSignal, timeoutMs: number): Error {
    if (signal.aborted) return new FetchFailedError(`timed out after ${timeoutMs} ms fetching ${url.href}`);
    return new FetchFailedError(`fetching ${url.href} failed: ${error.message}`, { cause: error });
  }
}
