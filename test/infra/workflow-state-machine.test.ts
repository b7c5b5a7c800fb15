/**
 * Workflow plans compiled to ASL: every compiled plan passes asl-validator (fixed plans and random
 * ones), and aws-local-stepfunctions — what the embedded stack runs — executes the compiled object
 * with the semantics the run relies on: phases in order, a map over a list step's items, parallel
 * branches, bounded retries in fresh attempts, one failed or timed-out step never stopping the
 * others, a fatal answer (thread limit) ending the run, and a stop ending it without a finish.
 */
import validator from "asl-validator";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  LocalWorkflowOrchestrator,
  taskStatesOf,
} from "../../shared/adapters/local/local-workflow-orchestrator.js";
import { validateWorkflowPlan } from "../../shared/core/workflows/workflow-plan.js";
import {
  compileWorkflowStateMachine,
  WORKFLOW_TASK_FAILED,
  type WorkflowExecutionInput,
  type WorkflowNode,
  type WorkflowProgram,
} from "../../shared/infra-spec/workflow-state-machine.js";
import { planContext, reviewPlan } from "../fixtures/workflow-plans.js";

const silent = { debug() {}, info() {}, warn() {}, error() {} } as never;

function valid(definition: object) {
  const result = validator(structuredClone(definition) as never);
  return result.errors.map((e) => e.message);
}

const lowered = (plan: unknown) => {
  const result = validateWorkflowPlan(plan, planContext);
  if (!result.ok) throw new Error(result.message);
  return result.plan;
};

type Body = Record<string, unknown> & { kind: string; stepId?: string; taskToken?: string };
type Answer = { ok: true; output?: unknown } | { ok: false; error: string } | "hang";

/** Runs a definition locally; `answer` plays the core's part for each task; resolves on the finish. */
async function execute(
  definition: object,
  input: Partial<WorkflowExecutionInput>,
  answer: (b: Body) => Answer,
) {
  const seen: Body[] = [];
  let finish: (b: Body) => void = () => {};
  const finished = new Promise<Body>((resolve) => {
    finish = resolve;
  });
  const orchestrator: LocalWorkflowOrchestrator = new LocalWorkflowOrchestrator({
    logger: silent,
    send: async (raw) => {
      const body = raw as Body;
      seen.push(body);
      if (body.kind === "workflow_run_finished") finish(body);
      if (body.kind !== "workflow_task") return;
      const a = answer(body);
      setTimeout(() => {
        if (a === "hang") return;
        if (a.ok) void orchestrator.sendTaskSuccess(body.taskToken as string, a.output ?? { ok: true });
        else void orchestrator.sendTaskFailure(body.taskToken as string, a.error, "cause");
      }, 5);
    },
  });
  await orchestrator.start("run", definition, {
    schemaVersion: 1,
    queueUrl: "q",
    workspaceId: "w",
    sessionId: "s",
    runId: "r",
    items: {},
    results: {},
    ...input,
  });
  return { seen, finished, orchestrator };
}

const label = (b: Body) =>
  b.kind === "workflow_phase"
    ? `phase ${b.phase}`
    : b.kind === "workflow_task"
      ? `${b.stepId}${b.index === undefined ? "" : `[${b.index}]`}`
      : `finished ${b.ok}`;

describe("compiled workflow ASL", () => {
  it("passes asl-validator, with one uniquely named task state per step", () => {
    const definition = compileWorkflowStateMachine(lowered(reviewPlan).program);
    expect(valid(definition)).toEqual([]);
    const names = taskStatesOf(definition).map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(
      expect.arrayContaining([
        "Phase 0",
        "Phase 1",
        "Step list",
        "Item read",
        "Step legal",
        "Step money",
        "Step summary",
      ]),
    );
  });

  it("passes asl-validator for random plans (fast-check)", () => {
    let n = 0;
    const node = (depth: number): fc.Arbitrary<WorkflowNode> =>
      fc.oneof(
        fc
          .record({
            retries: fc.integer({ min: 0, max: 3 }),
            t: fc.integer({ min: 5, max: 3600 }),
            list: fc.boolean(),
          })
          .map(
            (r): WorkflowNode => ({
              kind: "task",
              id: `t${n++}`,
              retries: r.retries,
              timeoutSeconds: r.t,
              listOutput: r.list,
            }),
          ),
        fc.integer({ min: 1, max: 25 }).map(
          (c): WorkflowNode => ({
            kind: "map",
            id: `m${n++}`,
            retries: 1,
            timeoutSeconds: 60,
            maxConcurrency: c,
            items: { literal: true },
          }),
        ),
        ...(depth < 2
          ? [
              fc
                .array(fc.array(node(depth + 1), { minLength: 1, maxLength: 3 }), {
                  minLength: 2,
                  maxLength: 3,
                })
                .map((branches): WorkflowNode => ({ kind: "parallel", id: `p${n++}`, branches })),
            ]
          : []),
      );
    fc.assert(
      fc.property(
        fc.array(fc.array(node(0), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 3 }),
        (phases) => {
          const program: WorkflowProgram = {
            timeoutSeconds: 3600,
            phases: phases.map((nodes) => ({ nodes })),
          };
          expect(valid(compileWorkflowStateMachine(program))).toEqual([]);
        },
      ),
      { numRuns: 12 },
    );
  });
});

