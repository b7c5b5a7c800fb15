/**
 * What the agent reads about outcomes: the outcome it works toward, and the grader's feedback after
 * an evaluation. Only the verdict and explanation cross over; the grader's context never does.
 */
import type { SessionEvent } from "../../contract/sdk-types.js";

type DefineOutcomeEvent = Extract<SessionEvent, { type: "user.define_outcome" }>;
type EvaluationEndEvent = Extract<SessionEvent, { type: "span.outcome_evaluation_end" }>;

/** @param rubricText a file rubric's text, read when the outcome was defined */
export function outcomeInstruction(event: DefineOutcomeEvent, rubricText?: string): string {
  const rubric =
    event.rubric.type === "text"
      ? event.rubric.content
      : (rubricText ?? `(rubric file ${event.rubric.file_id})`);
  return [
    `Work toward this outcome (${event.outcome_id}). When you end your turn, an independent grader`,
    "scores your final message and the workspace files against the rubric.",
    `\n<outcome_description>\n${event.description}\n</outcome_description>`,
    `\n<rubric>\n${rubric}\n</rubric>`,
  ].join(" ");
}

/** Feedback for the agent after a verdict that asks for more work, or undefined for other verdicts. */
export function evaluationFeedback(event: EvaluationEndEvent): string | undefined {
  if (event.result === "needs_revision") {
    return `The grader evaluated your work (iteration ${event.iteration}) and it needs revision:\n${event.explanation}\n\nRevise the work to meet every criterion, then end your turn.`;
  }
  if (event.result === "max_iterations_reached") {
    return `The grader evaluated your work (iteration ${event.iteration}); criteria are still unmet and no further evaluations will run:\n${event.explanation}\n\nBriefly acknowledge what remains unmet and end your turn.`;
  }
  return undefined;
}
