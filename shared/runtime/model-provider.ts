/**
 * The model provider the configuration asks for, for the processes that call a model. Kept out of
 * the composition root so that the bundles of functions that never call one carry no model SDK.
 */
import { AnthropicModel } from "../adapters/model/anthropic-model.js";
import type { ModelProvider } from "../core/ports.js";
import { type Config, ConfigError } from "./config.js";

/**
 * The model provider the configuration asks for. Bedrock's SDK (which carries every API resource)
 * is loaded only when asked for, so the Lambda bundles of other deployments stay small; the
 * simulated stand-in only where `simulated` is given (the embedded stack), so it is in no Lambda.
 */
export async function createModel(
  config: Config,
  apiKey = config.ANTHROPIC_API_KEY,
  simulated?: () => ModelProvider,
): Promise<ModelProvider> {
  const timeoutMs = config.REVERIE_MODEL_TIMEOUT_SECONDS * 1000;
  if (config.modelProvider === "anthropic") {
    return new AnthropicModel({ apiKey: apiKey as string, baseURL: config.ANTHROPIC_BASE_URL, timeoutMs });
  }
  if (config.modelProvider === "bedrock") {
    const modelIds = config.REVERIE_BEDROCK_MODEL_MAP
      ? (JSON.parse(config.REVERIE_BEDROCK_MODEL_MAP) as Record<string, string>)
      : {};
    const { BedrockModel } = await import("../adapters/model/bedrock-model.js");
    return new BedrockModel({ region: config.AWS_REGION, timeoutMs, modelIds });
  }
  if (!simulated)
    throw new ConfigError(
      "REVERIE_MODEL_PROVIDER=simulated runs only on the embedded stack (npm start): set the Anthropic key's secret or REVERIE_MODEL_PROVIDER=bedrock",
    );
  return simulated();
}
