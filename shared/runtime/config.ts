/**
 * Configuration: environment variables parsed once with zod. A bad value fails at start-up with the
 * variable's name. Every variable is documented in README.md ("Configuration").
 */
import * as z from "zod/mini";
import "../contract/zod-mini.js";
import { dreamConfigSchema } from "./dream-config.js";

const flag = z.pipe(
  z.optional(z.enum(["0", "1", "true", "false"])),
  z.transform((v) => v === "1" || v === "true"),
);

const schema = z.object({
  REVERIE_MODEL_PROVIDER: z.optional(z.enum(["anthropic", "bedrock", "simulated"])),
  ANTHROPIC_API_KEY: z.optional(z.string().check(z.minLength(1))),
  ANTHROPIC_BASE_URL: z.optional(z.url()),
  /** AWS only: a Secrets Manager secret holding the Anthropic API key (read once per cold start). */
  REVERIE_ANTHROPIC_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  /** Model id substituted when the provider is bedrock and the agent names an Anthropic model id. */
  REVERIE_BEDROCK_MODEL_MAP: z.optional(z.string()),
  AWS_REGION: z.optional(z.string()),
  PORT: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(65535)), 8787),
  REVERIE_HOST: z._default(z.string(), "127.0.0.1"),
  REVERIE_DATA_DIR: z._default(z.string(), ".reverie"),
  /** The embedded stack's document store: SQLite (default for a new data dir) or dynalite. */
  REVERIE_STORE: z.optional(z.enum(["sqlite", "dynalite"])),
  REVERIE_API_KEY: z.optional(z.string().check(z.minLength(16))),
  REVERIE_TABLE_RESOURCES: z._default(z.string(), "resources"),
  REVERIE_TABLE_EVENTS: z._default(z.string(), "events"),
  REVERIE_AGENT_STEPS_QUEUE_URL: z.optional(z.string()),
  REVERIE_WORKSPACE_BUCKET: z.optional(z.string()),
  REVERIE_WEB_FETCH_ALLOW_PRIVATE: flag,
  /** MCP: how long connecting to a server (initialize) and listing its tools may take, each, seconds. */
  REVERIE_MCP_CONNECT_TIMEOUT_SECONDS: z._default(z.coerce.number().check(z.positive(), z.maximum(120)), 15),
  /** MCP: how long one tool call may take, seconds (also kept inside the step's lease). */
  REVERIE_MCP_CALL_TIMEOUT_SECONDS: z._default(z.coerce.number().check(z.positive(), z.maximum(900)), 60),
  /** Model calls that fail with 429/5xx/overloaded are retried this many times before the turn ends. */
  REVERIE_MODEL_MAX_RETRIES: z._default(z.coerce.number().check(z.int(), z.minimum(0), z.maximum(20)), 4),
  /** Base delay of the jittered exponential backoff between model retries, seconds. */
  REVERIE_MODEL_RETRY_BASE_SECONDS: z._default(z.coerce.number().check(z.minimum(0), z.maximum(900)), 2),
  /** Client-side timeout of one model call, seconds. */
  REVERIE_MODEL_TIMEOUT_SECONDS: z._default(z.coerce.number().check(z.minimum(1), z.maximum(900)), 90),
  /** Embedded stack: how long a step holds a session's lease before the sweeper may re-nudge it, seconds (default 150). */
  REVERIE_STEP_LEASE_SECONDS: z.optional(z.coerce.number().check(z.positive(), z.maximum(3600))),
  /**
   * Embedded stack: for how long a step's queue message may go on running the session's next steps
   * in process, seconds (default 2; 0: one queue message per step, as on AWS).
   */
  REVERIE_STEP_CHAIN_SECONDS: z.optional(z.coerce.number().check(z.minimum(0), z.maximum(60))),
  /** Embedded stack: how often the sweeper looks for stalled sessions, seconds (default 30). */
  REVERIE_SWEEP_INTERVAL_SECONDS: z.optional(z.coerce.number().check(z.positive(), z.maximum(3600))),
  /** Embedded stack: visibility timeout of the local agent-steps queue, seconds (default 720). */
  REVERIE_QUEUE_VISIBILITY_SECONDS: z.optional(z.coerce.number().check(z.positive(), z.maximum(43_200))),
  /** Model the outcome grader calls; default: the session agent's model. */
  REVERIE_GRADER_MODEL: z.optional(z.string().check(z.minLength(1))),
  /** Interval of `span.outcome_evaluation_ongoing` heartbeats while the grader works, seconds. */
  REVERIE_GRADER_HEARTBEAT_SECONDS: z._default(z.coerce.number().check(z.positive(), z.maximum(3600)), 15),
  REVERIE_GRADER_QUEUE_URL: z.optional(z.string()),
  REVERIE_WEBHOOKS_QUEUE_URL: z.optional(z.string()),
  REVERIE_WEBHOOKS_DLQ_URL: z.optional(z.string()),
  /** Allow webhook endpoints on private, loopback or link-local addresses (tests, private networks). */
  REVERIE_WEBHOOK_ALLOW_PRIVATE: flag,
  /** Delivery attempts of a webhook before it goes to the dead-letter queue. */
  REVERIE_WEBHOOK_MAX_ATTEMPTS: z._default(z.coerce.number().check(z.int(), z.minimum(1), z.maximum(20)), 5),
  /** Backoff base between webhook attempts: attempt n waits base × 2^(n-1) seconds (≤ 900). */
  REVERIE_WEBHOOK_RETRY_BASE_SECONDS: z._default(z.coerce.number().check(z.minimum(0), z.maximum(900)), 30),
  REVERIE_OUTCOMES_TOPIC_ARN: z.optional(z.string()),
  REVERIE_EVENT_BUS_NAME: z.optional(z.string()),
  /** Threads: the Step Functions fan-out state machine (AWS). */
  REVERIE_FANOUT_STATE_MACHINE_ARN: z.optional(z.string().check(z.minLength(1))),
  /** Threads: tokens the cost preflight assumes per dispatched thread without a token_budget. */
  REVERIE_THREAD_ESTIMATED_TOKENS: z._default(z.coerce.number().check(z.int(), z.minimum(0)), 20_000),
  /** Workflow runs: runs a session may have open at once (more: `max_workflow_runs_error`). */
  REVERIE_WORKFLOW_MAX_OPEN_RUNS: z._default(
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(100)),
    5,
  ),
  /** Workflow runs: threads one run may create, every attempt counted (more: `thread_limit_error`). */
  REVERIE_WORKFLOW_MAX_THREADS_PER_RUN: z._default(
    z.coerce.number().check(z.int(), z.minimum(1), z.maximum(10_000)),
    200,
  ),
  /** Workflow runs: the longest `timeout_seconds` a plan may ask for (default and cap of a run's time limit). */
  REVERIE_WORKFLOW_MAX_RUN_SECONDS: z._default(
    z.coerce.number().check(z.int(), z.minimum(10), z.maximum(86_400)),
    3_600,
  ),
  /** Workflow runs on AWS: the role, log group and name prefix of runs' state machines (infra/aws/workflow-runs.ts). */
  REVERIE_WORKFLOW_ROLE_ARN: z.optional(z.string().check(z.minLength(1))),
  REVERIE_WORKFLOW_LOG_GROUP_ARN: z.optional(z.string().check(z.minLength(1))),
  REVERIE_WORKFLOW_STATE_MACHINE_ARN_PREFIX: z.optional(z.string().check(z.minLength(1))),
  REVERIE_WORKFLOW_NAME_PREFIX: z.optional(z.string().check(z.minLength(1))),
  /**
   * Files API: largest upload, bytes (default 4 MiB). On AWS an upload reaches the function inside API
   * Gateway's event, base64-encoded (4/3 of its size), and a download leaves it the same way; both
   * must fit Lambda's 6 MB synchronous payload, which 5 MiB did not.
   */
  REVERIE_FILE_MAX_BYTES: z._default(z.coerce.number().check(z.int(), z.positive()), 4 * 1024 * 1024),
  /** Self-hosted environments: lease TTL of a work item when the worker asks for none, seconds. */
  REVERIE_WORK_LEASE_SECONDS: z._default(z.coerce.number().check(z.int(), z.minimum(2), z.maximum(3600)), 90),
  /** Self-hosted environments: how long a turn waits for a worker's tool results before it ends, seconds. */
  REVERIE_WORKER_TIMEOUT_SECONDS: z._default(z.coerce.number().check(z.minimum(1), z.maximum(86_400)), 600),
  /** AWS: the sandbox functions bash runs in, and the longest command (set by CDK). */
  REVERIE_SANDBOX_FUNCTION_NAME: z.optional(z.string().check(z.minLength(1))),
  REVERIE_SANDBOX_ISOLATED_FUNCTION_NAME: z.optional(z.string().check(z.minLength(1))),
  REVERIE_SANDBOX_MAX_TIMEOUT_SECONDS: z._default(
    z.coerce.number().check(z.int(), z.positive(), z.maximum(840)),
    600,
  ),
  /** AWS: the KMS key vault credentials are sealed under (envelope encryption; set by CDK). */
  REVERIE_SECRETS_KMS_KEY_ID: z.optional(z.string().check(z.minLength(1))),
  REVERIE_LOG_LEVEL: z._default(z.enum(["DEBUG", "INFO", "WARN", "ERROR", "SILENT"]), "INFO"),
  ...dreamConfigSchema,
  /** AWS: the EventBridge Scheduler group, target Lambda (deployment-runner) and invoke role of deployments. */
  REVERIE_DEPLOYMENT_SCHEDULE_GROUP: z.optional(z.string().check(z.minLength(1))),
  REVERIE_DEPLOYMENT_RUNNER_FUNCTION_ARN: z.optional(z.string().check(z.minLength(1))),
  REVERIE_DEPLOYMENT_SCHEDULER_ROLE_ARN: z.optional(z.string().check(z.minLength(1))),
});

export type Config = z.infer<typeof schema> & { modelProvider: "anthropic" | "bedrock" | "simulated" };

/** Thrown when an environment variable is missing or malformed; names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses `env` (default `process.env`) into a Config, or throws a ConfigError naming the bad variables. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const blanksRemoved = Object.fromEntries(
    Object.entries(env).filter(([, v]) => v !== undefined && v !== ""),
  );
  const parsed = schema.safeParse(blanksRemoved);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  const c = parsed.data;
  const modelProvider =
    c.REVERIE_MODEL_PROVIDER ??
    (c.ANTHROPIC_API_KEY || c.REVERIE_ANTHROPIC_SECRET_ARN ? "anthropic" : "simulated");
  if (modelProvider === "anthropic" && !c.ANTHROPIC_API_KEY && !c.REVERIE_ANTHROPIC_SECRET_ARN) {
    throw new ConfigError(
      "REVERIE_MODEL_PROVIDER=anthropic needs ANTHROPIC_API_KEY (or REVERIE_ANTHROPIC_SECRET_ARN)",
    );
  }
  return { ...c, modelProvider };
}
