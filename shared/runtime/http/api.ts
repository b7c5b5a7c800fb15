/**
 * The API: the routes a process serves (route modules, one per bounded context), bound to the core
 * services, with Anthropic's error shape at the edge. Both the Lambda entries and the local server
 * call `handle`.
 */
import { randomUUID } from "node:crypto";
import {
  ApiError,
  authenticationFailure,
  ConflictError,
  InvalidRequestError,
} from "../../contract/errors.js";
import type { AgentsService } from "../../core/agents/agents-service.js";
import { type ApiKeys, credentialOf } from "../../core/auth/api-keys.js";
import type { ScopedAccess } from "../../core/auth/scoped-access.js";
import type { DeploymentsService } from "../../core/deployments/deployments-service.js";
import type { DreamSchedulesService } from "../../core/dreams/dream-schedules-service.js";
import type { DreamsService } from "../../core/dreams/dreams-service.js";
import type { EnvironmentKeysService } from "../../core/environments/environment-keys.js";
import type { EnvironmentsService } from "../../core/environments/environments-service.js";
import type { WorkService } from "../../core/environments/work-service.js";
import type { EventsService } from "../../core/events/events-service.js";
import type { FilesService } from "../../core/files/files-service.js";
import type { OutcomesService } from "../../core/outcomes/outcomes-service.js";
import type { Logger } from "../../core/ports.js";
import type { SessionResourcesService } from "../../core/sessions/session-resources.js";
import type { SessionsService } from "../../core/sessions/sessions-service.js";
import type { SkillsService } from "../../core/skills/skills-service.js";
import type { ThreadsService } from "../../core/threads/threads-service.js";
import type { WebhooksService } from "../../core/webhooks/webhooks-service.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import type { MemoryRouteServices } from "./memory-routes.js";
import { logRequest } from "./request-log.js";
import { json, sseFrame } from "./request-parsing.js";
import { Router } from "./router.js";
import type { VaultRouteServices } from "./vaults-routes.js";

export interface ApiServices extends MemoryRouteServices {
  agents: AgentsService;
  environments: EnvironmentsService;
  sessions: SessionsService;
  events: EventsService;
  apiKeys: ApiKeys;
  logger: Logger;
  dreams?: DreamsService;
  dreamSchedules?: DreamSchedulesService;
  deployments?: DeploymentsService;
  sessionResources: SessionResourcesService;
  outcomes?: OutcomesService;
  webhooks?: WebhooksService;
  threads?: ThreadsService;
  files?: { service: FilesService; maxBytes: number };
  /** Skills and their versions (/v1/skills); uploads share the Files API's size limit. */
  skills?: { service: SkillsService; maxBytes: number };
  /** Self-hosted environments: the work queue, environment keys, and what scoped credentials may reach. */
  work?: { service: WorkService; keys: EnvironmentKeysService; access: ScopedAccess };
  /** Vaults and credentials (/v1/vaults). */
  vaults?: VaultRouteServices;
}

/** Longest id a path segment may carry. */
const MAX_PATH_ID_LENGTH = 256;

/**
 * One route module's routes, added to `router` from the services (nothing when the services it
 * serves are not wired in this process).
 */
export type ApiRoutes = (router: Router, services: ApiServices) => void;

/**
 * The API over `routes`: each process serves the route modules of its bounded contexts
 * (sessions-api-routes.ts, memory-api-routes.ts, workspace-api-routes.ts; all of them:
 * all-api-routes.ts), so a Lambda bundle carries only its own routes. `GET /health` is always served.
 */
export function createApi(services: ApiServices, routes: readonly ApiRoutes[] = []) {
  const router = new Router().add("GET", "/health", async () => json({ status: "ok" }), { public: true });
  for (const add of routes) add(router, services);

  /** Handles one request: auth, routing, validation and errors in Anthropic's shape; logs one line. */
  async function handle(request: HttpRequest): Promise<HttpResponse> {
    const startedAt = performance.now();
    const requestId = `req_${randomUUID().replaceAll("-", "")}`;
    const seen: { route?: string } = {};
    const response = await respond(request, requestId, seen);
    const fields = {
      method: request.method.toUpperCase(),
      route: seen.route ?? "unmatched",
      requestId,
      workspaceId: request.principal?.workspaceId,
      startedAt,
    };
    return logRequest(services.logger, fields, response);
  }

  async function respond(
    request: HttpRequest,
    requestId: string,
    seen: { route?: string },
  ): Promise<HttpResponse> {
    try {
      const matched = router.match(request.method.toUpperCase(), request.path);
      if (!("miss" in matched)) seen.route = matched.route.path;
      if ("miss" in matched) {
        if (matched.miss === "method_not_allowed")
          throw new InvalidRequestError(`${request.method} is not allowed on ${request.path}`);
        throw new ApiError("not_found_error", `no route for ${request.method} ${request.path}`);
      }
      // No resource has an id this long: a 404, before any store is asked (keys are ≤ 1,024 bytes).
      for (const [name, value] of Object.entries(matched.params))
        if (value.length > MAX_PATH_ID_LENGTH)
          throw new ApiError("not_found_error", `${name}: no such resource`);
      if (!matched.route.public) {
        const credential = credentialOf(request.headers);
        request.principal ??= await services.apiKeys.resolve(credential);
        if (!request.principal) throw authenticationFailure(credential);
        if (request.principal.scope) {
          if (!services.work)
            throw new ApiError("permission_error", "scoped credentials are not accepted here");
          await services.work.access.check(request.principal, matched.route, matched.params, request.method);
        }
      }
      const response = await matched.route.handler(request, matched.params);
      if (response.kind === "json") response.headers = { ...response.headers, "request-id": requestId };
      if (response.kind === "sse")
        return { ...response, chunks: endingInError(response.chunks, request, requestId) };
      return response;
    } catch (error) {
      const apiError = asApiError(error, request, requestId);
      return {
        kind: "json",
        status: apiError.status,
        body: apiError.toBody(requestId),
        headers: { "request-id": requestId, ...retryAdvice(apiError) },
      };
    }
  }

  /** `error` in Anthropic's shape; anything but an ApiError is logged and becomes a bare 500. */
  function asApiError(error: unknown, request: HttpRequest, requestId: string): ApiError {
    if (error instanceof ApiError) return error;
    services.logger.error("unhandled error", {
      requestId,
      path: request.path,
      error: String((error as Error)?.stack ?? error),
    });
    return new ApiError("api_error", "internal server error");
  }

  /**
   * A stream that fails once its response has begun (its status is sent) ends with an `error` frame,
   * as Anthropic's streams do: the SDK raises it. Ending the response as if the stream were done would
   * tell the client there is nothing more, and it would not reconnect.
   */
  async function* endingInError(chunks: AsyncIterable<string>, request: HttpRequest, requestId: string) {
    try {
      yield* chunks;
    } catch (error) {
      yield sseFrame("error", undefined, asApiError(error, request, requestId).toBody(requestId));
    }
  }

  return { handle, router };
}

export type Api = ReturnType<typeof createApi>;

/**
 * Whether a client should send the request again: the official SDK retries a 409 (twice, with
 * backoff) unless told otherwise, and most of Reverie's 409s are final (a running session, a stale
 * version, a path in use) — only a ConflictError marked retryable says so.
 */
export function retryAdvice(error: ApiError): Record<string, string> {
  if (error.status !== 409) return {};
  return { "x-should-retry": String(error instanceof ConflictError && error.retryable) };
}
