/**
 * Lambda entry: the memory context of the JSON API behind API Gateway — memory stores, memories and
 * their versions, dreams and dream schedules (the authorizer has set the workspace).
 */
import middy from "@middy/core";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { withDreams } from "../shared/runtime/aws-dream-ports.js";
import { awsServices } from "../shared/runtime/aws-services.js";
import { fromApiGateway, toApiGateway } from "../shared/runtime/handlers/api-gateway.js";
import { type Api, createApi } from "../shared/runtime/http/api.js";
import { memoryApiRoutes } from "../shared/runtime/http/memory-api-routes.js";

export const handler = middy(async (event: APIGatewayProxyEvent) => {
  const { api } = await awsServices((config) => ({
    ...withDreams(config),
    http: (services) => createApi(services, memoryApiRoutes),
  }));
  const response = await (api as Api).handle(fromApiGateway(event));
  if (response.kind === "sse")
    return toApiGateway({ kind: "json", status: 400, body: { error: "use the stream route" } });
  return toApiGateway(response);
});
