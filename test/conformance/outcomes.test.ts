/**
 * Outcomes through the official SDK against the embedded stack, with the upstream model scripted
 * separately for the agent and for the grader (told apart by the grader's forced `submit_grade`).
 */
import type Anthropic from "@anthropic-ai/sdk";
import { toFile } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { graderMessage } from "../../shared/core/outcomes/grader-message.js";
import {
  type MockRequestBody,
  type MockResponse,
  mockText,
  mockToolUse,
  type ReceivedRequest,
} from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;
type EvaluationEnd = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSpanOutcomeEvaluationEndEvent;

let h: Harness;
const agentReplies: MockResponse[] = [];
const graderReplies: MockResponse[] = [];
const isGrader = (body: MockRequestBody) =>
  (body.tool_choice as { name?: string } | undefined)?.name === "submit_grade";
const graderRequests = () => h.upstream.requests.filter(isGrader);
const agentRequests = () => h.upstream.requests.filter((r) => !isGrader(r));

beforeAll(async () => {
  h = await startHarness({ env: { REVERIE_GRADER_HEARTBEAT_SECONDS: "0.2" } });
});
afterAll(async () => h.close());
beforeEach(() => {
  h.upstream.reset();
  agentReplies.length = 0;
  graderReplies.length = 0;
  h.upstream.fallback = (request: ReceivedRequest) =>
    (isGrader(request.body) ? graderReplies.shift() : agentReplies.shift()) ?? mockText("ok");
});

/** A grader answer: `[index, satisfied]` per model-graded criterion. */
const grade = (criteria: Array<[number, boolean]>, extra: { applies?: boolean; delayMs?: number } = {}) =>
  mockToolUse(
    "submit_grade",
    {
      rubric_applies: extra.applies ?? true,
      criteria: criteria.map(([index, satisfied]) => ({
        index,
        satisfied,
        finding: satisfied ? `criterion ${index} met` : `criterion ${index} is missing the totals`,
      })),
      explanation: criteria.every(([, ok]) => ok) ? "Everything is there." : "The totals are missing.",
    },
    { delayMs: extra.delayMs },
  );

const outcome = (rubric: string, extra: { max_iterations?: number } = {}) => ({
  type: "user.define_outcome" as const,
  description: "Write a quarterly report to report.md",
  rubric: { type: "text" as const, content: rubric },
  ...extra,
});

async function startWithOutcome(rubric: string, extra: { max_iterations?: number } = {}) {
  const { agentId, environmentId } = await h.setup();
  const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
  const sent = await h.client.beta.sessions.events.send(session.id, { events: [outcome(rubric, extra)] });
  return {
    sessionId: session.id,
    echo: sent.data?.[0] as Anthropic.Beta.Sessions.Events.BetaManagedAgentsUserDefineOutcomeEvent,
  };
}

const ends = (events: Event[]) =>
  events.filter((e): e is EvaluationEnd => e.type === "span.outcome_evaluation_end");

