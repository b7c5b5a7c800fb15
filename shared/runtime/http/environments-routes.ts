/** Routes of /v1/environments (SDK: client.beta.environments). */
import {
  EnvironmentListQuerySchema,
  parseEnvironmentCreate,
  parseEnvironmentUpdate,
} from "../../contract/environments.js";
import type { EnvironmentsService } from "../../core/environments/environments-service.js";
import { json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

export function addEnvironmentRoutes(router: Router, environments: EnvironmentsService): Router {
  return router
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
    );
}
