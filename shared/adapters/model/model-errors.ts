/**
 * Maps what the Anthropic SDKs throw (`@anthropic-ai/sdk` and `@anthropic-ai/bedrock-sdk` share the
 * same error classes) onto {@link ModelCallError}, whose kind decides between an SQS-delayed retry
 * and a `session.error`. Both model adapters use this one mapper so that the retry policy does not
 * depend on the provider.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "@anthropic-ai/sdk/core/error";
import { ModelCallError, type ModelFailureKind } from "../../core/ports.js";

/**
 * Bedrock reports its own exception names in `x-amzn-errortype` (e.g. `ThrottlingException:http://…`);
 * a few of them say more than the status code does.
 */
const bedrockErrorKinds: Record<string, ModelFailureKind> = {
  ThrottlingException: "rate_limited",
  ServiceUnavailableException: "overloaded",
  ModelTimeoutException: "timeout",
  ModelErrorException: "server_error",
  InternalServerException: "server_error",
};

/** The retry-relevant kind of a model-call failure, from anything an SDK call may throw. */
export function classifyModelFailure(error: unknown): ModelFailureKind {
  if (error instanceof ModelCallError) return error.kind;
  // Order matters: the timeout and abort classes are subclasses of APIConnectionError / APIError.
  if (error instanceof APIConnectionTimeoutError) return "timeout";
  if (error instanceof APIUserAbortError) return "timeout";
  if (error instanceof APIConnectionError) return "server_error";
  if (error instanceof APIError) {
    const status = error.status;
    // An overloaded_error can also arrive mid-stream (no status) or with a 5xx other than 529.
    if (status === 529 || error.type === "overloaded_error") return "overloaded";
    if (status === 429 || error.type === "rate_limit_error") return "rate_limited";
    const bedrockKind = bedrockErrorKinds[bedrockErrorType(error.headers) ?? ""];
    if (bedrockKind) return bedrockKind;
    if (status === 408) return "timeout";
    if (status === undefined || status >= 500) return "server_error";
    return "invalid_request";
  }
  // Anything else thrown from inside an SDK call (a malformed response, a stream that ended early)
  // is not the request's fault; a bounded retry is the better default than failing the session.
  return "server_error";
}

/**
 * Wraps `error` in a {@link ModelCallError} (returned as is if it already is one), keeping the
 * original as `cause`. `provider` prefixes the message, e.g. `anthropic: 429 rate_limit_error: …`.
 */
export function toModelCallError(error: unknown, provider: string): ModelCallError {
  if (error instanceof ModelCallError) return error;
  const kind = classifyModelFailure(error);
  return new ModelCallError(kind, `${provider}: ${describe(error)}`, { cause: error });
}

function bedrockErrorType(headers: Headers | undefined): string | undefined {
  const raw = headers?.get("x-amzn-errortype");
  return raw ? raw.split(":")[0]?.trim() : undefined;
}

function describe(error: unknown): string {
  if (error instanceof APIError) {
    const parts = [error.status, error.type ?? bedrockErrorType(error.headers)].filter((p) => p != null);
    const text = error.apiMessage ?? error.message;
    return parts.length > 0 ? `${parts.join(" ")}: ${text}` : text;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * A 200 whose body is not a Messages API message (a proxy's error page, a truncated body) is a
 * retryable upstream failure with a clear message, not a TypeError deep in the step.
 */
export function checkedMessage<T>(response: T, provider: string): T {
  const message = response as { type?: unknown; content?: unknown; usage?: unknown } | null;
  if (
    message === null ||
    typeof message !== "object" ||
    !Array.isArray(message.content) ||
    typeof message.usage !== "object" ||
    message.usage === null
  )
    throw new ModelCallError(
      "server_error",
      `${provider} answered 200 with a body that is not a Messages API message`,
    );
  return response;
}
