/**
 * The dream-jobs queue alone, for a process that only nudges dreams (agent-step: a dream's session
 * went idle), without the rest of the dreams wiring or the Scheduler client in its bundle.
 */
import { SqsQueue } from "../adapters/aws/sqs-queue.js";
import type { DreamJob } from "../core/dreams/dream-deps.js";
import { sqsTransport } from "./aws-clients.js";
import type { Config } from "./config.js";
import type { Ports } from "./container.js";

/**
 * The dream-jobs queue as `ports.dreamJobs`, when configured: `awsServices(withDreamJobs)` (agent-step,
 * the sweeper) and the dream worker's own composition (aws-dream-worker.ts).
 */
export const withDreamJobs = (config: Config): Partial<Ports> =>
  config.REVERIE_DREAM_JOBS_QUEUE_URL
    ? {
        dreamJobs: new SqsQueue<DreamJob>({
          transport: sqsTransport(),
          queueUrl: config.REVERIE_DREAM_JOBS_QUEUE_URL,
        }),
      }
    : {};
