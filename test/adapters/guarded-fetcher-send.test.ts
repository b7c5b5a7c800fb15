/**
 * `GuardedFetcher.send`, what OAuth token endpoints and MCP probes go through: method, headers and
 * body reach the server; the SSRF guard refuses private targets (also by DNS); redirects are
 * returned, never followed (a secret in the body must not travel to a second host).
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FetchBlockedError, GuardedFetcher } from "../../shared/adapters/http/guarded-fetcher.js";

const request = {
  method: "POST" as const,
  headers: { "content-type": "application/x-www-form-urlencoded", authorization: "Basic abc" },
  body: "grant_type=refresh_token&refresh_token=r1",
  maxBytes: 64 * 1024,
  timeoutMs: 5_000,
};

describe("GuardedFetcher.send", () => {
  let server: http.Server;
  let base: string;
  const received: Array<{ method?: string; url?: string; headers: http.IncomingHttpHeaders; body: string }> =
    [];

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c) => {
        body += c;
      });
      req.on("end", () => {
        received.push({ method: req.method, url: req.url, headers: req.headers, body });
        if (req.url === "/redirect") {
          res.writeHead(307, { location: "/elsewhere" });
          res.end();
          return;
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"access_token":"a2"}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it("sends the method, headers and body, and returns status, type and body", async () => {
    const response = await new GuardedFetcher({ allowPrivate: true }).send(`${base}/token`, request);
    expect(response).toEqual({ status: 200, contentType: "application/json", body: '{"access_token":"a2"}' });
    const last = received.at(-1);
    expect(last).toMatchObject({ method: "POST", url: "/token", body: request.body });
    expect(last?.headers.authorization).toBe("Basic abc");
    expect(last?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
  });

  it("returns a redirect instead of following it", async () => {
    const before = received.length;
    const response = await new GuardedFetcher({ allowPrivate: true }).send(`${base}/redirect`, request);
    expect(response.status).toBe(307);
    expect(received.length).toBe(before + 1);
  });

  it("refuses private targets by default, literal or resolved, without connecting", async () => {
    const before = received.length;
    await expect(new GuardedFetcher().send(`${base}/token`, request)).rejects.toThrow(FetchBlockedError);
    const rebinding = new GuardedFetcher({ resolve: async () => [{ address: "10.0.0.7", family: 4 }] });
    await expect(rebinding.send("https://auth.example.com/token", request)).rejects.toThrow(/10\.0\.0\.7/);
    expect(received.length).toBe(before);
  });
});
