/**
 * What a session has spent across its threads, each priced at its own model (Anthropic: "each
 * thread's consumption is priced at its own served model"): the primary thread's usage at its agent's
 * model, every child thread's — a coordinator's or a subagent's, an inline agent's, an advisor
 * consultation's — at the model its record runs. Read from the thread records themselves, which hold
 * each thread's cumulative usage.
 */
import type { BudgetLimit, SessionUsage } from "../../contract/sdk-types.js";
import type { DocumentStore } from "../ports.js";
import { listCostUsd } from "../runtime/budget.js";
import { threadRepository } from "./thread-record.js";

/** One thread's usage and the model it is priced at. */
export interface ThreadSpend {
  threadId: string;
  model: string;
  usage: SessionUsage;
}

/** A session's child threads as priced items (at most 1,000, as the threads list reads them). */
export async function threadSpends(
  store: DocumentStore,
  workspaceId: string,
  sessionId: string,
): Promise<ThreadSpend[]> {
  const threads = await threadRepository(store, sessionId).list(workspaceId, { order: "asc", limit: 1000 });
  return threads.map((t) => ({
    threadId: t.session.id,
    model: t.session.agent.model.id,
    usage: t.session.usage,
  }));
}

/** List cost in USD of the primary thread's usage plus every thread's, each at its own model. */
export function sessionSpendUsd(
  primaryModel: string,
  primaryUsage: SessionUsage,
  threads: readonly ThreadSpend[],
) {
  return threads.reduce(
    (sum, t) => sum + listCostUsd(t.model, t.usage),
    listCostUsd(primaryModel, primaryUsage),
  );
}

/** Whether that spend reached the session's budget. */
export function sessionBudgetReached(
  budget: BudgetLimit | null,
  primaryModel: string,
  primaryUsage: SessionUsage,
  threads: readonly ThreadSpend[],
): boolean {
  if (!budget) return false;
  return sessionSpendUsd(primaryModel, primaryUsage, threads) >= Number(budget.max_list_cost.amount);
}
