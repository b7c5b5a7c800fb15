/**
 * The Anthropic API as a {@link ModelProvider}, through the official SDK. The SDK's own retries are
 * off (`maxRetries: 0`): a failed call becomes a {@link ModelCallError} and the step is retried by
 * the caller with an SQS delay, so that no Lambda sleeps through a backoff.
 */
import Anthropic from "@anthropic-ai/sdk";
import type { ModelProvider, ModelRequest, ModelResponse } from "../../core/ports.js";
import { toModelCallError } from "./model-errors.js";

export interface AnthropicModelOptions {
  apiKey: string;
  /** Defaults to the SDK's (`ANTHROPIC_BASE_URL`, else https://api.anthropic.com). */
  baseURL?: string;
  /** Per-call timeout; a call that exceeds it fails with kind `timeout`. */
  timeoutMs: number;
}

export class AnthropicModel implements ModelProvider {
  readonly name = "anthropic";
  readonly #client: Anthropic;

  constructor(options: AnthropicModelOptions) {
    this.#client = new Anthropic({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: 0,
      timeout: options.timeoutMs,
    });
  }

  async createMessage(request: ModelRequest): Promise<ModelResponse> {
    try {
      return await this.#client.messages.create(request);
    } catch (error) {
      throw toModelCallError(error, this.name);
    }
  }
}
