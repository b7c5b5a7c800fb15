/**
 * Lambda entry: the target of every dream schedule's EventBridge Scheduler schedule. One firing →
 * at most one dream over the sessions new since the schedule's watermark; a duplicate delivery of
 * the same scheduled time carries out the same plan.
 */
import { scheduleFiringSchema } from "../shared/core/dreams/dream-schedules-service.js";
import { withDreams } from "../shared/runtime/aws-dream-ports.js";
import { awsServices } from "../shared/runtime/aws-services.js";
import { dreamsOf } from "../shared/runtime/dream-wiring.js";

export const handler = async (event: unknown) => {
  const firing = scheduleFiringSchema.parse(event);
  const services = await awsServices(withDreams);
  const { dreamSchedules } = dreamsOf(services);
  const { logger } = services;
  const outcome = await dreamSchedules.fire(firing);
  logger.info("dream schedule fired", {
    scheduleId: firing.scheduleId,
    scheduledTime: firing.scheduledTime,
    outcome,
  });
  return outcome;
};
