/** Reads outcome evaluations beyond what the SDK shows: each iteration's per-criterion findings. */
import { NotFoundError } from "../../contract/errors.js";
import type { SessionRepository } from "../sessions/session-record.js";
import type { OutcomeStore } from "./outcome-record.js";
import { parseRubric, type RubricCriterion } from "./rubric.js";

/** One evaluation as the extension endpoint returns it. */
export interface OutcomeEvaluationFindings {
  type: "outcome_evaluation_findings";
  outcome_id: string;
  iteration: number;
  result: string;
  explanation: string;
  criteria: Array<{
    index: number;
    criterion: string;
    method: "machine" | "model";
    satisfied: boolean;
    finding: string;
  }>;
  /** Findings left out of the pinned record (past its size limit), after the listed ones. */
  omitted_criteria: number;
  usage: {
    input_tokens: number;
    output_tokens: number;
    cache_creation_input_tokens: number;
    cache_read_input_tokens: number;
  };
  graded_at: string;
}

export class OutcomesService {
  constructor(
    private readonly sessions: SessionRepository,
    private readonly outcomes: OutcomeStore,
  ) {}

  /** Every evaluation of an outcome, oldest first (404 for another workspace's session or outcome). */
  async findings(
    workspaceId: string,
    sessionId: string,
    outcomeId: string,
  ): Promise<{ data: OutcomeEvaluationFindings[] }> {
    const record = await this.sessions.get(workspaceId, sessionId);
    if (!record) throw new NotFoundError("session", sessionId);
    if (!record.session.outcome_evaluations.some((e) => e.outcome_id === outcomeId))
      throw new NotFoundError("outcome", outcomeId);
    const evaluations = await this.outcomes.evaluations(sessionId, outcomeId);
    // A record names criteria by index; their text is the pinned rubric's. A rubric that does not
    // parse was graded `failed` with no findings, so there is nothing to name.
    const definition = await this.outcomes.definition(sessionId, outcomeId);
    let criteria: RubricCriterion[] = [];
    try {
      criteria = parseRubric(definition?.rubric ?? "");
    } catch {}
    return {
      data: evaluations.map((e) => ({
        type: "outcome_evaluation_findings",
        outcome_id: e.outcomeId,
        iteration: e.iteration,
        result: e.result,
        explanation: e.explanation,
        criteria: e.criteria.map((c) => ({
          index: c.index,
          criterion: criteria[c.index]?.text ?? "",
          method: c.method,
          satisfied: c.satisfied,
          finding: c.finding,
        })),
        omitted_criteria: e.omittedCriteria ?? 0,
        usage: e.usage,
        graded_at: e.gradedAt,
      })),
    };
  }
}
