/** The agent-steps consumer: each SQS record is one step nudge; failures are reported per record. */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { runAgentStep } from "../../core/runtime/agent-step.js";
import type { StepDeps } from "../../core/runtime/step-deps.js";
import { stepMessageSchema } from "../../core/runtime/step-message.js";

export function createStepHandler(deps: StepDeps) {
  const processRecord = async (record: SQSRecord) => {
    const body: unknown = JSON.parse(record.body);
    // Other work's messages (a fan-out's, a workflow run's): each handler takes only its own kinds.
    for (const handler of deps.queueHandlers ?? []) if (await handler.handleQueueMessage(deps, body)) return;
    const parsed = stepMessageSchema.safeParse(body);
    if (!parsed.success) {
      // A malformed nudge can never succeed: log and drop it rather than poison the queue.
      deps.logger.error("dropping malformed step message", {
        messageId: record.messageId,
        body: record.body,
      });
      return;
    }
    await runAgentStep(deps, parsed.data);
  };
  // A processor per batch: it keeps the batch's records and failures as state, and the embedded
  // stack runs several batches at once through one handler.
  return (event: SQSEvent): Promise<SQSBatchResponse> =>
    processPartialResponse(event, processRecord, new BatchProcessor(EventType.SQS));
}
