/**
 * The composition root: the one place that chooses adapters (DESIGN.md §4). `buildServices` wires
 * the core from a set of ports, on a step's dependencies (`buildStepDeps`, step-deps-wiring.ts);
 * `awsPorts` and the embedded stack (infra/local) supply the ports. Two Lambdas compose less on
 * the same functions: the grader a step's dependencies alone (`awsStepDeps`), the dream worker a
 * dream job's (`awsDreamJobDeps`).
 */
import { checkWebhookUrl } from "../adapters/http/webhook-sender.js";
import { InvalidRequestError } from "../contract/errors.js";
import type { Environment, SessionAgent } from "../contract/sdk-types.js";
import { AgentsService } from "../core/agents/agents-service.js";
import { ApiKeys } from "../core/auth/api-keys.js";
import { ScopedAccess } from "../core/auth/scoped-access.js";
import type { DeploymentScheduleTrigger } from "../core/deployments/deployment-trigger.js";
import type { DreamJob } from "../core/dreams/dream-deps.js";
import type { DreamMemory } from "../core/dreams/dream-memory.js";
import type { DreamScheduleTrigger } from "../core/dreams/dream-schedules-service.js";
import { EnvironmentKeysService } from "../core/environments/environment-keys.js";
import { EnvironmentsService } from "../core/environments/environments-service.js";
import { WorkService } from "../core/environments/work-service.js";
import { EventsService } from "../core/events/events-service.js";
import { withLifecycleEvents } from "../core/events/resource-lifecycle.js";
import { FilesService } from "../core/files/files-service.js";
import { MemoriesService } from "../core/memory/memories-service.js";
import { MemorySnapshotsService } from "../core/memory/memory-snapshots-service.js";
import { MemoryStoresService } from "../core/memory/memory-stores-service.js";
import { workerWriteContext } from "../core/memory/worker-write-context.js";
import { OutcomeStore } from "../core/outcomes/outcome-record.js";
import { OutcomesService } from "../core/outcomes/outcomes-service.js";
import type {
  DocumentStore,
  FileBlobStore,
  MessageQueue,
  SandboxNetwork,
  SecretSealer,
  WebhookTransport,
  WorkflowOrchestrator,
} from "../core/ports.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import { interruptDeliveredCalls } from "../core/runtime/worker-hands.js";
import { SessionResourcesService } from "../core/sessions/session-resources.js";
import { SessionsService } from "../core/sessions/sessions-service.js";
import { ThreadsRuntime } from "../core/threads/threads-runtime.js";
import { ThreadsService } from "../core/threads/threads-service.js";
import { UnconfiguredSecretSealer } from "../core/vaults/vault-deps.js";
import type { WebhookDeliveryDeps } from "../core/webhooks/webhook-delivery.js";
import type { WebhookMessage } from "../core/webhooks/webhook-records.js";
import { WebhooksService } from "../core/webhooks/webhooks-service.js";
import { WorkflowRunsRuntime } from "../core/workflows/workflow-runs-runtime.js";
import type { Config } from "./config.js";
import type { DeploymentWiring } from "./deployment-wiring.js";
import type { DreamWiring } from "./dream-wiring.js";
import { dreamerExtensionFor } from "./dreamer-wiring.js";
import type { createApi } from "./http/api.js";
import { createLogger } from "./logger.js";
import { builtinExtensions } from "./run-extensions.js";
import type { SkillsWiring } from "./skills-wiring.js";
import { buildStepDeps, type StepPorts } from "./step-deps-wiring.js";
import type { buildVaultApi } from "./vault-api-wiring.js";
import { buildVaults } from "./vaults-wiring.js";
import { webhookDeliveryDeps } from "./webhook-delivery-wiring.js";

/**
 * What the composition root is given: the ports every process wires (`StepPorts`) and the contexts
 * only some processes serve.
 */
