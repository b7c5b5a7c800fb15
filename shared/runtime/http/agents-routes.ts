/** Routes of /v1/agents (SDK: client.beta.agents, agents.versions). */
import * as z from "zod";
import { AgentCreateSchema, AgentListQuerySchema, AgentUpdateSchema } from "../../contract/agents.js";
import { lazySchema } from "../../contract/lazy-schema.js";
import { pageCursorSchema, pageLimitSchema, parseBody } from "../../contract/validation.js";
import type { AgentsService } from "../../core/agents/agents-service.js";
import { json, jsonBody, optionalInt, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

const AgentVersionListQuerySchema = lazySchema(() =>
  z.object({ limit: pageLimitSchema, page: pageCursorSchema }),
);

export function addAgentRoutes(router: Router, agents: AgentsService): Router {
  return router
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
    );
}
