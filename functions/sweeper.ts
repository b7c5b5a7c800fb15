/** Lambda entry (scheduled): re-nudges running sessions whose step lease expired, and stalled dreams. */
import { sweepDreams } from "../shared/core/dreams/dream-sweeper.js";
import { sweepStalledSessions } from "../shared/core/runtime/sweeper.js";
import { awsServices } from "../shared/runtime/aws-ports.js";

export const handler = async (): Promise<{ checked: number; nudged: number }> => {
  const { deps, dreamDeps, logger } = await awsServices();
  const result = await sweepStalledSessions(deps);
  logger.info("sweep done", { ...result, dreams: await sweepDreams(dreamDeps) });
  return result;
};
