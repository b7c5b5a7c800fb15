/**
 * List cost of a usage total at public list prices (USD per million tokens), for the console's
 * tables when the API gives no `list_cost`. The same table as shared/core/runtime/budget.ts, which
 * the browser bundle cannot import (its module graph reaches node:crypto);
 * test/console/console-assets.test.ts checks the two agree.
 */
type Price = { input: number; output: number; cacheWrite: number; cacheRead: number };

const opus: Price = { input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 };
const sonnet: Price = { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 };
const haiku: Price = { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 };

export type UsageTotals = {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number };
};

/** List cost in USD (an unknown model family is priced as Sonnet, like the budget check). */
export function listCostUsd(modelId: string, usage: UsageTotals): number {
  const price = modelId.includes("opus") ? opus : modelId.includes("haiku") ? haiku : sonnet;
  const cacheWrite =
    (usage.cache_creation?.ephemeral_5m_input_tokens ?? 0) +
    (usage.cache_creation?.ephemeral_1h_input_tokens ?? 0);
  return (
    ((usage.input_tokens ?? 0) * price.input +
      (usage.output_tokens ?? 0) * price.output +
      cacheWrite * price.cacheWrite +
      (usage.cache_read_input_tokens ?? 0) * price.cacheRead) /
    1_000_000
  );
}
