/**
 * `/v1/deployments` and `/v1/deployment_runs` as the SDK calls them: create, retrieve, update, list,
 * archive, pause, unpause, run; run retrieve and list.
 */
import {
  DeploymentCreateSchema,
  DeploymentListQuerySchema,
  DeploymentRunListQuerySchema,
  DeploymentUpdateSchema,
} from "../../contract/deployments.js";
import { parseBody } from "../../contract/validation.js";
import type { DeploymentsService } from "../../core/deployments/deployments-service.js";
import { json, jsonBody, parseListQuery, sendAttemptOf, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

export function addDeploymentRoutes(router: Router, deployments: DeploymentsService): Router {
  const id = (p: Record<string, string>) => p.deployment_id as string;
  return router
    .add("POST", "/v1/deployments", async (r) =>
      json(await deployments.create(ws(r), parseBody(DeploymentCreateSchema, jsonBody(r)))),
    )
    .add("GET", "/v1/deployments", async (r) =>
      json(await deployments.list(ws(r), parseListQuery(DeploymentListQuerySchema, r) as never)),
    )
    .add("GET", "/v1/deployments/{deployment_id}", async (r, p) =>
      json(await deployments.retrieve(ws(r), id(p))),
    )
    .add("POST", "/v1/deployments/{deployment_id}", async (r, p) =>
      json(await deployments.update(ws(r), id(p), parseBody(DeploymentUpdateSchema, jsonBody(r)))),
    )
    .add("POST", "/v1/deployments/{deployment_id}/archive", async (r, p) =>
      json(await deployments.archive(ws(r), id(p))),
    )
    .add("POST", "/v1/deployments/{deployment_id}/pause", async (r, p) =>
      json(await deployments.pause(ws(r), id(p))),
    )
    .add("POST", "/v1/deployments/{deployment_id}/unpause", async (r, p) =>
      json(await deployments.unpause(ws(r), id(p))),
    )
    .add("POST", "/v1/deployments/{deployment_id}/run", async (r, p) =>
      json(
        await deployments.run(ws(r), id(p), {
          ...sendAttemptOf(r),
          body: jsonBody(r),
          ...(r.principal ? { caller: r.principal.apiKeyId } : {}),
        }),
      ),
    )
    .add("GET", "/v1/deployment_runs", async (r) =>
      json(await deployments.listRuns(ws(r), parseListQuery(DeploymentRunListQuerySchema, r) as never)),
    )
    .add("GET", "/v1/deployment_runs/{deployment_run_id}", async (r, p) =>
      json(await deployments.retrieveRun(ws(r), p.deployment_run_id as string)),
    );
}
