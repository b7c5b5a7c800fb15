/**
 * The console's files without a browser: what is built, how it is served (CSP, ETags, the relative
 * redirect under a stage), and the console's price table against the budget check's.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { listCostUsd as consoleListCost } from "../../shared/console/app/list-prices.js";
import { buildConsoleAssets } from "../../shared/console/console-assets.js";
import { type ConsoleAssets, isConsolePath, serveConsoleAsset } from "../../shared/console/console-http.js";
import { listCostUsd } from "../../shared/core/runtime/budget.js";

let assets: ConsoleAssets;
beforeAll(async () => {
  assets = await buildConsoleAssets();
});

describe("console assets", () => {
  it("builds one small script, a stylesheet and a page naming both by content hash", () => {
    expect(Object.keys(assets).sort()).toEqual(["app.js", "console.css", "index.html"]);
    expect(assets["app.js"]?.body.length).toBeLessThan(150 * 1024);
    const page = assets["index.html"]?.body ?? "";
    expect(page).toMatch(/src="app\.js\?v=[\w-]{12}"/);
    expect(page).toMatch(/href="console\.css\?v=[\w-]{12}"/);
    // Nothing is fetched from elsewhere: no absolute URL in the page.
    expect(page).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it("serves the page with a CSP that allows only its own origin, files by name, deep links as the page", () => {
    const page = serveConsoleAsset(assets, "GET", "/console/");
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("default-src 'none'");
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(page.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
    expect(page.headers["referrer-policy"]).toBe("no-referrer");
    expect(serveConsoleAsset(assets, "GET", "/console/console.css").headers["content-type"]).toContain(
      "text/css",
    );
    expect(serveConsoleAsset(assets, "GET", "/console/sessions/deep").body).toBe(page.body);
    expect(serveConsoleAsset(assets, "HEAD", "/console/app.js").body).toBe("");
  });

  it("answers 304 to a matching ETag, redirects /console relatively, refuses other methods", () => {
    const etag = assets["app.js"]?.etag;
    expect(serveConsoleAsset(assets, "GET", "/console/app.js", etag).status).toBe(304);
    expect(serveConsoleAsset(assets, "GET", "/console")).toMatchObject({
      status: 308,
      headers: { location: "console/" },
    });
    expect(serveConsoleAsset(assets, "DELETE", "/console/").status).toBe(405);
    expect([isConsolePath("/console"), isConsolePath("/console/x"), isConsolePath("/consoles")]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it("prices usage like the budget check does", () => {
    const usage = {
      input_tokens: 12_345,
      output_tokens: 678,
      cache_read_input_tokens: 9_000,
      cache_creation: { ephemeral_5m_input_tokens: 1_000, ephemeral_1h_input_tokens: 500 },
    };
    for (const model of ["claude-opus-4-1", "claude-sonnet-4-6", "claude-haiku-4-5", "something-else"])
      expect(consoleListCost(model, usage)).toBeCloseTo(listCostUsd(model, usage as never), 12);
  });
});
