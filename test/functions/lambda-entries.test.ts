import type { APIGatewayProxyEvent, SQSEvent, SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { stepMessage } from "../../shared/core/runtime/step-message.js";
import { fromApiGateway, principalContext, toApiGateway } from "../../shared/runtime/handlers/api-gateway.js";
import { createStepHandler } from "../../shared/runtime/handlers/step-handler.js";
import { inMemoryDeps, ScriptedModel } from "../fixtures/in-memory-runtime.js";

const record = (messageId: string, body: string): SQSRecord =>
  ({
    messageId,
    receiptHandle: messageId,
    body,
    attributes: { ApproximateReceiveCount: "1" },
    messageAttributes: {},
    eventSource: "aws:sqs",
  }) as unknown as SQSRecord;

describe("agent-step handler", () => {
  it("acknowledges stale and malformed nudges and reports only failed records", async () => {
    const { deps } = inMemoryDeps(new ScriptedModel([]));
    const failing = {
      ...deps,
      sessions: { ...deps.sessions, mutate: async () => Promise.reject(new Error("dynamodb down")) },
    };
    const handler = createStepHandler(failing as never);
    const event: SQSEvent = {
      Records: [
        record("ok-malformed", JSON.stringify({ hello: "world" })),
        record("fails", JSON.stringify(stepMessage("wrkspc_1", "sesn_1", 0))),
      ],
    };
    expect(await handler(event)).toEqual({ batchItemFailures: [{ itemIdentifier: "fails" }] });
  });

  it("drops a nudge for a session that does not exist", async () => {
    const { deps } = inMemoryDeps(new ScriptedModel([]));
    const handler = createStepHandler(deps);
    const result = await handler({
      Records: [record("m1", JSON.stringify(stepMessage("wrkspc_1", "sesn_missing", 3)))],
    });
    expect(result).toEqual({ batchItemFailures: [] });
  });
});

describe("API Gateway conversion", () => {
  it("keeps a scoped credential scoped from the authorizer to the API", () => {
    const principal = {
      workspaceId: "wrkspc_9",
      apiKeyId: "work_1#2",
      scope: {
        kind: "session",
        environmentId: "env_1",
        workId: "work_1",
        sessionId: "sesn_1",
        generation: 2,
      },
    } as const;
    const event = {
      httpMethod: "GET",
      path: "/v1/agents",
      headers: {},
      requestContext: { authorizer: principalContext(principal) },
    } as unknown as APIGatewayProxyEvent;
    expect(fromApiGateway(event).principal).toEqual(principal);
  });

  it("carries method, path, repeated query params, lower-cased headers, base64 bodies and the authorizer's workspace", () => {
    const event = {
      httpMethod: "GET",
      path: "/v1/sessions",
      multiValueQueryStringParameters: { "statuses[]": ["idle", "running"], limit: ["5"] },
      headers: { "X-Api-Key": "k" },
      body: Buffer.from('{"a":1}').toString("base64"),
      isBase64Encoded: true,
      requestContext: { authorizer: { workspaceId: "wrkspc_9", apiKeyId: "apikey_1" } },
    } as unknown as APIGatewayProxyEvent;
    const request = fromApiGateway(event);
    expect(request.query.getAll("statuses[]")).toEqual(["idle", "running"]);
    expect(request.headers["x-api-key"]).toBe("k");
    expect(request.body).toBe('{"a":1}');
    expect(request.principal).toEqual({ workspaceId: "wrkspc_9", apiKeyId: "apikey_1" });
    expect(toApiGateway({ kind: "json", status: 404, body: { type: "error" } })).toEqual({
      statusCode: 404,
      headers: { "content-type": "application/json" },
      body: '{"type":"error"}',
    });
  });
});
