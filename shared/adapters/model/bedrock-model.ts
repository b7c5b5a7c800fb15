/**
 * Claude on Amazon Bedrock as a {@link ModelProvider}, through `@anthropic-ai/bedrock-sdk` (SigV4 with
 * the default AWS credential chain, i.e. the Lambda's role). Requests use Anthropic model ids; an
 * optional map translates them to Bedrock model or inference-profile ids. SDK retries are off for
 * the same reason as in {@link AnthropicModel}: the caller retries through SQS delays.
 */
import AnthropicBedrock from "@anthropic-ai/bedrock-sdk";
import type { MessageStream } from "@anthropic-ai/sdk/lib/MessageStream";
import type { ModelProvider, ModelRequest, ModelResponse, ModelStreamObserver } from "../../core/ports.js";
import { checkedMessage, toModelCallError } from "./model-errors.js";
import { observedMessage } from "./model-streaming.js";

export interface BedrockModelOptions {
  /** AWS region of the Bedrock runtime; defaults to the SDK's (`AWS_REGION`). */
  region?: string;
  /** Per-call timeout; a call that exceeds it fails with kind `timeout`. */
  timeoutMs: number;
  /** Anthropic model id → Bedrock model id (e.g. an inference profile); unmapped ids pass through. */
  modelIds?: Record<string, string>;
  /** For tests: the client to call instead of building one. */
  client?: BedrockMessagesClient;
}

/** The part of `AnthropicBedrock` this adapter uses. */
export interface BedrockMessagesClient {
  messages: {
    create(request: ModelRequest): PromiseLike<ModelResponse>;
    /** Streaming (InvokeModelWithResponseStream); without it an observed call does not stream. */
    stream?(
      request: ModelRequest,
      options?: { signal?: AbortSignal },
    ): Pick<MessageStream, "on" | "finalMessage">;
  };
}

/** The Bedrock model id for an Anthropic model id: `modelIds[model]` if mapped, else `model`. */
export function resolveBedrockModelId(model: string, modelIds: Record<string, string> = {}): string {
  return Object.hasOwn(modelIds, model) ? (modelIds[model] ?? model) : model;
}

export class BedrockModel implements ModelProvider {
  readonly name = "bedrock";
  readonly #client: BedrockMessagesClient;
  readonly #modelIds: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(options: BedrockModelOptions) {
    this.#modelIds = { ...options.modelIds };
    this.#timeoutMs = options.timeoutMs;
    this.#client =
      options.client ??
      new AnthropicBedrock({ awsRegion: options.region, maxRetries: 0, timeout: options.timeoutMs });
  }

  /** Streams when observed and the client can (the SDK's MessageStream over Bedrock's event stream). */
  async createMessage(request: ModelRequest, observer?: ModelStreamObserver): Promise<ModelResponse> {
    const model = resolveBedrockModelId(request.model, this.#modelIds);
    const messages = this.#client.messages;
    try {
      const response =
        observer && messages.stream
          ? await observedMessage(
              messages.stream({ ...request, model }, { signal: AbortSignal.timeout(this.#timeoutMs) }),
              observer,
            )
          : await messages.create({ ...request, model });
      return checkedMessage(response, this.name);
    } catch (error) {
      throw toModelCallError(error, this.name);
    }
  }
}
