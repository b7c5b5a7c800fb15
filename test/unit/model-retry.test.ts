import { describe, expect, it } from "vitest";
import { budgetReached, listCostUsd } from "../../shared/core/runtime/budget.js";
import { canRetry, retryDelaySeconds } from "../../shared/core/runtime/model-retry.js";

describe("retryDelaySeconds", () => {
  const policy = { maxRetries: 4, baseSeconds: 2 };
  it("grows exponentially under full jitter and caps at SQS's 900 s", () => {
    expect(retryDelaySeconds(0, policy, () => 1)).toBe(2);
    expect(retryDelaySeconds(3, policy, () => 1)).toBe(16);
    expect(retryDelaySeconds(20, policy, () => 1)).toBe(900);
    expect(retryDelaySeconds(3, policy, () => 0)).toBe(0);
  });
  it("stops after maxRetries", () => {
    expect(canRetry(3, policy)).toBe(true);
    expect(canRetry(4, policy)).toBe(false);
  });
});

describe("budget", () => {
  it("prices usage at list prices by model family", () => {
    expect(listCostUsd("claude-sonnet-4-6", { input_tokens: 1_000_000, output_tokens: 0 })).toBeCloseTo(3);
    expect(listCostUsd("claude-opus-4-7", { input_tokens: 0, output_tokens: 1_000_000 })).toBeCloseTo(25);
  });
  it("is reached at or above the cap, never without a budget", () => {
    const budget = { type: "limit" as const, max_list_cost: { amount: "3", currency: "USD" as const } };
    expect(budgetReached("claude-sonnet-4-6", { input_tokens: 1_000_000 }, budget)).toBe(true);
    expect(budgetReached("claude-sonnet-4-6", { input_tokens: 999_999 }, budget)).toBe(false);
    expect(budgetReached("claude-sonnet-4-6", { input_tokens: 10_000_000 }, null)).toBe(false);
  });
});
