import { describe, expect, it } from "vitest";
import type { HttpFetcher } from "../../shared/core/ports.js";
import {
  checkFetchUrl,
  hostMatchesDomain,
  htmlToText,
  WEB_FETCH_LIMITS,
  WebFetchError,
  webFetch,
} from "../../shared/core/tools/web-fetch.js";

type Reply = Awaited<ReturnType<HttpFetcher["fetchText"]>>;

/** A fetcher that records its calls and answers with a fixed reply (or throws). */
function fakeFetcher(
  reply: Reply | Error,
): HttpFetcher & { calls: Array<{ url: string; maxBytes: number }> } {
  const calls: Array<{ url: string; maxBytes: number }> = [];
  return {
    calls,
    async fetchText(url, options) {
      calls.push({ url, maxBytes: options.maxBytes });
      if (reply instanceof Error) throw reply;
      return reply;
    },
  };
}

const ok = (body: string, contentType = "text/plain; charset=utf-8"): Reply => ({
  status: 200,
  contentType,
  body,
});

describe("hostMatchesDomain", () => {
  it("matches the domain and its subdomains only", () => {
    expect(hostMatchesDomain("example.com", "example.com")).toBe(true);
    expect(hostMatchesDomain("docs.Example.com", "example.com")).toBe(true);
    expect(hostMatchesDomain("example.com.", "EXAMPLE.com")).toBe(true);
    expect(hostMatchesDomain("badexample.com", "example.com")).toBe(false);
    expect(hostMatchesDomain("example.com.evil.net", "example.com")).toBe(false);
  });
});

describe("checkFetchUrl", () => {
  it("allows http and https only", () => {
    expect(checkFetchUrl("https://example.com/a").href).toBe("https://example.com/a");
    expect(() => checkFetchUrl("file:///etc/passwd")).toThrow(/only http and https/);
    expect(() => checkFetchUrl("ftp://example.com/")).toThrow(WebFetchError);
    expect(() => checkFetchUrl("not a url")).toThrow(/invalid URL/);
  });

  it("refuses URLs with credentials", () => {
    expect(() => checkFetchUrl("https://user:pw@example.com/")).toThrow(/credentials/);
  });

  it("applies allowed_domains", () => {
    const config = { allowed_domains: ["docs.example.com"] };
    expect(() => checkFetchUrl("https://docs.example.com/x", config)).not.toThrow();
    expect(() => checkFetchUrl("https://api.docs.example.com/x", config)).not.toThrow();
    expect(() => checkFetchUrl("https://example.com/x", config)).toThrow(/allowed_domains/);
  });

  it("applies blocked_domains", () => {
    const config = { blocked_domains: ["ads.example.com"] };
    expect(() => checkFetchUrl("https://ads.example.com/x", config)).toThrow(/blocked_domains/);
    expect(() => checkFetchUrl("https://x.ads.example.com/", config)).toThrow(/blocked_domains/);
    expect(() => checkFetchUrl("https://example.com/", config)).not.toThrow();
  });
});

describe("htmlToText", () => {
  it("drops markup, scripts and styles and decodes entities", () => {
    const html =
      "<html><head><style>p{}</style><script>alert(1)</script></head><body><h1>Title</h1><p>A &amp; B&nbsp;&#x263A;</p><!-- c --></body></html>";
    expect(htmlToText(html)).toBe("Title\n\nA & B \u263A");
  });
});

describe("webFetch", () => {
  it("returns the body with a header", async () => {
    const fetcher = fakeFetcher(ok("hello"));
    const text = await webFetch({ url: "https://example.com/a" }, fetcher);
    expect(text).toBe(
      "URL: https://example.com/a\nStatus: 200\nContent-Type: text/plain; charset=utf-8\n\nhello",
    );
    expect(fetcher.calls).toEqual([{ url: "https://example.com/a", maxBytes: WEB_FETCH_LIMITS.maxBytes }]);
  });

  it("converts HTML to text", async () => {
    const text = await webFetch(
      { url: "https://example.com/" },
      fakeFetcher(ok("<p>Hi <b>there</b></p>", "text/html")),
    );
    expect(text.endsWith("\n\nHi there")).toBe(true);
  });

  it("never calls the fetcher for a refused URL", async () => {
    const fetcher = fakeFetcher(ok("x"));
    await expect(
      webFetch({ url: "https://evil.net/" }, fetcher, { allowed_domains: ["example.com"] }),
    ).rejects.toThrow(WebFetchError);
    await expect(webFetch({ url: "gopher://example.com/" }, fetcher)).rejects.toThrow(WebFetchError);
    expect(fetcher.calls).toHaveLength(0);
  });

  it("caps content to max_content_tokens", async () => {
    const text = await webFetch({ url: "https://example.com/" }, fakeFetcher(ok("y".repeat(1_000))), {
      max_content_tokens: 10,
    });
    expect(text).toContain(`\n\n${"y".repeat(40)}\n\n… truncated`);
    expect(text).not.toContain("y".repeat(41));
  });

  it("caps content by default and notes a body cut on the wire", async () => {
    const long = await webFetch(
      { url: "https://example.com/" },
      fakeFetcher(ok("z".repeat(WEB_FETCH_LIMITS.maxContentChars + 10))),
    );
    expect(long).toMatch(/truncated/);
    const cut = await webFetch(
      { url: "https://example.com/" },
      fakeFetcher(ok("w".repeat(WEB_FETCH_LIMITS.maxBytes))),
      {
        max_content_tokens: WEB_FETCH_LIMITS.maxBytes,
      },
    );
    expect(cut).toMatch(/truncated/);
  });

  it("reports HTTP errors, binary content and fetch failures as WebFetchError", async () => {
    await expect(
      webFetch(
        { url: "https://example.com/" },
        fakeFetcher({ status: 404, contentType: "text/plain", body: "gone" }),
      ),
    ).rejects.toThrow(/HTTP 404:\ngone/);
    await expect(
      webFetch({ url: "https://example.com/" }, fakeFetcher(ok("%PDF", "application/pdf"))),
    ).rejects.toThrow(/cannot show as text/);
    await expect(
      webFetch({ url: "https://example.com/" }, fakeFetcher(new Error("refused: private"))),
    ).rejects.toThrow(/could not fetch https:\/\/example.com\/: refused: private/);
  });

  it("accepts JSON and XML", async () => {
    expect(
      await webFetch({ url: "https://example.com/" }, fakeFetcher(ok('{"a":1}', "application/json"))),
    ).toContain('{"a":1}');
    expect(
      await webFetch({ url: "https://example.com/" }, fakeFetcher(ok("<a/>", "application/atom+xml"))),
    ).toContain("<a/>");
  });
});
