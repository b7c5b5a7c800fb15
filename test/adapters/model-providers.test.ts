import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  BadRequestError,
  InternalServerError,
  RateLimitError,
} from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AnthropicModel } from "../../shared/adapters/model/anthropic-model.js";
import {
  type BedrockMessagesClient,
  BedrockModel,
  resolveBedrockModelId,
} from "../../shared/adapters/model/bedrock-model.js";
import { classifyModelFailure, toModelCallError } from "../../shared/adapters/model/model-errors.js";
import { ModelCallError, type ModelRequest, type ModelResponse } from "../../shared/core/ports.js";
import {
  type MockMessagesServer,
  mockText,
  mockToolUse,
  startMockMessagesServer,
} from "../fixtures/mock-messages-server.js";

const MODEL = "claude-sonnet-4-5";

function request(overrides: Partial<ModelRequest> = {}): ModelRequest {
  return {
    model: MODEL,
    max_tokens: 1024,
    messages: [{ role: "user", content: "hello" }],
    ...overrides,
  };
}

async function failureOf(promise: Promise<unknown>): Promise<ModelCallError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ModelCallError);
  return error as ModelCallError;
}

function apiError(status: number, type: string, headers: Record<string, string> = {}): APIError {
  return APIError.generate(
    status,
    { type: "error", error: { type, message: `${type}!` } },
    undefined,
    new Headers(headers),
  );
}

