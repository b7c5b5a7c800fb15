/**
 * The advisor tool (core/multiagent/advisor.ts) over the in-memory runtime: one advisor-model call
 * per tool call however often the step is retried (runOnce), a crash in the middle never calls the
 * advisor a second time, and the session budget prices consultations at the advisor's own model.
 */
import { describe, expect, it } from "vitest";
import type { Session } from "../../shared/contract/sdk-types.js";
import { advisorTool } from "../../shared/core/multiagent/advisor.js";
import { multiagentExtension } from "../../shared/core/multiagent/multiagent-extension.js";
import type { DocumentStore } from "../../shared/core/ports.js";
import type { ToolRun } from "../../shared/core/runtime/step-record.js";
import { newRunState, type SessionRecord } from "../../shared/core/sessions/session-record.js";
import { threadRepository } from "../../shared/core/threads/thread-record.js";
import { inMemoryDeps, ScriptedModel, sessionFixture, text } from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_test";
const ADVISOR = "claude-opus-4-8";

const advisedAgent: Partial<Session["agent"]> = {
  multiagent: {
    type: "multiagent_20261001",
    advisor: { type: "enabled", model: ADVISOR },
    subagents: { type: "disabled" },
    workflows: { type: "disabled" },
  },
};

async function start(replies: ConstructorParameters<typeof ScriptedModel>[0], budget?: Session["budget"]) {
  const model = new ScriptedModel(replies);
  const rt = inMemoryDeps(model);
  const record = await rt.deps.sessions.create({
    workspaceId: WS,
    session: { ...sessionFixture("sesn_1", advisedAgent), budget: budget ?? null },
    run: newRunState(),
  });
  await rt.deps.events.write("sesn_1", [
    {
      seq: 1,
      event: {
        type: "user.message",
        id: "sevt_1",
        processed_at: "",
        content: [{ type: "text", text: "plan the migration" }],
      },
      internals: {},
    },
  ]);
  return { ...rt, model, record };
}

const call = (id = "sevt_tool"): ToolRun => ({
  toolUseEventId: id,
  toolUseId: `toolu_${id}`,
  name: "advisor",
  input: { question: "which order?" },
  resultSeq: 10,
  resultEventId: `sevt_result_${id}`,
});

describe("advisor tool", () => {
  it("makes one advisor-model call per tool call, however often the call is run again", async () => {
    const rt = await start([
      { ...text("ADVICE: schema first"), usage: { input_tokens: 300, output_tokens: 20 } } as never,
    ]);
    const tool = advisorTool(ADVISOR);
    const first = await tool.run(rt.deps, rt.record, call());
    const again = await tool.run(rt.deps, rt.record, call());
    expect(first).toEqual({ isError: false, content: "ADVICE: schema first" });
    expect(again).toEqual(first);
    expect(rt.model.requests).toHaveLength(1);
    const request = rt.model.requests[0];
    expect(request?.model).toBe(ADVISOR);
    expect(JSON.stringify(request?.messages)).toContain("plan the migration");
    expect(JSON.stringify(request?.messages)).toContain("which order?");
    // One advisor thread, whose usage the session counts.
    const threads = await threadRepository(rt.store, "sesn_1").list(WS, { order: "asc", limit: 10 });
    expect(threads).toHaveLength(1);
    expect(threads[0]?.session.usage).toMatchObject({ input_tokens: 300, output_tokens: 20 });
    const session = (await rt.deps.sessions.get(WS, "sesn_1")) as SessionRecord;
    expect(Object.values(session.run.threadUsage ?? {})).toEqual([
      expect.objectContaining({ input_tokens: 300 }),
    ]);
    // Its webhooks, once.
    expect(rt.published.map((e) => [e.type, e.data.session_thread_id])).toEqual([
      ["session.thread_created", threads[0]?.session.id],
      ["session.thread_idled", threads[0]?.session.id],
    ]);
  });

  it("never calls the advisor twice when a crash cut the first consultation short", async () => {
    const rt = await start([text("ADVICE: once"), text("ADVICE: twice")]);
    // The process dies after the advisor answered, while the consultation is being recorded.
    const store = rt.deps.store;
    let crashed = false;
    const crashing: DocumentStore = Object.create(store);
    crashing.put = async (table, item, options) => {
      if (!crashed && String(item.pk).startsWith("thread#")) {
        crashed = true;
        throw new Error("killed");
      }
      return store.put(table, item, options);
    };
    const tool = advisorTool(ADVISOR);
    await expect(tool.run({ ...rt.deps, store: crashing }, rt.record, call())).rejects.toThrow("killed");
    const retried = await tool.run(rt.deps, rt.record, call());
    expect(retried).toMatchObject({
      isError: true,
      content: expect.stringMatching(/interrupted by a restart/),
    });
    expect(rt.model.requests).toHaveLength(1);
  });

  it("prices consultations at the advisor's model in the session budget", async () => {
    // $0.03 budget: 1,000 advisor output tokens cost $0.025 at Opus's price, $0.015 at Sonnet's.
    const budget = {
      type: "max_list_cost" as const,
      max_list_cost: { amount: "0.03", currency: "USD" as const },
    };
    const rt = await start(
      [{ ...text("ADVICE"), usage: { input_tokens: 0, output_tokens: 1_000 } } as never],
      budget as never,
    );
    const own = { input_tokens: 0, output_tokens: 400 }; // $0.006 at Sonnet's price
    expect(await multiagentExtension.overBudget?.(rt.deps, rt.record, own)).toBe(false);
    await advisorTool(ADVISOR).run(rt.deps, rt.record, call());
    const current = (await rt.deps.sessions.get(WS, "sesn_1")) as SessionRecord;
    // $0.006 + $0.025 ≥ $0.03 (priced at Sonnet, the advisor's tokens would come to $0.021: under).
    expect(await multiagentExtension.overBudget?.(rt.deps, current, own)).toBe(true);
    // Child threads and sessions without an advisor use the usual rules.
    expect(await multiagentExtension.overBudget?.(rt.deps, { ...current, thread: {} }, own)).toBeUndefined();
  });
});
