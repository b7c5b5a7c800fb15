/**
 * Lambda entry: the sessions context of the JSON API behind API Gateway (agents, environments,
 * sessions, events, threads, resources, outcomes; the authorizer has set the workspace). Memory and
 * workspace-level resources are served by api-memory and api-workspace.
 */
import middy from "@middy/core";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { awsServices } from "../shared/runtime/aws-services.js";
import { fromApiGateway, toApiGateway } from "../shared/runtime/handlers/api-gateway.js";
import { type Api, createApi } from "../shared/runtime/http/api.js";
import { sessionsApiRoutes } from "../shared/runtime/http/sessions-api-routes.js";
import { buildSkills } from "../shared/runtime/skills-wiring.js";

export const handler = middy(async (event: APIGatewayProxyEvent) => {
  // Skills: agents name them (checked on create/update) and sessions pin and mount them.
  const { api } = await awsServices(() => ({
    http: (services) => createApi(services, sessionsApiRoutes),
    skilling: buildSkills,
  }));
  const response = await (api as Api).handle(fromApiGateway(event));
  if (response.kind === "sse")
    return toApiGateway({ kind: "json", status: 400, body: { error: "use the stream route" } });
  return toApiGateway(response);
});
