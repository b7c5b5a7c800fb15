/** The grader-queue consumer: each SQS record is one evaluation nudge; failures are reported per record. */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { runGrader } from "../../core/outcomes/grader.js";
import { graderMessageSchema } from "../../core/outcomes/grader-message.js";
import type { StepDeps } from "../../core/runtime/step-deps.js";
import { loggedJob } from "./job-log.js";

export function createGraderHandler(deps: StepDeps) {
  const processRecord = async (record: SQSRecord) => {
    const parsed = graderMessageSchema.safeParse(JSON.parse(record.body));
    if (!parsed.success) {
      // A malformed nudge can never succeed: log and drop it rather than poison the queue.
      deps.logger.error("dropping malformed grader message", {
        messageId: record.messageId,
        body: record.body,
      });
      return;
    }
    const { workspaceId, sessionId, outcomeId, iteration } = parsed.data;
    await loggedJob(deps.logger, "grader", { workspaceId, sessionId, outcomeId, iteration }, () =>
      runGrader(deps, parsed.data),
    );
  };
  return (event: SQSEvent): Promise<SQSBatchResponse> =>
    processPartialResponse(event, processRecord, new BatchProcessor(EventType.SQS));
}
