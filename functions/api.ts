/** Lambda entry: every JSON route of the API behind API Gateway (the authorizer has set the workspace). */
import middy from "@middy/core";
import type { APIGatewayProxyEvent } from "aws-lambda";
import { withDeployments } from "../shared/runtime/aws-deployment-ports.js";
import { withDreams } from "../shared/runtime/aws-dream-ports.js";
import { awsServices } from "../shared/runtime/aws-ports.js";
import { fromApiGateway, toApiGateway } from "../shared/runtime/handlers/api-gateway.js";
import { type Api, createApi } from "../shared/runtime/http/api.js";
import { buildSkills } from "../shared/runtime/skills-wiring.js";
import { buildVaultApi } from "../shared/runtime/vault-api-wiring.js";

export const handler = middy(async (event: APIGatewayProxyEvent) => {
  const { api } = await awsServices((config) => ({
    ...withDreams(config),
    ...withDeployments(config),
    http: createApi,
    skilling: buildSkills,
    vaultApi: buildVaultApi,
  }));
  const response = await (api as Api).handle(fromApiGateway(event));
  if (response.kind === "sse")
    return toApiGateway({ kind: "json", status: 400, body: { error: "use the stream route" } });
  return toApiGateway(response);
});
