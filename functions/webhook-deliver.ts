/** Lambda entry: consumes the webhooks queue; one signed delivery attempt per record, partial batch failures reported. */
import middy from "@middy/core";
import type { SQSEvent } from "aws-lambda";
import { awsServices } from "../shared/runtime/aws-ports.js";
import { createWebhookHandler } from "../shared/runtime/handlers/webhook-handler.js";

let deliver: ReturnType<typeof createWebhookHandler> | undefined;

export const handler = middy(async (event: SQSEvent) => {
  const services = await awsServices();
  if (!services.webhooks) throw new Error("REVERIE_WEBHOOKS_QUEUE_URL is not set");
  deliver ??= createWebhookHandler(services.webhooks.delivery);
  return deliver(event);
});
