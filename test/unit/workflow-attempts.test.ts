/**
 * A workflow call's attempts under at-least-once delivery (DESIGN.md §5): each `workflow_task`
 * message adds an attempt only for a token never seen, so redeliveries and late duplicates of an
 * earlier attempt's message — in any order — neither add nor reorder attempts, and what readers take
 * as the call's current attempt (its output) is always the one the execution waits on.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { validateWorkflowPlan } from "../../shared/core/workflows/workflow-plan.js";
import {
  attemptsOf,
  type WorkflowRun,
  type WorkflowTask,
  withAttemptFor,
} from "../../shared/core/workflows/workflow-run-record.js";
import { resultText } from "../../shared/core/workflows/workflow-runs-runtime.js";
import { planContext } from "../fixtures/workflow-plans.js";

const emptyTask = (): WorkflowTask => ({ schemaVersion: 1, runId: "wfrun_1", stepId: "one", attempts: [] });

/** What the dispatch does with a message: records it (or not), then runs it only if it is the current attempt. */
function deliver(task: WorkflowTask, token: string, threads: { n: number }) {
  const next = withAttemptFor(structuredClone(task), token, () => `sthr_${threads.n++}`) ?? task;
  const current = attemptsOf(next).at(-1);
  const attempt = next.attempts.find((a) => a.taskToken === token);
  return { task: next, runs: attempt !== undefined && attempt === current };
}

describe("a workflow call's attempts", () => {
  it("a late duplicate of an earlier attempt's message adds nothing and is not run", () => {
    const threads = { n: 0 };
    let { task } = deliver(emptyTask(), "T0", threads);
    (task.attempts[0] as WorkflowTask["attempts"][number]).outcome = { ok: false, error: "broke" };
    ({ task } = deliver(task, "T1", threads));
    const late = deliver(task, "T0", threads);
    expect(late.runs).toBe(false);
    expect(late.task.attempts.map((a) => a.taskToken)).toEqual(["T0", "T1"]);
    expect(attemptsOf(late.task).at(-1)?.taskToken).toBe("T1");
    // The current attempt's own redelivery runs it again (an idempotent dispatch).
    expect(deliver(task, "T1", threads).runs).toBe(true);
    expect(threads.n).toBe(2);
  });

  it("a restarted execution asking again for a call that succeeded adds nothing, even past a duplicate", () => {
    const threads = { n: 0 };
    let { task } = deliver(emptyTask(), "T0", threads);
    (task.attempts[0] as WorkflowTask["attempts"][number]).outcome = { ok: true, reply: "done" };
    ({ task } = deliver(task, "T0", threads));
    const again = deliver(task, "T9", threads);
    expect(again.runs).toBe(false);
    expect(again.task.attempts.map((a) => a.taskToken)).toEqual(["T0"]);
  });

  it("any order of redeliveries: the attempts are the tokens in the order issued, the last issued is the one run", () => {
    // The execution issues T0…Tn one after the other (each after the one before failed or timed out);
    // each first delivery comes in that order, and any earlier message may be delivered again at any time.
    const op = fc.oneof(
      fc.record({ kind: fc.constant("next" as const), failed: fc.boolean() }),
      fc.record({ kind: fc.constant("again" as const), which: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.array(op, { maxLength: 30 }), (calls, ops) => {
        const threads = { n: 0 };
        const issued: string[] = [];
        let task = emptyTask();
        const send = (token: string) => {
          const result = deliver(task, token, threads);
          task = result.task;
          expect(result.runs).toBe(token === issued.at(-1));
          expect(task.attempts.map((a) => a.taskToken)).toEqual(issued);
          expect(attemptsOf(task)).toEqual(task.attempts);
        };
        const issue = (failed: boolean) => {
          const current = task.attempts.at(-1);
          // The attempt before was given up: failed, or timed out without an outcome.
          if (current && failed) current.outcome = { ok: false, error: "broke" };
          issued.push(`T${issued.length}`);
          send(issued.at(-1) as string);
        };
        issue(false);
        for (const o of ops)
          if (o.kind === "next") {
            if (issued.length < calls) issue(o.failed);
          } else send(issued[o.which % issued.length] as string);
        expect(threads.n).toBe(issued.length);
      }),
    );
  });

  it("readers skip a phantom an earlier build appended (an earlier attempt's token again, never dispatched)", () => {
    const validated = validateWorkflowPlan(
      {
        name: "Dup",
        phases: [
          { name: "A", steps: [{ type: "agent", id: "one", agent: "reader", input: "do one", retries: 1 }] },
        ],
      },
      planContext,
    );
    if (!validated.ok) throw new Error(validated.message);
    const run = {
      runId: "wfrun_1",
      name: "Dup",
      plan: validated.plan,
    } as WorkflowRun;
    const task: WorkflowTask = {
      ...emptyTask(),
      attempts: [
        { threadId: "sthr_a", taskToken: "T0", outcome: { ok: false, error: "broke" } },
        { threadId: "sthr_b", taskToken: "T1", outcome: { ok: true, reply: "ONE-OK" } },
        { threadId: "sthr_c", taskToken: "T0" },
      ],
    };
    expect(attemptsOf(task).map((a) => a.threadId)).toEqual(["sthr_a", "sthr_b"]);
    const text = resultText(run, { type: "completed" }, [task]);
    expect(text).toContain("- one (phase 1, reader): succeeded");
    expect(text).toContain("## one\nONE-OK");
    // Nor does the restart guard take the phantom for the call's state.
    expect(withAttemptFor(structuredClone(task), "T2", () => "sthr_d")).toBeUndefined();
  });
});
