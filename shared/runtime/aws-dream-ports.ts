/**
 * The dreams context on AWS, for the entries that serve or schedule dreams (api-memory,
 * dream-scheduler: `awsServices(withDreams)`): its wiring, the dream-jobs queue and EventBridge
 * Scheduler, when configured. The dream worker, which runs dream jobs, composes less
 * (aws-dream-worker.ts).
 */
import { EventBridgeDreamScheduler } from "../adapters/aws/eventbridge-dream-scheduler.js";
import { SqsQueue } from "../adapters/aws/sqs-queue.js";
import type { DreamJob } from "../core/dreams/dream-deps.js";
import { awsClients, sqsTransport } from "./aws-clients.js";
import type { Config } from "./config.js";
import type { Ports } from "./container.js";
import { buildDreams } from "./dream-wiring.js";

/** `awsServices(withDreams)`: the services with the dreams context wired. */
export const withDreams = (config: Config): Partial<Ports> => ({
  dreaming: buildDreams,
  ...awsDreamPorts(config),
});

export function awsDreamPorts(config: Config) {
  const group = config.REVERIE_DREAM_SCHEDULE_GROUP;
  const target = config.REVERIE_DREAM_SCHEDULER_FUNCTION_ARN;
  const role = config.REVERIE_DREAM_SCHEDULER_ROLE_ARN;
  return {
    dreamJobs: config.REVERIE_DREAM_JOBS_QUEUE_URL
      ? new SqsQueue<DreamJob>({ transport: sqsTransport(), queueUrl: config.REVERIE_DREAM_JOBS_QUEUE_URL })
      : undefined,
    dreamTrigger:
      group && target && role
        ? new EventBridgeDreamScheduler({
            client: awsClients().scheduler,
            groupName: group,
            targetArn: target,
            roleArn: role,
          })
        : undefined,
  };
}
