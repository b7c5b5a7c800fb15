/**
 * Outcomes in the step loop: the outcome and the grader's feedback read as user turns, and a turn
 * that ends while an outcome is worked on goes to the grader instead of idle (outcome-lifecycle.ts).
 */
import type { RunExtension } from "../runtime/run-extension.js";
import { beginEvaluation, pendingGraderMessage } from "./outcome-lifecycle.js";
import { evaluationFeedback, outcomeInstruction } from "./outcome-prompts.js";

export const outcomeExtension: RunExtension = {
  name: "outcomes",
  contextText: ({ event, internals }) => {
    if (event.type === "user.define_outcome") return outcomeInstruction(event, internals.rubricText);
    if (event.type === "span.outcome_evaluation_end") return evaluationFeedback(event);
    return undefined;
  },
  async nudgeStalled(deps, run) {
    const grading = pendingGraderMessage(run);
    if (!grading || !deps.outcomes) return false;
    await deps.outcomes.queue.send(grading);
    return true;
  },
  insteadOfIdle(deps, next) {
    const message = beginEvaluation(deps, next);
    const queue = deps.outcomes?.queue;
    return message && queue ? () => queue.send(message) : undefined;
  },
};
