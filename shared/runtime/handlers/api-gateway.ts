/** Converts between API Gateway REST proxy events and the API's HttpRequest/HttpResponse. */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { HttpRequest, JsonResponse } from "../http/http-types.js";

export function fromApiGateway(event: APIGatewayProxyEvent): HttpRequest {
  const query = new URLSearchParams();
  for (const [key, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    for (const value of values ?? []) query.append(key, value);
  }
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(event.headers ?? {})) headers[key.toLowerCase()] = value;
  const context = event.requestContext?.authorizer as
    | { workspaceId?: string; apiKeyId?: string }
    | null
    | undefined;
  const body =
    event.body && event.isBase64Encoded
      ? Buffer.from(event.body, "base64").toString("utf8")
      : (event.body ?? undefined);
  return {
    method: event.httpMethod,
    path: event.path,
    query,
    headers,
    body,
    principal: context?.workspaceId
      ? { workspaceId: context.workspaceId, apiKeyId: context.apiKeyId ?? "" }
      : undefined,
  };
}

export function toApiGateway(response: JsonResponse): APIGatewayProxyResult {
  return {
    statusCode: response.status,
    headers: { "content-type": "application/json", ...response.headers },
    body: JSON.stringify(response.body),
  };
}
