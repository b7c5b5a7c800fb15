/**
 * The `web_fetch` tool: fetches one http(s) URL through the HttpFetcher port (whose adapter carries the
 * SSRF guard), honouring the tool config's `allowed_domains` / `blocked_domains`, and returns the page
 * as capped text. Fetched content is untrusted (DESIGN.md §7); callers record that it entered context.
 */
import type { BetaManagedAgentsWebFetchToolConfig } from "@anthropic-ai/sdk/resources/beta/agents/agents";
import type { HttpFetcher } from "../ports.js";

/** The `web_fetch` tool input. */
export interface WebFetchInput {
  url: string;
}

export const WEB_FETCH_LIMITS = {
  /** Most bytes read off the wire; longer bodies are cut. */
  maxBytes: 1024 * 1024,
  timeoutMs: 30_000,
  /** Most characters of text returned when the config sets no `max_content_tokens`. */
  maxContentChars: 100 * 1024,
  /** Characters per token, for `max_content_tokens` (a deliberately cautious estimate). */
  charsPerToken: 4,
} as const;

/** A URL the tool will not fetch, or a fetch that failed; the message is shown to the model. */
export class WebFetchError extends Error {
  override name = "WebFetchError";
}

/** The domain rules of a web_fetch config (the other fields do not matter here). */
export type WebFetchDomainConfig = Pick<
  BetaManagedAgentsWebFetchToolConfig,
  "allowed_domains" | "blocked_domains" | "max_content_tokens"
>;

function normaliseHost(host: string): string {
  return host
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
}

/** True when `host` is `domain` or a subdomain of it. */
export function hostMatchesDomain(host: string, domain: string): boolean {
  const h = normaliseHost(host);
  const d = normaliseHost(domain.trim());
  return d !== "" && (h === d || h.endsWith(`.${d}`));
}

/** Parses and vets a URL against the scheme and domain rules; throws WebFetchError when refused. */
export function checkFetchUrl(raw: string, config?: WebFetchDomainConfig): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch (error) {
    throw new WebFetchError(`invalid URL ${JSON.stringify(raw)}`, { cause: error });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new WebFetchError(`only http and https URLs can be fetched, not ${url.protocol}`);
  }
  if (url.username !== "" || url.password !== "") {
    throw new WebFetchError("URLs with embedded credentials are not fetched");
  }
  const host = url.hostname;
  const allowed = config?.allowed_domains;
  if (allowed && allowed.length > 0 && !allowed.some((domain) => hostMatchesDomain(host, domain))) {
    throw new WebFetchError(`${normaliseHost(host)} is not in this agent's allowed_domains`);
  }
  const blocked = config?.blocked_domains;
  if (blocked?.some((domain) => hostMatchesDomain(host, domain))) {
    throw new WebFetchError(`${normaliseHost(host)} is in this agent's blocked_domains`);
  }
  return url;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
  nbsp: " ",
};

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (entity, body: string) => {
    if (body.startsWith("#")) {
      const code =
        body[1] === "x" || body[1] === "X" ? Number.parseInt(body.slice(2), 16) : Number(body.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : entity;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? entity;
  });
}

/**
 * A readable text rendering of an HTML page: scripts and styles dropped, block tags become line breaks.
 *
 * Linear in the page (up to 1 MiB of whatever a server sends): a pattern like `<[^>]+>` that fails
 * retries from every later `<` — a page of a million `<` would stall the process for hours. So each
 * tag pattern here also matches an unclosed rest of the page (`…|$`, or an optional `>`) and hands it
 * back unchanged: once nothing closes a tag, nothing later can either.
 */
export function htmlToText(html: string): string {
  return (
    decodeEntities(
      dropRawTextElements(
        html.replace(/<!--[\s\S]*?(-->|$)/g, (comment, end: string) => (end ? "" : comment)),
      )
        .replace(
          /<\/?(?:p|div|br|li|tr|h[1-6]|section|article|header|footer|pre|blockquote|ul|ol|table)\b[^>]*(>?)/gi,
          (tag, end: string) => (end ? "\n" : tag),
        )
        .replace(/<([^>]*)(>?)/g, (tag, body: string, end: string) => (body && end ? "" : tag)),
    )
      .replace(/[ \t\f\v]+/g, " ")
      // Runs of spaces are single spaces by now, so ` ?` is ` *`, without a run to re-scan.
      .replace(/ ?\n ?/g, "\n")
      .replace(/\n{3,}/g, "\n\n")
      .trim()
  );
}

