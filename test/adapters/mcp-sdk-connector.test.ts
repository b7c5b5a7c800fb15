import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GuardedFetcher } from "../../shared/adapters/http/guarded-fetcher.js";
import {
  classifyMcpFailure,
  McpSdkConnector,
  secretsOf,
} from "../../shared/adapters/http/mcp-sdk-connector.js";
import { McpServerError } from "../../shared/core/ports.js";
import { type McpTestServer, startMcpTestServer, TINY_PNG } from "../fixtures/mcp-test-server.js";

const open = new McpSdkConnector({ fetch: new GuardedFetcher({ allowPrivate: true }).fetch });
const auth = { authorization: "Bearer s3cret" };

async function failureOf(work: Promise<unknown>): Promise<McpServerError> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(McpServerError);
  return error as McpServerError;
}

/** An HTTP server that answers every MCP POST with `answer` (not JSON-RPC). */
async function garbageServer(answer: (body: { method?: string; id?: unknown }) => string) {
  const server: Server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString() || "{}");
    if (body.id === undefined) return void res.writeHead(202).end();
    res.writeHead(200, { "content-type": "application/json" }).end(answer(body));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

describe("McpSdkConnector (Streamable HTTP, through the guarded fetch)", () => {
  let mcp: McpTestServer;
  beforeAll(async () => {
    mcp = await startMcpTestServer({ tokens: ["s3cret"] });
  });
  afterAll(() => mcp.close());

  it("initializes with the bearer header, lists every tool with its schema, and calls tools", async () => {
    const connection = await open.connect(mcp.url, { headers: auth, timeoutMs: 5_000 });
    try {
      expect(connection.transport).toBe("streamable_http");
      const tools = await connection.listTools({ timeoutMs: 5_000 });
      expect(tools.map((t) => t.name).sort()).toEqual(
        ["broken", "create", "echo", "search.issues", "slow", "snapshot"].sort(),
      );
      const echo = tools.find((t) => t.name === "echo");
      expect(echo?.inputSchema).toMatchObject({
        type: "object",
        properties: { text: { type: "string" } },
        required: ["text"],
      });
      expect(echo?.annotations).toMatchObject({ readOnlyHint: true });

      expect(await connection.callTool("echo", { text: "hi" }, { timeoutMs: 5_000 })).toEqual({
        content: [{ type: "text", text: "echo: hi" }],
        isError: false,
      });
      expect(await connection.callTool("broken", {}, { timeoutMs: 5_000 })).toMatchObject({
        isError: true,
        content: [{ type: "text", text: "the tool broke" }],
      });
      const picture = await connection.callTool("snapshot", {}, { timeoutMs: 5_000 });
      expect(picture.content[1]).toEqual({ type: "image", data: TINY_PNG, mimeType: "image/png" });
      expect(mcp.calls.map((c) => c.authorization)).toEqual([
        "Bearer s3cret",
        "Bearer s3cret",
        "Bearer s3cret",
      ]);
    } finally {
      await connection.close();
    }
  });

  it("a missing or wrong token is `unauthorized`", async () => {
    const wrong = await failureOf(
      open.connect(mcp.url, { headers: { authorization: "Bearer nope" }, timeoutMs: 5_000 }),
    );
    expect(wrong.kind).toBe("unauthorized");
    expect(wrong.message).not.toContain("nope");
    expect((await failureOf(open.connect(mcp.url, { headers: {}, timeoutMs: 5_000 }))).kind).toBe(
      "unauthorized",
    );
  });

  it("a loopback server is refused by the guard unless private addresses are allowed", async () => {
    const guarded = new McpSdkConnector({ fetch: new GuardedFetcher().fetch });
    const refused = await failureOf(guarded.connect(mcp.url, { headers: auth, timeoutMs: 5_000 }));
    expect(refused.kind).toBe("refused");
    expect(mcp.authorizations.length).toBeGreaterThan(0);
    const before = mcp.authorizations.length;
    await failureOf(guarded.connect(mcp.url, { headers: auth, timeoutMs: 5_000 }));
    expect(mcp.authorizations.length).toBe(before);
  });

  it("a slow tool is cut at the timeout", async () => {
    const connection = await open.connect(mcp.url, { headers: auth, timeoutMs: 5_000 });
    const started = Date.now();
    const slow = await failureOf(connection.callTool("slow", { ms: 5_000 }, { timeoutMs: 300 }));
    expect(slow.kind).toBe("timeout");
    expect(Date.now() - started).toBeLessThan(2_000);
    await connection.close();
  });

  it("falls back to the HTTP+SSE transport when the server answers the initialize POST with 405", async () => {
    const legacy = await startMcpTestServer({ tokens: ["s3cret"], transport: "sse" });
    try {
      const connection = await open.connect(legacy.url, { headers: auth, timeoutMs: 5_000 });
      expect(connection.transport).toBe("sse");
      expect((await connection.listTools({ timeoutMs: 5_000 })).length).toBe(6);
      expect(await connection.callTool("echo", { text: "old" }, { timeoutMs: 5_000 })).toMatchObject({
        content: [{ type: "text", text: "echo: old" }],
      });
      await connection.close();
      expect(legacy.calls).toEqual([{ tool: "echo", args: { text: "old" }, authorization: "Bearer s3cret" }]);
    } finally {
      await legacy.close();
    }
  });

  it("invalid JSON-RPC is a `protocol` failure, a closed port `unreachable`", async () => {
    const garbage = await garbageServer(() => JSON.stringify({ hello: "world" }));
    const notJson = await garbageServer(() => "<html>gateway</html>");
    try {
      expect((await failureOf(open.connect(garbage.url, { headers: {}, timeoutMs: 3_000 }))).kind).toBe(
        "protocol",
      );
      expect((await failureOf(open.connect(notJson.url, { headers: {}, timeoutMs: 3_000 }))).kind).toBe(
        "protocol",
      );
    } finally {
      await garbage.close();
      await notJson.close();
    }
    const dead = await failureOf(open.connect(garbage.url, { headers: {}, timeoutMs: 3_000 }));
    expect(dead.kind).toBe("unreachable");
  });

  it("never repeats the credential it sent, when a server echoes it in an error body", async () => {
    const token = "vault-secret-token-123456";
    const headers = { authorization: `Bearer ${token}` };
    // initialize and tools/list answer; every tools/call, and every initialize of the second server,
    // fails with a body quoting the request's Authorization header, as a careless gateway might
    const echoing = (failInitialize: boolean) => {
      const server: Server = createServer(async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        const body = JSON.parse(Buffer.concat(chunks).toString() || "{}");
        if (req.method !== "POST") return void res.writeHead(405).end();
        const echo = () =>
          res
            .writeHead(502, { "content-type": "text/plain" })
            .end(`gateway refused ${req.headers.authorization} (token ${JSON.stringify(token)})`);
        if (body.method === "initialize") {
          if (failInitialize) return echo();
          return void res.writeHead(200, { "content-type": "application/json" }).end(
            JSON.stringify({
              jsonrpc: "2.0",
              id: body.id,
              result: {
                protocolVersion: body.params.protocolVersion,
                capabilities: { tools: {} },
                serverInfo: { name: "echo", version: "1" },
              },
            }),
          );
        }
        if (body.id === undefined) return void res.writeHead(202).end();
        echo();
      });
      return new Promise<{ url: string; close: () => Promise<void> }>((resolve) =>
        server.listen(0, "127.0.0.1", () =>
          resolve({
            url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`,
            close: () => new Promise<void>((r) => server.close(() => r())),
          }),
        ),
      );
    };
    const calls = await echoing(false);
    const connects = await echoing(true);
    try {
      const connection = await open.connect(calls.url, { headers, timeoutMs: 5_000 });
      const called = await failureOf(connection.callTool("lookup", {}, { timeoutMs: 5_000 }));
      await connection.close();
      const connected = await failureOf(open.connect(connects.url, { headers, timeoutMs: 5_000 }));
      for (const error of [called, connected]) {
        expect(error.message).toContain("gateway refused");
        expect(error.message).toContain("[redacted]");
        expect(error.message).not.toContain(token);
      }
    } finally {
      await calls.close();
      await connects.close();
    }
  });

  it("counts a header's value, its credential and their escaped forms as secrets", () => {
    expect(secretsOf({ authorization: "Bearer a/b+c=d" })).toEqual([
      "Bearer%20a%2Fb%2Bc%3Dd",
      "Bearer a/b+c=d",
      "a%2Fb%2Bc%3Dd",
      "a/b+c=d",
    ]);
    expect(secretsOf({})).toEqual([]);
  });

  it("classifies the SDK's errors", () => {
    expect(classifyMcpFailure(Object.assign(new Error("x"), { code: 401 }))).toBe("unauthorized");
    expect(classifyMcpFailure(Object.assign(new Error("x"), { code: 503 }))).toBe("unreachable");
    expect(classifyMcpFailure(Object.assign(new Error("Request timed out"), { code: -32001 }))).toBe(
      "timeout",
    );
  });
});
