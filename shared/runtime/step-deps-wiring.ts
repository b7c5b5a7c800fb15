/**
 * The part of the composition root every process shares: a step's dependencies (`StepDeps`) from
 * the ports. `buildServices` (container.ts) adds the bounded contexts on top; the grader, which
 * grades outcomes and serves nothing else, uses this alone, so its bundle carries none of them
 * (threads, workflows, memory, dreams, environments…).
 */
import { GuardedFetcher } from "../adapters/http/guarded-fetcher.js";
import { TimeSortableIds } from "../contract/ids.js";
import { DomainEventFanout } from "../core/events/domain-event-fanout.js";
import { EventLog } from "../core/events/event-log.js";
import type { GraderMessage } from "../core/outcomes/grader-message.js";
import {
  type Clock,
  type DocumentStore,
  type DomainEvents,
  type EventBus,
  type EventNotifier,
  type FanoutOrchestrator,
  type HttpFetcher,
  type Logger,
  type McpConnector,
  type MessageQueue,
  ModelCallError,
  type ModelProvider,
  type NotificationTopic,
  type ShellSandbox,
  type WorkspaceStore,
} from "../core/ports.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import type { StepMessage } from "../core/runtime/step-message.js";
import { SessionRepository } from "../core/sessions/session-record.js";
import { WebhookOutbox } from "../core/webhooks/webhook-outbox.js";
import type { WebhookMessage } from "../core/webhooks/webhook-records.js";
import { graderLeaseSeconds, stepLeaseSeconds } from "../infra-spec/queues.js";
import type { Config } from "./config.js";
import { createLogger } from "./logger.js";

/** The ports a step's dependencies are built from. */
export interface StepPorts {
  store: DocumentStore;
  steps: MessageQueue<StepMessage>;
  /**
   * The model; only the processes that call it pass one (agent-step, grader, dream-worker, the
   * embedded stack), so the others carry no model SDK. Without one a model call fails clearly.
   */
  model?: ModelProvider;
  workspace: WorkspaceStore;
  notifier: EventNotifier;
  fetcher?: HttpFetcher;
  clock?: Clock;
  logger?: Logger;
  /** Where domain events go; until webhooks are wired they are dropped. */
  domainEvents?: DomainEvents;
  /** The grader queue; without it outcomes are accepted but never graded. */
  grader?: MessageQueue<GraderMessage>;
  /** The webhooks queue (with `Ports.webhookDeadLetters`); without it webhook endpoints are not served. */
  webhooks?: MessageQueue<WebhookMessage>;
  /** SNS topic for satisfied outcomes and EventBridge bus for domain events (both optional). */
  notifications?: NotificationTopic;
  eventBus?: EventBus;
  leaseMs?: number;
  /** StepDeps.chainStepsMs: how long a step message may run its run's next steps in process (default 0). */
  chainStepsMs?: number;
  /** Runs multiagent fan-outs (Step Functions / local); without it coordinators cannot dispatch. */
  orchestrator?: FanoutOrchestrator;
  /** The sandbox `bash` runs in (cloud environments), and whether it can run commands here. */
  sandbox?: ShellSandbox;
  bashAvailable?: boolean;
  /**
   * Connects to agents' MCP servers (`withMcp`); passed only by the processes that run steps
   * (agent-step, the embedded stack), so the others carry no MCP client.
   */
  mcp?: McpConnector;
}

/** The model of a process that makes no model calls (the API, the sweeper, …). */
const noModel: ModelProvider = {
  name: "none",
  createMessage: async () => {
    throw new ModelCallError("invalid_request", "this process has no model: model calls run in agent-step");
  },
};

/**
 * A step's dependencies, without what the bounded contexts add (`buildServices` adds threads,
 * workflow runs, extensions, vault credentials, self-hosted work…).
 */
export function buildStepDeps(config: Config, ports: StepPorts): StepDeps {
  const clock = ports.clock ?? { now: () => Date.now() };
  const logger = ports.logger ?? createLogger(config);
  const webhookOutbox = ports.webhooks && new WebhookOutbox(ports.store, ports.webhooks, logger, clock);
  const domainEvents =
    ports.domainEvents ??
    new DomainEventFanout({ webhooks: webhookOutbox, bus: ports.eventBus, topic: ports.notifications });
  return {
    store: ports.store,
    sessions: new SessionRepository(ports.store),
    events: new EventLog(ports.store, ports.notifier),
    notifier: ports.notifier,
    steps: ports.steps,
    model: ports.model ?? noModel,
    workspace: ports.workspace,
    fetcher: ports.fetcher ?? new GuardedFetcher({ allowPrivate: config.REVERIE_WEB_FETCH_ALLOW_PRIVATE }),
    clock,
    ids: new TimeSortableIds(() => clock.now()),
    logger,
    domainEvents,
    outcomes: ports.grader && {
      queue: ports.grader,
      modelId: config.REVERIE_GRADER_MODEL,
      heartbeatMs: config.REVERIE_GRADER_HEARTBEAT_SECONDS * 1000,
      leaseMs: graderLeaseSeconds * 1000,
    },
    retry: {
      maxRetries: config.REVERIE_MODEL_MAX_RETRIES,
      baseSeconds: config.REVERIE_MODEL_RETRY_BASE_SECONDS,
    },
    leaseMs: ports.leaseMs ?? stepLeaseSeconds * 1000,
    chainStepsMs: ports.chainStepsMs,
    orchestrator: ports.orchestrator,
    workerTimeoutMs: config.REVERIE_WORKER_TIMEOUT_SECONDS * 1000,
    sandbox: ports.sandbox,
    bashAvailable: ports.sandbox !== undefined && ports.bashAvailable === true,
    mcp: ports.mcp,
    mcpTimeouts: {
      connectMs: config.REVERIE_MCP_CONNECT_TIMEOUT_SECONDS * 1000,
      callMs: config.REVERIE_MCP_CALL_TIMEOUT_SECONDS * 1000,
    },
  };
}
