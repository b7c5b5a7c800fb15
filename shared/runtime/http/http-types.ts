/** The HTTP edge as the route handlers see it, whatever carries it (API Gateway or node:http). */
import type { Principal } from "../../core/auth/api-keys.js";

export interface HttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string | undefined>;
  body: string | undefined;
  /** The body's bytes, for binary uploads (multipart); `body` is their UTF-8 reading. */
  rawBody?: Uint8Array;
  /** Aborts when the client goes away (ends SSE streams at once instead of at their next write). */
  signal?: AbortSignal;
  /** Set by the authorizer (AWS) or the local server's auth step. */
  principal?: Principal;
}

export interface JsonResponse {
  kind: "json";
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** A Server-Sent Events response: each yielded chunk is already SSE-framed text. */
export interface StreamResponse {
  kind: "sse";
  status: 200;
  chunks: AsyncIterable<string>;
}

/** Raw bytes (file downloads). */
export interface BinaryResponse {
  kind: "binary";
  status: number;
  body: Uint8Array;
  headers: Record<string, string>;
}

export type HttpResponse = JsonResponse | StreamResponse | BinaryResponse;
