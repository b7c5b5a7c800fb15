/**
 * Workflow runs (`multiagent_20261001` workflows) through the official SDK, against the embedded
 * stack and a real HTTP upstream: the agent starts a run with a plan; the plan runs as its compiled
 * ASL on aws-local-stepfunctions; the run's events, threads (`workflow_run_id`) and result arrive in
 * order, and the result returns to the agent. Refusals (`program_error`, `max_workflow_runs_error`),
 * the thread limit, failure isolation (a failed and a timed-out branch), interrupts and duplicate
 * deliveries.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { validateWorkflowPlan } from "../../shared/core/workflows/workflow-plan.js";
import { WorkflowRunStore } from "../../shared/core/workflows/workflow-run-record.js";
import { compileWorkflowStateMachine } from "../../shared/infra-spec/workflow-state-machine.js";
import type { MockResponse, ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;

const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");
const textOfContent = (content: unknown): string =>
  typeof content === "string"
    ? content
    : Array.isArray(content)
      ? content
          .map((b: { type: string; text?: string; content?: unknown }) =>
            b.type === "text" ? (b.text ?? "") : b.type === "tool_result" ? textOfContent(b.content) : "",
          )
          .join("\n")
      : "";
const lastUserText = (r: ReceivedRequest) => textOfContent(r.body.messages.at(-1)?.content);
const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });
const start = (...plans: unknown[]): MockResponse => ({
  stop_reason: "tool_use",
  content: plans.map((input) => ({ type: "tool_use" as const, name: "start_workflow_run", input })),
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** How a run's result starts in the agent's context. */
const RESULT = /Workflow run wfrun_\S+ \(".*"\) (completed|ended|was stopped)/;
/** The lead's request that carries a run's result. */
const resultRequest = (h: Harness) =>
  h.upstream.received.find((r) => systemOf(r).startsWith("LEAD") && RESULT.test(lastUserText(r)));

/** The lead's next answers, in order; then "done". */
let leadScript: Array<(r: ReceivedRequest) => MockResponse> = [];
/** Workers by the name in their system prompt (`WORKER <name>`), or an inline agent's system prompt. */
let workers: Record<string, (r: ReceivedRequest) => MockResponse> = {};

function installUpstream(h: Harness) {
  h.upstream.reset();
  h.upstream.fallback = (r) => {
    const system = systemOf(r);
    if (system.startsWith("LEAD")) {
      // A run's result arrives as text in the lead's context: the final answer quotes that it came.
      if (RESULT.test(lastUserText(r))) return { content: "final answer" };
      const next = leadScript.shift();
      return next ? next(r) : { content: "waiting for the run" };
    }
    const name = system.startsWith("WORKER ")
      ? (system.slice(7).split(/\s/)[0] ?? "")
      : (system.split(/\s/)[0] ?? "");
    return workers[name]?.(r) ?? { content: `${name} did it` };
  };
}

async function setup(h: Harness, extra: { inline?: boolean } = {}) {
  const { environmentId } = await h.setup();
  const worker = (name: string) =>
    h.client.beta.agents.create({ name, model: "claude-haiku-4-5", system: `WORKER ${name}` });
  const [reader, writer, flaky, slow] = await Promise.all([
    worker("reader"),
    worker("writer"),
    worker("flaky"),
    worker("slow"),
  ]);
  const lead = await h.client.beta.agents.create({
    name: "lead",
    model: "claude-sonnet-4-6",
    system: "LEAD",
    multiagent: {
      type: "multiagent_20261001",
      subagents: { type: "disabled" },
      workflows: {
        type: "enabled",
        inline_agents: { type: extra.inline === false ? "disabled" : "enabled" },
        predefined_agents: [reader.id, writer.id, flaky.id, slow.id],
      },
    },
  });
  const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
  return { session, lead };
}

/** The session is idle (its status; the queue may still carry a late duplicate or two). */
async function idle(h: Harness, sessionId: string) {
  await waitFor("the session to be idle", async () => {
    const session = await h.client.beta.sessions.retrieve(sessionId);
    return session.status === "idle" ? session : undefined;
  });
}

