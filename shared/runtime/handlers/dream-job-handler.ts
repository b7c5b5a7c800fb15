/** The dream-jobs consumer: each SQS record nudges one dream; failures are reported per record. */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { type DreamDeps, dreamJobSchema } from "../../core/dreams/dream-deps.js";
import { runDream } from "../../core/dreams/dream-runner.js";
import { loggedJob } from "./job-log.js";

export function createDreamJobHandler(deps: DreamDeps) {
  const processRecord = async (record: SQSRecord) => {
    const parsed = dreamJobSchema.safeParse(JSON.parse(record.body));
    if (!parsed.success) {
      deps.logger.error("dropping malformed dream job", { messageId: record.messageId, body: record.body });
      return;
    }
    const { workspaceId, dreamId } = parsed.data;
    await loggedJob(deps.logger, "dream", { workspaceId, dreamId }, async () => ({
      outcome: await runDream(deps, parsed.data),
    }));
  };
  return (event: SQSEvent): Promise<SQSBatchResponse> =>
    processPartialResponse(event, processRecord, new BatchProcessor(EventType.SQS));
}