async function waitForEvent(sessionId: string, type: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const events = await h.allEvents(sessionId);
    if (events.some((e) => e.type === type)) return events;
    if (Date.now() > deadline) throw new Error(`no ${type} event after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe("outcomes", () => {
  it("a satisfied outcome: evaluation spans, verdict, idle; the grader sees rubric and output only", async () => {
    agentReplies.push(
      mockToolUse(
        "write",
        { file_path: "/workspace/report.md", content: "# Q3\nRevenue 10, costs 4, totals 6." },
        { text: "Thinking aloud: TRANSCRIPT-ONLY-REMARK" },
      ),
      mockText("FINAL-OUTPUT: the report is in report.md"),
    );
    graderReplies.push(grade([[0, true]]));
    const { sessionId, echo } = await startWithOutcome("- The report states the totals");
    expect(echo.outcome_id).toMatch(/^outc_/);
    expect(echo.max_iterations).toBe(3);
    expect(echo.rubric).toEqual({ type: "text", content: "- The report states the totals" });

    const session = await h.waitIdle(sessionId);
    const events = await h.allEvents(sessionId);
    const types = events.map((e) => e.type);
    expect(types.slice(-5)).toEqual([
      "span.outcome_evaluation_start",
      "span.outcome_evaluation_ongoing",
      "span.outcome_evaluation_end",
      "session.usage",
      "session.status_idle",
    ]);
    const [end] = ends(events);
    const start = events.find((e) => e.type === "span.outcome_evaluation_start");
    expect(end).toMatchObject({ result: "satisfied", iteration: 0, outcome_id: echo.outcome_id });
    expect(end?.outcome_evaluation_start_id).toBe(start?.id);
    expect(end?.usage.input_tokens).toBeGreaterThan(0);
    expect(session.outcome_evaluations).toEqual([
      expect.objectContaining({
        type: "outcome_evaluation",
        outcome_id: echo.outcome_id,
        result: "satisfied",
        iteration: 0,
        completed_at: expect.any(String),
      }),
    ]);

    const [graderRequest] = graderRequests();
    const sent = JSON.stringify(graderRequest);
    expect(graderRequests()).toHaveLength(1);
    expect(sent).toContain("The report states the totals");
    expect(sent).toContain("FINAL-OUTPUT: the report is in report.md");
    expect(sent).toContain("Revenue 10, costs 4, totals 6.");
    expect(sent).not.toContain("You are a careful test agent.");
    expect(sent).not.toContain("TRANSCRIPT-ONLY-REMARK");
    expect(graderRequest?.messages).toHaveLength(1);
    // The agent saw the outcome it works toward.
    expect(JSON.stringify(agentRequests()[0]?.messages)).toContain("Write a quarterly report to report.md");
  });

  it("needs_revision sends the feedback to the agent, which revises until satisfied", async () => {
    agentReplies.push(mockText("first draft"), mockText("second draft with totals"));
    graderReplies.push(grade([[0, false]]), grade([[0, true]]));
    const { sessionId } = await startWithOutcome("- The report states the totals");
    const session = await h.waitIdle(sessionId);
    const verdicts = ends(await h.allEvents(sessionId)).map((e) => [e.iteration, e.result]);
    expect(verdicts).toEqual([
      [0, "needs_revision"],
      [1, "satisfied"],
    ]);
    expect(session.outcome_evaluations[0]).toMatchObject({ result: "satisfied", iteration: 1 });
    expect(JSON.stringify(agentRequests()[1]?.messages)).toContain("criterion 0 is missing the totals");
    expect(JSON.stringify(graderRequests()[1])).toContain("second draft with totals");
    expect(JSON.stringify(graderRequests()[1])).not.toContain("first draft");
  });

  it("stops at max_iterations with max_iterations_reached after one acknowledgment turn", async () => {
    agentReplies.push(mockText("draft"), mockText("acknowledged: totals still missing"));
    graderReplies.push(grade([[0, false]]));
    const { sessionId } = await startWithOutcome("- The report states the totals", { max_iterations: 1 });
    const session = await h.waitIdle(sessionId);
    const events = await h.allEvents(sessionId);
    expect(ends(events).map((e) => e.result)).toEqual(["max_iterations_reached"]);
    expect(graderRequests()).toHaveLength(1);
    expect(agentRequests()).toHaveLength(2);
    expect(events.at(-1)?.type).toBe("session.status_idle");
    expect(session.outcome_evaluations[0]).toMatchObject({ result: "max_iterations_reached" });
  });

  it("reports failed when the rubric does not apply, and when the grader's output stays malformed", async () => {
    agentReplies.push(mockText("I wrote a poem instead"));
    graderReplies.push(grade([[0, false]], { applies: false }));
    const first = await startWithOutcome("- The report states the totals");
    await h.waitIdle(first.sessionId);
    expect(ends(await h.allEvents(first.sessionId)).map((e) => e.result)).toEqual(["failed"]);

    h.upstream.reset();
    agentReplies.push(mockText("report done"));
    graderReplies.push(mockText("looks fine to me"), grade([[5, true]]), mockText("{}"));
    const second = await startWithOutcome("- The report states the totals");
    const session = await h.waitIdle(second.sessionId);
    const [end] = ends(await h.allEvents(second.sessionId));
    expect(end?.result).toBe("failed");
    expect(end?.explanation).toMatch(/could not be read after 3 attempts/);
    expect(graderRequests()).toHaveLength(3);
    expect(session.outcome_evaluations[0]?.result).toBe("failed");
  });

  it("an interrupt during evaluation ends it as interrupted", async () => {
    agentReplies.push(mockText("report done"));
    graderReplies.push(grade([[0, true]], { delayMs: 1500 }));
    const { sessionId } = await startWithOutcome("- The report states the totals");
    await waitForEvent(sessionId, "span.outcome_evaluation_start");
    await h.client.beta.sessions.events.send(sessionId, { events: [{ type: "user.interrupt" }] });
    const session = await h.waitIdle(sessionId);
    const events = await h.allEvents(sessionId);
    expect(ends(events).map((e) => e.result)).toEqual(["interrupted"]);
    expect(events.at(-1)?.type).toBe("session.status_idle");
    expect(session.outcome_evaluations[0]?.result).toBe("interrupted");
  });

  it("a grader message delivered twice, concurrently and later, produces one evaluation", async () => {
    agentReplies.push(mockText("report done"));
    graderReplies.push(grade([[0, true]], { delayMs: 600 }), grade([[0, false]]));
    const { sessionId, echo } = await startWithOutcome("- The report states the totals");
    await waitForEvent(sessionId, "span.outcome_evaluation_start");
    const duplicate = graderMessage("wrkspc_local", sessionId, echo.outcome_id, 0);
    await h.stack.graderQueue.send(duplicate);
    await h.waitIdle(sessionId);
    await h.stack.graderQueue.send(duplicate);
    await h.stack.graderQueue.drained();
    const events = await h.allEvents(sessionId);
    expect(ends(events).map((e) => e.result)).toEqual(["satisfied"]);
    expect(events.filter((e) => e.type === "span.outcome_evaluation_start")).toHaveLength(1);
    expect(graderRequests()).toHaveLength(1);
  });

  it("a user message sent during evaluation is answered after the verdict", async () => {
    agentReplies.push(mockText("report done"), mockText("answering your question"));
    graderReplies.push(grade([[0, true]], { delayMs: 400 }));
    const { sessionId } = await startWithOutcome("- The report states the totals");
    await waitForEvent(sessionId, "span.outcome_evaluation_start");
    await h.client.beta.sessions.events.send(sessionId, {
      events: [{ type: "user.message", content: [{ type: "text", text: "QUESTION-DURING-EVALUATION" }] }],
    });
    await h.waitIdle(sessionId);
    const types = (await h.allEvents(sessionId)).map((e) => e.type);
    expect(types.indexOf("span.outcome_evaluation_end")).toBeLessThan(types.lastIndexOf("agent.message"));
    expect(types.at(-1)).toBe("session.status_idle");
    expect(JSON.stringify(agentRequests().at(-1)?.messages)).toContain("QUESTION-DURING-EVALUATION");
    expect(graderRequests()).toHaveLength(1);
  });

  it("a second outcome waits for the first, then is worked on and graded", async () => {
    agentReplies.push(mockText("report done"), mockText("summary done"));
    graderReplies.push(grade([[0, true]], { delayMs: 300 }), grade([[0, true]]));
    const { sessionId } = await startWithOutcome("- The report states the totals");
    const second = await h.client.beta.sessions.events.send(sessionId, {
      events: [{ ...outcome("- The summary is short"), description: "Summarise the report" }],
    });
    const pending = await h.client.beta.sessions.retrieve(sessionId);
    expect(pending.outcome_evaluations.map((e) => e.result)).toEqual([expect.any(String), "pending"]);
    const session = await h.waitIdle(sessionId);
    expect(session.outcome_evaluations.map((e) => e.result)).toEqual(["satisfied", "satisfied"]);
    const secondId = (second.data?.[0] as { outcome_id: string } | undefined)?.outcome_id;
    expect(
      ends(await h.allEvents(sessionId))
        .map((e) => e.outcome_id)
        .at(-1),
    ).toBe(secondId);
  });

  it("refuses an outcome the session's record could not hold; nothing is written, and the session goes on", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    // Each description is kept on the session (its outcome_evaluations): four of 90,000 characters
    // take its record toward the store's 400 KB item limit, past which no save of it lands again.
    const long = (n: number) => ({
      ...outcome("- The report states the totals"),
      description: `${n} `.repeat(45_000),
    });
    for (const n of [1, 2, 3]) await h.client.beta.sessions.events.send(session.id, { events: [long(n)] });
    const refused = h.client.beta.sessions.events.send(session.id, { events: [long(4)] });
    await expect(refused).rejects.toMatchObject({ status: 400 });
    await expect(refused).rejects.toThrow(/events\.0\.description: this session cannot hold/);
    const defined = (await h.allEvents(session.id)).filter((e) => e.type === "user.define_outcome");
    expect(defined).toHaveLength(3);

    await h.waitIdle(session.id, 30_000);
    agentReplies.push(mockText("still here"));
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "hello" }] }],
    });
    const idle = await h.waitIdle(session.id);
    expect(idle.outcome_evaluations).toHaveLength(3);
    const events = await h.allEvents(session.id);
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    expect(events.filter((e) => e.type === "agent.message").at(-1)).toMatchObject({
      content: [{ type: "text", text: "still here" }],
    });
  });

  it("refuses a session whose initial outcomes its record could not hold, before writing the session", async () => {
    const { agentId, environmentId } = await h.setup();
    const before = (await h.client.beta.sessions.list({ limit: 100 })).data.length;
    // 25 outcomes of 9,000 characters: ~230 KB of request, and with room for their explanations
    // more than a session's record may give its outcomes.
    const initial = Array.from({ length: 25 }, (_, n) => ({
      ...outcome("- The report states the totals"),
      description: `${n} ${"x".repeat(9_000)}`,
    }));
    const refused = h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      initial_events: initial,
    });
    await expect(refused).rejects.toMatchObject({ status: 400 });
    await expect(refused).rejects.toThrow(/initial_events\.0\.description: this session cannot hold/);
    expect((await h.client.beta.sessions.list({ limit: 100 })).data.length).toBe(before);
  });

  it("hybrid rubric: machine checks decided by code, the rest by the model; findings retrievable", async () => {
    agentReplies.push(
      mockToolUse("write", { file_path: "/workspace/report.md", content: "Total: 6" }),
      mockText("report written"),
    );
    graderReplies.push(grade([[2, true]]));
    const { sessionId, echo } = await startWithOutcome(
      '- check: file report.md exists\n- check: file report.md contains "Total"\n- The tone is clear',
    );
    await h.waitIdle(sessionId);
    expect(ends(await h.allEvents(sessionId)).map((e) => e.result)).toEqual(["satisfied"]);
    const sent = JSON.stringify(graderRequests()[0]?.messages);
    expect(sent).toContain('<criterion index=\\"2\\">The tone is clear</criterion>');
    expect(sent).not.toContain('<criterion index=\\"0\\">');

    const response = await fetch(
      `${h.stack.url}/v1/sessions/${sessionId}/outcomes/${echo.outcome_id}/evaluations`,
      {
        headers: { "x-api-key": h.stack.apiKey },
      },
    );
    const findings = (await response.json()) as {
      data: Array<{
        iteration: number;
        result: string;
        criteria: Array<{ method: string; satisfied: boolean }>;
      }>;
    };
    expect(findings.data).toHaveLength(1);
    expect(findings.data[0]).toMatchObject({ iteration: 0, result: "satisfied" });
    expect(findings.data[0]?.criteria.map((c) => [c.method, c.satisfied])).toEqual([
      ["machine", true],
      ["machine", true],
      ["model", true],
    ]);
    const missing = await fetch(`${h.stack.url}/v1/sessions/${sessionId}/outcomes/outc_nope/evaluations`, {
      headers: { "x-api-key": h.stack.apiKey },
    });
    expect(missing.status).toBe(404);
  });

  it("a grader call that hits 529 is retried through the queue, then graded", async () => {
    agentReplies.push(mockText("report done"));
    graderReplies.push({ fault: 529 }, grade([[0, true]]));
    const { sessionId } = await startWithOutcome("- The report states the totals");
    const session = await h.waitIdle(sessionId);
    expect(ends(await h.allEvents(sessionId)).map((e) => e.result)).toEqual(["satisfied"]);
    expect(graderRequests()).toHaveLength(2);
    expect(session.outcome_evaluations[0]?.result).toBe("satisfied");
  });

  it("an outcome in initial_events starts the work at creation; a missing rubric file there is a 400 before anything is created", async () => {
    agentReplies.push(mockText("report done"));
    graderReplies.push(grade([[0, true]]));
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      initial_events: [outcome("- The report states the totals")],
    });
    expect(session.outcome_evaluations).toEqual([expect.objectContaining({ result: "running" })]);
    expect((await h.waitIdle(session.id)).outcome_evaluations[0]?.result).toBe("satisfied");

    const before = (await h.client.beta.sessions.list({ limit: 100 })).data.length;
    await expect(
      h.client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        initial_events: [{ ...outcome("x"), rubric: { type: "file", file_id: "file_1" } }],
      }),
    ).rejects.toMatchObject({ status: 400 });
    expect((await h.client.beta.sessions.list({ limit: 100 })).data.length).toBe(before);
  });

  it("a file rubric: its content reaches the agent and the grader, pinned at define time (deleting the file changes nothing)", async () => {
    // The agent's turn (and so the grader) only ends after the file is gone.
    agentReplies.push(mockText("FINAL-OUTPUT: revenue 10, totals 6", { delayMs: 300 }));
    graderReplies.push(grade([[0, true]]));
    const rubric = await h.client.beta.files.upload({
      file: await toFile(Buffer.from("- RUBRIC-FROM-FILE: the answer states the totals\n"), "rubric.md", {
        type: "text/markdown",
      }),
    });
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const sent = await h.client.beta.sessions.events.send(session.id, {
      events: [{ ...outcome("x"), rubric: { type: "file", file_id: rubric.id } }],
    });
    expect((sent.data?.[0] as { rubric?: unknown } | undefined)?.rubric).toEqual({
      type: "file",
      file_id: rubric.id,
    });
    await h.client.beta.files.delete(rubric.id);
    const done = await h.waitIdle(session.id);
    expect(done.outcome_evaluations[0]?.result).toBe("satisfied");
    const sentToGrader = JSON.stringify(graderRequests()[0]);
    expect(sentToGrader).toContain("RUBRIC-FROM-FILE: the answer states the totals");
    // the agent worked toward the same text
    expect(JSON.stringify(agentRequests()[0]?.messages)).toContain("RUBRIC-FROM-FILE");
  });

  it("rejects missing, binary or unparsable rubric files, bad machine checks and max_iterations over 20 with a 400", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const send = (event: unknown) =>
      h.client.beta.sessions.events.send(session.id, { events: [event as never] }).then(
        () => undefined,
        (error: { status?: number; message?: string }) => error,
      );
    const fileRubric = await send({ ...outcome("x"), rubric: { type: "file", file_id: "file_1" } });
    expect(fileRubric?.status).toBe(400);
    expect(fileRubric?.message).toMatch(/file file_1 not found/);
    const binary = await h.client.beta.files.upload({
      file: await toFile(new Uint8Array([0xc3, 0x28, 0xff]), "rubric.bin"),
    });
    const notText = await send({ ...outcome("x"), rubric: { type: "file", file_id: binary.id } });
    expect(notText?.status).toBe(400);
    expect(notText?.message).toMatch(/not UTF-8 text/);
    const badCheck = await h.client.beta.files.upload({
      file: await toFile(Buffer.from("- check: file exists"), "rubric.md"),
    });
    const unparsable = await send({ ...outcome("x"), rubric: { type: "file", file_id: badCheck.id } });
    expect(unparsable?.status).toBe(400);
    expect(unparsable?.message).toMatch(/rubric/);
    expect((await send(outcome("- check: file exists")))?.status).toBe(400);
    expect((await send(outcome("- ok", { max_iterations: 21 })))?.status).toBe(400);
    expect((await h.client.beta.sessions.retrieve(session.id)).outcome_evaluations).toEqual([]);
  });

  it("deleting a graded session leaves none of its run data behind", async () => {
    agentReplies.push(
      mockToolUse("write", { file_path: "/workspace/report.md", content: "totals 6" }),
      mockText("done"),
    );
    graderReplies.push(grade([[0, true]]));
    const { sessionId } = await startWithOutcome("- The report states the totals");
    await h.waitIdle(sessionId);
    const store = h.stack.services.deps.store;
    const partitions = [`step#${sessionId}`, `once#${sessionId}`, `outcome#${sessionId}`, `seq#${sessionId}`];
    const counts = async () => ({
      events: (await store.query("events", sessionId)).length,
      ...Object.fromEntries(
        await Promise.all(partitions.map(async (pk) => [pk, (await store.query("resources", pk)).length])),
      ),
    });
    const before = await counts();
    expect(before.events).toBeGreaterThan(0);
    for (const pk of partitions) expect(before[pk as keyof typeof before], pk).toBeGreaterThan(0);

    await h.client.beta.sessions.delete(sessionId);
    const after = await counts();
    expect(Object.values(after).every((n) => n === 0)).toBe(true);
    await expect(h.client.beta.sessions.retrieve(sessionId)).rejects.toMatchObject({ status: 404 });
  });
});
