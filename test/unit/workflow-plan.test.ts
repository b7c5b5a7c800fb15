/** The plan language: what it accepts, what it refuses and how it says so, rendering and list parsing. */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type PlanContext,
  renderStepInput,
  validateWorkflowPlan,
} from "../../shared/core/workflows/workflow-plan.js";
import { planContext, reviewPlan } from "../fixtures/workflow-plans.js";

const context = planContext;

const refusal = (plan: unknown, ctx: PlanContext = context) => {
  const result = validateWorkflowPlan(plan, ctx);
  if (result.ok) throw new Error("expected a refusal");
  return result.message;
};

describe("validateWorkflowPlan", () => {
  it("accepts a two-phase plan with a map over a list step and a parallel step, and lowers it", () => {
    const result = validateWorkflowPlan(reviewPlan, context);
    if (!result.ok) throw new Error(result.message);
    const plan = result.plan;
    expect(plan.phases).toEqual([
      { name: "Read", description: null },
      { name: "Reconcile", description: "Cross-check" },
    ]);
    expect(plan.steps.money).toMatchObject({
      agent: { kind: "predefined", name: "writer", id: "agent_writer", version: 3 },
      retries: 2,
      phase: 1,
    });
    expect(plan.steps.legal?.agent).toEqual({ kind: "inline", name: "checker" });
    expect(plan.result).toEqual(["legal", "money", "summary"]);
    expect(plan.timeoutSeconds).toBe(3600);
    expect(plan.program.phases[0]?.nodes[1]).toEqual({
      kind: "map",
      id: "read",
      retries: 0,
      timeoutSeconds: 600,
      maxConcurrency: 10,
      items: { fromStep: "list" },
    });
  });

  it("names the path of a shape error", () => {
    const message = refusal({
      phases: [{ name: "x", steps: [{ type: "agent", id: "A", agent: "reader" }] }],
    });
    expect(message).toContain("phases[0].steps[0].id");
    expect(message).toContain("phases[0].steps[0].input");
    expect(message).toMatch(/call start_workflow_run again/);
  });

  it("refuses a reference to a later or unknown step, listing the earlier ones", () => {
    const message = refusal({
      phases: [
        {
          name: "p",
          steps: [
            { type: "agent", id: "a", agent: "reader", input: "go" },
            { type: "agent", id: "b", agent: "reader", input: "{{steps.c}} {{steps.zz}}" },
            { type: "agent", id: "c", agent: "reader", input: "{{steps.a}}" },
          ],
        },
      ],
    });
    expect(message).toContain(
      'phases[0].steps[1].input: {{steps.c}} names no earlier step (c does not run before this one); earlier steps here: "a"',
    );
    expect(message).toContain("{{steps.zz}} names no earlier step");
  });

  it("keeps parallel branches apart: a branch cannot read its sibling", () => {
    const message = refusal({
      phases: [
        {
          name: "p",
          steps: [
            {
              type: "parallel",
              id: "par",
              branches: [
                [{ type: "agent", id: "a", agent: "reader", input: "x" }],
                [{ type: "agent", id: "b", agent: "reader", input: "{{steps.a}}" }],
              ],
            },
          ],
        },
      ],
    });
    expect(message).toContain("phases[0].steps[0].branches[1][0].input: {{steps.a}} names no earlier step");
  });

  it("refuses unknown agents, naming the callable ones, and inline agents when disabled", () => {
    expect(
      refusal({ phases: [{ name: "p", steps: [{ type: "agent", id: "a", agent: "nobody", input: "x" }] }] }),
    ).toContain('no agent "nobody" in this plan\'s reach; callable agents: "reader", "writer"');
    const message = refusal(reviewPlan, { ...context, inlineAgents: false });
    expect(message).toContain("inline agents are disabled");
  });

  it("refuses {{item}} outside a map, a map over a non-list step, duplicate ids, a parallel in result", () => {
    const message = refusal({
      phases: [
        {
          name: "p",
          steps: [
            { type: "agent", id: "a", agent: "reader", input: "{{item}} {{whatever}}" },
            { type: "map", id: "m", agent: "reader", items: { from: "a" }, input: "{{item}}" },
            { type: "agent", id: "a", agent: "reader", input: "again" },
          ],
        },
      ],
      result: ["nope"],
    });
    expect(message).toContain("{{item}} is only defined in a map step's input");
    expect(message).toContain("unknown reference {{whatever}}");
    expect(message).toContain('step "a" must declare "output": "list"');
    expect(message).toContain('"a" is used by another step');
    expect(message).toContain('result[0]: "nope" names no step');
  });

  it("bounds timeouts by the run's and the server's", () => {
    const message = refusal(
      {
        timeout_seconds: 60,
        phases: [
          {
            name: "p",
            steps: [{ type: "agent", id: "a", agent: "reader", input: "x", timeout_seconds: 120 }],
          },
        ],
      },
      { ...context, maxRunTimeoutSeconds: 30 },
    );
    expect(message).toContain("timeout_seconds: at most 30 on this server");
    expect(message).toContain("exceeds the run's timeout_seconds (30)");
  });
});

describe("validateWorkflowPlan on arbitrary input (fast-check)", () => {
  it("never throws: any JSON is either a plan or a refusal that names where it is wrong", () => {
    const step = fc.record(
      {
        type: fc.constantFrom("agent", "map", "parallel", "loop"),
        id: fc.constantFrom("a", "b", "c", "Bad id", ""),
        agent: fc.constantFrom("reader", "writer", "checker", "nobody"),
        input: fc.constantFrom("x", "{{steps.a}}", "{{item}}", "{{steps.zz}}", "{{ index }}", "{{x"),
        items: fc.oneof(
          fc.array(fc.string(), { maxLength: 3 }),
          fc.record({ from: fc.constantFrom("a", "b") }),
        ),
        output: fc.constantFrom("text", "list"),
        retries: fc.integer({ min: -1, max: 5 }),
        branches: fc.constant([[{ type: "agent", id: "c", agent: "reader", input: "y" }], []]),
      },
      { requiredKeys: ["type"] },
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.anything(),
          fc.record({
            name: fc.string(),
            agents: fc.constant([{ name: "checker", system: "s" }]),
            phases: fc.array(fc.record({ name: fc.string(), steps: fc.array(step, { maxLength: 4 }) }), {
              maxLength: 3,
            }),
            result: fc.array(fc.constantFrom("a", "b", "c"), { maxLength: 2 }),
          }),
        ),
        (input) => {
          const result = validateWorkflowPlan(input, context);
          if (!result.ok) expect(result.message).toMatch(/^The plan was refused: .+ Fix the plan/s);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("renderStepInput", () => {
  it("fills step outputs, items and indexes", () => {
    const text = renderStepInput("A={{steps.a}} item={{item}} i={{ index }} obj={{item}}", {
      output: (id) => `<${id}>`,
      item: "x.txt",
      index: 2,
    });
    expect(text).toBe("A=<a> item=x.txt i=2 obj=x.txt");
  });
});
