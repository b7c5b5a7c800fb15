/** Routes of /v1/sessions (SDK: client.beta.sessions). */
import { SessionCreateSchema, SessionListQuerySchema, SessionUpdateSchema } from "../../contract/sessions.js";
import { parseBody } from "../../contract/validation.js";
import type { SessionsService } from "../../core/sessions/sessions-service.js";
import { json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import { type Router, SESSION_SCOPE } from "./router.js";

export function addSessionRoutes(router: Router, sessions: SessionsService): Router {
  return router
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
    );
}
