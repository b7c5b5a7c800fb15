/** The grader worker over in-memory fakes: hand-off at end of turn, exactly-once evaluation, sweeper re-nudge. */
import { describe, expect, it } from "vitest";
import { EventsService } from "../../shared/core/events/events-service.js";
import { runGrader } from "../../shared/core/outcomes/grader.js";
import type { GraderMessage } from "../../shared/core/outcomes/grader-message.js";
import { EVALUATION_LIMITS, OutcomeStore } from "../../shared/core/outcomes/outcome-record.js";
import { OutcomesService } from "../../shared/core/outcomes/outcomes-service.js";
import type { MessageQueue } from "../../shared/core/ports.js";
import { runAgentStep } from "../../shared/core/runtime/agent-step.js";
import { sweepStalledSessions } from "../../shared/core/runtime/sweeper.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { inMemoryDeps, ScriptedModel, sessionFixture, text, toolUse } from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_test";

class GraderQueue implements MessageQueue<GraderMessage> {
  sent: GraderMessage[] = [];
  async send(message: GraderMessage) {
    this.sent.push(message);
  }
}

const session = () => sessionFixture("sesn_1", { system: "AGENT-SYSTEM-PROMPT", tools: [] });

const satisfied = toolUse("submit_grade", {
  rubric_applies: true,
  criteria: [{ index: 0, satisfied: true, finding: "ok" }],
  explanation: "met",
});

async function start(model: ScriptedModel, clock = { t: 1_000_000 }, rubric = "- It is written") {
  const rt = inMemoryDeps(model, () => clock.t);
  const graders = new GraderQueue();
  rt.deps.outcomes = { queue: graders, heartbeatMs: 60_000, leaseMs: 300_000 };
  await rt.deps.sessions.create({ workspaceId: WS, session: session(), run: newRunState() });
  await new EventsService(rt.deps).send(WS, "sesn_1", [
    {
      type: "user.define_outcome",
      description: "Write it",
      rubric: { type: "text", content: rubric },
    },
  ]);
  // The agent's turn: one step, which ends the turn and hands the outcome to the grader.
  await runAgentStep(rt.deps, rt.queue.take() as never);
  return { ...rt, graders, clock };
}

/** DynamoDB's 400 KB item limit, which the SQLite store enforces too (the in-memory store does not). */
function enforceItemLimit(deps: ReturnType<typeof inMemoryDeps>["deps"]) {
  const put = deps.store.put.bind(deps.store);
  deps.store.put = async (table, item, options) => {
    const bytes = Buffer.byteLength(JSON.stringify(item));
    if (bytes > 400 * 1024) throw new Error(`ValidationException: item of ${bytes} bytes (${item.sk})`);
    return put(table, item, options);
  };
}

/**
 * `times` grader tries that die after their claim (killed, timed out, out of memory): nothing catches
 * such a death, so nothing counts it but the claim itself. Each dead try's lease then runs out and
 * the sweeper re-sends the message.
 */
async function dieGrading(
  deps: Awaited<ReturnType<typeof start>>["deps"],
  message: GraderMessage,
  clock: { t: number },
  times: number,
) {
  const get = deps.store.get.bind(deps.store);
  let deaths = times;
  deps.store.get = async (table, pk, sk) => {
    if (deaths > 0 && String(sk).startsWith("def#")) {
      deaths--;
      throw new Error("process killed");
    }
    return get(table, pk, sk);
  };
  for (let i = 0; i < times; i++) {
    await expect(runGrader(deps, message)).rejects.toThrow("process killed");
    clock.t += 331_000;
  }
}

