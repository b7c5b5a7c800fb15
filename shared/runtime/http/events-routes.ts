/** Routes of /v1/sessions/{session_id}/events (SDK: client.beta.sessions.events), SSE included. */
import { EventListQuerySchema, EventSendSchema } from "../../contract/events.js";
import { parseBody } from "../../contract/validation.js";
import type { EventsService } from "../../core/events/events-service.js";
import {
  eventStreamResponse,
  json,
  jsonBody,
  parseListQuery,
  sendAttemptOf,
  workspaceOf as ws,
} from "./request-parsing.js";
import { type Router, SESSION_SCOPE } from "./router.js";

export function addEventRoutes(router: Router, events: EventsService): Router {
  return router
    .add(
      "POST",
      "/v1/sessions/{session_id}/events",
      async (r, p) => {
        const body = parseBody(EventSendSchema, jsonBody(r));
        return json(
          await events.send(ws(r), p.session_id as string, body.events, r.principal?.scope, sendAttemptOf(r)),
        );
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
            r.principal?.scope,
          ),
        ),
      SESSION_SCOPE,
    )
    .add(
      "GET",
      "/v1/sessions/{session_id}/events/stream",
      async (r, p) =>
        eventStreamResponse(r, (options) =>
          events.openStream(ws(r), p.session_id as string, options, r.principal?.scope),
        ),
      SESSION_SCOPE,
    );
}
