/**
 * Routes of the self-hosted work API (`/v1/environments/{environment_id}/work/*`, as
 * `client.beta.environments.work` calls them) and Reverie's environment keys extension
 * (`/v1/environments/{environment_id}/keys`).
 */
import { parseBody } from "../../contract/validation.js";
import {
  EnvironmentKeyCreateSchema,
  WorkHeartbeatQuerySchema,
  WorkListQuerySchema,
  WorkPollQuerySchema,
  WorkStopBodySchema,
  WorkUpdateBodySchema,
} from "../../contract/work.js";
import type { Principal } from "../../core/auth/api-keys.js";
import type { EnvironmentKeysService } from "../../core/environments/environment-keys.js";
import type { WorkService } from "../../core/environments/work-service.js";
import type { HttpRequest } from "./http-types.js";
import { json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

const scopeOf = (r: HttpRequest) => (r.principal as Principal).scope;

export function addWorkRoutes(router: Router, work: WorkService, keys: EnvironmentKeysService): Router {
  const base = "/v1/environments/{environment_id}/work";
  return (
    router
      // Static segments before `{work_id}`: the router takes the first route that matches.
      .add(
        "GET",
        `${base}/poll`,
        async (r, p) => {
          const query = parseListQuery(WorkPollQuerySchema, r) as {
            block_ms?: number;
            reclaim_older_than_ms?: number;
          };
          const item = await work.poll(ws(r), p.environment_id as string, {
            blockMs: query.block_ms,
            reclaimOlderThanMs: query.reclaim_older_than_ms,
            workerId: r.headers["anthropic-worker-id"],
          });
          return json(item);
        },
        { scopes: ["environment"] },
      )
      .add("GET", `${base}/stats`, async (r, p) => json(await work.stats(ws(r), p.environment_id as string)))
      .add("GET", base, async (r, p) =>
        json(
          await work.list(ws(r), p.environment_id as string, parseListQuery(WorkListQuerySchema, r) as never),
        ),
      )
      .add("GET", `${base}/{work_id}`, async (r, p) =>
        json(await work.retrieve(ws(r), p.environment_id as string, p.work_id as string)),
      )
      .add("POST", `${base}/{work_id}`, async (r, p) =>
        json(
          await work.update(
            ws(r),
            p.environment_id as string,
            p.work_id as string,
            parseBody(WorkUpdateBodySchema, jsonBody(r)).metadata,
          ),
        ),
      )
      .add(
        "POST",
        `${base}/{work_id}/ack`,
        async (r, p) =>
          json(await work.ack(ws(r), p.environment_id as string, p.work_id as string, scopeOf(r))),
        { scopes: ["environment", "session"] },
      )
      .add(
        "POST",
        `${base}/{work_id}/heartbeat`,
        async (r, p) => {
          const query = parseListQuery(WorkHeartbeatQuerySchema, r) as {
            desired_ttl_seconds?: number;
            expected_last_heartbeat?: string;
          };
          return json(
            await work.heartbeat(
              ws(r),
              p.environment_id as string,
              p.work_id as string,
              {
                expectedLastHeartbeat: query.expected_last_heartbeat,
                desiredTtlSeconds: query.desired_ttl_seconds,
              },
              scopeOf(r),
            ),
          );
        },
        { scopes: ["environment", "session"], ownLeaseCheck: true },
      )
      .add(
        "POST",
        `${base}/{work_id}/stop`,
        async (r, p) =>
          json(
            await work.stop(
              ws(r),
              p.environment_id as string,
              p.work_id as string,
              parseBody(WorkStopBodySchema, jsonBody(r)).force ?? false,
              scopeOf(r),
            ),
          ),
        { scopes: ["environment", "session"], ownLeaseCheck: true },
      )
      // environment keys (Reverie extension)
      .add("POST", "/v1/environments/{environment_id}/keys", async (r, p) =>
        json(
          await keys.create(
            ws(r),
            p.environment_id as string,
            parseBody(EnvironmentKeyCreateSchema, jsonBody(r)),
          ),
        ),
      )
      .add("GET", "/v1/environments/{environment_id}/keys", async (r, p) =>
        json(await keys.list(ws(r), p.environment_id as string)),
      )
      .add("DELETE", "/v1/environments/{environment_id}/keys/{key_id}", async (r, p) =>
        json(await keys.revoke(ws(r), p.environment_id as string, p.key_id as string)),
      )
  );
}