async function runEnded(h: Harness, sessionId: string, count = 1) {
  return waitFor("the run's end", async () => {
    const events = await h.allEvents(sessionId);
    return events.filter((e) => e.type === "workflow_run.status_ended").length >= count ? events : undefined;
  });
}

const reviewPlan = {
  name: "Contract review",
  description: "Read every contract, then reconcile",
  agents: [{ name: "checker", system: "CHECKER You check one aspect." }],
  phases: [
    {
      name: "Read",
      steps: [
        { type: "agent", id: "list", agent: "reader", input: "List the contracts", output: "list" },
        { type: "map", id: "read", agent: "reader", items: { from: "list" }, input: "Read {{item}}" },
      ],
    },
    {
      name: "Reconcile",
      description: "Cross-check",
      steps: [
        {
          type: "parallel",
          id: "checks",
          branches: [
            [{ type: "agent", id: "legal", agent: "checker", input: "Legal review of:\n{{steps.read}}" }],
            [{ type: "agent", id: "money", agent: "writer", input: "Money review of:\n{{steps.read}}" }],
          ],
        },
        {
          type: "agent",
          id: "summary",
          agent: "writer",
          input: "Summarise: {{steps.legal}} / {{steps.money}}",
        },
      ],
    },
  ],
};

describe("workflow runs", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ env: { REVERIE_MODEL_MAX_RETRIES: "0" } });
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    installUpstream(h);
    leadScript = [];
    workers = {
      reader: (r) => {
        const input = lastUserText(r);
        // A list step answers through its return_items tool, then ends its turn.
        if (input.startsWith("List"))
          return {
            stop_reason: "tool_use",
            content: [
              { type: "tool_use", name: "return_items", input: { items: ["a.txt", "b.txt", "c.txt"] } },
            ],
          };
        if (input.startsWith("Recorded")) return { content: "listed the contracts" };
        return { content: `contents of ${input.replace(/^Read /, "")}` };
      },
      writer: (r) => ({ content: `writer on: ${lastUserText(r).slice(0, 60)}` }),
      CHECKER: () => ({ content: "legal ok" }),
      flaky: () => ({ fault: 500, message: "upstream broke" }),
      slow: () => ({ content: "too late", delayMs: 6_000 }),
    };
  });

  it("runs two phases with a map and a parallel step: events, threads and the result arrive in order", async () => {
    const { session } = await setup(h);
    leadScript = [() => start(reviewPlan)];
    await h.client.beta.sessions.events.send(session.id, { events: [say("review the contracts")] });
    await runEnded(h, session.id);
    await waitFor("the lead's final answer", async () => resultRequest(h));
    await idle(h, session.id);
    const all = await h.allEvents(session.id);

    const created = all.find((e) => e.type === "workflow_run.created") as Extract<
      Event,
      { type: "workflow_run.created" }
    >;
    const runId = created.workflow_run_id;
    expect(created).toMatchObject({
      name: "Contract review",
      description: "Read every contract, then reconcile",
    });
    expect(created.phases.map((p) => [p.name, p.description])).toEqual([
      ["Read", null],
      ["Reconcile", "Cross-check"],
    ]);
    const [p0, p1] = created.phases.map((p) => p.id);
    const at = (pred: (e: Event) => boolean) => all.findIndex(pred);
    const order = [
      at((e) => e.type === "agent.tool_result"),
      at((e) => e.type === "workflow_run.created"),
      at((e) => e.type === "workflow_run.status_running"),
      at((e) => e.type === "workflow_run.phase_started" && e.workflow_run_phase_id === p0),
      at((e) => e.type === "session.thread_created"),
      at((e) => e.type === "workflow_run.phase_ended" && e.workflow_run_phase_id === p0),
      at((e) => e.type === "workflow_run.phase_started" && e.workflow_run_phase_id === p1),
      at((e) => e.type === "workflow_run.phase_ended" && e.workflow_run_phase_id === p1),
      at((e) => e.type === "workflow_run.status_ended"),
      at(
        (e) =>
          e.type === "agent.message" && e.content.some((b) => b.type === "text" && b.text === "final answer"),
      ),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    const ended = all.find((e) => e.type === "workflow_run.status_ended") as Extract<
      Event,
      { type: "workflow_run.status_ended" }
    >;
    expect(ended.result).toEqual({ type: "completed" });
    // Each phase_ended points at its phase_started.
    for (const e of all.filter((x) => x.type === "workflow_run.phase_ended")) {
      const started = all.find((x) => x.id === (e as { phase_started_id: string }).phase_started_id);
      expect(started?.type).toBe("workflow_run.phase_started");
    }
    expect(all.filter((e) => e.type === "workflow_run.error")).toEqual([]);

    // Seven calls, seven threads, each created by the run.
    const threadsCreated = all.filter((e) => e.type === "session.thread_created");
    expect(threadsCreated).toHaveLength(7);
    expect(
      threadsCreated.every((e) => (e as { workflow_run_id: string | null }).workflow_run_id === runId),
    ).toBe(true);
    const threads: Anthropic.Beta.Sessions.Threads.BetaManagedAgentsSessionThread[] = [];
    for await (const t of h.client.beta.sessions.threads.list(session.id)) threads.push(t);
    expect(threads.filter((t) => t.workflow_run_id === runId)).toHaveLength(7);

    // The map read every listed item; the later steps got the earlier outputs.
    const calls = h.upstream.received.filter((r) => systemOf(r).startsWith("WORKER reader"));
    expect(
      calls
        .map(lastUserText)
        .filter((t) => t.startsWith("Read"))
        .sort(),
    ).toEqual(["Read a.txt", "Read b.txt", "Read c.txt"]);
    const checker = h.upstream.received.find((r) => systemOf(r).startsWith("CHECKER"));
    expect(lastUserText(checker as ReceivedRequest)).toContain("[2] contents of b.txt");
    const summary = h.upstream.received.find((r) => lastUserText(r).startsWith("Summarise"));
    expect(lastUserText(summary as ReceivedRequest)).toMatch(
      /^Summarise: legal ok \/ writer on: Money review/,
    );

    // The result returned to the lead's context when the run ended.
    const final = resultRequest(h) as ReceivedRequest;
    expect(lastUserText(final)).toContain(`Workflow run ${runId}`);
    const result = lastUserText(final);
    expect(result).toContain("completed");
    expect(result).toContain("## legal\nlegal ok");
    expect(result).toContain("## summary\nwriter on: Summarise");
    expect(result).toContain("read (phase 1, reader): 3/3 item(s) succeeded");

    // The embedded stack executed exactly the ASL compiled from the plan (what AWS would be given).
    const lowered = validateWorkflowPlan(reviewPlan, {
      predefined: [
        { name: "reader", id: "x", version: 1 },
        { name: "writer", id: "y", version: 1 },
      ],
      inlineAgents: true,
    });
    if (!lowered.ok) throw new Error(lowered.message);
    expect(h.stack.workflowOrchestrator.definitionOf(runId)).toEqual(
      compileWorkflowStateMachine(lowered.plan.program),
    );
  });

  it("refuses a plan with an error as program_error, and the agent retries with a fixed plan", async () => {
    const { session } = await setup(h);
    const small = {
      name: "Small",
      phases: [{ name: "Only", steps: [{ type: "agent", id: "one", agent: "writer", input: "go" }] }],
    };
    leadScript = [
      () =>
        start({
          ...small,
          phases: [{ name: "Only", steps: [{ type: "agent", id: "one", agent: "nobody", input: "go" }] }],
        }),
      (r) => {
        expect(lastUserText(r)).toContain('no agent "nobody"');
        return start(small);
      },
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const events = await runEnded(h, session.id);
    const refused = events.find((e) => e.type === "workflow_run.error") as Extract<
      Event,
      { type: "workflow_run.error" }
    >;
    expect(refused.workflow_run_id).toBeNull();
    expect(refused.error.type).toBe("program_error");
    expect(refused.error.message).toContain('phases[0].steps[0].agent: no agent "nobody"');
    const results = events.filter((e) => e.type === "agent.tool_result") as Array<
      Extract<Event, { type: "agent.tool_result" }>
    >;
    expect(results.map((r) => r.is_error)).toEqual([true, false]);
    expect(events.findIndex((e) => e.type === "workflow_run.created")).toBeGreaterThan(
      events.indexOf(refused),
    );
    expect(
      (events.find((e) => e.type === "workflow_run.status_ended") as { result: unknown }).result,
    ).toEqual({ type: "completed" });
  });

  it("isolates failures: a branch failing upstream (retried) and one timing out are reported; the others' results are kept", async () => {
    const { session } = await setup(h);
    leadScript = [
      () =>
        start({
          name: "Isolation",
          phases: [
            {
              name: "Try",
              steps: [
                {
                  type: "parallel",
                  id: "tries",
                  branches: [
                    [{ type: "agent", id: "good", agent: "reader", input: "Read fine.txt" }],
                    [{ type: "agent", id: "bad", agent: "flaky", input: "break", retries: 1 }],
                    [{ type: "agent", id: "late", agent: "slow", input: "dawdle", timeout_seconds: 2 }],
                  ],
                },
              ],
            },
            {
              name: "Report",
              steps: [
                {
                  type: "agent",
                  id: "report",
                  agent: "writer",
                  input: "Report: {{steps.good}} | {{steps.bad}} | {{steps.late}}",
                },
              ],
            },
          ],
          result: ["good", "bad", "late", "report"],
        }),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("try")] });
    const events = await runEnded(h, session.id);
    const ended = events.find((e) => e.type === "workflow_run.status_ended") as { result: unknown };
    expect(ended.result).toEqual({ type: "completed" });
    // good, bad twice (one retry), late, report.
    expect(events.filter((e) => e.type === "session.thread_created")).toHaveLength(5);
    const report = h.upstream.received.find((r) => lastUserText(r).startsWith("Report:")) as ReceivedRequest;
    const input = lastUserText(report);
    expect(input).toContain("contents of fine.txt");
    expect(input).toMatch(/\[failed \(after 2 attempts\): .*upstream broke/);
    expect(input).toContain("[no result: it timed out or was stopped]");
    const final = await waitFor("the lead's final call", async () => resultRequest(h));
    const result = lastUserText(final);
    expect(result).toContain("## good\ncontents of fine.txt");
    expect(result).toMatch(/## bad\n\[failed/);
    expect(result).toMatch(/## late\n\[no result/);
    expect(result).toContain("## report\nwriter on: Report");
  });

  it("takes a list step's items only from return_items: a malformed call is answered with what is wrong, a turn without items fails the call (bounded by retries)", async () => {
    const { session } = await setup(h);
    let listCalls = 0;
    workers.reader = (r) => {
      const input = lastUserText(r);
      if (input.startsWith("List")) {
        listCalls++;
        // An empty list is refused; the agent then answers in prose, which is never read as a list.
        return {
          stop_reason: "tool_use",
          content: [{ type: "tool_use", name: "return_items", input: { items: [] } }],
        };
      }
      if (input.startsWith("Invalid input for return_items"))
        return { content: '["a.txt", "b.txt"] (here it is as text)' };
      return { content: `contents of ${input}` };
    };
    leadScript = [
      () =>
        start({
          name: "Listing",
          phases: [
            {
              name: "List",
              steps: [
                {
                  type: "agent",
                  id: "list",
                  agent: "reader",
                  input: "List the files",
                  output: "list",
                  retries: 1,
                },
                { type: "map", id: "read", agent: "reader", items: { from: "list" }, input: "Read {{item}}" },
              ],
            },
          ],
          result: ["list", "read"],
        }),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("list")] });
    await runEnded(h, session.id);
    const refused = h.upstream.received.find((r) =>
      lastUserText(r).startsWith("Invalid input for return_items"),
    );
    expect(lastUserText(refused as ReceivedRequest)).toContain("items");
    // Two attempts (one retry), each ending without items: the step failed, the map ran over nothing.
    expect(listCalls).toBe(2);
    expect(h.upstream.received.some((r) => lastUserText(r).startsWith("Read "))).toBe(false);
    const final = await waitFor("the lead's final call", async () => resultRequest(h));
    expect(lastUserText(final)).toMatch(
      /## list\n\[failed \(after 2 attempts\): .*without returning its list through return_items/,
    );
  });

  it("an interrupt stops the session's open runs (result stopped)", async () => {
    const { session } = await setup(h);
    leadScript = [
      () =>
        start({
          name: "Long",
          phases: [{ name: "Wait", steps: [{ type: "agent", id: "w", agent: "slow", input: "dawdle" }] }],
        }),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await waitFor("the slow thread", async () =>
      (await h.allEvents(session.id)).some((e) => e.type === "session.thread_status_running")
        ? true
        : undefined,
    );
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    const events = await runEnded(h, session.id);
    expect(
      (events.find((e) => e.type === "workflow_run.status_ended") as { result: unknown }).result,
    ).toEqual({
      type: "stopped",
    });
    expect(events.filter((e) => e.type === "workflow_run.phase_ended")).toHaveLength(1);
  });

  it("a session delete stops its runs: the execution ends, the run's thread is told to stop", async () => {
    const { session } = await setup(h);
    leadScript = [
      () =>
        start({
          name: "Doomed",
          phases: [{ name: "Wait", steps: [{ type: "agent", id: "w", agent: "slow", input: "dawdle" }] }],
        }),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const events = await waitFor("the slow thread", async () => {
      const all = await h.allEvents(session.id);
      return all.some((e) => e.type === "session.thread_status_running") ? all : undefined;
    });
    const runId = (events.find((e) => e.type === "workflow_run.created") as { workflow_run_id: string })
      .workflow_run_id;
    await idle(h, session.id);
    // The run's thread is still working: the delete stops the run and asks again until the thread stopped.
    await waitFor("the delete", async () => {
      try {
        return await h.client.beta.sessions.delete(session.id);
      } catch (error) {
        if ((error as { status?: number }).status === 409) return undefined;
        throw error;
      }
    });
    await expect(h.client.beta.sessions.retrieve(session.id)).rejects.toMatchObject({ status: 404 });
    const runs = new WorkflowRunStore(h.stack.services.deps.store);
    expect(await runs.get(session.id, runId)).toBeUndefined();
    // Its execution was aborted: stopping it again finds nothing waiting.
    await expect(h.stack.workflowOrchestrator.stop(runId)).resolves.toBeUndefined();
  });

  it("ends a run past its time limit with timeout_error (the sweeper's look), stopping its calls", async () => {
    const { session } = await setup(h);
    // Three calls of 4 s each, one after the other (a single long call would meet the model timeout first).
    workers.slow = () => ({ content: "too late", delayMs: 4_000 });
    const wait = (id: string) => ({ type: "agent", id, agent: "slow", input: "dawdle" });
    leadScript = [
      () =>
        start({
          name: "Short",
          timeout_seconds: 10,
          phases: [{ name: "Wait", steps: [wait("a"), wait("b"), wait("c")] }],
        }),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const { workflows, deps } = h.stack.services;
    const events = await waitFor(
      "the run's timeout",
      async () => {
        await workflows?.sweep(deps);
        const all = await h.allEvents(session.id);
        return all.some((e) => e.type === "workflow_run.status_ended") ? all : undefined;
      },
      20_000,
    );
    const error = events.find((e) => e.type === "workflow_run.error") as Extract<
      Event,
      { type: "workflow_run.error" }
    >;
    expect(error.error).toEqual({
      type: "timeout_error",
      message: "The run reached its time limit of 10 s.",
    });
    expect(events.find((e) => e.type === "workflow_run.status_ended")).toMatchObject({
      result: { type: "error", error: { type: "timeout_error" } },
    });
    const final = await waitFor("the lead's final call", async () => resultRequest(h));
    expect(lastUserText(final)).toMatch(/ended with an error \(timeout_error/);
  });

  it("a workflow message delivered twice changes nothing", async () => {
    const { session } = await setup(h);
    const small = {
      name: "Twice",
      phases: [{ name: "Only", steps: [{ type: "agent", id: "one", agent: "writer", input: "go" }] }],
    };
    leadScript = [() => start(small)];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await runEnded(h, session.id);
    await idle(h, session.id);
    const before = await h.allEvents(session.id);
    const runId = (before.find((e) => e.type === "workflow_run.created") as { workflow_run_id: string })
      .workflow_run_id;
    const runs = new WorkflowRunStore(h.stack.services.deps.store);
    const task = await runs.task(runId, "one");
    const ids = {
      schemaVersion: 1,
      workspaceId: (await runs.get(session.id, runId))?.workspaceId,
      sessionId: session.id,
      runId,
    };
    await h.stack.queue.send({
      ...ids,
      kind: "workflow_task",
      stepId: "one",
      phase: 0,
      taskToken: task?.attempts[0]?.taskToken,
    } as never);
    await h.stack.queue.send({ ...ids, kind: "workflow_phase", phase: 0 } as never);
    await h.stack.queue.send({ ...ids, kind: "workflow_run_finished", ok: true } as never);
    await new Promise((r) => setTimeout(r, 300));
    await idle(h, session.id);
    const after = await h.allEvents(session.id);
    expect(after.map((e) => e.id)).toEqual(before.map((e) => e.id));
    expect((await runs.task(runId, "one"))?.attempts).toHaveLength(1);
  });

  it("an execution's lost end is sent again by the sweeper's look: the run completes, before its time limit", async () => {
    const { session } = await setup(h);
    leadScript = [
      () =>
        start({
          name: "Lost end",
          timeout_seconds: 600,
          phases: [{ name: "Only", steps: [{ type: "agent", id: "one", agent: "writer", input: "go" }] }],
        }),
    ];
    // The execution's workflow_run_finished never reaches the handler (as if it went to the DLQ).
    const queue = h.stack.queue;
    const send = queue.send.bind(queue);
    const lost: unknown[] = [];
    queue.send = async (body, ...rest) => {
      if ((body as { kind?: string }).kind === "workflow_run_finished" && lost.length === 0) {
        lost.push(body);
        return;
      }
      return send(body, ...rest);
    };
    try {
      await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
      await waitFor("the lost end", async () => lost[0]);
      const { workflows, deps } = h.stack.services;
      const events = await waitFor(
        "the run's end",
        async () => {
          await workflows?.sweep(deps);
          const all = await h.allEvents(session.id);
          return all.some((e) => e.type === "workflow_run.status_ended") ? all : undefined;
        },
        5_000,
      );
      expect(events.find((e) => e.type === "workflow_run.status_ended")).toMatchObject({
        result: { type: "completed" },
      });
      const final = await waitFor("the lead's final call", async () => resultRequest(h));
      expect(lastUserText(final)).toContain("## one\nwriter on: go");
    } finally {
      queue.send = send;
    }
  });

  it("a late duplicate of an earlier attempt's task message changes nothing: the retry's result stands", async () => {
    const { session } = await setup(h);
    let flakyCalls = 0;
    workers.flaky = () =>
      ++flakyCalls === 1
        ? { fault: 500, message: "first attempt broke" }
        : { content: "ONE-OK", delayMs: 2_500 };
    leadScript = [
      () =>
        start({
          name: "Late duplicate",
          phases: [
            { name: "A", steps: [{ type: "agent", id: "one", agent: "flaky", input: "do one", retries: 1 }] },
            {
              name: "B",
              steps: [{ type: "agent", id: "two", agent: "writer", input: "Given: {{steps.one}}" }],
            },
          ],
          result: ["one", "two"],
        }),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const runs = new WorkflowRunStore(h.stack.services.deps.store);
    const runId = await waitFor("the run", async () => (await runs.list(session.id))[0]?.runId);
    // The retry (attempt 1) is at work; attempt 0 failed.
    const retrying = await waitFor("the retry at work", async () => {
      const task = await runs.task(runId, "one");
      return task?.attempts.length === 2 && !task.attempts[1]?.outcome ? task : undefined;
    });
    const [first, retry] = retrying.attempts.map((a) => a.taskToken) as [string, string];
    const ids = {
      schemaVersion: 1,
      workspaceId: (await runs.get(session.id, runId))?.workspaceId,
      sessionId: session.id,
      runId,
    };
    const taskMessage = (taskToken: string) =>
      h.stack.queue.send({ ...ids, kind: "workflow_task", stepId: "one", phase: 0, taskToken } as never);
    // Late duplicates of the first attempt's message around one of the retry's own, while it works…
    await taskMessage(first);
    await taskMessage(retry);
    await taskMessage(first);
    await runEnded(h, session.id);
    const final = await waitFor("the lead's final call", async () => resultRequest(h));
    // …and both again once the run ended.
    await taskMessage(retry);
    await taskMessage(first);
    await idle(h, session.id);
    const task = await runs.task(runId, "one");
    expect(task?.attempts.map((a) => a.taskToken)).toEqual([first, retry]);
    expect(task?.attempts.map((a) => a.outcome?.ok)).toEqual([false, true]);
    expect(task?.attempts[1]?.outcome?.reply).toBe("ONE-OK");
    const events = await h.allEvents(session.id);
    expect(events.filter((e) => e.type === "session.thread_created")).toHaveLength(3);
    const writer = h.upstream.received.find((r) => lastUserText(r).startsWith("Given:")) as ReceivedRequest;
    expect(lastUserText(writer)).toBe("Given: ONE-OK");
    const result = lastUserText(final);
    expect(result).toContain("- one (phase 1, flaky): succeeded");
    expect(result).toContain("## one\nONE-OK");
  });
});

describe("workflow run limits", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({
      env: {
        REVERIE_MODEL_MAX_RETRIES: "0",
        REVERIE_WORKFLOW_MAX_OPEN_RUNS: "1",
        REVERIE_WORKFLOW_MAX_THREADS_PER_RUN: "2",
      },
    });
  });
  afterAll(async () => h.close());
  beforeEach(() => {
    installUpstream(h);
    leadScript = [];
    workers = { writer: () => ({ content: "written", delayMs: 300 }) };
  });

  it("refuses a run past the open-runs limit with max_workflow_runs_error", async () => {
    const { session } = await setup(h);
    const plan = (name: string) => ({
      name,
      phases: [{ name: "Only", steps: [{ type: "agent", id: "one", agent: "writer", input: "go" }] }],
    });
    leadScript = [() => start(plan("First"), plan("Second"))];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const events = await runEnded(h, session.id);
    const refused = events.find((e) => e.type === "workflow_run.error") as Extract<
      Event,
      { type: "workflow_run.error" }
    >;
    expect(refused).toMatchObject({ workflow_run_id: null, error: { type: "max_workflow_runs_error" } });
    expect(events.filter((e) => e.type === "workflow_run.created")).toHaveLength(1);
    const results = events.filter((e) => e.type === "agent.tool_result") as Array<{
      is_error?: boolean | null;
    }>;
    expect(results.map((r) => r.is_error)).toEqual([false, true]);
  });

  it("ends a run that needs more threads than its limit with thread_limit_error", async () => {
    const { session } = await setup(h);
    leadScript = [
      () =>
        start({
          name: "Wide",
          phases: [
            {
              name: "Map",
              steps: [
                {
                  type: "map",
                  id: "m",
                  agent: "writer",
                  items: ["1", "2", "3"],
                  input: "{{item}}",
                  max_concurrency: 1,
                },
              ],
            },
          ],
        }),
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    const events = await runEnded(h, session.id);
    const runId = (events.find((e) => e.type === "workflow_run.created") as { workflow_run_id: string })
      .workflow_run_id;
    const error = events.find((e) => e.type === "workflow_run.error") as Extract<
      Event,
      { type: "workflow_run.error" }
    >;
    expect(error).toMatchObject({ workflow_run_id: runId, error: { type: "thread_limit_error" } });
    const ended = events.find((e) => e.type === "workflow_run.status_ended") as { result: unknown };
    expect(ended.result).toEqual({ type: "error", error: error.error });
    expect(events.indexOf(error)).toBeLessThan(events.indexOf(ended as Event));
    expect(events.filter((e) => e.type === "session.thread_created")).toHaveLength(2);
  });
});
