/**
 * SQS queues as data, shared by the CDK stack and the embedded stack's local queues.
 * DESIGN.md §5: DLQ on every queue, maxReceiveCount ≥ 5, visibility ≥ 6× the consumer's timeout.
 */
export type QueueName = "agent-steps" | "grader" | "webhooks" | "dream-jobs";

export interface QueueSpec {
  name: QueueName;
  /** Timeout of the consuming function, seconds. */
  consumerTimeoutSeconds: number;
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  /** How long a message that exhausted its receives stays in the DLQ. */
  dlqRetentionDays: number;
  batchSize: number;
}

export const queueSpecs: Record<QueueName, QueueSpec> = {
  "agent-steps": {
    name: "agent-steps",
    consumerTimeoutSeconds: 120,
    visibilityTimeoutSeconds: 720,
    maxReceiveCount: 6,
    dlqRetentionDays: 14,
    batchSize: 5,
  },
  grader: {
    name: "grader",
    consumerTimeoutSeconds: 300,
    visibilityTimeoutSeconds: 1800,
    maxReceiveCount: 6,
    dlqRetentionDays: 14,
    batchSize: 1,
  },
  webhooks: {
    name: "webhooks",
    consumerTimeoutSeconds: 30,
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 6,
    dlqRetentionDays: 14,
    batchSize: 10,
  },
  // One dream per record: a dream makes one long model call, so a small batch keeps retries cheap.
  "dream-jobs": {
    name: "dream-jobs",
    consumerTimeoutSeconds: 600,
    visibilityTimeoutSeconds: 3600,
    maxReceiveCount: 5,
    dlqRetentionDays: 14,
    batchSize: 1,
  },
};

/** How long the grader holds an evaluation before the sweeper may re-nudge it (over a grader timeout). */
export const graderLeaseSeconds = 330;

/** How long a step's lease lasts before the sweeper may re-nudge it (a little over a consumer timeout). */
export const stepLeaseSeconds = 150;

/**
 * How long a dream run holds its dream (a little over the dream worker's timeout): a run that is
 * still alive keeps its claim, so the sweeper never starts a second run beside it.
 */
export const dreamLeaseSeconds = 630;

/** How often the sweeper runs. */
export const sweeperRateMinutes = 1;