const RAW_TEXT_OPEN = /<(script|style|noscript|template|svg)\b/gi;
const RAW_TEXT_CLOSE = /<\/(script|style|noscript|template|svg)\s*>/gi;

/**
 * Drops `<script>…</script>` and its kind (what `/<(script|…)\b[\s\S]*?<\/\1\s*>/gi` removes) in one
 * pass: every closing tag is found once, and each opening tag takes the first closing tag of its name
 * after it, so an unclosed `<svg` costs nothing however many follow it.
 */
function dropRawTextElements(html: string): string {
  const closers = new Map<string, Array<{ start: number; end: number }>>();
  for (const m of html.matchAll(RAW_TEXT_CLOSE)) {
    const name = (m[1] ?? "").toLowerCase();
    const list = closers.get(name) ?? [];
    list.push({ start: m.index, end: m.index + m[0].length });
    closers.set(name, list);
  }
  const next = new Map<string, number>();
  let text = "";
  let cursor = 0;
  for (const m of html.matchAll(RAW_TEXT_OPEN)) {
    if (m.index < cursor) continue;
    const name = (m[1] ?? "").toLowerCase();
    const list = closers.get(name) ?? [];
    const from = m.index + m[0].length;
    let i = next.get(name) ?? 0;
    while (i < list.length && (list[i]?.start ?? 0) < from) i++;
    next.set(name, i);
    const close = list[i];
    if (!close) continue;
    text += html.slice(cursor, m.index);
    cursor = close.end;
  }
  return text + html.slice(cursor);
}

const TEXTUAL =
  /^(text\/|application\/(json|xml|xhtml\+xml|javascript|ld\+json|rss\+xml|atom\+xml)|[^;]*\+(json|xml))/i;

/** Runs `web_fetch`: the page's text with a short header, or a WebFetchError. */
export async function webFetch(
  input: WebFetchInput,
  fetcher: HttpFetcher,
  config?: WebFetchDomainConfig,
): Promise<string> {
  const url = checkFetchUrl(input.url, config);
  let response: Awaited<ReturnType<HttpFetcher["fetchText"]>>;
  try {
    response = await fetcher.fetchText(url.href, {
      maxBytes: WEB_FETCH_LIMITS.maxBytes,
      timeoutMs: WEB_FETCH_LIMITS.timeoutMs,
    });
  } catch (error) {
    throw new WebFetchError(`could not fetch ${url.href}: ${(error as Error).message}`, { cause: error });
  }
  const contentType = response.contentType || "application/octet-stream";
  if (response.status < 200 || response.status >= 300) {
    const snippet = response.body.slice(0, 500);
    throw new WebFetchError(`${url.href} answered HTTP ${response.status}${snippet ? `:\n${snippet}` : ""}`);
  }
  if (!TEXTUAL.test(contentType)) {
    throw new WebFetchError(`${url.href} returned ${contentType}, which web_fetch cannot show as text`);
  }
  const cutOnWire = new TextEncoder().encode(response.body).length >= WEB_FETCH_LIMITS.maxBytes;
  const isHtml = /^(text\/html|application\/xhtml\+xml)/i.test(contentType);
  let text = isHtml ? htmlToText(response.body) : response.body;
  const maxChars =
    config?.max_content_tokens && config.max_content_tokens > 0
      ? config.max_content_tokens * WEB_FETCH_LIMITS.charsPerToken
      : WEB_FETCH_LIMITS.maxContentChars;
  const cut = cutOnWire || text.length > maxChars;
  if (text.length > maxChars) text = text.slice(0, maxChars);
  const header = `URL: ${url.href}\nStatus: ${response.status}\nContent-Type: ${contentType}`;
  return `${header}\n\n${text}${cut ? "\n\n… truncated: the page is longer than web_fetch returns" : ""}`;
}