describe("compiled workflow ASL on aws-local-stepfunctions", () => {
  it("runs phases in order, a map over a list step's items, parallel branches, then finishes", async () => {
    const { seen, finished } = await execute(
      compileWorkflowStateMachine(lowered(reviewPlan).program),
      {},
      (b) =>
        b.stepId === "list"
          ? { ok: true, output: { ok: true, items: ["a.txt", "b.txt", "c.txt"] } }
          : { ok: true },
    );
    expect((await finished).ok).toBe(true);
    const order = seen.map(label);
    expect(order.slice(0, 2)).toEqual(["phase 0", "list"]);
    expect(order.slice(2, 5).sort()).toEqual(["read[0]", "read[1]", "read[2]"]);
    expect(order[5]).toBe("phase 1");
    expect(order.slice(6, 8).sort()).toEqual(["legal", "money"]);
    expect(order.slice(8)).toEqual(["summary", "finished true"]);
    const items = seen.filter((b) => b.stepId === "read").map((b) => b.item);
    expect(items.sort()).toEqual(["a.txt", "b.txt", "c.txt"]);
  });

  it("maps over a list step inside a parallel branch, after the parallel step", async () => {
    const plan = lowered({
      phases: [
        {
          name: "p",
          steps: [
            {
              type: "parallel",
              id: "par",
              branches: [
                [{ type: "agent", id: "names", agent: "reader", input: "x", output: "list" }],
                [{ type: "agent", id: "other", agent: "reader", input: "y", output: "list" }],
              ],
            },
            { type: "map", id: "each", agent: "reader", items: { from: "other" }, input: "{{item}}" },
            { type: "map", id: "lit", agent: "reader", items: ["k"], input: "{{item}}" },
          ],
        },
      ],
    });
    const { seen, finished } = await execute(
      compileWorkflowStateMachine(plan.program),
      { items: plan.items },
      (b) =>
        b.stepId === "other"
          ? { ok: true, output: { ok: true, items: ["o1", "o2"] } }
          : { ok: true, output: { ok: true, items: ["n"] } },
    );
    expect((await finished).ok).toBe(true);
    expect(
      seen
        .filter((b) => b.stepId === "each")
        .map((b) => b.item)
        .sort(),
    ).toEqual(["o1", "o2"]);
    expect(seen.filter((b) => b.stepId === "lit").map((b) => b.item)).toEqual(["k"]);
  });

  it("retries a failed step, and a failed and a timed-out step never stop the others", async () => {
    const program: WorkflowProgram = {
      timeoutSeconds: 60,
      phases: [
        {
          nodes: [
            {
              kind: "parallel",
              id: "par",
              branches: [
                [{ kind: "task", id: "flaky", retries: 2, timeoutSeconds: 5, listOutput: false }],
                [{ kind: "task", id: "broken", retries: 0, timeoutSeconds: 5, listOutput: false }],
                [{ kind: "task", id: "slow", retries: 0, timeoutSeconds: 1, listOutput: false }],
                [{ kind: "task", id: "fine", retries: 0, timeoutSeconds: 5, listOutput: false }],
              ],
            },
            { kind: "task", id: "after", retries: 0, timeoutSeconds: 5, listOutput: true },
            {
              kind: "map",
              id: "none",
              retries: 0,
              timeoutSeconds: 5,
              maxConcurrency: 2,
              items: { fromStep: "after" },
            },
          ],
        },
      ],
    };
    let flaky = 0;
    const { seen, finished } = await execute(compileWorkflowStateMachine(program), {}, (b) => {
      if (b.stepId === "flaky")
        return ++flaky < 2 ? { ok: false, error: WORKFLOW_TASK_FAILED } : { ok: true };
      if (b.stepId === "broken" || b.stepId === "after") return { ok: false, error: WORKFLOW_TASK_FAILED };
      if (b.stepId === "slow") return "hang";
      return { ok: true };
    });
    expect((await finished).ok).toBe(true);
    const order = seen.map(label);
    expect(order.filter((l) => l === "flaky")).toHaveLength(2);
    expect(order).toEqual(expect.arrayContaining(["broken", "slow", "fine", "after"]));
    // The failed list step leaves an empty list: the map over it runs nothing.
    expect(order.some((l) => l.startsWith("none"))).toBe(false);
  });

  it("ends the run on a fatal answer (the thread limit) from inside a map", async () => {
    const plan = lowered({
      phases: [
        {
          name: "a",
          steps: [{ type: "map", id: "m", agent: "reader", items: ["1", "2", "3"], input: "{{item}}" }],
        },
        { name: "b", steps: [{ type: "agent", id: "never", agent: "reader", input: "x" }] },
      ],
    });
    const { seen, finished } = await execute(
      compileWorkflowStateMachine(plan.program),
      { items: plan.items },
      (b) => (b.index === 2 ? { ok: false, error: "WorkflowThreadLimit" } : { ok: true }),
    );
    const end = await finished;
    expect(end).toMatchObject({ ok: false, error: "WorkflowThreadLimit" });
    expect(seen.map(label)).not.toContain("phase 1");
  });

  it("stops: an aborted execution sends no finish", async () => {
    const plan = lowered({
      phases: [{ name: "a", steps: [{ type: "agent", id: "x", agent: "reader", input: "x" }] }],
    });
    const { seen, orchestrator } = await execute(compileWorkflowStateMachine(plan.program), {}, () => "hang");
    await new Promise((r) => setTimeout(r, 50));
    await orchestrator.stop("run");
    expect(seen.map(label)).toEqual(["phase 0", "x"]);
    // A stopped execution stays stopped: whoever stopped it ends the run.
    await orchestrator.recover("run", compileWorkflowStateMachine(plan.program), {});
    expect(seen.map(label)).toEqual(["phase 0", "x"]);
  });

  it("recover: a running execution is left alone; one that ended sends its finish again (the first was lost)", async () => {
    const plan = lowered({
      phases: [{ name: "a", steps: [{ type: "agent", id: "x", agent: "reader", input: "x" }] }],
    });
    const definition = compileWorkflowStateMachine(plan.program);
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const { seen, finished, orchestrator } = await execute(definition, {}, () => ({ ok: true }));
    // Its first finish never reaches the queue: the send fails (the execution ends failed).
    const sent: Body[] = [];
    let down = true;
    const lossy = new LocalWorkflowOrchestrator({
      logger: silent,
      send: async (raw) => {
        const body = raw as Body;
        if (body.kind === "workflow_task") {
          await gate;
          setTimeout(() => void lossy.sendTaskSuccess(body.taskToken as string, { ok: true }), 5);
        }
        if (body.kind === "workflow_run_finished" && down) {
          down = false;
          sent.push({ ...body, kind: "lost" });
          throw new Error("the queue is down");
        }
        sent.push(body);
      },
    });
    const input = { schemaVersion: 1, queueUrl: "q", workspaceId: "w", sessionId: "s", runId: "r" };
    await lossy.start("run", definition, { ...input, items: {}, results: {} });
    await new Promise((r) => setTimeout(r, 50));
    await lossy.recover("run", definition, input);
    expect(sent.map((b) => b.kind)).toEqual(["workflow_phase"]);
    release();
    await lossy.drain();
    expect(sent.map((b) => b.kind)).toEqual(["workflow_phase", "workflow_task", "lost"]);
    await lossy.recover("run", definition, input);
    expect(sent.map((b) => b.kind)).toEqual([
      "workflow_phase",
      "workflow_task",
      "lost",
      "workflow_run_finished",
    ]);
    expect(sent.at(-1)).toMatchObject({ ok: true, runId: "r" });
    // Sent, but lost on the way (a DLQ): the same.
    expect((await finished).ok).toBe(true);
    await orchestrator.drain();
    await orchestrator.recover("run", definition, input);
    expect(seen.map(label)).toEqual(["phase 0", "x", "finished true", "finished true"]);
  });
});
