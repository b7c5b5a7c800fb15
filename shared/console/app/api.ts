/**
 * The console's client for Reverie's public API: the same `/v1` routes, `x-api-key` and beta headers
 * the official SDK sends, over `fetch` from the page's own origin. The key lives in sessionStorage
 * (this tab only, gone when it closes) and is never put in a URL.
 */

const KEY_STORAGE = "reverie.console.apiKey";

/** Where the API is: the console is served at `<base>/console/`, the API at `<base>/v1/…`. */
export const apiBase = ((path: string) => {
  const at = path.search(/\/console(?:\/|$)/);
  return at < 0 ? path : path.slice(0, at);
})(location.pathname);

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}
export function storeKey(key: string | null): void {
  if (key === null) sessionStorage.removeItem(KEY_STORAGE);
  else sessionStorage.setItem(KEY_STORAGE, key);
}

/** The beta header the SDK sends for a path (the API accepts any; sent for fidelity). */
function betaOf(path: string): string {
  if (path.startsWith("/v1/memory_stores")) return "agent-memory-2026-07-22";
  if (path.startsWith("/v1/dreams") || path.startsWith("/v1/dream_schedules")) return "dreaming-2026-04-21";
  if (path.startsWith("/v1/organizations/webhooks")) return "webhooks-2026-10-07";
  if (path.startsWith("/v1/files")) return "files-api-2025-04-14";
  return "managed-agents-2026-04-01";
}

/** The error type `follow` throws when a stream route answers without SSE (callers poll instead). */
export const STREAM_UNAVAILABLE = "stream_unavailable";

/** An answer in Anthropic's error shape (or a network failure, status 0). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export type Query = Record<string, string | number | boolean | string[] | undefined>;

function queryString(query: Query | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const item of v) params.append(`${k}[]`, item);
    else params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

/** A page of a list: the SDK's `data` with either cursor style. */
export interface Page<T> {
  data: T[];
  next_page?: string | null;
  has_more?: boolean;
  last_id?: string | null;
}

export class ReverieApi {
  constructor(readonly key: string) {}

  headers(path: string, extra: Record<string, string> = {}): Record<string, string> {
    return {
      "x-api-key": this.key,
      "anthropic-version": "2023-06-01",
      "anthropic-beta": betaOf(path),
      ...extra,
    };
  }

  async request<T>(
    method: string,
    path: string,
    options: { query?: Query; body?: unknown } = {},
  ): Promise<T> {
    let response: Response;
    try {
      response = await fetch(`${apiBase}${path}${queryString(options.query)}`, {
        method,
        headers: this.headers(path, options.body === undefined ? {} : { "content-type": "application/json" }),
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
      });
    } catch (error) {
      throw new ApiError(0, "network_error", `the API could not be reached (${(error as Error).message})`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as { error?: { type?: string; message?: string } } | undefined)?.error;
      throw new ApiError(
        response.status,
        error?.type ?? "api_error",
        error?.message ?? `${response.status} ${response.statusText}`,
      );
    }
    return parsed as T;
  }

  get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, { query });
  }
  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, { body: body ?? {} });
  }

  /** Every item of a cursor-paged list (bounded by `max`). */
  async all<T>(path: string, query: Query = {}, max = 10_000): Promise<T[]> {
    const out: T[] = [];
    let page: string | undefined;
    for (;;) {
      const result = await this.get<Page<T>>(path, { limit: 100, ...query, page });
      out.push(...result.data);
      if (!result.next_page || out.length >= max) return out;
      page = result.next_page;
    }
  }

  /** A file's bytes (downloads need the key header, so no plain link). */
  async download(path: string): Promise<Blob> {
    const response = await fetch(`${apiBase}${path}`, { headers: this.headers(path) });
    if (!response.ok)
      throw new ApiError(response.status, "api_error", `download failed (${response.status})`);
    return response.blob();
  }

  /**
   * Follows an SSE event stream (`…/events/stream`, `…/threads/{id}/stream`) until `signal` aborts,
   * reconnecting with `Last-Event-ID` (the frame's sequence number) so nothing is missed or repeated.
   */
  async follow(
    path: string,
    onEvent: (event: { id: string; type: string }) => void,
    signal: AbortSignal,
    onState: (state: "live" | "reconnecting") => void = () => {},
  ): Promise<void> {
    let lastSeq: string | undefined;
    let backoffMs = 250;
    while (!signal.aborted) {
      try {
        const response = await fetch(`${apiBase}${path}`, {
          headers: this.headers(path, {
            accept: "text/event-stream",
            ...(lastSeq ? { "last-event-id": lastSeq } : {}),
          }),
          signal,
        });
        // A 400 here is a deployment whose stream route is not streamed (the JSON function answers
        // "use the stream route"): the caller polls instead.
        if (response.status === 400)
          throw new ApiError(400, STREAM_UNAVAILABLE, "this route does not stream here");
        if (!response.ok || !response.body)
          throw new ApiError(response.status, "api_error", "stream refused");
        if (!response.headers.get("content-type")?.startsWith("text/event-stream"))
          throw new ApiError(response.status, STREAM_UNAVAILABLE, "this route does not stream here");
        onState("live");
        backoffMs = 250;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf("\n\n");
          while (end >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf("\n\n");
            let id: string | undefined;
            let type = "message";
            const data: string[] = [];
            for (const line of frame.split("\n")) {
              if (line.startsWith("id:")) id = line.slice(3).trim();
              else if (line.startsWith("event:")) type = line.slice(6).trim();
              else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
            }
            if (id) lastSeq = id;
            if (type === "ping" || data.length === 0) continue;
            onEvent(JSON.parse(data.join("\n")));
          }
        }
      } catch (error) {
        if (signal.aborted) return;
        if (
          error instanceof ApiError &&
          (error.type === STREAM_UNAVAILABLE || (error.status >= 400 && error.status < 500))
        )
          throw error;
      }
      if (signal.aborted) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 5_000);
    }
  }
}
