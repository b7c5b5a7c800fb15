/**
 * The API: every route of the Managed Agents beta that this server implements, bound to the core
 * services, with Anthropic's error shape at the edge. Both the Lambda entries and the local server
 * call `handle`.
 */
import { randomUUID } from "node:crypto";
import * as z from "zod";
import { AgentCreateSchema, AgentListQuerySchema, AgentUpdateSchema } from "../../contract/agents.js";
import {
  EnvironmentListQuerySchema,
  parseEnvironmentCreate,
  parseEnvironmentUpdate,
} from "../../contract/environments.js";
import { ApiError, authenticationFailure, InvalidRequestError } from "../../contract/errors.js";
import { EventListQuerySchema, EventSendSchema } from "../../contract/events.js";
import { SessionCreateSchema, SessionListQuerySchema, SessionUpdateSchema } from "../../contract/sessions.js";
import { pageCursorSchema, pageLimitSchema, parseBody } from "../../contract/validation.js";
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
import { addDeploymentRoutes } from "./deployments-routes.js";
import { addDreamRoutes } from "./dreams-routes.js";
import { addFileRoutes } from "./files-routes.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import { addMemoryRoutes, type MemoryRouteServices } from "./memory-routes.js";
import { addOutcomeRoutes } from "./outcomes-routes.js";
import { logRequest } from "./request-log.js";
import {
  eventStreamResponse,
  json,
  jsonBody,
  optionalInt,
  parseListQuery,
  workspaceOf as ws,
} from "./request-parsing.js";
import { Router, SESSION_SCOPE } from "./router.js";
import { addSessionResourceRoutes } from "./session-resources-routes.js";
import { addSkillRoutes } from "./skills-routes.js";
import { addThreadRoutes } from "./threads-routes.js";
import { addVaultRoutes, type VaultRouteServices } from "./vaults-routes.js";
import { addWebhookRoutes } from "./webhooks-routes.js";
import { addWorkRoutes } from "./work-routes.js";

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

const AgentVersionListQuerySchema = z.object({ limit: pageLimitSchema, page: pageCursorSchema });