describe("AnthropicModel against the mock Messages server", () => {
  let upstream: MockMessagesServer;
  let model: AnthropicModel;

  beforeAll(async () => {
    upstream = await startMockMessagesServer();
    model = new AnthropicModel({ apiKey: "sk-ant-test", baseURL: upstream.url, timeoutMs: 5_000 });
  });
  afterAll(() => upstream.close());
  beforeEach(() => upstream.reset());

  it("is named anthropic", () => {
    expect(model.name).toBe("anthropic");
  });

  it("returns a scripted text reply as an SDK Message", async () => {
    upstream.script(mockText("Hi there."));
    const message = await model.createMessage(request());
    expect(message).toMatchObject({
      type: "message",
      role: "assistant",
      model: MODEL,
      stop_reason: "end_turn",
      content: [{ type: "text", text: "Hi there." }],
    });
    expect(message.id).toMatch(/^msg_/);
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
  });

  it("returns a scripted tool_use reply with stop_reason tool_use", async () => {
    upstream.script(mockToolUse("read", { file_path: "notes.txt" }, { text: "Reading." }));
    const message = await model.createMessage(request());
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toHaveLength(2);
    const toolUse = message.content[1];
    expect(toolUse).toMatchObject({ type: "tool_use", name: "read", input: { file_path: "notes.txt" } });
    expect(toolUse?.type === "tool_use" && toolUse.id).toMatch(/^toolu_/);
  });

  it("answers with the fallback when the script is empty", async () => {
    const message = await model.createMessage(request());
    expect(message.content).toEqual([{ type: "text", text: "ok", citations: null }]);
    expect(upstream.pending).toBe(0);
  });

  it("sends the request upstream as given: system, tools and cache_control preserved", async () => {
    const sent = request({
      system: [{ type: "text", text: "You are terse.", cache_control: { type: "ephemeral" } }],
      tools: [
        {
          name: "write",
          description: "Write a file",
          input_schema: {
            type: "object",
            properties: { file_path: { type: "string" }, content: { type: "string" } },
            required: ["file_path", "content"],
          },
          cache_control: { type: "ephemeral" },
        },
      ],
      messages: [
        {
          role: "user",
          content: [{ type: "text", text: "hello", cache_control: { type: "ephemeral", ttl: "1h" } }],
        },
      ],
      tool_choice: { type: "auto" },
      metadata: { user_id: "u_1" },
    });
    await model.createMessage(sent);
    expect(upstream.requests).toEqual([sent]);
    // SDK 1.12.0 sends the API key as a bearer token, not as x-api-key.
    expect(upstream.received[0]?.headers.authorization).toBe("Bearer sk-ant-test");
    expect(upstream.received[0]?.headers["anthropic-version"]).toBeTruthy();
  });

  it("makes exactly one attempt per call (SDK retries are off)", async () => {
    upstream.script({ fault: 500 }, mockText("second"));
    await failureOf(model.createMessage(request()));
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.pending).toBe(1);
  });

  it.each([
    [429, "rate_limited"],
    [500, "server_error"],
    [503, "server_error"],
    [529, "overloaded"],
  ] as const)("maps HTTP %i to %s (retryable)", async (status, kind) => {
    upstream.script({ fault: status, retryAfter: 3 });
    const error = await failureOf(model.createMessage(request()));
    expect(error.kind).toBe(kind);
    expect(error.retryable).toBe(true);
    expect(error.cause).toBeInstanceOf(APIError);
    expect((error.cause as APIError).status).toBe(status);
    expect(error.message).toContain(`anthropic: ${status}`);
  });

  it("maps a dropped connection to server_error", async () => {
    // A new client, so a new connection: one dropped on a reused kept-alive socket is sent again.
    const fresh = new AnthropicModel({ apiKey: "sk-ant-test", baseURL: upstream.url, timeoutMs: 5_000 });
    upstream.script({ fault: "disconnect" });
    const error = await failureOf(fresh.createMessage(request()));
    expect(error.kind).toBe("server_error");
    expect(error.cause).toBeInstanceOf(APIConnectionError);
  });

  it("maps a request that outlives timeoutMs to timeout", async () => {
    const impatient = new AnthropicModel({ apiKey: "sk-ant-test", baseURL: upstream.url, timeoutMs: 200 });
    upstream.script({ fault: "timeout" });
    const started = Date.now();
    const error = await failureOf(impatient.createMessage(request()));
    expect(error.kind).toBe("timeout");
    expect(error.retryable).toBe(true);
    expect(error.cause).toBeInstanceOf(APIConnectionTimeoutError);
    expect(Date.now() - started).toBeLessThan(4_000);
  });

  it("maps 400 to invalid_request, which is not retryable", async () => {
    upstream.script({ fault: 400, message: "messages: roles must alternate" });
    const error = await failureOf(model.createMessage(request()));
    expect(error.kind).toBe("invalid_request");
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("messages: roles must alternate");
  });

  it("rejects a malformed request with the mock's own 400", async () => {
    const error = await failureOf(
      model.createMessage({ model: MODEL, messages: [] } as unknown as ModelRequest),
    );
    expect(error.kind).toBe("invalid_request");
    expect(error.message).toContain("max_tokens");
  });
});

describe("AnthropicModel against an upstream that answers 200 with junk", () => {
  it("fails with a retryable, clearly worded model error instead of a TypeError", async () => {
    const junk = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ hello: "world" }));
    });
    await new Promise<void>((r) => junk.listen(0, "127.0.0.1", r));
    const { port } = junk.address() as AddressInfo;
    try {
      const model = new AnthropicModel({
        apiKey: "k",
        baseURL: `http://127.0.0.1:${port}`,
        timeoutMs: 5_000,
      });
      const error = await model
        .createMessage({
          model: "claude-sonnet-4-6",
          max_tokens: 10,
          messages: [{ role: "user", content: "hi" }],
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ModelCallError);
      expect(error).toMatchObject({ kind: "server_error", retryable: true });
      expect((error as Error).message).toMatch(/not a Messages API message/);
    } finally {
      await new Promise((r) => junk.close(r));
    }
  });
});

