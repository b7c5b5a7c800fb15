/**
 * The WebhookTransport: POSTs a signed webhook with the same SSRF guard as `web_fetch` — the
 * hostname is resolved once, every address must be public unicast (unless private targets are
 * allowed), and the socket connects to that very address. Redirects are not followed.
 *
 * `node:net` and `node:dns` are taken with `process.getBuiltinModule` when used, not imported as ES
 * modules: an ES module import of a built-in builds its facade at every cold start of every function
 * that bundles this file (node-http-module.ts), whether or not the invocation makes a request.
 */
import type { LookupFunction } from "node:net";
import type { WebhookTransport } from "../../core/ports.js";
import { isPublicAddress } from "./guarded-fetcher.js";
import { nodeHttpModule } from "./node-http-module.js";

const isIP = (host: string): number => process.getBuiltinModule("node:net").isIP(host);

/** A webhook URL or its resolved address was refused by the SSRF guard. */
export class WebhookTargetBlockedError extends Error {
  override name = "WebhookTargetBlockedError";
}

export interface GuardedWebhookSenderOptions {
  allowPrivate?: boolean;
  resolve?: (hostname: string) => Promise<Array<{ address: string; family: 4 | 6 }>>;
}

/** Refuses, before anything is stored, a URL whose host is a literal non-public address. */
export function checkWebhookUrl(url: string, allowPrivate: boolean): void {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
  if (allowPrivate) return;
  if (host === "localhost" || host.endsWith(".localhost") || (isIP(host) && !isPublicAddress(host))) {
    throw new WebhookTargetBlockedError(`webhook URL ${url} points at a private or loopback address`);
  }
}

export class GuardedWebhookSender implements WebhookTransport {
  private readonly allowPrivate: boolean;
  private readonly resolve: NonNullable<GuardedWebhookSenderOptions["resolve"]>;

  constructor(options: GuardedWebhookSenderOptions = {}) {
    this.allowPrivate = options.allowPrivate ?? false;
    this.resolve =
      options.resolve ??
      (async (hostname) =>
        (
          await process.getBuiltinModule("node:dns/promises").lookup(hostname, { all: true, verbatim: true })
        ).map((a) => ({
          address: a.address,
          family: a.family === 6 ? 6 : 4,
        })));
  }

  async post(
    url: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number }> {
    checkWebhookUrl(url, this.allowPrivate);
    const target = new URL(url);
    const host = target.hostname.replace(/^\[|\]$/g, "");
    const literal = isIP(host);
    const addresses = literal
      ? [{ address: host, family: (literal === 6 ? 6 : 4) as 4 | 6 }]
      : await this.resolve(host);
    const refused = addresses.find((a) => !this.allowPrivate && !isPublicAddress(a.address));
    if (addresses.length === 0 || refused) {
      throw new WebhookTargetBlockedError(`webhook host ${host} resolves to a non-public address`);
    }
    const pinned = addresses[0] as { address: string; family: 4 | 6 };
    const lookup: LookupFunction = (_h, options, callback) => {
      if (options.all) callback(null, [pinned]);
      else callback(null, pinned.address, pinned.family);
    };
    const client = nodeHttpModule(target.protocol);
    return new Promise((resolve, reject) => {
      const request = client.request(
        target,
        {
          method: "POST",
          headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
          lookup,
          // Never pooled: a socket left in Node's shared pool (keyed by host and port, not by the
          // address checked) could carry another caller's request to an address it did not vet.
          agent: false,
          timeout: timeoutMs,
        },
        (response) => {
          response.resume();
          response.on("end", () => resolve({ status: response.statusCode ?? 0 }));
          response.on("error", reject);
        },
      );
      request.on("timeout", () => request.destroy(new Error(`webhook POST timed out after ${timeoutMs} ms`)));
      request.on("error", reject);
      request.end(body);
    });
  }
}
