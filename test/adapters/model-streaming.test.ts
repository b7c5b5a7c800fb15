/**
 * Observed model calls stream: the Anthropic adapter over a real HTTP mock of the Messages API (its
 * SSE stream), reporting block starts and text deltas, resolving with the same message a plain
 * call returns, and failing with the same ModelCallError kinds.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AnthropicModel } from "../../shared/adapters/model/anthropic-model.js";
import { type BedrockMessagesClient, BedrockModel } from "../../shared/adapters/model/bedrock-model.js";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import { ModelCallError, type ModelRequest, type ModelStreamObserver } from "../../shared/core/ports.js";
import {
  type MockMessagesServer,
  mockText,
  mockToolUse,
  startMockMessagesServer,
} from "../fixtures/mock-messages-server.js";

const request: ModelRequest = {
  model: "claude-sonnet-4-5",
  max_tokens: 1024,
  messages: [{ role: "user", content: "hello" }],
};

function recorder() {
  const calls: Array<[string, number, string]> = [];
  const observer: ModelStreamObserver = {
    blockStart: (index, type) => calls.push(["start", index, type]),
    textDelta: (index, text) => calls.push(["delta", index, text]),
  };
  return { calls, observer };
}

let upstream: MockMessagesServer;
beforeAll(async () => {
  upstream = await startMockMessagesServer();
});
afterAll(async () => upstream.close());
beforeEach(() => upstream.reset());

describe("AnthropicModel, observed", () => {
  const model = () => new AnthropicModel({ apiKey: "sk-ant-test", baseURL: upstream.url, timeoutMs: 5_000 });

  it("streams, reporting each block and every text fragment, and resolves with the whole message", async () => {
    const text = "A fairly long answer, so that the mock sends it in several fragments of text.";
    upstream.script({
      content: [
        { type: "text", text },
        { type: "tool_use", name: "read", input: { file_path: "a.txt" } },
      ],
    });
    const { calls, observer } = recorder();
    const message = await model().createMessage(request, observer);
    expect(upstream.requests[0]?.stream).toBe(true);
    expect(message.content.map((b) => b.type)).toEqual(["text", "tool_use"]);
    expect(message.content[0]).toMatchObject({ type: "text", text });
    expect(message.content[1]).toMatchObject({ type: "tool_use", input: { file_path: "a.txt" } });
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    expect(calls.filter((c) => c[0] === "start")).toEqual([
      ["start", 0, "text"],
      ["start", 1, "tool_use"],
    ]);
    const deltas = calls.filter((c) => c[0] === "delta");
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((c) => c[2]).join("")).toBe(text);
    expect(deltas.every((c) => c[1] === 0)).toBe(true);
  });

  it("does not stream without an observer", async () => {
    upstream.script(mockText("plain"));
    await model().createMessage(request);
    expect(upstream.requests[0]?.stream).toBeUndefined();
  });

  it("fails a streamed call with the same kinds as a plain one, and an observer that throws breaks nothing", async () => {
    upstream.script({ fault: 429 });
    const error = await model()
      .createMessage(request, recorder().observer)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelCallError);
    expect((error as ModelCallError).kind).toBe("rate_limited");

    const impatient = new AnthropicModel({ apiKey: "sk-ant-test", baseURL: upstream.url, timeoutMs: 200 });
    upstream.script({ fault: "timeout" });
    const late = await impatient.createMessage(request, recorder().observer).catch((e: unknown) => e);
    expect((late as ModelCallError).kind).toBe("timeout");

    upstream.script(mockToolUse("read", { file_path: "b.txt" }));
    const throwing: ModelStreamObserver = {
      blockStart() {
        throw new Error("listener bug");
      },
      textDelta() {
        throw new Error("listener bug");
      },
    };
    const message = await model().createMessage(request, throwing);
    expect(message.stop_reason).toBe("tool_use");
  });
});

describe("BedrockModel, observed", () => {
  it("streams through the client's messages.stream when it has one, else calls create", async () => {
    const seen: string[] = [];
    const final = {
      id: "msg_1",
      type: "message",
      role: "assistant",
      model: "m",
      content: [{ type: "text", text: "hi", citations: null }],
      stop_reason: "end_turn",
      stop_sequence: null,
      usage: { input_tokens: 1, output_tokens: 1 },
    } as unknown as Awaited<ReturnType<BedrockMessagesClient["messages"]["create"]>>;
    const listeners: Array<(event: unknown) => void> = [];
    const client: BedrockMessagesClient = {
      messages: {
        create: async () => {
          seen.push("create");
          return final;
        },
        stream: (r) => {
          seen.push(`stream ${r.model}`);
          return {
            on(_event: string, listener: (event: unknown) => void) {
              listeners.push(listener);
              return this;
            },
            async finalMessage() {
              for (const l of listeners) {
                l({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
                l({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "hi" } });
              }
              return final;
            },
          } as never;
        },
      },
    };
    const model = new BedrockModel({ client, timeoutMs: 1000, modelIds: { m: "bedrock-m" } });
    const { calls, observer } = recorder();
    expect(await model.createMessage({ ...request, model: "m" }, observer)).toBe(final);
    expect(calls).toEqual([
      ["start", 0, "text"],
      ["delta", 0, "hi"],
    ]);
    await model.createMessage({ ...request, model: "m" });
    expect(seen).toEqual(["stream bedrock-m", "create"]);
  });
});

describe("SimulatedModel, observed", () => {
  it("reports its text a few words at a time, adding up to the message it returns", async () => {
    const { calls, observer } = recorder();
    const message = await new SimulatedModel().createMessage(
      { ...request, messages: [{ role: "user", content: "say hello to everyone in the room please" }] },
      observer,
    );
    const text = message.content.find((b) => b.type === "text");
    expect(text?.type).toBe("text");
    const index = message.content.indexOf(text as (typeof message.content)[number]);
    expect(calls.filter((c) => c[0] === "start").map((c) => c[2])).toEqual(
      message.content.map((b) => b.type),
    );
    const deltas = calls.filter((c) => c[0] === "delta" && c[1] === index);
    expect(deltas.length).toBeGreaterThan(1);
    expect(deltas.map((c) => c[2]).join("")).toBe((text as { text: string }).text);
  });
});