describe("outcome hand-off and grading", () => {
  it("ends the turn in `evaluating` (session still running) and enqueues exactly one grader message", async () => {
    const { deps, graders, queue } = await start(new ScriptedModel([text("done")]));
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.status).toBe("running");
    expect(record?.session.outcome_evaluations[0]?.result).toBe("evaluating");
    expect(graders.sent).toHaveLength(1);
    expect(queue.sent).toHaveLength(0);
  });

  it("two concurrent deliveries produce one model call, one verdict and one webhook-bound event", async () => {
    const model = new ScriptedModel([text("done"), satisfied, satisfied]);
    const { deps, graders, published } = await start(model);
    const message = graders.sent[0] as GraderMessage;
    await Promise.all([runGrader(deps, message), runGrader(deps, message)]);
    await runGrader(deps, message);
    expect(model.requests).toHaveLength(2); // the agent's and one grader call
    const evaluations = await new OutcomeStore(deps.store).evaluations("sesn_1", message.outcomeId);
    expect(evaluations.map((e) => e.result)).toEqual(["satisfied"]);
    expect(published.filter((e) => e.type === "session.outcome_evaluation_ended")).toHaveLength(1);
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.status).toBe("idle");
    expect(record?.run.grading).toBeUndefined();
    // The grader's request holds none of the agent's context.
    expect(JSON.stringify(model.requests[1])).not.toContain("AGENT-SYSTEM-PROMPT");
  });

  it("a grader that dies after pinning its verdict is re-run after its lease and reuses the verdict", async () => {
    const clock = { t: 1_000_000 };
    const model = new ScriptedModel([text("done"), satisfied]);
    const { deps, graders } = await start(model, clock);
    const message = graders.sent[0] as GraderMessage;
    const put = deps.store.put.bind(deps.store);
    let crashed = false;
    deps.store.put = async (table, item, options) => {
      if (!crashed && String(item.sk).startsWith("outc-end#")) {
        crashed = true;
        throw new Error("process killed");
      }
      return put(table, item, options);
    };
    await expect(runGrader(deps, message)).rejects.toThrow("process killed");
    await runGrader(deps, message); // redelivered within the lease: dropped
    expect((await deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("running");
    clock.t += 331_000;
    await runGrader(deps, message);
    expect(model.requests).toHaveLength(2);
    const events = await deps.events.read("sesn_1");
    expect(events.filter((e) => e.event.type === "span.outcome_evaluation_start")).toHaveLength(1);
    expect(events.filter((e) => e.event.type === "span.outcome_evaluation_end")).toHaveLength(1);
    expect((await deps.sessions.get(WS, "sesn_1"))?.session.outcome_evaluations[0]?.result).toBe("satisfied");
  });

  it("a lost grader message is re-sent by the sweeper once the hand-off lease passes, and no agent step runs meanwhile", async () => {
    const clock = { t: 1_000_000 };
    const { deps, graders, queue } = await start(new ScriptedModel([text("done")]), clock);
    graders.sent.length = 0;
    clock.t += 301_000;
    await sweepStalledSessions(deps);
    expect(graders.sent).toHaveLength(1);
    expect(queue.sent).toHaveLength(0);
    // A stray agent-step nudge for the current step is dropped while the grader holds the session.
    const record = await deps.sessions.get(WS, "sesn_1");
    await runAgentStep(deps, {
      schemaVersion: 1,
      workspaceId: WS,
      sessionId: "sesn_1",
      stepSeq: record?.run.stepSeq ?? 0,
    });
    expect((await deps.sessions.get(WS, "sesn_1"))?.rev).toBe(record?.rev);
  });

  it("a verdict on a rubric near the 256 KiB limit is pinned within the item limit, after one grader call", async () => {
    // 130 criteria of ~1.6 KB, all unmet: repeating each one's text made a ~450 KB record.
    const n = 130;
    const rubric = Array.from(
      { length: n },
      (_, i) => `- Criterion ${i}: ${"the report must describe this aspect in detail ".repeat(34)}`,
    ).join("\n");
    const unmet = toolUse("submit_grade", {
      rubric_applies: true,
      criteria: Array.from({ length: n }, (_, index) => ({ index, satisfied: false, finding: "missing" })),
      explanation: "Nothing is met.",
    });
    const model = new ScriptedModel([text("done"), unmet]);
    const { deps, graders } = await start(model, { t: 1_000_000 }, rubric);
    enforceItemLimit(deps);
    const message = graders.sent[0] as GraderMessage;

    await expect(runGrader(deps, message)).resolves.toMatchObject({ result: "needs_revision" });

    expect(model.requests).toHaveLength(2);
    const [pinned] = await new OutcomeStore(deps.store).evaluations("sesn_1", message.outcomeId);
    expect(pinned?.criteria).toHaveLength(n);
    expect(pinned?.criteria[7]).toEqual({ index: 7, method: "model", satisfied: false, finding: "missing" });
    expect(pinned?.explanation.length).toBeLessThanOrEqual(EVALUATION_LIMITS.explanationChars);
    expect(pinned?.explanation).toMatch(
      /^Nothing is met\.\n\n130 of 130 criteria are not met:\n- \[0\] Criterion 0:/,
    );
    expect(pinned?.explanation).toMatch(/- … and \d+ more \(see this evaluation's findings\)$/);
    const [end] = (await deps.events.read("sesn_1")).filter(
      (e) => e.event.type === "span.outcome_evaluation_end",
    );
    expect(end?.event).toMatchObject({ result: "needs_revision", explanation: pinned?.explanation });
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.outcome_evaluations[0]).toMatchObject({ result: "running", iteration: 1 });
    expect(graders.sent).toHaveLength(1);
    // The findings endpoint names each criterion by the pinned rubric's text.
    const findings = await new OutcomesService(deps.sessions, new OutcomeStore(deps.store)).findings(
      WS,
      "sesn_1",
      message.outcomeId,
    );
    expect(findings.data[0]?.criteria[7]).toMatchObject({
      index: 7,
      criterion: expect.stringMatching(/^Criterion 7: /),
    });
  });

  it("an internal error before the verdict is retried like a model outage, then ends the outcome `failed`", async () => {
    const { deps, graders, published } = await start(new ScriptedModel([text("done")]));
    let graderCalls = 0;
    deps.model = {
      name: "broken",
      async createMessage() {
        graderCalls++;
        throw new TypeError("Cannot read properties of undefined (reading 'content')");
      },
    };
    const runs = [];
    for (let round = 0; round < 5 && graders.sent.length > round; round++)
      runs.push(await runGrader(deps, graders.sent[round] as GraderMessage));

    // maxRetries 2: three attempts, each re-sent by the grader itself, then a verdict.
    expect(runs.map((r) => r.outcome)).toEqual(["retrying", "retrying", "graded"]);
    expect(graderCalls).toBe(3);
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.status).toBe("idle");
    expect(record?.run.grading).toBeUndefined();
    expect(record?.session.outcome_evaluations[0]).toMatchObject({
      result: "failed",
      explanation: expect.stringMatching(/internal error on each of its 3 attempts/),
    });
    const types = (await deps.events.read("sesn_1")).map((e) => e.event.type);
    expect(types.filter((t) => t === "span.outcome_evaluation_end")).toHaveLength(1);
    expect(types.at(-1)).toBe("session.status_idle");
    expect(published.map((e) => e.type)).toContain("session.status_idled");
  });

  it("a grader whose process dies before its verdict on every try ends the outcome `failed`, then calls no model", async () => {
    const clock = { t: 1_000_000 };
    const model = new ScriptedModel([text("done"), satisfied]);
    const { deps, graders } = await start(model, clock);
    const message = graders.sent[0] as GraderMessage;
    // Three tries die; maxRetries is 2.
    await dieGrading(deps, message, clock, 3);
    expect(await runGrader(deps, message)).toMatchObject({ outcome: "graded", result: "failed" });
    expect(model.requests).toHaveLength(1); // the agent's only: no grader call after the deaths
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.outcome_evaluations[0]).toMatchObject({
      result: "failed",
      explanation: expect.stringMatching(/process stopped \(a crash or a timeout\) on 3 of its attempts/),
    });
    expect(record?.session.status).toBe("idle");
  });

  it("an interrupt after the grader's deaths still ends the outcome `interrupted`", async () => {
    const clock = { t: 1_000_000 };
    const model = new ScriptedModel([text("done")]);
    const { deps, graders } = await start(model, clock);
    const message = graders.sent[0] as GraderMessage;
    await dieGrading(deps, message, clock, 3);
    await new EventsService(deps).send(WS, "sesn_1", [{ type: "user.interrupt" }]);
    expect(await runGrader(deps, message)).toMatchObject({ outcome: "graded", result: "interrupted" });
    expect((await deps.sessions.get(WS, "sesn_1"))?.session.outcome_evaluations[0]?.result).toBe(
      "interrupted",
    );
  });

  it("a verdict the store keeps refusing is counted the same way: three grader calls, then `failed`", async () => {
    const model = new ScriptedModel([text("done"), satisfied, satisfied, satisfied, satisfied]);
    const { deps, graders } = await start(model);
    const put = deps.store.put.bind(deps.store);
    deps.store.put = async (table, item, options) => {
      if (String(item.sk).startsWith("eval#") && item.result !== "failed")
        throw new Error("ValidationException: Item size has exceeded the maximum allowed size");
      return put(table, item, options);
    };
    for (let round = 0; round < 5 && graders.sent.length > round; round++)
      await runGrader(deps, graders.sent[round] as GraderMessage);
    expect(model.requests).toHaveLength(4); // the agent's and three grader calls
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.status).toBe("idle");
    expect(record?.session.outcome_evaluations[0]?.result).toBe("failed");
  });

  it("an interrupt written between the commit's read and its save still announces the idle", async () => {
    const unmet = toolUse("submit_grade", {
      rubric_applies: true,
      criteria: [{ index: 0, satisfied: false, finding: "not yet" }],
      explanation: "not met",
    });
    const { deps, graders, published } = await start(new ScriptedModel([text("done"), unmet]));
    // The commit reads the session (no interrupt: a revision turn, no idle events), then saves; the
    // interrupt lands in between, at the first session write after the end event.
    const put = deps.store.put.bind(deps.store);
    let endWritten = false;
    deps.store.put = async (table, item, options) => {
      if (String(item.sk).startsWith("outc-end#")) endWritten = true;
      return put(table, item, options);
    };
    const mutate = deps.sessions.mutate.bind(deps.sessions);
    let interrupted = false;
    deps.sessions.mutate = async (...args: Parameters<typeof mutate>) => {
      if (endWritten && !interrupted) {
        interrupted = true;
        await new EventsService(deps).send(WS, "sesn_1", [{ type: "user.interrupt" }]);
      }
      return mutate(...args);
    };

    await runGrader(deps, graders.sent[0] as GraderMessage);

    expect(interrupted).toBe(true);
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.status).toBe("idle");
    const types = (await deps.events.read("sesn_1")).map((e) => e.event.type);
    expect(types.slice(-4)).toEqual([
      "span.outcome_evaluation_end",
      "user.interrupt",
      "session.usage",
      "session.status_idle",
    ]);
    expect(published.filter((e) => e.type === "session.status_idled")).toHaveLength(1);
  });

  it("a grader that dies in its commit, after publishing the verdict, does not publish it again when re-run", async () => {
    const clock = { t: 1_000_000 };
    const { deps, graders, published } = await start(new ScriptedModel([text("done"), satisfied]), clock);
    const message = graders.sent[0] as GraderMessage;
    const mutate = deps.sessions.mutate.bind(deps.sessions);
    let crashed = false;
    deps.sessions.mutate = async (...args: Parameters<typeof mutate>) => {
      if (!crashed && published.some((e) => e.type === "session.outcome_evaluation_ended")) {
        crashed = true;
        throw new Error("process killed");
      }
      return mutate(...args);
    };
    await expect(runGrader(deps, message)).rejects.toThrow("process killed");
    clock.t += 301_000;
    await runGrader(deps, message);

    expect((await deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("idle");
    // Each publish of a `satisfied` verdict is one SNS notification (email/SMS do not dedupe).
    expect(published.filter((e) => e.type === "session.outcome_evaluation_ended")).toHaveLength(1);
  });

  it("a grader whose commit fails after announcing the idle publishes `session.status_idled` once", async () => {
    // Prepare: the commit's save fails once, after the idle events and their domain event.
    const clock = { t: 1_000_000 };
    const { deps, graders, published } = await start(new ScriptedModel([text("done"), satisfied]), clock);
    const message = graders.sent[0] as GraderMessage;
    const mutate = deps.sessions.mutate.bind(deps.sessions);
    let failed = false;
    deps.sessions.mutate = async (...args: Parameters<typeof mutate>) => {
      if (!failed && published.some((e) => e.type === "session.status_idled")) {
        failed = true;
        throw new Error("store unavailable");
      }
      return mutate(...args);
    };

    // Act: the delivery fails; the queue redelivers once the lease has passed.
    await expect(runGrader(deps, message)).rejects.toThrow("store unavailable");
    clock.t += 301_000;
    await runGrader(deps, message);

    // Assess: one idle, announced once to the bus and the webhooks (EventBridge does not dedupe).
    expect(failed).toBe(true);
    expect((await deps.sessions.get(WS, "sesn_1"))?.session.status).toBe("idle");
    const idled = published.filter((e) => e.type === "session.status_idled");
    expect(idled).toHaveLength(1);
    expect(idled[0]?.data).toMatchObject({ id: "sesn_1", agent_id: expect.any(String) });
  });
});
