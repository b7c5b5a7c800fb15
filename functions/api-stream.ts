/**
 * Lambda entry: `GET /v1/sessions/{id}/events/stream` as Server-Sent Events, through Lambda response
 * streaming. The function's timeout bounds a stream; clients reconnect with `Last-Event-ID`.
 */
import type { APIGatewayProxyEvent } from "aws-lambda";
import { awsServices } from "../shared/runtime/aws-services.js";
import { fromApiGateway } from "../shared/runtime/handlers/api-gateway.js";
import { type Api, createApi } from "../shared/runtime/http/api.js";
import { eventStreamApiRoutes } from "../shared/runtime/http/sessions-api-routes.js";

declare const awslambda: {
  streamifyResponse(
    fn: (event: APIGatewayProxyEvent, stream: NodeJS.WritableStream) => Promise<void>,
  ): unknown;
  HttpResponseStream: {
    from(
      stream: NodeJS.WritableStream,
      meta: { statusCode: number; headers: Record<string, string> },
    ): NodeJS.WritableStream;
  };
};

export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const { api } = await awsServices(() => ({
    http: (services) => createApi(services, eventStreamApiRoutes),
  }));
  const response = await (api as Api).handle(fromApiGateway(event));
  const isSse = response.kind === "sse";
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: response.status,
    headers: {
      "content-type": isSse ? "text/event-stream" : "application/json",
      "cache-control": "no-cache",
    },
  });
  if (response.kind === "sse") for await (const chunk of response.chunks) stream.write(chunk);
  else stream.write(JSON.stringify(response.body));
  stream.end();
});