describe("mock Messages server", () => {
  let upstream: MockMessagesServer;
  let client: Anthropic;

  beforeAll(async () => {
    upstream = await startMockMessagesServer();
    client = new Anthropic({ apiKey: "sk-ant-test", baseURL: upstream.url, maxRetries: 0 });
  });
  afterAll(() => upstream.close());
  beforeEach(() => upstream.reset());

  it("streams SSE events that the SDK's stream helper accumulates into the same Message", async () => {
    upstream.script(
      mockToolUse(
        "write",
        { file_path: "a.txt", content: "a fairly long piece of content to chunk" },
        { text: "Writing the file now, in several chunks." },
      ),
    );
    const events: string[] = [];
    const stream = client.messages.stream(request());
    stream.on("streamEvent", (event) => events.push(event.type));
    const message = await stream.finalMessage();
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content).toMatchObject([
      { type: "text", text: "Writing the file now, in several chunks." },
      {
        type: "tool_use",
        name: "write",
        input: { file_path: "a.txt", content: "a fairly long piece of content to chunk" },
      },
    ]);
    expect(message.usage.output_tokens).toBeGreaterThan(1);
    expect(events[0]).toBe("message_start");
    expect(events).toContain("content_block_delta");
    expect(events.at(-1)).toBe("message_stop");
  });

  it("passes the request to function steps and records it", async () => {
    upstream.script((req) => mockText(`you said ${JSON.stringify(req.body.messages[0]?.content)}`));
    const message = await client.messages.create(request());
    expect(message.content[0]).toMatchObject({ text: 'you said "hello"' });
    expect(upstream.received[0]?.index).toBe(0);
  });

  it("sends Anthropic-shaped errors with retry-after", async () => {
    upstream.script({ fault: 529 }, { fault: 429, retryAfter: 7 });
    const overloaded = await client.messages.create(request()).catch((e: unknown) => e);
    expect(overloaded).toBeInstanceOf(APIError);
    expect((overloaded as APIError).status).toBe(529);
    expect((overloaded as APIError).type).toBe("overloaded_error");
    const limited = await client.messages.create(request()).catch((e: unknown) => e);
    expect(limited).toBeInstanceOf(RateLimitError);
    expect((limited as RateLimitError).headers.get("retry-after")).toBe("7");
  });

  it("applies delayMs and supports a custom fallback", async () => {
    upstream.delayMs = 150;
    upstream.fallback = mockText("fallback!");
    const started = Date.now();
    const message = await client.messages.create(request());
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(message.content[0]).toMatchObject({ text: "fallback!" });
  });

  it("waits for a number of requests", async () => {
    const pending = upstream.waitForRequests(2, 5_000);
    await client.messages.create(request());
    await client.messages.create(request());
    await expect(pending).resolves.toHaveLength(2);
  });
});

