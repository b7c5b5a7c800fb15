/**
 * What every route module needs from a request: its JSON body (size-capped), its query (with the
 * SDK's `name[]` arrays), and the JSON / SSE response shapes.
 */
import { ApiError, InvalidRequestError } from "../../contract/errors.js";
import { parseQuery } from "../../contract/validation.js";
import type { Principal } from "../../core/auth/api-keys.js";
import { type DeltaType, deltaTypesOf } from "../../core/events/event-previews.js";
import type { SendAttempt } from "../../core/events/send-attempts.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/**
 * Request bodies are stored as DynamoDB items (≤ 400 KB each, with the event's envelope), so a
 * larger body is refused up front with 413 rather than failing at write time.
 */
export const MAX_BODY_BYTES = 256 * 1024;

export const json = (body: unknown, status = 200): HttpResponse => ({ kind: "json", status, body });

/**
 * What a self-hosted worker may post (its sessions token): the SDK's `read` returns up to 256 KB,
 * which JSON-escaping inflates; the stored result is cut to size (capToolResultEvent).
 */
export const WORKER_MAX_BODY_BYTES = 2 * 1024 * 1024;

/** The body limit of a request: a worker's (sessions token) is larger, for its tool results. */
export const bodyLimitOf = (request: Pick<HttpRequest, "principal">) =>
  request.principal?.scope?.kind === "session" ? WORKER_MAX_BODY_BYTES : MAX_BODY_BYTES;

export function jsonBody(request: HttpRequest): unknown {
  if (!request.body) return {};
  const limit = bodyLimitOf(request);
  if (Buffer.byteLength(request.body) > limit)
    throw new ApiError("request_too_large", `request body is larger than ${limit / 1024} KiB`);
  try {
    return JSON.parse(request.body);
  } catch {
    throw new InvalidRequestError("body: not valid JSON");
  }
}

/** The longest `Idempotency-Key` taken (it is stored with what the request writes). */
const MAX_IDEMPOTENCY_KEY = 255;

/**
 * Whether a request (a send of user events, a run-now) says it repeats an earlier one whose answer
 * was lost: the SDK's `X-Stainless-Retry-Count` (0 on a first attempt), or a client's own
 * `Idempotency-Key`.
 */
export function sendAttemptOf(request: Pick<HttpRequest, "headers">): SendAttempt {
  const retries = Number(request.headers["x-stainless-retry-count"]?.trim() || 0);
  const key = request.headers["idempotency-key"]?.trim();
  if (key !== undefined && key.length > MAX_IDEMPOTENCY_KEY)
    throw new InvalidRequestError(`Idempotency-Key: at most ${MAX_IDEMPOTENCY_KEY} characters`);
  return { retry: Number.isInteger(retries) && retries >= 1, ...(key ? { idempotencyKey: key } : {}) };
}

/** Query params, with the SDK's `name[]=a&name[]=b` arrays gathered under `name`. */
export function queryOf(request: HttpRequest, arrays: string[] = []) {
  const flat: Record<string, string | string[]> = {};
  for (const [key, value] of request.query) {
    const name = key.endsWith("[]") ? key.slice(0, -2) : key;
    if (arrays.includes(name)) flat[name] = [...((flat[name] as string[] | undefined) ?? []), value];
    else if (key !== "beta") flat[key] = key in flat ? [flat[key] as string, value] : value;
  }
  return flat;
}

export function parseListQuery<S extends Parameters<typeof parseQuery>[0]>(
  schema: S,
  request: HttpRequest,
  arrays: string[] = [],
) {
  const flat = queryOf(request, arrays);
  const scalars = Object.fromEntries(Object.entries(flat).filter(([k]) => !arrays.includes(k)));
  const parsed = parseQuery(schema, scalars as Record<string, string>) as Record<string, unknown>;
  for (const name of arrays) if (flat[name]) parsed[name] = flat[name];
  return parsed;
}

export const optionalInt = (value: string | null, name: string) => {
  if (value === null) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidRequestError(`${name}: must be a positive integer`);
  return Number(value);
};

export function sseFrame(type: string, id: string | number | undefined, data: unknown): string {
  return `${id !== undefined ? `id: ${id}\n` : ""}event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The workspace of the authenticated caller (routes run after authentication). */
/** A multipart/form-data body (Files API, skills), parsed by the platform's own FormData; junk is a 400. */
export async function multipartForm(contentType: string, raw: Uint8Array): Promise<FormData> {
  try {
    return await new Request("http://upload.invalid/", {
      method: "POST",
      headers: { "content-type": contentType },
      body: raw,
    }).formData();
  } catch (error) {
    throw new InvalidRequestError(`body: not a valid multipart/form-data body (${(error as Error).message})`);
  }
}

export const workspaceOf = (request: HttpRequest) => (request.principal as Principal).workspaceId;

/**
 * What an event stream yields: a stored event with its sequence number (and, delivered late, the
 * sequence to resume after: `FollowedEvent`), a keep-alive, or a preview (`event_start` /
 * `event_delta`, framed without an id: it cannot be resumed from).
 */
type StreamEntry =
  | "heartbeat"
  | { seq: number; resumeAfter?: number; event: { type: string } }
  | { preview: { type: string } };

/**
 * An SSE response over a session's (or thread's) event log: `open` follows the log from the
 * client's `Last-Event-ID`, and stops when the client goes away or the response ends.
 */
export async function eventStreamResponse(
  request: HttpRequest,
  open: (options: {
    lastEventId?: number | string;
    signal: AbortSignal;
    deltas: ReadonlySet<DeltaType>;
  }) => Promise<AsyncIterable<StreamEntry>>,
): Promise<HttpResponse> {
  // `event_deltas[]=agent.message` (what the SDK sends), checked before the stream opens.
  const deltas = deltaTypesOf(queryOf(request, ["event_deltas"]).event_deltas as string[] | undefined);
  const lastEventId = request.headers["last-event-id"]?.trim();
  const abort = new AbortController();
  request.signal?.addEventListener("abort", () => abort.abort(), { once: true });
  // Either form resumes: the SSE frame's `id:` (a sequence number), or the event's own id (`sevt_…`,
  // what the SDK hands out).
  let resumeFrom: number | string | undefined;
  if (lastEventId && /^\d{1,15}$/.test(lastEventId)) resumeFrom = Number(lastEventId);
  else if (lastEventId) resumeFrom = lastEventId;
  const follow = await open({ lastEventId: resumeFrom, signal: abort.signal, deltas });
  async function* chunks() {
    try {
      yield ": connected\n\n";
      for await (const entry of follow) {
        yield entry === "heartbeat"
          ? sseFrame("ping", undefined, { type: "ping" })
          : "preview" in entry
            ? sseFrame(entry.preview.type, undefined, entry.preview)
            : sseFrame(entry.event.type, entry.resumeAfter ?? entry.seq, entry.event);
      }
    } finally {
      abort.abort();
    }
  }
  return { kind: "sse", status: 200, chunks: chunks() };
}
