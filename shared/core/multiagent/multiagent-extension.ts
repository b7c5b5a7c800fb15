/**
 * `multiagent_20261001` in the step loop (a RunExtension): the session's primary thread is offered
 * the advisor tool when its agent has one (its `advisor`, or a coordinator roster's advisor entry),
 * and its budget prices each advisor consultation at the advisor model's own list price. (Subagent threads plug into the threads extension — the same
 * fan-out as a coordinator's, see subagents.ts — and workflow runs into the workflows one.)
 */
import type { SessionUsage } from "../../contract/sdk-types.js";
import { budgetReached, listCostUsd } from "../runtime/budget.js";
import type { RunExtension } from "../runtime/run-extension.js";
import { addUsage } from "../runtime/session-status.js";
import { advisorSpend, advisorTool } from "./advisor.js";
import { advisorModelOf } from "./session-multiagent.js";

export const multiagentExtension: RunExtension = {
  name: "multiagent",
  tools: (_deps, run) => {
    // Only the primary thread consults the advisor (a thread's agent has no multiagent anyway).
    const model = run.thread === undefined ? advisorModelOf(run.session.agent) : undefined;
    return model ? [advisorTool(model)] : [];
  },
  /**
   * The session budget over every thread, with advisor consultations at their own model's price
   * (the other threads' usage at the agent's model's, as the session rule does); undefined (the
   * session's rule) for sessions without a budget or an advisor, and for child threads.
   */
  overBudget: async (deps, run, usage) => {
    const budget = run.session.budget;
    if (!budget || run.thread !== undefined || !advisorModelOf(run.session.agent)) return undefined;
    const advisors = await advisorSpend(deps.store, run.workspaceId, run.session.id);
    let rest: SessionUsage = usage;
    for (const [threadId, threadUsage] of Object.entries(run.run.threadUsage ?? {}))
      if (!advisors.byThread[threadId]) rest = addUsage(rest, threadUsage as SessionUsage);
    const modelId = run.session.agent.model.id;
    if (advisors.costUsd === 0) return budgetReached(modelId, rest, budget);
    return listCostUsd(modelId, rest) + advisors.costUsd >= Number(budget.max_list_cost.amount);
  },
};
