/**
 * The outcome budget under concurrency: two sends of `user.define_outcome` that each fit alone, but
 * not together, cannot both land on the session's record (its 400 KB item limit is what the budget
 * protects: past it no save of the session lands). The check and the spend are one rev-checked write.
 */
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../shared/contract/errors.js";
import { EventsService } from "../../shared/core/events/events-service.js";
import { SESSION_OUTCOMES_BUDGET_BYTES } from "../../shared/core/outcomes/outcome-lifecycle.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { inMemoryDeps, ScriptedModel, sessionFixture } from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_test";

const define = (fill: string) => ({
  type: "user.define_outcome",
  description: fill.repeat(100_000),
  rubric: { type: "text", content: "- It is written" },
});

describe("outcome budget: concurrent sends", () => {
  it("of two outcomes that fit alone but not together, one is refused and the record stays in budget", async () => {
    // Prepare: one outcome already defined (~108 KB of the 300 KB budget with its explanation).
    const { deps } = inMemoryDeps(new ScriptedModel([]));
    deps.outcomes = { queue: { send: async () => {} }, heartbeatMs: 60_000, leaseMs: 300_000 };
    await deps.sessions.create({ workspaceId: WS, session: sessionFixture("sesn_1"), run: newRunState() });
    const events = new EventsService(deps);
    await events.send(WS, "sesn_1", [define("a")]);
    // Send B runs whole while send A is between its check (on the record it read) and its spend.
    const put = deps.store.put.bind(deps.store);
    let b: Promise<unknown> | undefined;
    deps.store.put = async (table, item, options) => {
      if (!b && String(item.sk).startsWith("def#")) {
        b = events.send(WS, "sesn_1", [define("c")]);
        await b.catch(() => {});
      }
      return put(table, item, options);
    };

    // Act
    const [a, bResult] = await Promise.allSettled([
      events.send(WS, "sesn_1", [define("b")]),
      (async () => {
        while (!b) await new Promise((resolve) => setTimeout(resolve, 1));
        return b;
      })(),
    ]);

    // Assess: one of the two is a 400; the record holds two outcomes, within the budget.
    const results = [a.status, bResult.status].sort();
    expect(results).toEqual(["fulfilled", "rejected"]);
    const refused = [a, bResult].find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toBeInstanceOf(InvalidRequestError);
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.outcome_evaluations).toHaveLength(2);
    const owed = 8_000 * 2;
    expect(Buffer.byteLength(JSON.stringify(record?.session)) + owed).toBeLessThanOrEqual(
      SESSION_OUTCOMES_BUDGET_BYTES,
    );
  });
});
