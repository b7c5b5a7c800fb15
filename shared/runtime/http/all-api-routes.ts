/**
 * Every route module: what the embedded stack serves from one process. On AWS the same modules are
 * split over three functions by bounded context (`apiFunctionOfPath` in shared/infra-spec/rest-api.ts
 * says which serves a path), so that each bundle carries only its own.
 */
import type { ApiRoutes } from "./api.js";
import { memoryApiRoutes } from "./memory-api-routes.js";
import { sessionsApiRoutes } from "./sessions-api-routes.js";
import { workspaceApiRoutes } from "./workspace-api-routes.js";

export const allApiRoutes: readonly ApiRoutes[] = [
  ...sessionsApiRoutes,
  ...memoryApiRoutes,
  ...workspaceApiRoutes,
];
