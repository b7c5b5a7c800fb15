/**
 * Session budgets: list cost from token usage at public list prices (USD per million tokens).
 * A model without a known price cannot carry a budget (`model_not_budgetable`).
 */
import type { BudgetLimit, SessionUsage } from "../../contract/sdk-types.js";
import { addUsage } from "./session-status.js";

interface Price {
  input: number;
  output: number;
  cacheWrite: number;
  cacheRead: number;
}

const opus: Price = { input: 5, output: 25, cacheWrite: 6.25, cacheRead: 0.5 };
const sonnet: Price = { input: 3, output: 15, cacheWrite: 3.75, cacheRead: 0.3 };
const haiku: Price = { input: 1, output: 5, cacheWrite: 1.25, cacheRead: 0.1 };

/** List price of a model id, by family; undefined when the family is unknown. */
export function listPrice(modelId: string): Price | undefined {
  if (modelId.includes("opus")) return opus;
  if (modelId.includes("sonnet")) return sonnet;
  if (modelId.includes("haiku")) return haiku;
  return undefined;
}

/** List cost in USD of a usage total. */
export function listCostUsd(modelId: string, usage: SessionUsage): number {
  const price = listPrice(modelId) ?? sonnet;
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

export function budgetReached(modelId: string, usage: SessionUsage, budget: BudgetLimit | null): boolean {
  if (!budget) return false;
  return listCostUsd(modelId, usage) >= Number(budget.max_list_cost.amount);
}

export function formatUsd(amount: number): string {
  return amount.toFixed(6);
}

/** A session's usage over every thread: `own` plus each child thread's cumulative usage (RunState.threadUsage). */
export function withThreadUsage(own: SessionUsage, threadUsage: Record<string, unknown> | undefined) {
  let total = own;
  for (const usage of Object.values(threadUsage ?? {})) total = addUsage(total, usage as SessionUsage);
  return total;
}