export interface Ports extends StepPorts {
  /** The webhooks dead-letter queue; without it and `webhooks` webhook endpoints are not served. */
  webhookDeadLetters?: MessageQueue<WebhookMessage>;
  webhookTransport?: WebhookTransport;
  /** Runs workflow runs' compiled plans (Step Functions / local); without it agents get no workflow tool. */
  workflowOrchestrator?: WorkflowOrchestrator;
  /**
   * Serves the HTTP API (`createApi`); passed only by the processes that serve it (the API Lambdas,
   * the embedded stack), so the step, sweeper and worker bundles carry no routes.
   */
  http?: typeof createApi;
  /** Where uploaded files' bytes go (Files API); without it /v1/files is not served. */
  fileBlobs?: FileBlobStore;
  /** Dreams: the dream-jobs queue (default: run in process) and the memory stores dreams read and write. */
  dreamJobs?: MessageQueue<DreamJob>;
  dreamMemory?: DreamMemory;
  dreamTrigger?: DreamScheduleTrigger;
  /**
   * Wires the dreams context (`buildDreams`); passed only by the processes that serve or run dreams,
   * so the other Lambda bundles carry none of it.
   */
  dreaming?: DreamWiring;
  /**
   * Wires deployments (`buildDeployments`: /v1/deployments, runs); passed by the processes that serve
   * the API or start runs (deployment-runner, the embedded stack), with the trigger that fires them.
   */
  deploying?: DeploymentWiring;
  deploymentTrigger?: DeploymentScheduleTrigger;
  /**
   * Wires skills (`buildSkills`: /v1/skills, skill checks on agents, skills in new sessions); passed
   * only by the processes that serve the API, and used only with `fileBlobs` (where versions live).
   */
  skilling?: SkillsWiring;
  /** Seals vault credentials at rest (a local key file, KMS on AWS); without it none can be stored or used. */
  secrets?: SecretSealer;
  /**
   * Wires the vault and credential services (`buildVaultApi`: /v1/vaults); passed only by the
   * processes that serve the API, so the step bundles carry only credential resolution.
   */
  vaultApi?: typeof buildVaultApi;
  /** Whether `environment_variable` credentials can be honoured by this deployment's sandbox. */
  environmentVariableCredentials?: Parameters<typeof buildVaultApi>[1];
}

export { createLogger };

