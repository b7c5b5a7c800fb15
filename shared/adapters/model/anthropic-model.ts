/**
 * The Anthropic API as a {@link ModelProvider}, through the official SDK. The SDK's own retries are
 * off (`maxRetries: 0`): a failed call becomes a {@link ModelCallError} and the step is retried by
 * the caller with an SQS delay, so that no Lambda sleeps through a backoff.
 */
// The base client plus the Messages resource only: the full `Anthropic` client pulls in every API
// resource (~400 KB minified), which would put the Lambda bundles over their size budget.
import { BaseAnthropic } from "@anthropic-ai/sdk/client";
import { Messages } from "@anthropic-ai/sdk/resources/messages/messages";
import type { ModelProvider, ModelRequest, ModelResponse, ModelStreamObserver } from "../../core/ports.js";
import { checkedMessage, toModelCallError } from "./model-errors.js";
import { observedMessage } from "./model-streaming.js";
import { nodeHttpFetch } from "./node-http-fetch.js";

export interface AnthropicModelOptions {
  apiKey: string;
  /** Defaults to the SDK's (`ANTHROPIC_BASE_URL`, else https://api.anthropic.com). */
  baseURL?: string;
  /** Per-call timeout; a call that exceeds it fails with kind `timeout`. */
  timeoutMs: number;
}

export class AnthropicModel implements ModelProvider {
  readonly name = "anthropic";
  readonly #messages: Messages;
  readonly #timeoutMs: number;

  constructor(options: AnthropicModelOptions) {
    const client = new BaseAnthropic({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: 0,
      timeout: options.timeoutMs,
      fetch: nodeHttpFetch(),
    });
    this.#messages = new Messages(client);
    this.#timeoutMs = options.timeoutMs;
  }

  /** Streams when observed (the SDK's MessageStream, bounded by the same timeout as a whole). */
  async createMessage(request: ModelRequest, observer?: ModelStreamObserver): Promise<ModelResponse> {
    try {
      const response = observer
        ? await observedMessage(
            this.#messages.stream(request, { signal: AbortSignal.timeout(this.#timeoutMs) }),
            observer,
          )
        : await this.#messages.create(request);
      return checkedMessage(response, this.name);
    } catch (error) {
      throw toModelCallError(error, this.name);
    }
  }
}
