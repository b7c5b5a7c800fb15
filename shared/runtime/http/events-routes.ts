/** Routes of /v1/sessions/{session_id}/events (SDK: client.beta.sessions.events), SSE included. */
import { InvalidRequestError } from "../../contract/errors.js";
import { EventListQuerySchema, EventSendSchema } from "../../contract/events.js";
import { parseBody } from "../../contract/validation.js";
import type { EventsService } from "../../core/events/events-service.js";
import type { SendAttempt } from "../../core/events/send-attempts.js";
import type { HttpRequest } from "./http-types.js";
import { eventStreamResponse, json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
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

/** The longest `Idempotency-Key` taken (it is stored with each event the send writes). */
const MAX_IDEMPOTENCY_KEY = 255;

/**
 * Whether a send says it repeats an earlier request: the SDK's `X-Stainless-Retry-Count` (0 on a
 * first attempt), or a client's own `Idempotency-Key`.
 */
export function sendAttemptOf(request: Pick<HttpRequest, "headers">): SendAttempt {
  const retries = Number(request.headers["x-stainless-retry-count"]?.trim() || 0);
  const key = request.headers["idempotency-key"]?.trim();
  if (key !== undefined && key.length > MAX_IDEMPOTENCY_KEY)
    throw new InvalidRequestError(`Idempotency-Key: at most ${MAX_IDEMPOTENCY_KEY} characters`);
  return { retry: Number.isInteger(retries) && retries >= 1, ...(key ? { idempotencyKey: key } : {}) };
}