/** Wires the core services and the API from ports. */
export function buildServices(config: Config, ports: Ports) {
  const deps = buildStepDeps(config, ports);
  const { clock, logger, domainEvents } = deps;
  const publisher = { domainEvents, ids: deps.ids, clock, logger };
  const skills =
    ports.fileBlobs &&
    ports.skilling?.(
      deps,
      ports.fileBlobs,
      (ws, ref): Promise<SessionAgent> => agents.resolveForSession(ws, { type: "agent", ...ref }),
    );
  const agents = withLifecycleEvents(
    new AgentsService(ports.store, deps.ids, clock, skills?.checkAgentSkills),
    "agent",
    { create: "created", update: "updated", archive: "archived" },
    publisher,
  );
  const environments = withLifecycleEvents(
    new EnvironmentsService(ports.store, deps.ids, clock),
    "environment",
    { create: "created", update: "updated", archive: "archived", delete: "deleted" },
    publisher,
  );
  deps.environmentNetwork = async (ws, id) => sandboxNetwork(await environments.retrieve(ws, id));
  const maxBytes = config.REVERIE_FILE_MAX_BYTES;
  const files = ports.fileBlobs
    ? new FilesService(ports.store, ports.fileBlobs, deps.ids, clock, { maxBytes })
    : undefined;
  const events = new EventsService(deps, files);
  const vaulting = buildVaults(deps, ports.secrets);
  deps.vaultCredentials = vaulting.vaultCredentials;
  const vaultApi = ports.vaultApi?.(vaulting, ports.environmentVariableCredentials);
  const memoryStores = new MemoryStoresService(deps);
  const memories = new MemoriesService(deps, memoryStores);
  const sessionResources = new SessionResourcesService(deps, memoryStores, files);
  const sessions = new SessionsService(
    deps,
    {
      resolveAgent: (ws, ref) => agents.resolveForSession(ws, ref),
      environmentConfigType: (ws, id) => environments.configType(ws, id),
      resolveResources: (ws, params) => sessionResources.resolve(ws, params),
      mountResources: (ws, sid, resources) => sessionResources.mount(ws, sid, resources),
      prepareSkills: skills?.prepareSkills,
      resolveVaults: (ws, ids) => vaulting.vaults.forSession(ws, ids),
      stopBackgroundWork: async (ws, sid) => workflows?.deleteSessionRuns(deps, ws, sid),
    },
    events,
  );
  withLifecycleEvents(
    sessions,
    "session",
    { update: "updated", archive: "archived", delete: "deleted" },
    publisher,
  );
  const threadsRuntime = new ThreadsRuntime({
    resolveAgent: (ws, ref) => agents.resolveForSession(ws, { type: "agent", ...ref }),
    queueUrl: config.REVERIE_AGENT_STEPS_QUEUE_URL ?? "local://agent-steps",
    estimatedThreadTokens: config.REVERIE_THREAD_ESTIMATED_TOKENS,
  });
  deps.threads = threadsRuntime;
  deps.queueHandlers = [threadsRuntime];
  // What plugs into the step loop, in the order it is asked (prompt notes and mounts follow it).
  deps.extensions = [...builtinExtensions, threadsRuntime.extension];
  // Workflow runs (multiagent_20261001 workflows): each plan compiled to its own state machine; its
  // calls are threads dispatched by the threads runtime; their answers relay through the run.
  const workflows = ports.workflowOrchestrator
    ? new WorkflowRunsRuntime({
        orchestrator: ports.workflowOrchestrator,
        threads: threadsRuntime,
        queueUrl: config.REVERIE_AGENT_STEPS_QUEUE_URL ?? "local://agent-steps",
        limits: {
          maxOpenRuns: config.REVERIE_WORKFLOW_MAX_OPEN_RUNS,
          maxThreadsPerRun: config.REVERIE_WORKFLOW_MAX_THREADS_PER_RUN,
          maxRunTimeoutSeconds: config.REVERIE_WORKFLOW_MAX_RUN_SECONDS,
        },
      })
    : undefined;
  if (workflows) {
    deps.extensions = [...deps.extensions, workflows.extension];
    deps.orchestrator = workflows.relay(() => deps, deps.orchestrator);
    deps.queueHandlers = [...deps.queueHandlers, workflows];
  }
  const threads = new ThreadsService(deps, events);
  const apiKeys = new ApiKeys(ports.store);
  const work = selfHostedWork(config, ports.store, deps, apiKeys, environments);
  deps.work = work.service;
  const memorySnapshots = new MemorySnapshotsService(deps, memoryStores, memories);
  const memory = { memoryStores, memories, memorySnapshots, sessionResources };
  const outcomes = new OutcomesService(deps.sessions, new OutcomeStore(ports.store));
  const webhooks = ports.webhooks && webhooksFrom(config, ports, deps, ports.webhooks);
  const dreaming = ports.dreaming?.(config, deps, ports, { memoryStores, memories });
  // Every step loop knows a dream's session; only where dreams are wired can it nudge their jobs.
  deps.extensions = [
    ...deps.extensions,
    dreamerExtensionFor(config, dreaming?.dreamDeps.jobs ?? ports.dreamJobs),
  ];
  const deploying = ports.deploying?.(deps, ports.deploymentTrigger, {
    ...{ agents, environments, sessions, events, files, memoryStores, sessionResources },
    vaults: vaulting.vaults,
  });
  const api = ports.http?.({
    agents,
    environments,
    sessions,
    events,
    apiKeys,
    logger,
    outcomes,
    webhooks: webhooks?.service,
    threads,
    files: files && { service: files, maxBytes },
    skills: skills && { service: skills.service, maxBytes },
    ...memory,
    sessionWrite: work.sessionWrite,
    work,
    dreams: dreaming?.dreams,
    dreamSchedules: dreaming?.dreamSchedules,
    deployments: deploying?.deployments,
    vaults: vaultApi,
  });
  return {
    deps,
    /** Workflow runs, when wired (the sweeper looks at their time limits and lost executions). */
    workflows,
    agents,
    environments,
    sessions,
    events,
    apiKeys,
    api,
    logger,
    outcomes,
    webhooks,
    threads,
    files,
    skills: skills?.service,
    ...memory,
    dreaming,
    /** The dream-jobs queue, where dreams or the queue are wired (the sweeper re-nudges stalled dreams). */
    dreamJobs: dreaming?.dreamDeps.jobs ?? ports.dreamJobs,
    deploying,
    vaults: vaultApi,
    work: work.service,
    environmentKeys: work.keys,
    /** Largest Files API upload (the HTTP edge sizes its body limit from it). */
    filesMaxBytes: maxBytes,
  };
}

