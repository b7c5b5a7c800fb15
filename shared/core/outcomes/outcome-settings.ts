/** What the outcome runtime needs beyond a step's dependencies. */
import type { MessageQueue } from "../ports.js";
import type { GraderMessage } from "./grader-message.js";

export interface OutcomeSettings {
  /** The grader queue (SQS on AWS, a local queue in the embedded stack). */
  queue: MessageQueue<GraderMessage>;
  /** Grader model id; undefined grades with the session agent's model. */
  modelId?: string;
  /** Interval of `span.outcome_evaluation_ongoing` heartbeats while the grader model works, ms. */
  heartbeatMs: number;
  /** How long one evaluation holds its lease before the sweeper may re-nudge it, ms. */
  leaseMs: number;
}
