import type { SQSRecord } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { AesSecretSealer } from "../../shared/adapters/local/aes-secret-sealer.js";
import { graderMessage } from "../../shared/core/outcomes/grader-message.js";
import { createGraderHandler } from "../../shared/runtime/handlers/grader-handler.js";
import { createWebhookHandler } from "../../shared/runtime/handlers/webhook-handler.js";
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

describe("grader handler", () => {
  it("drops malformed and stale nudges and reports only failed records", async () => {
    const { deps } = inMemoryDeps(new ScriptedModel([]));
    deps.outcomes = { queue: { send: async () => {} }, heartbeatMs: 1000, leaseMs: 1000 };
    const failing = {
      ...deps,
      sessions: { ...deps.sessions, mutate: async () => Promise.reject(new Error("dynamodb down")) },
    };
    expect(
      await createGraderHandler(deps)({
        Records: [
          record("malformed", JSON.stringify({ nope: true })),
          record("stale", JSON.stringify(graderMessage("wrkspc_1", "sesn_missing", "outc_1", 0))),
        ],
      }),
    ).toEqual({ batchItemFailures: [] });
    expect(
      await createGraderHandler(failing as never)({
        Records: [
          record("ok-malformed", "{}"),
          record("fails", JSON.stringify(graderMessage("wrkspc_1", "sesn_1", "outc_1", 0))),
        ],
      }),
    ).toEqual({ batchItemFailures: [{ itemIdentifier: "fails" }] });
  });
});

describe("webhook-deliver handler", () => {
  it("drops malformed messages and reports a record whose store read fails", async () => {
    const { deps, store } = inMemoryDeps(new ScriptedModel([]));
    const base = {
      store,
      transport: { post: async () => ({ status: 200 }) },
      sealer: new AesSecretSealer(),
      queue: { send: async () => {} },
      deadLetters: { send: async () => {} },
      clock: deps.clock,
      logger: deps.logger,
      maxAttempts: 3,
      retryBaseSeconds: 1,
      orderWaitSeconds: 1,
      timeoutMs: 1000,
    };
    const message = { schemaVersion: 1, endpointId: "whep_1", eventId: "wevt_1", generation: 0 };
    expect(
      await createWebhookHandler(base)({
        Records: [record("malformed", "{}"), record("unknown", JSON.stringify(message))],
      }),
    ).toEqual({ batchItemFailures: [] });
    const broken = { ...base, store: { ...store, get: async () => Promise.reject(new Error("down")) } };
    expect(
      await createWebhookHandler(broken as never)({
        Records: [record("ok-malformed", "{}"), record("fails", JSON.stringify(message))],
      }),
    ).toEqual({
      batchItemFailures: [{ itemIdentifier: "fails" }],
    });
  });
});
