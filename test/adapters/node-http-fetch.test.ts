/**
 * The model adapter's fetch over node:http (node-http-fetch.ts): what the SDK relies on from a fetch —
 * the request as sent, the response's status, headers and body, streamed bodies, aborts, and a
 * kept-alive socket found dead when reused.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodeHttpFetch } from "../../shared/adapters/model/node-http-fetch.js";

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

  it("goes through HTTP_PROXY when NODE_USE_ENV_PROXY is set, as Node's own fetch does", async () => {
    const saved = {
      use: process.env.NODE_USE_ENV_PROXY,
      proxy: process.env.HTTP_PROXY,
      no: process.env.NO_PROXY,
    };
    Object.assign(process.env, { NODE_USE_ENV_PROXY: "1", HTTP_PROXY: base, NO_PROXY: "" });
    try {
      // The test server stands in for the proxy: a name that resolves nowhere reaches it only through it.
      const response = await nodeHttpFetch()("http://upstream.invalid/v1/messages", {
        method: "POST",
        body: "p",
      });
      expect(response.status).toBe(201);
      expect(seen.at(-1)).toMatchObject({
        method: "POST",
        url: "http://upstream.invalid/v1/messages",
        body: "p",
      });
    } finally {
      for (const [name, value] of [
        ["NODE_USE_ENV_PROXY", saved.use],
        ["HTTP_PROXY", saved.proxy],
        ["NO_PROXY", saved.no],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
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
        if (count > 1 || req.url === "/reset") req.socket.destroy();
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
