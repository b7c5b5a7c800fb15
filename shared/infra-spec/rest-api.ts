/**
 * The REST API's settings as data, shared by the CDK stack (infra/aws/reverie-runtime.ts) and the
 * API Gateway front of the AWS-on-moto tests (test/moto/api-gateway-front.ts), so both treat the
 * same requests and responses as binary and route the same paths to the same functions.
 */

/**
 * Content types API Gateway passes to the function base64-encoded (request bodies whose
 * Content-Type matches) and converts back to bytes (responses marked `isBase64Encoded` when the
 * request's first Accept type matches). Uploads are multipart. The SDK downloads files and skill
 * versions with `Accept: application/binary`: without that type here API Gateway hands the client
 * the base64 text instead of the file (found by test/moto's front, which applies that rule).
 */
export const restApiBinaryMediaTypes = [
  "multipart/form-data",
  "application/octet-stream",
  "application/binary",
];

/** The stage the SDK's base URL ends with (`…/prod`). */
export const restApiDefaultStageName = "prod";

/**
 * The API functions other than `api` and the top-level collections under `/v1/` each serves, with
 * everything below them; every other path goes to `api` (agents, environments, sessions, and
 * `GET /health`), except the event streams, which `api-stream` serves ({@link restApiStreamOf}). The API's route modules are
 * split the same way (shared/runtime/http/*-api-routes.ts; a test keeps the two in step).
 */
export const restApiFunctionCollections = {
  "api-memory": ["memory_stores", "dreams", "dream_schedules"],
  "api-workspace": ["files", "skills", "vaults", "organizations", "deployments", "deployment_runs"],
} as const;

export type RestApiFunction = "api" | keyof typeof restApiFunctionCollections;

/** The function serving a JSON route's path (`/v1/memory_stores/…` → `api-memory`). */
export function restApiFunctionOf(path: string): RestApiFunction {
  const collection = path.split("/").filter(Boolean)[1];
  for (const [name, collections] of Object.entries(restApiFunctionCollections))
    if (path.startsWith("/v1/") && (collections as readonly string[]).includes(collection ?? ""))
      return name as RestApiFunction;
  return "api";
}

/**
 * The SSE routes `api-stream` serves through response streaming: a session's event stream and a
 * thread's. Each is a resource of its own with a GET method only.
 */
const restApiStreams = [
  {
    resource: "/v1/sessions/{session_id}/events/stream",
    pattern: /^\/v1\/sessions\/([^/]+)\/events\/stream$/,
    parameters: ["session_id"],
  },
  {
    resource: "/v1/sessions/{session_id}/threads/{thread_id}/stream",
    pattern: /^\/v1\/sessions\/([^/]+)\/threads\/([^/]+)\/stream$/,
    parameters: ["session_id", "thread_id"],
  },
] as const;

export const restApiStreamResources: readonly string[] = restApiStreams.map((s) => s.resource);

/** The stream resource a path is, with its path parameters; undefined for any other path. */
export function restApiStreamOf(
  path: string,
): { resource: string; pathParameters: Record<string, string> } | undefined {
  for (const stream of restApiStreams) {
    const match = stream.pattern.exec(path);
    if (!match) continue;
    const pathParameters = Object.fromEntries(
      stream.parameters.map((name, i) => [name, decodeURIComponent(match[i + 1] as string)]),
    );
    return { resource: stream.resource, pathParameters };
  }
  return undefined;
}
