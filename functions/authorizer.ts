/** Lambda entry: REQUEST authorizer mapping the API key (`x-api-key` or `Authorization: Bearer`, hashed) to its workspace. */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from "aws-lambda";
import { credentialOf } from "../shared/core/auth/api-keys.js";
import { authorizerApiKeys } from "../shared/runtime/authorizer-wiring.js";
import { principalContext } from "../shared/runtime/handlers/api-gateway.js";

export const handler = async (
  event: APIGatewayRequestAuthorizerEvent,
): Promise<APIGatewayAuthorizerResult> => {
  const headers = Object.fromEntries(
    Object.entries(event.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
  );
  const principal = await authorizerApiKeys().resolve(credentialOf(headers));
  if (!principal) throw new Error("Unauthorized"); // API Gateway answers 401
  return {
    principalId: principal.apiKeyId,
    policyDocument: {
      Version: "2012-10-17",
      Statement: [
        { Action: "execute-api:Invoke", Effect: "Allow", Resource: `${event.methodArn.split("/")[0]}/*` },
      ],
    },
    context: principalContext(principal),
  };
};
