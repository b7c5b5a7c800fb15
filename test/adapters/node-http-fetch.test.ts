/**
 * The model adapter's fetch over node:http (node-http-fetch.ts): what the SDK relies on from a fetch —
 * the request as sent, the response's status, headers and body, streamed bodies, aborts, and a
 * kept-alive socket found dead when reused.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeHttpFetch } from "../../shared/adapters/model/node-http-fetch.js";

const execFileAsync = promisify(execFile);
const repoRoot = resolve(import.meta.dirname, "../..");

let server: Server;
let base: string;
const seen: Array<{ method?: string; url?: string; headers: IncomingMessage["headers"]; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      if (req.url === "/no-content") {
        res.writeHead(204).end();
      } else if (req.url === "/stream") {
        res.writeHead(200, { "content-type": "text/event-stream" });
        res.write("event: a\ndata: 1\n\n");
        setTimeout(() => res.end("event: b\ndata: 2\n\n"), 20);
      } else if (req.url === "/slow") {
        setTimeout(() => res.writeHead(200).end("late"), 5_000);
      } else {
        res.setHeader("set-cookie", ["a=1", "b=2"]);
        res.writeHead(201, { "content-type": "application/json", "request-id": "req_1" });
        res.end(JSON.stringify({ echo: Buffer.concat(chunks).toString() }));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("nodeHttpFetch", () => {
  const fetchOver = nodeHttpFetch();

  it("sends method, headers and body, and returns status, headers and body", async () => {
    const response = await fetchOver(`${base}/v1/messages?beta=true`, {
      method: "POST",
      headers: new Headers({ "x-api-key": "k", "content-type": "application/json" }),
      body: '{"é":1}',
    });
    expect(response.status).toBe(201);
    expect(response.headers.get("request-id")).toBe("req_1");
    expect(response.headers.get("set-cookie")).toBe("a=1, b=2");
    expect(await response.json()).toEqual({ echo: '{"é":1}' });
    const request = seen.at(-1);
    expect(request).toMatchObject({ method: "POST", url: "/v1/messages?beta=true", body: '{"é":1}' });
    expect(request?.headers["x-api-key"]).toBe("k");
    expect(request?.headers["content-length"]).toBe(String(Buffer.byteLength('{"é":1}')));
  });

  it("answers a status without a body with a null body", async () => {
    const response = await fetchOver(`${base}/no-content`, { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it("passes an event stream on as it arrives", async () => {
    const response = await fetchOver(`${base}/stream`);
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const first = await reader.read();
    expect(Buffer.from(first.value as Uint8Array).toString()).toBe("event: a\ndata: 1\n\n");
    let rest = "";
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
      rest += Buffer.from(chunk.value).toString();
    expect(rest).toBe("event: b\ndata: 2\n\n");
  });

  it("rejects with an AbortError when the signal fires (the SDK's timeout)", async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    const error = await fetchOver(`${base}/slow`, { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).name).toBe("AbortError");
  });

  it("rejects when nothing listens (a failed connection, not a response)", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(fetchOver(`http://127.0.0.1:${port}/`)).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("leaves what it does not serve (a Request) to the built-in fetch", async () => {
    const response = await fetchOver(new Request(`${base}/plain`, { method: "POST", body: "x" }));
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ echo: "x" });
  });

  describe("proxies, as Node's own fetch takes them", () => {
    /**
     * Runs the fetch in a child process with `env` (Node reads the proxy settings when it starts)
     * against http://upstream.invalid, a name that resolves nowhere: it reaches the test server only
     * when the test server is its proxy. Returns what the child printed: a status or an error code.
     */
    async function fetchInChild(env: Record<string, string>): Promise<string> {
      const dir = mkdtempSync(join(tmpdir(), "reverie-proxy-"));
      const script = join(dir, "fetch.mts");
      writeFileSync(
        script,
        `import { nodeHttpFetch } from ${JSON.stringify(pathToFileURL(join(repoRoot, "shared/adapters/model/node-http-fetch.ts")).href)};
const response = await nodeHttpFetch()("http://upstream.invalid/v1/messages", { method: "POST", body: "p" })
  .then((r) => String(r.status), (e) => String(e.code ?? e.cause?.code ?? e));
console.log(response);`,
      );
      try {
        // Neither the lower- nor the upper-case settings of this machine leak in.
        const inherited = Object.fromEntries(
          Object.entries(process.env).filter(
            ([name]) => !/^(https?_proxy|no_proxy|node_use_env_proxy)$/i.test(name),
          ),
        );
        const { stdout } = await execFileAsync(process.execPath, ["--import", "tsx", script], {
          cwd: repoRoot,
          env: { ...inherited, NODE_OPTIONS: "", HTTP_PROXY: base, ...env },
        });
        return stdout.trim();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    const proxied = () => seen.filter((r) => r.url === "http://upstream.invalid/v1/messages").length;

    it("goes through HTTP_PROXY with NODE_USE_ENV_PROXY=1 or --use-env-proxy", async () => {
      const before = proxied();
      expect(await fetchInChild({ NODE_USE_ENV_PROXY: "1" })).toBe("201");
      expect(await fetchInChild({ NODE_OPTIONS: "--use-env-proxy" })).toBe("201");
      expect(proxied()).toBe(before + 2);
      expect(seen.at(-1)).toMatchObject({ method: "POST", body: "p" });
    });

    it("goes direct without them, or with NODE_USE_ENV_PROXY=0, or for a NO_PROXY host", async () => {
      const before = proxied();
      const settings: Record<string, string>[] = [
        {},
        { NODE_USE_ENV_PROXY: "0" },
        { NODE_USE_ENV_PROXY: "1", NO_PROXY: "upstream.invalid" },
      ];
      for (const env of settings) expect(await fetchInChild(env)).toMatch(/^E[A-Z_]+$/); // the name does not resolve
      expect(proxied()).toBe(before);
    });
  });

  describe("a kept-alive socket that is dead when reused", () => {
    /**
     * Answers the first request on each connection and keeps it open; a later request on the same
     * connection finds it closed (destroyed unanswered), as a connection the server dropped while it
     * sat idle in the pool. `/reset` is dropped even as a connection's first request.
     */
    async function droppingServer() {
      const served = new Map<Socket, number>();
      const requests: string[] = [];
      const dropping = createServer((req, res) => {
        requests.push(req.url ?? "");
        const count = (served.get(req.socket) ?? 0) + 1;
        served.set(req.socket, count);
        req.resume();
        if (req.url === "/partial" && count > 1) {
          // A reset after the first bytes of an answer: the server had the request.
          req.on("end", () => req.socket.end("HTTP/1.1 200 OK\r\ncontent-ty", () => req.socket.destroy()));
        } else if (req.url === "/late" && count > 1) {
          // A reset long after the request arrived, as a connection dropped mid-generation.
          setTimeout(() => req.socket.destroy(), 200);
        } else if (count > 1 || req.url === "/reset") req.socket.destroy();
        else
          req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}'));
      });
      await new Promise<void>((resolve) => dropping.listen(0, "127.0.0.1", resolve));
      return {
        url: `http://127.0.0.1:${(dropping.address() as AddressInfo).port}`,
        requests,
        connections: () => served.size,
        close: async () => {
          dropping.closeAllConnections();
          await new Promise((resolve) => dropping.close(resolve));
        },
      };
    }

    it("sends the request again on another connection", async () => {
      const dropping = await droppingServer();
      try {
        const fetchFresh = nodeHttpFetch();
        const first = await fetchFresh(`${dropping.url}/one`, { method: "POST", body: "a" });
        expect(await first.json()).toEqual({ ok: true });
        const second = await fetchFresh(`${dropping.url}/two`, { method: "POST", body: "b" });
        expect(await second.json()).toEqual({ ok: true });
        // The second request went out twice: on the dead socket, then on a new connection.
        expect(dropping.requests).toEqual(["/one", "/two", "/two"]);
        expect(dropping.connections()).toBe(2);
      } finally {
        await dropping.close();
      }
    });

    it("after a thaw, drops every idle socket of the pool and resends once, on a new connection", async () => {
      const dropping = await droppingServer();
      try {
        const fetchFresh = nodeHttpFetch();
        // Three requests at once leave three idle connections in the pool, each of which the server
        // drops on its next request.
        await Promise.all(
          ["/a", "/b", "/c"].map((path) =>
            fetchFresh(`${dropping.url}${path}`, { method: "POST", body: "a" }),
          ),
        );
        const next = await fetchFresh(`${dropping.url}/next`, { method: "POST", body: "b" });
        expect(await next.json()).toEqual({ ok: true });
        expect(dropping.requests.slice(3)).toEqual(["/next", "/next"]);
        expect(dropping.connections()).toBe(4);
      } finally {
        await dropping.close();
      }
    });

    /** One answered request, then `path` on the kept-alive socket: what it failed with, what the server saw. */
    async function failOnReusedSocket(path: string, options?: Parameters<typeof nodeHttpFetch>[0]) {
      const dropping = await droppingServer();
      try {
        const fetchFresh = nodeHttpFetch(options);
        await fetchFresh(`${dropping.url}/one`, { method: "POST", body: "a" });
        const error = await fetchFresh(`${dropping.url}${path}`, { method: "POST", body: "b" }).catch(
          (e: unknown) => e,
        );
        return { error, requests: dropping.requests };
      } finally {
        await dropping.close();
      }
    }

    it("does not resend once a byte of the answer arrived", async () => {
      const { error, requests } = await failOnReusedSocket("/partial");
      expect(error).toBeInstanceOf(Error);
      expect(requests).toEqual(["/one", "/partial"]);
    });

    it("does not resend a reset that comes later than a dead socket's (mid-generation)", async () => {
      const { error, requests } = await failOnReusedSocket("/late", { staleSocketWindowMs: 50 });
      expect((error as NodeJS.ErrnoException).code).toBe("ECONNRESET");
      expect(requests).toEqual(["/one", "/late"]);
    });

    it("does not resend a request whose fresh connection failed", async () => {
      const dropping = await droppingServer();
      try {
        const error = await nodeHttpFetch()(`${dropping.url}/reset`, { method: "POST", body: "a" }).catch(
          (e: unknown) => e,
        );
        expect((error as NodeJS.ErrnoException).code).toBe("ECONNRESET");
        expect(dropping.requests).toEqual(["/reset"]);
      } finally {
        await dropping.close();
      }
    });
  });
});
