/** Routes of /v1/sessions/{session_id}/threads (SDK: client.beta.sessions.threads). */
import * as z from "zod";
import { EventListQuerySchema } from "../../contract/events.js";
import { lazySchema } from "../../contract/lazy-schema.js";
import { pageCursorSchema, pageLimitSchema } from "../../contract/validation.js";
import type { ThreadsService } from "../../core/threads/threads-service.js";
import { eventStreamResponse, json, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

/** GET /v1/sessions/{id}/threads query (SDK: ThreadListParams). */
export const ThreadListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    statuses: z.array(z.enum(["running", "idle", "rescheduling", "terminated"])).optional(),
  }),
);

export function addThreadRoutes(router: Router, threads: ThreadsService): Router {
  return router
    .add("GET", "/v1/sessions/{session_id}/threads", async (r, p) =>
      json(
        await threads.list(
          ws(r),
          p.session_id as string,
          parseListQuery(ThreadListQuerySchema, r, ["statuses"]) as never,
        ),
      ),
    )
    .add("GET", "/v1/sessions/{session_id}/threads/{thread_id}", async (r, p) =>
      json(await threads.retrieve(ws(r), p.session_id as string, p.thread_id as string)),
    )
    .add("POST", "/v1/sessions/{session_id}/threads/{thread_id}/archive", async (r, p) =>
      json(await threads.archive(ws(r), p.session_id as string, p.thread_id as string)),
    )
    .add("GET", "/v1/sessions/{session_id}/threads/{thread_id}/events", async (r, p) =>
      json(
        await threads.listEvents(
          ws(r),
          p.session_id as string,
          p.thread_id as string,
          parseListQuery(EventListQuerySchema, r, ["types"]) as never,
        ),
      ),
    )
    .add("GET", "/v1/sessions/{session_id}/threads/{thread_id}/stream", async (r, p) => {
      return eventStreamResponse(r, (options) =>
        threads.openStream(ws(r), p.session_id as string, p.thread_id as string, options),
      );
    });
}
