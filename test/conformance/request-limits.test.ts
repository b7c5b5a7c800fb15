/**
 * Request bodies are limited while they stream in, and only after authentication: an unauthenticated
 * client cannot make the stack buffer anything, and an oversized body is refused at its limit.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

/**
 * POSTs up to `totalBytes` from one reused 1 MiB chunk (so the client itself holds nothing); resolves
 * with the status the server answered, or `reset` when it closed the connection first.
 */
function streamPost(path: string, totalBytes: number, headers: Record<string, string>) {
  const chunk = Buffer.alloc(1024 * 1024, 0x61);
  return new Promise<{ status: number | "reset"; body: string; sentBytes: number }>((resolve) => {
    let sent = 0;
    let settled = false;
    const url = new URL(path, h.stack.url);
    const req = request(
      { method: "POST", hostname: url.hostname, port: url.port, path: url.pathname, headers },
      (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => {
          settled = true;
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body, sentBytes: sent });
        });
      },
    );
    req.on("error", () => {
      if (!settled) resolve({ status: "reset", body: "", sentBytes: sent });
    });
    const pump = () => {
      while (sent < totalBytes && !settled && !req.destroyed) {
        sent += chunk.byteLength;
        if (!req.write(chunk)) return void req.once("drain", pump);
      }
      if (!settled && !req.destroyed) req.end();
    };
    pump();
  });
}

describe("request body limits", () => {
  it("refuses unauthenticated 200 MiB bodies before buffering them", async () => {
    const before = process.memoryUsage().rss;
    const results = await Promise.all(
      [1, 2, 3, 4].map(() =>
        streamPost("/v1/agents", 200 * 1024 * 1024, { "content-type": "application/json" }),
      ),
    );
    const grew = process.memoryUsage().rss - before;
    for (const r of results) {
      expect(["reset", 401]).toContain(r.status);
      if (r.status === 401)
        expect(JSON.parse(r.body)).toMatchObject({ error: { type: "authentication_error" } });
    }
    expect(grew).toBeLessThan(100 * 1024 * 1024);
    const health = await fetch(`${h.stack.url}/health`);
    expect(health.status).toBe(200);
  });

  it("tells a missing key from an unknown one", async () => {
    const missing = await fetch(`${h.stack.url}/v1/agents`);
    expect(await missing.json()).toMatchObject({
      error: { message: expect.stringMatching(/^missing API key/) },
    });
    const unknown = await fetch(`${h.stack.url}/v1/agents`, {
      headers: { authorization: "Bearer sk-ant-nope" },
    });
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({
      error: { message: expect.stringMatching(/^invalid API key/) },
    });
  });

  it("answers 413 at the limit for an authenticated body, declared or streamed", async () => {
    const auth = { authorization: `Bearer ${h.stack.apiKey}`, "content-type": "application/json" };
    const declared = await fetch(`${h.stack.url}/v1/agents`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ name: "x".repeat(300 * 1024) }),
    });
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ type: "error", error: { type: "request_too_large" } });
    const streamed = await streamPost("/v1/agents", 50 * 1024 * 1024, {
      ...auth,
      "transfer-encoding": "chunked",
    });
    expect(["reset", 413]).toContain(streamed.status);
    expect(streamed.sentBytes).toBeLessThan(50 * 1024 * 1024);
  });
});
