/**
 * A session's spend across threads (core/threads/thread-spend.ts): each thread at its own model's
 * list price, the primary at its agent's — read from the thread records.
 */
import { describe, expect, it } from "vitest";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { threadRepository } from "../../shared/core/threads/thread-record.js";
import {
  sessionBudgetReached,
  sessionSpendUsd,
  threadSpends,
} from "../../shared/core/threads/thread-spend.js";
import { inMemoryDeps, ScriptedModel, sessionFixture } from "../fixtures/in-memory-runtime.js";

const budget = (amount: string) => ({
  type: "limit" as const,
  max_list_cost: { amount, currency: "USD" as const },
});

describe("session spend over threads", () => {
  it("prices each thread at its own model", () => {
    const million = { input_tokens: 1_000_000, output_tokens: 0 };
    const threads = [
      { threadId: "sthr_h", model: "claude-haiku-4-5", usage: million },
      { threadId: "sthr_o", model: "claude-opus-4-8", usage: million },
    ];
    // Sonnet $3 + Haiku $1 + Opus $5 per million input tokens.
    expect(sessionSpendUsd("claude-sonnet-4-6", million, threads)).toBeCloseTo(9);
    expect(sessionBudgetReached(budget("9.5"), "claude-sonnet-4-6", million, threads)).toBe(false);
    expect(sessionBudgetReached(budget("9"), "claude-sonnet-4-6", million, threads)).toBe(true);
    expect(sessionBudgetReached(null, "claude-sonnet-4-6", million, threads)).toBe(false);
  });

  it("reads every thread record of the session with its model and usage", async () => {
    const { store } = inMemoryDeps(new ScriptedModel([]));
    const threads = threadRepository(store, "sesn_1");
    for (const [id, model] of [
      ["sthr_1", "claude-haiku-4-5"],
      ["sthr_2", "claude-opus-4-8"],
    ] as const)
      await threads.create({
        workspaceId: "wrkspc_1",
        session: { ...sessionFixture(id, { model: { id: model } }), usage: { output_tokens: 10 } },
        run: newRunState(),
        thread: {
          schemaVersion: 1,
          sessionId: "sesn_1",
          agentName: id,
          parentThreadId: null,
          archivedAt: null,
        },
      });
    expect(await threadSpends(store, "wrkspc_1", "sesn_1")).toEqual([
      { threadId: "sthr_1", model: "claude-haiku-4-5", usage: { output_tokens: 10 } },
      { threadId: "sthr_2", model: "claude-opus-4-8", usage: { output_tokens: 10 } },
    ]);
    expect(await threadSpends(store, "wrkspc_1", "sesn_other")).toEqual([]);
  });
});
