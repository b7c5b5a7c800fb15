/**
 * `/v1/dreams` as the SDK calls it (create, list, retrieve, cancel, archive) and the review
 * extension (`GET /v1/dreams/{id}/changes`, `POST /v1/dreams/{id}/apply`).
 */
import {
  DreamScheduleCreateSchema,
  DreamScheduleListQuerySchema,
  DreamScheduleUpdateSchema,
} from "../../contract/dream-schedules.js";
import { DreamApplySchema, DreamCreateSchema, DreamListQuerySchema } from "../../contract/dreams.js";
import { parseBody } from "../../contract/validation.js";
import type { Principal } from "../../core/auth/api-keys.js";
import type { DreamSchedulesService } from "../../core/dreams/dream-schedules-service.js";
import type { DreamCaller, DreamsService } from "../../core/dreams/dreams-service.js";
import type { HttpRequest } from "./http-types.js";
import { json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

const callerOf = (r: HttpRequest): DreamCaller => {
  const principal = r.principal as Principal;
  return { workspaceId: principal.workspaceId, apiKeyId: principal.apiKeyId ?? null };
};

export function addDreamRoutes(
  router: Router,
  dreams: DreamsService,
  schedules?: DreamSchedulesService,
): Router {
  if (schedules) addDreamScheduleRoutes(router, schedules);
  return router
    .add("POST", "/v1/dreams", async (r) =>
      json(await dreams.create(callerOf(r), parseBody(DreamCreateSchema, jsonBody(r)))),
    )
    .add("GET", "/v1/dreams", async (r) =>
      json(await dreams.list(ws(r), parseListQuery(DreamListQuerySchema, r, ["statuses"]) as never)),
    )
    .add("GET", "/v1/dreams/{dream_id}", async (r, p) =>
      json(await dreams.retrieve(ws(r), p.dream_id as string)),
    )
    .add("POST", "/v1/dreams/{dream_id}/cancel", async (r, p) =>
      json(await dreams.cancel(ws(r), p.dream_id as string)),
    )
    .add("POST", "/v1/dreams/{dream_id}/archive", async (r, p) =>
      json(await dreams.archive(ws(r), p.dream_id as string)),
    )
    .add("GET", "/v1/dreams/{dream_id}/changes", async (r, p) =>
      json(await dreams.changes(ws(r), p.dream_id as string)),
    )
    .add("POST", "/v1/dreams/{dream_id}/apply", async (r, p) =>
      json(await dreams.apply(callerOf(r), p.dream_id as string, parseBody(DreamApplySchema, jsonBody(r)))),
    );
}

/** `/v1/dream_schedules` (extension): scheduled dreaming. */
function addDreamScheduleRoutes(router: Router, schedules: DreamSchedulesService): Router {
  const id = (p: Record<string, string>) => p.schedule_id as string;
  return router
    .add("POST", "/v1/dream_schedules", async (r) =>
      json(await schedules.create(callerOf(r), parseBody(DreamScheduleCreateSchema, jsonBody(r)))),
    )
    .add("GET", "/v1/dream_schedules", async (r) =>
      json(await schedules.list(ws(r), parseListQuery(DreamScheduleListQuerySchema, r) as never)),
    )
    .add("GET", "/v1/dream_schedules/{schedule_id}", async (r, p) =>
      json(await schedules.retrieve(ws(r), id(p))),
    )
    .add("POST", "/v1/dream_schedules/{schedule_id}", async (r, p) =>
      json(await schedules.update(ws(r), id(p), parseBody(DreamScheduleUpdateSchema, jsonBody(r)))),
    )
    .add("DELETE", "/v1/dream_schedules/{schedule_id}", async (r, p) =>
      json(await schedules.delete(ws(r), id(p))),
    )
    .add("POST", "/v1/dream_schedules/{schedule_id}/pause", async (r, p) =>
      json(await schedules.setStatus(ws(r), id(p), "paused")),
    )
    .add("POST", "/v1/dream_schedules/{schedule_id}/resume", async (r, p) =>
      json(await schedules.setStatus(ws(r), id(p), "active")),
    );
}
