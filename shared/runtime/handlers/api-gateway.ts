/** Converts between API Gateway REST proxy events and the API's HttpRequest/HttpResponse. */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import type { CredentialScope, Principal } from "../../core/auth/api-keys.js";
import type { BinaryResponse, HttpRequest, JsonResponse } from "../http/http-types.js";

/**
 * The authorizer's context for a principal (string values only). A narrower credential carries its
 * scope: without it the API would treat an environment key or a sessions token as the workspace's
 * own key. {@link fromApiGateway} reads it back.
 */
export function principalContext(principal: Principal): Record<string, string> {
  return {
    workspaceId: principal.workspaceId,
    apiKeyId: principal.apiKeyId,
    ...(principal.scope ? { scope: JSON.stringify(principal.scope) } : {}),
  };
}

export function fromApiGateway(event: APIGatewayProxyEvent): HttpRequest {
  const query = new URLSearchParams();
  for (const [key, values] of Object.entries(event.multiValueQueryStringParameters ?? {})) {
    for (const value of values ?? []) query.append(key, value);
  }
  const headers: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(event.headers ?? {})) headers[key.toLowerCase()] = value;
  const context = event.requestContext?.authorizer as
    | { workspaceId?: string; apiKeyId?: string; scope?: string }
    | null
    | undefined;
  const raw =
    event.body && event.isBase64Encoded
      ? Buffer.from(event.body, "base64")
      : event.body
        ? Buffer.from(event.body, "utf8")
        : undefined;
  const body = raw?.toString("utf8");
  return {
    method: event.httpMethod,
    path: event.path,
    query,
    headers,
    body,
    rawBody: raw,
    principal: context?.workspaceId
      ? {
          workspaceId: context.workspaceId,
          apiKeyId: context.apiKeyId ?? "",
          ...(context.scope ? { scope: JSON.parse(context.scope) as CredentialScope } : {}),
        }
      : undefined,
  };
}

export function toApiGateway(response: JsonResponse | BinaryResponse): APIGatewayProxyResult {
  if (response.kind === "binary") {
    return {
      statusCode: response.status,
      headers: response.headers,
      body: Buffer.from(response.body).toString("base64"),
      isBase64Encoded: true,
    };
  }
  return {
    statusCode: response.status,
    headers: { "content-type": "application/json", ...response.headers },
    body: JSON.stringify(response.body),
  };
}
