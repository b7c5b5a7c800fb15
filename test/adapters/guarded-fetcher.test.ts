import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guardedFetch } from "../../shared/adapters/http/guarded-fetch.js";
import {
  FetchBlockedError,
  FetchFailedError,
  GuardedFetcher,
  isPublicAddress,
} from "../../shared/adapters/http/guarded-fetcher.js";
import { GuardedWebhookSender } from "../../shared/adapters/http/webhook-sender.js";

const limits = { maxBytes: 64 * 1024, timeoutMs: 5_000 };

describe("isPublicAddress", () => {
  it("refuses internal ranges", () => {
    for (const address of [
      "127.0.0.1",
      "10.0.0.1",
      "172.16.5.4",
      "192.168.1.1",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "224.0.0.1",
      "255.255.255.255",
      "::1",
      "::",
      "fe80::1",
      "fd00::1",
      "ff02::1",
      "::ffff:127.0.0.1",
      "::ffff:10.0.0.1",
      "64:ff9b::a00:1",
      "not-an-ip",
    ]) {
      expect(isPublicAddress(address), address).toBe(false);
    }
  });

  it("allows public unicast", () => {
    for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
      expect(isPublicAddress(address), address).toBe(true);
    }
  });
});

describe("GuardedFetcher", () => {
  let server: http.Server;
  let base: string;
  const hits: string[] = [];

  beforeAll(async () => {
    server = http.createServer((request, response) => {
      hits.push(request.url ?? "");
      const url = new URL(request.url ?? "/", "http://localhost");
      if (url.pathname === "/hello") {
        response.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
        response.end("hello, world ✓");
      } else if (url.pathname === "/big") {
        response.writeHead(200, { "content-type": "text/plain" });
        response.end("x".repeat(1024 * 1024));
      } else if (url.pathname === "/redirect") {
        response.writeHead(302, { location: url.searchParams.get("to") ?? "/hello" });
        response.end();
      } else if (url.pathname === "/loop") {
        response.writeHead(302, { location: "/loop" });
        response.end();
      } else if (url.pathname === "/slow") {
        response.writeHead(200, { "content-type": "text/plain" });
        response.write("partial");
        // never ends
      } else if (url.pathname === "/latin1") {
        response.writeHead(200, { "content-type": "text/plain; charset=iso-8859-1" });
        response.end(Buffer.from([0x63, 0x61, 0x66, 0xe9]));
      } else {
        response.writeHead(404, { "content-type": "text/plain" });
        response.end("not found");
      }
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it.each([
    "http://127.0.0.1/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "http://0.0.0.0/",
    "http://localhost/",
  ])("refuses %s by default", async (url) => {
    await expect(new GuardedFetcher().fetchText(url, limits)).rejects.toThrow(FetchBlockedError);
  });

  it("refuses the local server by default without connecting", async () => {
    const before = hits.length;
    await expect(new GuardedFetcher().fetchText(`${base}/hello`, limits)).rejects.toThrow(
      /non-public address/,
    );
    expect(hits.length).toBe(before);
  });

  it("refuses a hostname whose DNS answers include a private address", async () => {
    const fetcher = new GuardedFetcher({
      resolve: async () => [
        { address: "93.184.216.34", family: 4 },
        { address: "10.1.2.3", family: 4 },
      ],
    });
    await expect(fetcher.fetchText("http://rebind.example/", limits)).rejects.toThrow(/10\.1\.2\.3/);
  });

  it("refuses non-http schemes", async () => {
    await expect(
      new GuardedFetcher({ allowPrivate: true }).fetchText("file:///etc/passwd", limits),
    ).rejects.toThrow(FetchBlockedError);
  });

  it("fetches a local server when allowPrivate", async () => {
    const result = await new GuardedFetcher({ allowPrivate: true }).fetchText(`${base}/hello`, limits);
    expect(result).toEqual({ status: 200, contentType: "text/plain; charset=utf-8", body: "hello, world ✓" });
  });

  it("connects to the address it resolved, whatever the hostname", async () => {
    const port = (server.address() as AddressInfo).port;
    const fetcher = new GuardedFetcher({
      allowPrivate: true,
      resolve: async () => [{ address: "127.0.0.1", family: 4 }],
    });
    const result = await fetcher.fetchText(`http://pinned.invalid:${port}/hello`, limits);
    expect(result.body).toBe("hello, world ✓");
  });

  it("never reuses a connection another sender opened to an address this fetch did not vet", async () => {
    // Two servers on one port: an internal address, and the public one the name resolves to now.
    const listen = (host: string, port: number, name: string) =>
      new Promise<http.Server>((resolve) => {
        const s = http.createServer((request, response) => {
          request.resume();
          response.end(`answered by ${name}`);
        });
        s.listen(port, host, () => resolve(s));
      });
    const internal = await listen("127.0.0.2", 0, "the internal address");
    const port = (internal.address() as AddressInfo).port;
    const vetted = await listen("127.0.0.3", port, "the vetted address");
    try {
      // A webhook to the name while it pointed inside (allowed for webhooks here) leaves a socket...
      const webhooks = new GuardedWebhookSender({
        allowPrivate: true,
        resolve: async () => [{ address: "127.0.0.2", family: 4 }],
      });
      await webhooks.post(`http://rebind.test:${port}/hook`, "{}", {}, 5_000);
      // ...that web_fetch, which vetted the name's public answer, must not ride.
      const fetcher = new GuardedFetcher({
        resolve: async () => [{ address: "127.0.0.3", family: 4 }],
        isAllowedAddress: (address) => address === "127.0.0.3",
      });
      const result = await fetcher.fetchText(`http://rebind.test:${port}/`, limits);
      expect(result.body).toBe("answered by the vetted address");
    } finally {
      for (const s of [internal, vetted]) {
        s.closeAllConnections();
        await new Promise((resolve) => s.close(resolve));
      }
    }
  });

  it("decodes the declared charset", async () => {
    const result = await new GuardedFetcher({ allowPrivate: true }).fetchText(`${base}/latin1`, limits);
    expect(result.body).toBe("café");
  });

  it("returns non-2xx statuses to the caller", async () => {
    const result = await new GuardedFetcher({ allowPrivate: true }).fetchText(`${base}/missing`, limits);
    expect(result.status).toBe(404);
  });

  it("follows redirects", async () => {
    const result = await new GuardedFetcher({ allowPrivate: true }).fetchText(
      `${base}/redirect?to=/hello`,
      limits,
    );
    expect(result.body).toBe("hello, world ✓");
  });

  it("refuses a redirect to a private address, re-checking each hop", async () => {
    // The guard admits the test server's loopback address (standing in for an attacker's public host),
    // and nothing else that is internal; the server then redirects to the metadata service.
    const fetcher = new GuardedFetcher({
      isAllowedAddress: (address) => address === "127.0.0.1" || isPublicAddress(address),
    });
    const before = hits.length;
    await expect(
      fetcher.fetchText(
        `${base}/redirect?to=${encodeURIComponent("http://169.254.169.254/latest/")}`,
        limits,
      ),
    ).rejects.toThrow(/refusing to fetch 169\.254\.169\.254/);
    await expect(
      fetcher.fetchText(`${base}/redirect?to=${encodeURIComponent("http://10.0.0.1/")}`, limits),
    ).rejects.toThrow(FetchBlockedError);
    expect(hits.length).toBe(before + 2);
    expect((await fetcher.fetchText(`${base}/redirect?to=/hello`, limits)).body).toBe("hello, world ✓");
  });

  it("stops after 5 redirects", async () => {
    await expect(
      new GuardedFetcher({ allowPrivate: true }).fetchText(`${base}/loop`, limits),
    ).rejects.toThrow(/too many redirects/);
  });

  it("cuts a WHATWG fetch's body past maxResponseBytes (the MCP SDK buffers what it reads)", async () => {
    const pinned = guardedFetch(async () => ({ address: "127.0.0.1", family: 4 }), {
      maxResponseBytes: 256 * 1024,
    });
    expect(await (await pinned(`${base}/hello`)).text()).toBe("hello, world ✓");
    const big = await pinned(`${base}/big`);
    expect(big.status).toBe(200);
    await expect(big.text()).rejects.toThrow(/larger than 262144 bytes/);
    // the default leaves room for any sane MCP answer
    const roomy = guardedFetch(async () => ({ address: "127.0.0.1", family: 4 }));
    expect((await (await roomy(`${base}/big`)).text()).length).toBe(1024 * 1024);
  });

  it("cuts the body at maxBytes", async () => {
    const result = await new GuardedFetcher({ allowPrivate: true }).fetchText(`${base}/big`, {
      maxBytes: 1000,
      timeoutMs: 5_000,
    });
    expect(result.body.length).toBe(1000);
  });

  it("times out", async () => {
    await expect(
      new GuardedFetcher({ allowPrivate: true }).fetchText(`${base}/slow`, {
        maxBytes: 1000,
        timeoutMs: 200,
      }),
    ).rejects.toThrow(FetchFailedError);
  });

  it("reports unresolvable hosts", async () => {
    const fetcher = new GuardedFetcher({
      resolve: async () => {
        throw new Error("ENOTFOUND");
      },
    });
    await expect(fetcher.fetchText("http://nowhere.invalid/", limits)).rejects.toThrow(/could not resolve/);
  });
});
