/**
 * Serving the web console's files (issue 14) from memory, the same way on the embedded stack and in
 * the console Lambda function on AWS: a strict Content-Security-Policy, ETags, and a relative
 * redirect from `/console` to `/console/` so it works under an API Gateway stage.
 */

/** One file of the console: its text, content type and a strong ETag. */
export interface ConsoleAsset {
  body: string;
  contentType: string;
  etag: string;
}

/** The console's files by name (`index.html`, `app.js`, `console.css`). */
export type ConsoleAssets = Record<string, ConsoleAsset>;

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
