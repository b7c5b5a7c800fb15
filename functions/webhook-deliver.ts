/** Lambda entry: consumes the webhooks queue; one signed delivery attempt per record, partial batch failures reported. */
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { awsWebhookDelivery } from "../shared/runtime/aws-webhook-delivery.js";
import { createWebhookHandler } from "../shared/runtime/handlers/webhook-handler.js";

let deliver: ReturnType<typeof createWebhookHandler> | undefined;

export const handler = middy(async (event: SQSEvent) => {
  deliver ??= createWebhookHandler(awsWebhookDelivery());
  return deliver(event);
});