describe("model error mapper", () => {
  it.each([
    [apiError(429, "rate_limit_error"), "rate_limited"],
    [apiError(529, "overloaded_error"), "overloaded"],
    [apiError(500, "overloaded_error"), "overloaded"],
    [apiError(500, "api_error"), "server_error"],
    [apiError(502, "api_error"), "server_error"],
    [apiError(408, "timeout_error"), "timeout"],
    [apiError(400, "invalid_request_error"), "invalid_request"],
    [apiError(401, "authentication_error"), "invalid_request"],
    [apiError(404, "not_found_error"), "invalid_request"],
    [
      new APIError(
        undefined,
        { type: "error", error: { type: "overloaded_error" } },
        undefined,
        undefined,
        "overloaded_error",
      ),
      "overloaded",
    ],
    [new APIConnectionTimeoutError(), "timeout"],
    [new APIUserAbortError(), "timeout"],
    [new APIConnectionError({ message: "socket hang up" }), "server_error"],
    [new Error("something odd"), "server_error"],
  ] as const)("classifies %s as %s", (error, kind) => {
    expect(classifyModelFailure(error)).toBe(kind);
  });

  it("uses the SDK's own error classes for the status codes", () => {
    expect(apiError(429, "rate_limit_error")).toBeInstanceOf(RateLimitError);
    expect(apiError(400, "invalid_request_error")).toBeInstanceOf(BadRequestError);
    expect(apiError(503, "api_error")).toBeInstanceOf(InternalServerError);
  });

  it.each([
    [429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", "rate_limited"],
    [503, "ServiceUnavailableException", "overloaded"],
    [429, "ModelNotReadyException", "rate_limited"],
    [408, "ModelTimeoutException", "timeout"],
    [424, "ModelErrorException", "server_error"],
    [400, "ValidationException", "invalid_request"],
    [403, "AccessDeniedException", "invalid_request"],
  ] as const)("classifies Bedrock %i %s as %s", (status, type, kind) => {
    const error = APIError.generate(
      status,
      { message: "bedrock says no" },
      undefined,
      new Headers({ "x-amzn-errortype": type }),
    );
    expect(classifyModelFailure(error)).toBe(kind);
  });

  it("keeps the original error as cause and passes ModelCallErrors through", () => {
    const original = apiError(529, "overloaded_error");
    const mapped = toModelCallError(original, "bedrock");
    expect(mapped.kind).toBe("overloaded");
    expect(mapped.cause).toBe(original);
    expect(mapped.message).toMatch(/^bedrock: 529 overloaded_error: overloaded_error!/);
    expect(toModelCallError(mapped, "anthropic")).toBe(mapped);
  });
});

describe("BedrockModel", () => {
  const reply: ModelResponse = {
    id: "msg_bdrk_1",
    type: "message",
    role: "assistant",
    model: MODEL,
    content: [{ type: "text", text: "hi", citations: null }],
    container: null,
    diagnostics: null,
    stop_details: null,
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: 1,
      output_tokens: 1,
      cache_creation: null,
      cache_creation_input_tokens: null,
      cache_read_input_tokens: null,
      inference_geo: null,
      output_tokens_details: null,
      server_tool_use: null,
      service_tier: null,
      speed: null,
    },
  };

  function stubClient(outcome: ModelResponse | Error): BedrockMessagesClient & { calls: ModelRequest[] } {
    const calls: ModelRequest[] = [];
    return {
      calls,
      messages: {
        create: async (req: ModelRequest) => {
          calls.push(req);
          if (outcome instanceof Error) throw outcome;
          return outcome;
        },
      },
    };
  }

  it("constructs a real AnthropicBedrock client without touching the network", () => {
    const model = new BedrockModel({ region: "eu-west-1", timeoutMs: 30_000 });
    expect(model.name).toBe("bedrock");
  });

  it("maps Anthropic model ids to Bedrock ids; unmapped ids pass through", () => {
    const map = { "claude-sonnet-4-5": "eu.anthropic.claude-sonnet-4-5-20250929-v1:0" };
    expect(resolveBedrockModelId("claude-sonnet-4-5", map)).toBe(
      "eu.anthropic.claude-sonnet-4-5-20250929-v1:0",
    );
    expect(resolveBedrockModelId("claude-haiku-4-5", map)).toBe("claude-haiku-4-5");
    expect(resolveBedrockModelId("toString", map)).toBe("toString");
    expect(resolveBedrockModelId("claude-haiku-4-5")).toBe("claude-haiku-4-5");
  });

  it("sends the mapped model id and the rest of the request unchanged", async () => {
    const client = stubClient(reply);
    const model = new BedrockModel({
      timeoutMs: 1_000,
      modelIds: { [MODEL]: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" },
      client,
    });
    const sent = request({ system: "be brief" });
    await expect(model.createMessage(sent)).resolves.toBe(reply);
    expect(client.calls).toEqual([{ ...sent, model: "us.anthropic.claude-sonnet-4-5-20250929-v1:0" }]);
    expect(sent.model).toBe(MODEL);
  });

  it("throws SDK failures as ModelCallError", async () => {
    const throttled = APIError.generate(
      429,
      { message: "Too many requests" },
      undefined,
      new Headers({ "x-amzn-errortype": "ThrottlingException" }),
    );
    const model = new BedrockModel({ timeoutMs: 1_000, client: stubClient(throttled) });
    const error = await failureOf(model.createMessage(request()));
    expect(error.kind).toBe("rate_limited");
    expect(error.message).toContain("bedrock: 429");
  });
});
