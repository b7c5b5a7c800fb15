/**
 * Lambda entry: the target of every dream schedule's EventBridge Scheduler schedule. One firing →
 * at most one dream over the sessions new since the schedule's watermark; a duplicate delivery of
 * the same scheduled time carries out the same plan.
 */
import { scheduleFiringSchema } from "../shared/core/dreams/dream-schedules-service.js";
import { awsServices } from "../shared/runtime/aws-ports.js";

export const handler = async (event: unknown) => {
  const firing = scheduleFiringSchema.parse(event);
  const { dreamSchedules, logger } = await awsServices();
  const outcome = await dreamSchedules.fire(firing);
  logger.info("dream schedule fired", {
    scheduleId: firing.scheduleId,
    scheduledTime: firing.scheduledTime,
    outcome,
  });
  return outcome;
};
