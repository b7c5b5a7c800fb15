/**
 * `npm run bench` (after the fan-out bench): the workflow-run engine's overhead, measured the way
 * fanout-bench.ts measures the coordinator's fan-out so the two figures sit side by side. The agent
 * starts a workflow run whose plan is one parallel step of 25 branches, each an agent call whose
 * upstream model call takes 2 s. Measured: from the agent's dispatching answer (its
 * `start_workflow_run` call) to its request that carries the run's result, as a ratio to the
 * slowest branch's upstream call. The run's path is longer than a fan-out's (a state machine per
 * plan, a phase marker, a thread per call, the run's end and the agent's wake-up), all of it
 * queue round trips; the threads run side by side.
 *
 * Knobs (env): WORKFLOW_BRANCHES (25), WORKFLOW_BRANCH_MS (2000), WORKFLOW_ROUNDS (3).
 */
import type { ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { startHarness } from "../fixtures/reverie-harness.js";

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const BRANCHES = envInt("WORKFLOW_BRANCHES", 25);
const BRANCH_MS = envInt("WORKFLOW_BRANCH_MS", 2000);
const ROUNDS = envInt("WORKFLOW_ROUNDS", 3);
const TARGET = 1.25;
const log = (line = "") => process.stderr.write(`${line}\n`);

const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");
const lastText = (r: ReceivedRequest) => {
  const content = r.body.messages.at(-1)?.content;
  return Array.isArray(content)
    ? content.map((b) => ("text" in b && typeof b.text === "string" ? b.text : "")).join("")
    : String(content ?? "");
};

const plan = {
  name: "bench",
  phases: [
    {
      name: "fan out",
      steps: [
        {
          type: "parallel",
          id: "all",
          branches: Array.from({ length: BRANCHES }, (_, i) => [
            { type: "agent", id: `part_${i}`, agent: "worker", input: `part ${i}` },
          ]),
        },
      ],
    },
  ],
};

async function main() {
  const h = await startHarness({ env: { REVERIE_MODEL_TIMEOUT_SECONDS: "60" } });
  let dispatchedAt = 0;
  let resultAt = 0;
  const branchCalls: number[] = [];
  h.upstream.fallback = (r) => {
    if (systemOf(r) === "LEAD") {
      if (lastText(r).includes("Workflow run wfrun_")) {
        resultAt = performance.now();
        return { content: "all done" };
      }
      if (dispatchedAt > 0) return { content: "waiting for the run" };
      dispatchedAt = performance.now();
      return {
        stop_reason: "tool_use",
        content: [{ type: "tool_use", name: "start_workflow_run", input: plan }],
      };
    }
    branchCalls.push(performance.now());
    return { content: "part done", delayMs: BRANCH_MS };
  };
  try {
    const environment = await h.client.beta.environments.create({ name: "bench" });
    const worker = await h.client.beta.agents.create({
      name: "worker",
      model: "claude-haiku-4-5",
      system: "WORKER",
    });
    const lead = await h.client.beta.agents.create({
      name: "lead",
      model: "claude-sonnet-4-6",
      system: "LEAD",
      multiagent: {
        type: "multiagent_20261001",
        subagents: { type: "disabled" },
        workflows: { type: "enabled", predefined_agents: [worker.id] },
      },
    });
    const ratios: number[] = [];
    log(`workflow run: ${BRANCHES} parallel branches × ${BRANCH_MS} ms upstream, ${ROUNDS} rounds`);
    for (let round = 0; round < ROUNDS; round++) {
      branchCalls.length = 0;
      dispatchedAt = 0;
      resultAt = 0;
      const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environment.id });
      await h.client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "fan out" }] }],
      });
      const deadline = Date.now() + 120_000;
      while (resultAt === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // The agent's last turn after the result.
      while ((await h.client.beta.sessions.retrieve(session.id)).status !== "idle" && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 20));
      if (resultAt === 0) throw new Error("the run's result never reached the agent");
      const elapsed = resultAt - dispatchedAt;
      const ratio = elapsed / BRANCH_MS;
      ratios.push(ratio);
      const toFirst = Math.min(...branchCalls) - dispatchedAt;
      const spread = Math.max(...branchCalls) - Math.min(...branchCalls);
      const afterLast = resultAt - (Math.max(...branchCalls) + BRANCH_MS);
      log(
        `  round ${round + 1}: dispatch → result ${elapsed.toFixed(0)} ms; slowest branch ${BRANCH_MS} ms; ratio ${ratio.toFixed(3)}; dispatch → first branch call ${toFirst.toFixed(0)} ms, branch calls start over ${spread.toFixed(0)} ms, last answer → result ${afterLast.toFixed(0)} ms`,
      );
    }
    const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)] as number;
    log(
      `workflow-run ratio (median of ${ROUNDS}): ${median.toFixed(3)} (target ≤ ${TARGET}) ${median <= TARGET ? "✓" : "✗"}`,
    );
  } finally {
    await h.close();
  }
}

await main();
