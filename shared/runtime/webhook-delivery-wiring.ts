/**
 * What the webhook delivery worker needs, and nothing else of the container: the container wires
 * it for the embedded stack, and the webhook-deliver Lambda on its own (aws-webhook-delivery.ts),
 * so that function's bundle carries the delivery code, not every service.
 */
import { GuardedWebhookSender } from "../adapters/http/webhook-sender.js";
import type {
  Clock,
  DocumentStore,
  Logger,
  MessageQueue,
  SecretSealer,
  WebhookTransport,
} from "../core/ports.js";
import type { WebhookDeliveryDeps } from "../core/webhooks/webhook-delivery.js";
import type { WebhookMessage } from "../core/webhooks/webhook-records.js";
import type { Config } from "./config.js";

export function webhookDeliveryDeps(
  config: Pick<
    Config,
    "REVERIE_WEBHOOK_ALLOW_PRIVATE" | "REVERIE_WEBHOOK_MAX_ATTEMPTS" | "REVERIE_WEBHOOK_RETRY_BASE_SECONDS"
  >,
  ports: {
    store: DocumentStore;
    /** Opens the endpoints' sealed signing secrets. */
    sealer: SecretSealer;
    queue: MessageQueue<WebhookMessage>;
    /** Without one, a delivery that ran out of attempts is logged as an error. */
    deadLetters?: MessageQueue<WebhookMessage>;
    transport?: WebhookTransport;
    clock: Clock;
    logger: Logger;
  },
): WebhookDeliveryDeps {
  return {
    store: ports.store,
    sealer: ports.sealer,
    transport:
      ports.transport ?? new GuardedWebhookSender({ allowPrivate: config.REVERIE_WEBHOOK_ALLOW_PRIVATE }),
    queue: ports.queue,
    deadLetters: ports.deadLetters ?? {
      send: async (message) => ports.logger.error("webhook delivery dead-lettered", { ...message }),
    },
    clock: ports.clock,
    logger: ports.logger,
    maxAttempts: config.REVERIE_WEBHOOK_MAX_ATTEMPTS,
    retryBaseSeconds: config.REVERIE_WEBHOOK_RETRY_BASE_SECONDS,
    orderWaitSeconds: 1,
    timeoutMs: 10_000,
  };
}
