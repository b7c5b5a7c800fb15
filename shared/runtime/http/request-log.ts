/**
 * One structured INFO line per API request (issue 14): method, route template, status, duration and
 * request id — ids only, never a body, a query value or a credential. An SSE response is logged when
 * its stream ends, with the time it stayed open and the frames it sent.
 */
import type { Logger } from "../../core/ports.js";
import type { HttpResponse } from "./http-types.js";

/** What the request line says; `route` is the matched template (`/v1/sessions/{session_id}`). */
export interface RequestLogFields {
  method: string;
  /** The route template, or `unmatched` when no route matched the path. */
  route: string;
  requestId: string;
  workspaceId?: string;
  /** `performance.now()` when the request arrived. */
  startedAt: number;
}

/** The message every request line carries (what a log query filters on). */
export const REQUEST_LOG_MESSAGE = "api request";

const elapsed = (startedAt: number) => Math.round(performance.now() - startedAt);

/** The error type of an Anthropic-shaped error body (`invalid_request_error`, …), if it is one. */
function errorTypeOf(body: unknown): string | undefined {
  const error = (body as { error?: { type?: unknown } } | undefined)?.error;
  return typeof error?.type === "string" ? error.type : undefined;
}

/**
 * Logs `response` for a request and returns it; an SSE response comes back with its chunks wrapped
 * so that the line is written when the stream ends (client gone, server stopping or done).
 */
export function logRequest(logger: Logger, fields: RequestLogFields, response: HttpResponse): HttpResponse {
  const { startedAt, ...ids } = fields;
  if (response.kind !== "sse") {
    logger.info(REQUEST_LOG_MESSAGE, {
      ...ids,
      status: response.status,
      durationMs: elapsed(startedAt),
      ...(response.kind === "json" && response.status >= 400
        ? { errorType: errorTypeOf(response.body) }
        : {}),
    });
    return response;
  }
  const source = response.chunks;
  async function* chunks() {
    let frames = 0;
    try {
      for await (const chunk of source) {
        frames++;
        yield chunk;
      }
    } finally {
      logger.info(REQUEST_LOG_MESSAGE, {
        ...ids,
        status: response.status,
        durationMs: elapsed(startedAt),
        stream: true,
        frames,
      });
    }
  }
  return { ...response, chunks: chunks() };
}
