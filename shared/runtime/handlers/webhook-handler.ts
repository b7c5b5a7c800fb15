/** The webhooks-queue consumer: each SQS record is one delivery attempt; failures are reported per record. */
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { deliverWebhook, type WebhookDeliveryDeps } from "../../core/webhooks/webhook-delivery.js";
import { webhookMessageSchema } from "../../core/webhooks/webhook-records.js";
import { loggedJob } from "./job-log.js";

export function createWebhookHandler(deps: WebhookDeliveryDeps) {
  const processRecord = async (record: SQSRecord) => {
    const parsed = webhookMessageSchema.safeParse(JSON.parse(record.body));
    if (!parsed.success) {
      deps.logger.error("dropping malformed webhook message", {
        messageId: record.messageId,
        body: record.body,
      });
      return;
    }
    const { endpointId, eventId, generation } = parsed.data;
    await loggedJob(deps.logger, "webhook", { endpointId, eventId, generation }, () =>
      deliverWebhook(deps, parsed.data),
    );
  };
  return (event: SQSEvent): Promise<SQSBatchResponse> =>
    processPartialResponse(event, processRecord, new BatchProcessor(EventType.SQS));
}
