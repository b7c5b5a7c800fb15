/**
 * Multiagent in the step loop (a RunExtension): the session's primary thread is offered the advisor
 * tool when its agent has one (`multiagent_20261001`'s `advisor`, or a coordinator roster's advisor
 * entry), and the session budget of a multiagent session prices every thread at its own model —
 * subagents, inline agents, advisor consultations. (Subagent threads plug into the threads extension
 * — the same fan-out as a coordinator's, see subagents.ts — and workflow runs into the workflows one.)
 */
import type { RunExtension } from "../runtime/run-extension.js";
import { sessionBudgetReached, threadSpends } from "../threads/thread-spend.js";
import { advisorTool } from "./advisor.js";
import { advisorModelOf } from "./session-multiagent.js";

export const multiagentExtension: RunExtension = {
  name: "multiagent",
  tools: (_deps, run) => {
    // Only the primary thread consults the advisor (a thread's agent has no multiagent anyway).
    const model = run.thread === undefined ? advisorModelOf(run.session.agent) : undefined;
    return model ? [advisorTool(model)] : [];
  },
  /**
   * The primary thread's budget rule in a multiagent session: its own usage at its agent's model plus
   * every thread's at the thread's own model (read from the thread records, so it is current, not
   * the snapshot of the last fan-out); undefined (the session's rule) for other runs.
   */
  overBudget: async (deps, run, usage) => {
    const budget = run.session.budget;
    if (!budget || run.thread !== undefined || !run.session.agent.multiagent) return undefined;
    const threads = await threadSpends(deps.store, run.workspaceId, run.session.id);
    return sessionBudgetReached(budget, run.session.agent.model.id, usage, threads);
  },
};