export function createApi(services: ApiServices) {
  const { agents, environments, sessions, events } = services;
  const router = new Router()
    .add("GET", "/health", async () => json({ status: "ok" }), { public: true })
    // agents
    .add("POST", "/v1/agents", async (r) =>
      json(await agents.create(ws(r), parseBody(AgentCreateSchema, jsonBody(r)))),
    )
    .add("GET", "/v1/agents", async (r) =>
      json(await agents.list(ws(r), parseListQuery(AgentListQuerySchema, r) as never)),
    )
    .add("GET", "/v1/agents/{agent_id}", async (r, p) =>
      json(
        await agents.retrieve(ws(r), p.agent_id as string, optionalInt(r.query.get("version"), "version")),
      ),
    )
    .add("POST", "/v1/agents/{agent_id}", async (r, p) =>
      json(await agents.update(ws(r), p.agent_id as string, parseBody(AgentUpdateSchema, jsonBody(r)))),
    )
    .add("POST", "/v1/agents/{agent_id}/archive", async (r, p) =>
      json(await agents.archive(ws(r), p.agent_id as string)),
    )
    .add("GET", "/v1/agents/{agent_id}/versions", async (r, p) =>
      json(
        await agents.listVersions(
          ws(r),
          p.agent_id as string,
          parseListQuery(AgentVersionListQuerySchema, r) as never,
        ),
      ),
    )
    // environments
    .add("POST", "/v1/environments", async (r) =>
      json(await environments.create(ws(r), parseEnvironmentCreate(jsonBody(r)))),
    )
    .add("GET", "/v1/environments", async (r) =>
      json(await environments.list(ws(r), parseListQuery(EnvironmentListQuerySchema, r) as never)),
    )
    .add("GET", "/v1/environments/{environment_id}", async (r, p) =>
      json(await environments.retrieve(ws(r), p.environment_id as string)),
    )
    .add("POST", "/v1/environments/{environment_id}", async (r, p) =>
      json(await environments.update(ws(r), p.environment_id as string, parseEnvironmentUpdate(jsonBody(r)))),
    )
    .add("DELETE", "/v1/environments/{environment_id}", async (r, p) =>
      json(await environments.delete(ws(r), p.environment_id as string)),
    )
    .add("POST", "/v1/environments/{environment_id}/archive", async (r, p) =>
      json(await environments.archive(ws(r), p.environment_id as string)),
    )
    // sessions
    .add("POST", "/v1/sessions", async (r) =>
      json(await sessions.create(ws(r), parseBody(SessionCreateSchema, jsonBody(r)))),
    )
    .add("GET", "/v1/sessions", async (r) =>
      json(await sessions.list(ws(r), parseListQuery(SessionListQuerySchema, r, ["statuses"]) as never)),
    )
    .add(
      "GET",
      "/v1/sessions/{session_id}",
      async (r, p) => json(await sessions.retrieve(ws(r), p.session_id as string)),
      SESSION_SCOPE,
    )
    .add("POST", "/v1/sessions/{session_id}", async (r, p) =>
      json(await sessions.update(ws(r), p.session_id as string, parseBody(SessionUpdateSchema, jsonBody(r)))),
    )
    .add("DELETE", "/v1/sessions/{session_id}", async (r, p) =>
      json(await sessions.delete(ws(r), p.session_id as string)),
    )
    .add("POST", "/v1/sessions/{session_id}/archive", async (r, p) =>
      json(await sessions.archive(ws(r), p.session_id as string)),
    )
    // events
    .add(
      "POST",
      "/v1/sessions/{session_id}/events",
      async (r, p) => {
        const body = parseBody(EventSendSchema, jsonBody(r));
        return json(await events.send(ws(r), p.session_id as string, body.events, r.principal?.scope));
      },
      SESSION_SCOPE,
    )
    .add(
      "GET",
      "/v1/sessions/{session_id}/events",
      async (r, p) =>
        json(
          await events.list(
            ws(r),
            p.session_id as string,
            parseListQuery(EventListQuerySchema, r, ["types"]) as never,
          ),
        ),
      SESSION_SCOPE,
    )
    .add(
      "GET",
      "/v1/sessions/{session_id}/events/stream",
      async (r, p) =>
        eventStreamResponse(r, (options) => events.openStream(ws(r), p.session_id as string, options)),
      SESSION_SCOPE,
    );
  if (services.work) addWorkRoutes(router, services.work.service, services.work.keys);
  if (services.threads) addThreadRoutes(router, services.threads);
  if (services.files) addFileRoutes(router, services.files.service, services.files);
  if (services.skills) addSkillRoutes(router, services.skills.service, services.skills);

  addMemoryRoutes(router, services);
  if (services.dreams) addDreamRoutes(router, services.dreams, services.dreamSchedules);
  if (services.deployments) addDeploymentRoutes(router, services.deployments);
  addSessionResourceRoutes(router, services.sessionResources);
  if (services.outcomes) addOutcomeRoutes(router, services.outcomes);
  if (services.webhooks) addWebhookRoutes(router, services.webhooks);
  if (services.vaults) addVaultRoutes(router, services.vaults);

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
      return response;
    } catch (error) {
      if (error instanceof ApiError) {
        return {
          kind: "json",
          status: error.status,
          body: error.toBody(requestId),
          headers: { "request-id": requestId },
        };
      }
      services.logger.error("unhandled error", {
        requestId,
        path: request.path,
        error: String((error as Error)?.stack ?? error),
      });
      const internal = new ApiError("api_error", "internal server error");
      return {
        kind: "json",
        status: 500,
        body: internal.toBody(requestId),
        headers: { "request-id": requestId },
      };
    }
  }

  return { handle, router };
}

export type Api = ReturnType<typeof createApi>;
