/**
 * The dreamer in the one step loop (run-extension.ts): what a dream's session adds to an ordinary
 * session, and nothing for any other run.
 *
 * - `systemNote`: the pre-pass findings of the dream's sessions, as a starting hint (computed once
 *   when the dream started, so the note is constant and cached with the system prompt);
 * - `tools`: the dreamer tools (dreamer-tools.ts) — its own sessions read-only, delete from the
 *   draft, finish; the file toolset on its two mounts comes from the agent and its resources;
 * - `endTurn`: a dream that was canceled or failed meanwhile ends the turn (`end_turn`), an answer
 *   malformed as often as allowed ends it as `retries_exhausted`;
 * - `overBudget`: the dream's budget (tokens, list-price USD, steps) ends it as `budget_reached`;
 * - `afterIdle`: the session went idle — the dream's job is nudged to take it from there (guards,
 *   review, output). The dream sweeper re-sends the job anyway, so a lost nudge only delays it.
 */
import { isTerminalDreamStatus } from "../../contract/dreams.js";
import type { SessionUsage } from "../../contract/sdk-types.js";
import type { MessageQueue } from "../ports.js";
import { listCostUsd } from "../runtime/budget.js";
import type { RunExtension } from "../runtime/run-extension.js";
import type { DreamJob } from "./dream-deps.js";
import { DreamRepository } from "./dream-record.js";
import { dreamIdOf } from "./dreamer-agent.js";
import { malformedFinishes, readHint } from "./dreamer-state.js";
import { dreamerTools } from "./dreamer-tools.js";

/** A dream's budget: whichever limit is reached first ends the dreamer's turn. */
export interface DreamBudget {
  /** Tokens of every kind (input, output, cache reads and writes) summed over the dreamer's calls. */
  maxTokens: number;
  /** List-price USD of the dreamer's calls (budget.ts prices); undefined: no USD limit. */
  maxUsd?: number;
  /** Model calls (steps) of the dreamer's session. */
  maxSteps: number;
}

export interface DreamerExtensionOptions {
  budget: DreamBudget;
  /** Malformed finish_dream calls before the dream fails. */
  maxMalformedFinishes: number;
  /** Where the dream's job is nudged when its session goes idle (absent: the dream sweeper finds it). */
  jobs?: MessageQueue<DreamJob>;
}

/** Tokens of every kind in a usage. */
export function totalTokens(usage: SessionUsage): number {
  return (
    (usage.input_tokens ?? 0) +
    (usage.output_tokens ?? 0) +
    (usage.cache_read_input_tokens ?? 0) +
    (usage.cache_creation?.ephemeral_5m_input_tokens ?? 0) +
    (usage.cache_creation?.ephemeral_1h_input_tokens ?? 0)
  );
}

/** Which limit of the budget a usage reached, or undefined. */
export function budgetSpent(
  budget: DreamBudget,
  modelId: string,
  usage: SessionUsage,
  steps: number,
): "tokens" | "usd" | "steps" | undefined {
  if (totalTokens(usage) >= budget.maxTokens) return "tokens";
  if (budget.maxUsd !== undefined && listCostUsd(modelId, usage) >= budget.maxUsd) return "usd";
  if (steps >= budget.maxSteps) return "steps";
  return undefined;
}

export function dreamerExtension(options: DreamerExtensionOptions): RunExtension {
  const tools = dreamerTools({ maxMalformedFinishes: options.maxMalformedFinishes });
  return {
    name: "dreamer",
    async systemNote(deps, run) {
      const dreamId = dreamIdOf(run.session);
      if (!dreamId) return undefined;
      const hint = await readHint(deps.store, dreamId);
      return hint ? `# Starting hint\n${hint}` : undefined;
    },
    tools: (_deps, run) => (dreamIdOf(run.session) ? tools : []),
    async endTurn(deps, run) {
      const dreamId = dreamIdOf(run.session);
      if (!dreamId) return undefined;
      const dream = await new DreamRepository(deps.store).get(run.workspaceId, dreamId);
      if (!dream || isTerminalDreamStatus(dream.dream.status)) return { type: "end_turn" };
      // The answer was malformed as often as allowed: the dream fails; the dreamer stops here.
      if ((await malformedFinishes(deps.store, dreamId)).length >= options.maxMalformedFinishes)
        return { type: "retries_exhausted" };
      return undefined;
    },
    async overBudget(_deps, run, usage) {
      if (!dreamIdOf(run.session)) return undefined;
      return budgetSpent(options.budget, run.session.agent.model.id, usage, run.run.stepSeq) !== undefined;
    },
    async afterIdle(_deps, run) {
      const dreamId = dreamIdOf(run.session);
      if (dreamId && options.jobs)
        await options.jobs.send({ schemaVersion: 1, workspaceId: run.workspaceId, dreamId });
    },
  };
}
