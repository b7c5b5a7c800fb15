/** Routes of /v1/sessions/{id}/resources: list, retrieve, add, update, delete. */
import {
  ResourceAddSchema,
  ResourceListQuerySchema,
  ResourceUpdateSchema,
  sessionResourceParamsSchema,
} from "../../contract/session-resources.js";
import { parseBody } from "../../contract/validation.js";
import type { SessionResourcesService } from "../../core/sessions/session-resources.js";
import { json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

/** Adds the session resource routes to `router`. */
export function addSessionResourceRoutes(router: Router, sessionResources: SessionResourcesService): Router {
  return router
    .add("GET", "/v1/sessions/{session_id}/resources", async (r, p) =>
      json(
        await sessionResources.list(
          ws(r),
          p.session_id as string,
          parseListQuery(ResourceListQuerySchema, r) as { limit: number; page?: string },
        ),
      ),
    )
    .add("POST", "/v1/sessions/{session_id}/resources", async (r, p) => {
      const body = jsonBody(r);
      // the SDK types only `file` here; other types parse too, so the answer names what is unsupported
      parseBody(sessionResourceParamsSchema, body);
      return json(
        await sessionResources.add(ws(r), p.session_id as string, parseBody(ResourceAddSchema, body)),
      );
    })
    .add("GET", "/v1/sessions/{session_id}/resources/{resource_id}", async (r, p) =>
      json(await sessionResources.retrieve(ws(r), p.session_id as string, p.resource_id as string)),
    )
    .add("POST", "/v1/sessions/{session_id}/resources/{resource_id}", async (r, p) => {
      parseBody(ResourceUpdateSchema, jsonBody(r));
      return json(await sessionResources.update(ws(r), p.session_id as string, p.resource_id as string));
    })
    .add("DELETE", "/v1/sessions/{session_id}/resources/{resource_id}", async (r, p) =>
      json(await sessionResources.delete(ws(r), p.session_id as string, p.resource_id as string)),
    );
}
