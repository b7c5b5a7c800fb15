/**
 * The web console's static assets (issue 14): the browser app under `app/` bundled by esbuild into one
 * script, with its page and stylesheet, held in memory. The embedded stack builds them on the first
 * request for `/console/`; the CDK stack builds them at synth into the console function's asset
 * (infra/aws/reverie-console.ts). Both serve them with {@link serveConsoleAsset}.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** One file of the console: its bytes, content type and a strong ETag. */
export interface ConsoleAsset {
  body: string;
  contentType: string;
  etag: string;
}

/** The console's files by name (`index.html`, `app.js`, `console.css`). */
export type ConsoleAssets = Record<string, ConsoleAsset>;

/** The console could not be built (esbuild missing or the app does not compile). */
export class ConsoleBuildError extends Error {
  override name = "ConsoleBuildError";
}

const asset = (body: string, contentType: string): ConsoleAsset => ({
  body,
  contentType,
  etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
});

/**
 * Bundles the browser app with esbuild (minified, ES2022, no network) and reads the page and
 * stylesheet; the page references the script and stylesheet by content hash so a new build is never
 * served from a stale cache.
 */
export async function buildConsoleAssets(): Promise<ConsoleAssets> {
  let esbuild: typeof import("esbuild");
  try {
    esbuild = await import("esbuild");
  } catch (error) {
    throw new ConsoleBuildError("esbuild is not installed: run npm ci to build the console", {
      cause: error,
    });
  }
  let script: string;
  try {
    const result = await esbuild.build({
      entryPoints: [join(here, "app", "main.ts")],
      bundle: true,
      write: false,
      format: "esm",
      target: "es2022",
      platform: "browser",
      minify: true,
      legalComments: "none",
      logLevel: "silent",
    });
    script = result.outputFiles[0]?.text ?? "";
  } catch (error) {
    throw new ConsoleBuildError(`the console app does not build: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const css = readFileSync(join(here, "console.css"), "utf8");
  const app = asset(script, "text/javascript; charset=utf-8");
  const styles = asset(css, "text/css; charset=utf-8");
  const page = readFileSync(join(here, "index.html"), "utf8")
    .replace("app.js", `app.js?v=${app.etag.slice(1, 13)}`)
    .replace("console.css", `console.css?v=${styles.etag.slice(1, 13)}`);
  return { "index.html": asset(page, "text/html; charset=utf-8"), "app.js": app, "console.css": styles };
}

/** What {@link serveConsoleAsset} answers: a status, headers and a body (text). */
export interface ConsoleResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The page may load only its own script and stylesheet and talk only to its own origin (the API it
 * is served beside); nothing frames it and it sends no referrer (its URLs never carry the key, but
 * resource ids are nobody else's business).
 */
export const CONSOLE_SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

/** True for the paths the console owns: `/console` and everything under `/console/`. */
export function isConsolePath(path: string): boolean {
  return path === "/console" || path.startsWith("/console/");
}

/**
 * Answers a GET for a console path (`path` as the API sees it, without any stage prefix):
 * `/console` redirects to `/console/` (relative, so it works under an API Gateway stage), `/console/`
 * is the page, `/console/<file>` a file; anything else under it is the page too (deep links).
 */
export function serveConsoleAsset(
  assets: ConsoleAssets,
  method: string,
  path: string,
  ifNoneMatch?: string,
): ConsoleResponse {
  if (method !== "GET" && method !== "HEAD")
    return { status: 405, headers: { allow: "GET, HEAD", "content-type": "text/plain" }, body: "" };
  if (path === "/console")
    return { status: 308, headers: { location: "console/", "content-type": "text/plain" }, body: "" };
  const name = path.slice("/console/".length);
  const file = assets[name] ?? assets["index.html"];
  if (!file) return { status: 404, headers: { "content-type": "text/plain" }, body: "not found" };
  const headers: Record<string, string> = {
    ...CONSOLE_SECURITY_HEADERS,
    "content-type": file.contentType,
    etag: file.etag,
    "cache-control": "no-cache",
  };
  if (ifNoneMatch === file.etag) return { status: 304, headers, body: "" };
  return { status: 200, headers, body: method === "HEAD" ? "" : file.body };
}
