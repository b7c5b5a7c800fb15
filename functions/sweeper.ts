/**
 * Lambda entry (scheduled): re-nudges running sessions whose step lease expired, stalled dreams and
 * webhook deliveries whose nudge was lost; ends workflow runs past their time limit.
 */
import { sweepDreams } from "../shared/core/dreams/dream-sweeper.js";
import { sweepStalledSessions } from "../shared/core/runtime/sweeper.js";
import { sweepWebhookDeliveries } from "../shared/core/webhooks/webhook-sweeper.js";
import { withDreamJobs } from "../shared/runtime/aws-dream-jobs.js";
import { awsServices } from "../shared/runtime/aws-services.js";
import { dreamSweepOf } from "../shared/runtime/dream-sweep-wiring.js";

export const handler = async (): Promise<{ checked: number; nudged: number }> => {
  // The dream-jobs queue, not the dreams context: the sweep reads dream records and sends jobs.
  const services = await awsServices(withDreamJobs);
  const { deps, logger } = services;
  const result = await sweepStalledSessions(deps);
  const workflows = await services.workflows?.sweep(deps);
  const dreams = await sweepDreams(dreamSweepOf(services));
  const webhooks = services.webhooks && (await sweepWebhookDeliveries(services.webhooks.delivery));
  logger.info("sweep done", { ...result, dreams, workflows, webhooks });
  return result;
};
