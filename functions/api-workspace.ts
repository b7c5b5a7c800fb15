/**
 * Lambda entry: the workspace-level resources of the JSON API behind API Gateway — files, skills,
 * vaults and credentials, webhooks, deployments and their runs (the authorizer has set the workspace).
 */
import middy from "@middy/core";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { withDeployments } from "../shared/runtime/aws-deployment-ports.js";
import { awsServices } from "../shared/runtime/aws-services.js";
import { fromApiGateway, toApiGateway } from "../shared/runtime/handlers/api-gateway.js";
import { type Api, createApi } from "../shared/runtime/http/api.js";
import { workspaceApiRoutes } from "../shared/runtime/http/workspace-api-routes.js";
import { buildSkills } from "../shared/runtime/skills-wiring.js";
import { buildVaultApi } from "../shared/runtime/vault-api-wiring.js";

export const handler = middy(async (event: APIGatewayProxyEvent) => {
  const { api } = await awsServices((config) => ({
    ...withDeployments(config),
    http: (services) => createApi(services, workspaceApiRoutes),
    skilling: buildSkills,
    vaultApi: buildVaultApi,
  }));
  const response = await (api as Api).handle(fromApiGateway(event));
  if (response.kind === "sse")
    return toApiGateway({ kind: "json", status: 400, body: { error: "use the stream route" } });
  return toApiGateway(response);
});
