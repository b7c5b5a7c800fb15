/**
 * API errors in Anthropic's shape. Core code throws these; the HTTP edge maps them to
 * `{"type":"error","error":{"type":…,"message":…},"request_id":…}` with the matching status.
 */
export type ApiErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "permission_error"
  | "not_found_error"
  | "conflict_error"
  | "memory_path_conflict_error"
  | "memory_precondition_failed_error"
  | "precondition_failed_error"
  | "request_too_large"
  | "rate_limit_error"
  | "api_error"
  | "overloaded_error";

const statusOf: Record<ApiErrorType, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  conflict_error: 409,
  memory_path_conflict_error: 409,
  memory_precondition_failed_error: 409,
  precondition_failed_error: 412,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 529,
};

/** Base class of every error that reaches a client. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: number;
  constructor(
    readonly type: ApiErrorType,
    message: string,
    options?: { cause?: unknown; extra?: Record<string, unknown> },
  ) {
    super(message, options);
    this.status = statusOf[type];
    this.extra = options?.extra;
  }
  readonly extra: Record<string, unknown> | undefined;

  toBody(requestId: string) {
    return {
      type: "error" as const,
      error: { type: this.type, message: this.message, ...this.extra },
      request_id: requestId,
    };
  }
}

export class InvalidRequestError extends ApiError {
  override name = "InvalidRequestError";
  constructor(message: string, options?: { cause?: unknown }) {
    super("invalid_request_error", message, options);
  }
}

export class NotFoundError extends ApiError {
  override name = "NotFoundError";
  constructor(kind: string, id: string) {
    super("not_found_error", `${kind} ${id} not found`);
  }
}

/**
 * A 409. `retryable`: the same request, sent again at once, may succeed (a concurrent change that a
 * re-read settles). Otherwise it is final — the state it conflicts with stays until someone changes
 * it — and the answer says so (`x-should-retry: false`), so the official SDK, which retries a 409
 * twice with backoff by default, hands it to the caller at once.
 */
export class ConflictError extends ApiError {
  override name = "ConflictError";
  readonly retryable: boolean;
  constructor(message: string, options: { extra?: Record<string, unknown>; retryable?: boolean } = {}) {
    super("conflict_error", message, { extra: options.extra });
    this.retryable = options.retryable === true;
  }
}

/** The 401 for a request whose credential is missing, or is not a key this server knows. */
export function authenticationFailure(credential: string | undefined): AuthenticationError {
  return new AuthenticationError(
    credential
      ? "invalid API key: this key is not known here (revoked, or from another deployment)"
      : "missing API key: send it as `Authorization: Bearer <key>` (what the SDK sends) or `x-api-key`",
  );
}

export class AuthenticationError extends ApiError {
  override name = "AuthenticationError";
  constructor(message = "invalid x-api-key") {
    super("authentication_error", message);
  }
}