/** A cloud environment's `networking` as the sandbox applies it (anything else: no egress). */
function sandboxNetwork(environment: Environment): SandboxNetwork {
  const networking = environment.config.type === "cloud" ? environment.config.networking : undefined;
  if (networking?.type === "unrestricted") return { type: "unrestricted" };
  return {
    type: "limited",
    allowedHosts: networking?.type === "limited" ? networking.allowed_hosts : [],
    allowPackageManagers: networking?.type === "limited" ? networking.allow_package_managers : false,
  };
}

/**
 * Self-hosted environments: the work queue, environment keys, what their scoped credentials may
 * reach, and how a worker's memory sync is attributed (as its session, with the session's taint).
 */
function selfHostedWork(
  config: Config,
  store: DocumentStore,
  deps: StepDeps,
  apiKeys: ApiKeys,
  environments: EnvironmentsService,
) {
  const settings = { leaseSeconds: config.REVERIE_WORK_LEASE_SECONDS, maxLeaseSeconds: 3600 };
  const service = new WorkService(
    store,
    deps.ids,
    deps.clock,
    apiKeys,
    environments,
    settings,
    (ws, sid, seq) => interruptDeliveredCalls(deps, ws, sid, seq),
  );
  const keys = new EnvironmentKeysService(store, deps.ids, deps.clock, apiKeys, environments);
  const access = new ScopedAccess({
    sessionResources: async (ws, sid) => (await deps.sessions.get(ws, sid))?.session.resources,
    tokenIsCurrent: (ws, scope) => service.tokenIsCurrent(ws, scope),
    sessionSkills: async (ws, sid) => (await deps.sessions.get(ws, sid))?.session.agent.skills,
  });
  const sessionWrite = (_ws: string, sessionId: string) => workerWriteContext(deps, sessionId);
  return { service, keys, access, sessionWrite };
}

/** The webhook endpoints service and the delivery worker's dependencies. */
function webhooksFrom(config: Config, ports: Ports, deps: StepDeps, queue: MessageQueue<WebhookMessage>) {
  const allowPrivate = config.REVERIE_WEBHOOK_ALLOW_PRIVATE;
  // Signing secrets are sealed like vault credentials (without a sealer, creating an endpoint is a
  // clear error naming what to configure).
  const sealer = ports.secrets ?? new UnconfiguredSecretSealer();
  const service = new WebhooksService(ports.store, deps.ids, deps.clock, queue, sealer, async (url) => {
    try {
      checkWebhookUrl(url, allowPrivate);
    } catch (error) {
      throw new InvalidRequestError(`url: ${(error as Error).message}`);
    }
  });
  const delivery: WebhookDeliveryDeps = webhookDeliveryDeps(config, {
    store: ports.store,
    sealer,
    queue,
    deadLetters: ports.webhookDeadLetters,
    transport: ports.webhookTransport,
    clock: deps.clock,
    logger: deps.logger,
  });
  return { service, delivery };
}

export type Services = ReturnType<typeof buildServices>;
