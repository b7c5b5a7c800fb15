/**
 * Lambda entry (scheduled): re-nudges running sessions whose step lease expired, and stalled dreams;
 * ends workflow runs past their time limit.
 */
import { sweepDreams } from "../shared/core/dreams/dream-sweeper.js";
import { sweepStalledSessions } from "../shared/core/runtime/sweeper.js";
import { withDreams } from "../shared/runtime/aws-dream-ports.js";
import { awsServices } from "../shared/runtime/aws-ports.js";
import { dreamsOf } from "../shared/runtime/dream-wiring.js";

export const handler = async (): Promise<{ checked: number; nudged: number }> => {
  const services = await awsServices(withDreams);
  const { deps, logger } = services;
  const { dreamDeps } = dreamsOf(services);
  const result = await sweepStalledSessions(deps);
  const workflows = await services.workflows?.sweep(deps);
  logger.info("sweep done", { ...result, dreams: await sweepDreams(dreamDeps), workflows });
  return result;
};
