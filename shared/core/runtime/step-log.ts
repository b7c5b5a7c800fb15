/**
 * The step's log line (issue 14): one structured INFO line per agent step that made (or replayed)
 * a model call — which run, which step, which model, its tokens, how long it took, why the model
 * stopped and what the step decided. Ids and counts only, never content.
 */
import type { StepDeps } from "./step-deps.js";
import type { StepMessage } from "./step-message.js";
import type { StepRecord } from "./step-record.js";

/** The message every step line carries (what a log query filters on). */
export const STEP_LOG_MESSAGE = "agent step";

/** What a step decided after its tools: go on, wait (idle with a reason), park, hand off, or nothing (superseded). */
export type StepNext = "continue" | "parked" | "handed_off" | "superseded" | `idle:${string}`;

export interface FinishedStep {
  record: StepRecord;
  next: StepNext;
  model: string;
  /** The record was stored by an earlier attempt of this step (no new model call). */
  replayed: boolean;
}

export function logStep(
  deps: Pick<StepDeps, "logger" | "clock">,
  message: StepMessage,
  step: FinishedStep,
  startedAt: number,
) {
  const { record, next } = step;
  const idle = next.startsWith("idle:") ? next.slice("idle:".length) : undefined;
  deps.logger.info(STEP_LOG_MESSAGE, {
    workspaceId: message.workspaceId,
    sessionId: message.sessionId,
    ...(message.threadId ? { threadId: message.threadId } : {}),
    stepSeq: record.stepSeq,
    model: step.model,
    inputTokens: record.usage.input_tokens ?? 0,
    outputTokens: record.usage.output_tokens ?? 0,
    cacheReadInputTokens: record.usage.cache_read_input_tokens ?? 0,
    stopReason: record.stopReason,
    toolCalls: record.toolRuns.length + record.workerCalls.length,
    next: idle ? "idle" : next,
    ...(idle ? { idleReason: idle } : {}),
    replayed: step.replayed,
    durationMs: Math.max(0, deps.clock.now() - startedAt),
  });
}
