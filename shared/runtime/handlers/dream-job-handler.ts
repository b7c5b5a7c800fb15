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
    await loggedJob(deps.logger, "dream", { workspaceId, dreamId }, async () => {
      const outcome = await runDream(deps, parsed.data);
      // What the dream became (completed, failed, …) when this job finished it.
      const status =
        outcome === "done" ? (await deps.dreams.get(workspaceId, dreamId))?.dream.status : undefined;
      return { outcome, ...(status ? { status } : {}) };
    });
  };
  return (event: SQSEvent): Promise<SQSBatchResponse> =>
    processPartialResponse(event, processRecord, new BatchProcessor(EventType.SQS));
}
