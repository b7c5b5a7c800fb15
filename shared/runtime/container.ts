/**
 * The composition root: the one place that chooses adapters (DESIGN.md §4). `buildServices` wires
 * the core from a set of ports; `awsPorts` and the embedded stack (infra/local) supply them.
 */
import { Logger as PowertoolsLogger } from "@aws-lambda-powertools/logger";
import { GuardedFetcher } from "../adapters/http/guarded-fetcher.js";
import { AnthropicModel } from "../adapters/model/anthropic-model.js";
import { SimulatedModel } from "../adapters/model/simulated-model.js";
import { TimeSortableIds } from "../contract/ids.js";
import { AgentsService } from "../core/agents/agents-service.js";
import { ApiKeys } from "../core/auth/api-keys.js";
import { EnvironmentsService } from "../core/environments/environments-service.js";
import { EventLog } from "../core/events/event-log.js";
import { EventsService } from "../core/events/events-service.js";
import { FilesService } from "../core/files/files-service.js";
import type {
  Clock,
  DocumentStore,
  DomainEvents,
  EventNotifier,
  FanoutOrchestrator,
  FileBlobStore,
  HttpFetcher,
  Logger,
  MessageQueue,
  ModelProvider,
  WorkspaceStore,
} from "../core/ports.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import type { StepMessage } from "../core/runtime/step-message.js";
import { SessionRepository } from "../core/sessions/session-record.js";
import { SessionsService } from "../core/sessions/sessions-service.js";
import { ThreadsRuntime } from "../core/threads/threads-runtime.js";
import { ThreadsService } from "../core/threads/threads-service.js";
import { stepLeaseSeconds } from "../infra-spec/queues.js";
import type { Config } from "./config.js";
import { createApi } from "./http/api.js";

export interface Ports {
  store: DocumentStore;
  steps: MessageQueue<StepMessage>;
  model: ModelProvider;
  workspace: WorkspaceStore;
  notifier: EventNotifier;
  fetcher?: HttpFetcher;
  clock?: Clock;
  logger?: Logger;
  /** Where domain events go; until webhooks are wired they are dropped. */
  domainEvents?: DomainEvents;
  leaseMs?: number;
  /** Runs multiagent fan-outs (Step Functions / local); without it coordinators cannot dispatch. */
  orchestrator?: FanoutOrchestrator;
  /** Where uploaded files' bytes go (Files API); without it /v1/files is not served. */
  fileBlobs?: FileBlobStore;
}

export function createLogger(config: Pick<Config, "REVERIE_LOG_LEVEL">, serviceName = "reverie"): Logger {
  const logger = new PowertoolsLogger({ serviceName, logLevel: config.REVERIE_LOG_LEVEL });
  return {
    info: (message, attributes) => logger.info(message, attributes ?? {}),
    warn: (message, attributes) => logger.warn(message, attributes ?? {}),
    error: (message, attributes) => logger.error(message, attributes ?? {}),
  };
}

/**
 * The model provider the configuration asks for. Bedrock's SDK (which carries every API resource)
 * is loaded only when asked for, so the Lambda bundles of other deployments stay small.
 */
export async function createModel(config: Config, apiKey = config.ANTHROPIC_API_KEY): Promise<ModelProvider> {
  const timeoutMs = config.REVERIE_MODEL_TIMEOUT_SECONDS * 1000;
  if (config.modelProvider === "anthropic") {
    return new AnthropicModel({ apiKey: apiKey as string, baseURL: config.ANTHROPIC_BASE_URL, timeoutMs });
  }
  if (config.modelProvider === "bedrock") {
    const modelIds = config.REVERIE_BEDROCK_MODEL_MAP
      ? (JSON.parse(config.REVERIE_BEDROCK_MODEL_MAP) as Record<string, string>)
      : {};
    const { BedrockModel } = await import("../adapters/model/bedrock-model.js");
    return new BedrockModel({ region: config.AWS_REGION, timeoutMs, modelIds });
  }
  return new SimulatedModel();
}

/** Wires the core services and the API from ports. */
export function buildServices(config: Config, ports: Ports) {
  const clock = ports.clock ?? { now: () => Date.now() };
  const logger = ports.logger ?? createLogger(config);
  const deps: StepDeps = {
    store: ports.store,
    sessions: new SessionRepository(ports.store),
    events: new EventLog(ports.store, ports.notifier),
    notifier: ports.notifier,
    steps: ports.steps,
    model: ports.model,
    workspace: ports.workspace,
    fetcher: ports.fetcher ?? new GuardedFetcher({ allowPrivate: config.REVERIE_WEB_FETCH_ALLOW_PRIVATE }),
    clock,
    ids: new TimeSortableIds(() => clock.now()),
    logger,
    domainEvents: ports.domainEvents ?? { publish: async () => {} },
    retry: {
      maxRetries: config.REVERIE_MODEL_MAX_RETRIES,
      baseSeconds: config.REVERIE_MODEL_RETRY_BASE_SECONDS,
    },
    leaseMs: ports.leaseMs ?? stepLeaseSeconds * 1000,
    orchestrator: ports.orchestrator,
  };
  const agents = new AgentsService(ports.store, deps.ids, clock);
  const environments = new EnvironmentsService(ports.store, deps.ids, clock);
  const events = new EventsService(deps);
  const sessions = new SessionsService(
    deps,
    {
      resolveAgent: (ws, ref) => agents.resolveForSession(ws, ref),
      environmentConfigType: (ws, id) => environments.configType(ws, id),
    },
    events,
  );
  deps.threads = new ThreadsRuntime({
    resolveAgent: (ws, ref) => agents.resolveForSession(ws, { type: "agent", ...ref }),
    queueUrl: config.REVERIE_AGENT_STEPS_QUEUE_URL ?? "local://agent-steps",
    estimatedThreadTokens: config.REVERIE_THREAD_ESTIMATED_TOKENS,
  });
  const threads = new ThreadsService(deps, events);
  const maxBytes = config.REVERIE_FILE_MAX_BYTES;
  const files = ports.fileBlobs
    ? new FilesService(ports.store, ports.fileBlobs, deps.ids, clock, { maxBytes })
    : undefined;
  const apiKeys = new ApiKeys(ports.store);
  const api = createApi({
    agents,
    environments,
    sessions,
    events,
    apiKeys,
    logger,
    threads,
    files: files && { service: files, maxBytes },
  });
  return { deps, agents, environments, sessions, events, apiKeys, api, logger, threads, files };
}

export type Services = ReturnType<typeof buildServices>;
