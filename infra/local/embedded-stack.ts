/**
 * The embedded stack (DESIGN.md §6): the whole system in one process with no AWS account —
 * dynalite for DynamoDB (in process: the same adapter as AWS, minus the socket), a durable local queue for SQS, a directory for S3 workspaces, a timer for
 * the scheduled sweeper — serving the same API through the same handlers as the Lambdas.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AesSecretSealer } from "../../shared/adapters/local/aes-secret-sealer.js";
import { BubblewrapSandbox } from "../../shared/adapters/local/bubblewrap-sandbox.js";
import { DirectoryFileBlobStore } from "../../shared/adapters/local/directory-file-blob-store.js";
import { DirectoryWorkspaceStore } from "../../shared/adapters/local/directory-workspace-store.js";
import { InProcessNotifier } from "../../shared/adapters/local/in-process-notifier.js";
import { LocalEventBus, LocalNotificationTopic } from "../../shared/adapters/local/local-bus.js";
import { LocalDeploymentScheduler } from "../../shared/adapters/local/local-deployment-scheduler.js";
import { openLocalDocumentStore } from "../../shared/adapters/local/local-document-store.js";
import { LocalDreamScheduler } from "../../shared/adapters/local/local-dream-scheduler.js";
import { LocalFanoutOrchestrator } from "../../shared/adapters/local/local-fanout-orchestrator.js";
import { LocalQueue } from "../../shared/adapters/local/local-queue.js";
import { LocalWorkflowOrchestrator } from "../../shared/adapters/local/local-workflow-orchestrator.js";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import {
  buildConsoleAssets,
  type ConsoleAssets,
  isConsolePath,
  serveConsoleAsset,
} from "../../shared/console/console-assets.js";
import { ApiError, authenticationFailure } from "../../shared/contract/errors.js";
import { ApiKeys, credentialOf } from "../../shared/core/auth/api-keys.js";
import type { DreamJob } from "../../shared/core/dreams/dream-deps.js";
import type { DreamMemory } from "../../shared/core/dreams/dream-memory.js";
import { sweepDreams } from "../../shared/core/dreams/dream-sweeper.js";
import type { GraderMessage } from "../../shared/core/outcomes/grader-message.js";
import type { Clock, Logger, ModelProvider, ShellSandbox } from "../../shared/core/ports.js";
import type { StepMessage } from "../../shared/core/runtime/step-message.js";
import { resumeRunsAtBoot, sweepStalledSessions } from "../../shared/core/runtime/sweeper.js";
import type { WebhookMessage } from "../../shared/core/webhooks/webhook-records.js";
import { sweepWebhookDeliveries } from "../../shared/core/webhooks/webhook-sweeper.js";
import {
  FANOUT_MAX_CONCURRENCY,
  fanoutStateMachineDefinition,
} from "../../shared/infra-spec/fanout-state-machine.js";
import { queueSpecs } from "../../shared/infra-spec/queues.js";
import type { Config } from "../../shared/runtime/config.js";
import { buildServices, createLogger, type Services } from "../../shared/runtime/container.js";
import { buildDeployments, deploymentsOf } from "../../shared/runtime/deployment-wiring.js";
import { buildDreams, dreamsOf } from "../../shared/runtime/dream-wiring.js";
import { createDreamJobHandler } from "../../shared/runtime/handlers/dream-job-handler.js";
import { createGraderHandler } from "../../shared/runtime/handlers/grader-handler.js";
import { createStepHandler } from "../../shared/runtime/handlers/step-handler.js";
import { createWebhookHandler } from "../../shared/runtime/handlers/webhook-handler.js";
import { allApiRoutes } from "../../shared/runtime/http/all-api-routes.js";
import { type Api, createApi } from "../../shared/runtime/http/api.js";
import type { HttpRequest, HttpResponse } from "../../shared/runtime/http/http-types.js";
import { logRequest } from "../../shared/runtime/http/request-log.js";
import { bodyLimitOf } from "../../shared/runtime/http/request-parsing.js";
import { isSkillUploadPath, SKILL_UPLOAD_ENVELOPE_BYTES } from "../../shared/runtime/http/skills-routes.js";
import { withMcp } from "../../shared/runtime/mcp-ports.js";
import { createModel } from "../../shared/runtime/model-provider.js";
import { buildSkills } from "../../shared/runtime/skills-wiring.js";
import { buildVaultApi } from "../../shared/runtime/vault-api-wiring.js";

export const LOCAL_WORKSPACE_ID = "wrkspc_local";

export interface EmbeddedStackOptions {
  config: Config;
  /** Where state lives; undefined keeps DynamoDB and queues in memory (tests). */
  dataDir?: string;
  /** Overrides config.PORT (0 = any free port). */
  port?: number;
  /** Overrides the configured model provider (tests, benchmarks). */
  model?: ModelProvider;
  logger?: Logger;
  /** Step lease, ms (short in fault tests); default REVERIE_STEP_LEASE_SECONDS, else 150 s. */
  leaseMs?: number;
  /** Default REVERIE_SWEEP_INTERVAL_SECONDS, else 30 s. */
  sweepIntervalMs?: number;
  /** Concurrent step batches, like concurrent Lambda invocations; default 32 (a full fan-out of 25 threads, its coordinator and more). */
  stepConcurrency?: number;
  /** Visibility timeout of the local step queue, seconds; default REVERIE_QUEUE_VISIBILITY_SECONDS, else 720. */
  visibilityTimeoutSeconds?: number;
  /** The memory stores dreams read and write (tests inject one; default: the container's). */
  dreamMemory?: DreamMemory;
  /** The sandbox `bash` runs in; default bubblewrap over the workspaces; `null`: no sandbox (no bash). */
  sandbox?: ShellSandbox | null;
  /** The clock deployment schedules' due times are read against (tests skew it to bring a minute closer). */
  scheduleClock?: () => number;
  /**
   * The clock every step, claim, lease and deadline is read against (default: the wall clock); tests
   * skew it to stand hours later than now, e.g. past a fan-out's deadline.
   */
  clock?: Clock;
}

export interface EmbeddedStack {
  url: string;
  /** The web console (issue 14), served by the same server. */
  consoleUrl: string;
  apiKey: string;
  services: Services;
  queue: LocalQueue<StepMessage>;
  graderQueue: LocalQueue<GraderMessage>;
  webhooksQueue: LocalQueue<WebhookMessage>;
  webhookDeadLetters: LocalQueue<WebhookMessage>;
  /** The local SNS topic (satisfied outcomes) and EventBridge bus; subscribe to see what is published. */
  notifications: LocalNotificationTopic;
  eventBus: LocalEventBus;
  /** Runs the fan-out ASL locally (multiagent threads). */
  orchestrator: LocalFanoutOrchestrator;
  /** Workflow runs' executions (each run's compiled ASL). */
  workflowOrchestrator: LocalWorkflowOrchestrator;
  /** Which document store holds the state (shown in the banner), and why when it was not asked for. */
  store: { kind: "sqlite" | "dynalite"; note?: string };
  /** Whether `bash` runs here, and if not, why (shown in the banner). */
  bash: { available: true } | { available: false; reason: string };
  /** Fires scheduled deployments on the wall clock (EventBridge Scheduler's stand-in). */
  deploymentScheduler: LocalDeploymentScheduler;
  stop(): Promise<void>;
}

/** The local workspace's API key: REVERIE_API_KEY, else the one saved in the data dir, else a new one. */
function localApiKey(config: Config, dataDir: string | undefined): string {
  if (config.REVERIE_API_KEY) return config.REVERIE_API_KEY;
  const file = dataDir ? join(dataDir, "api-key") : undefined;
  if (file) {
    try {
      return readFileSync(file, "utf8").trim();
    } catch {
      // none saved yet
    }
  }
  const key = ApiKeys.generate();
  if (file) writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return key;
}

export async function startEmbeddedStack(options: EmbeddedStackOptions): Promise<EmbeddedStack> {
  const { config, dataDir } = options;
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const documents = await openLocalDocumentStore(dataDir, config.REVERIE_STORE);
  const store = documents.store;
  const queue = new LocalQueue<StepMessage>({
    spec: queueSpecs["agent-steps"],
    dir: dataDir ? join(dataDir, "queues", "agent-steps") : undefined,
  });
  const graderQueue = new LocalQueue<GraderMessage>({
    spec: queueSpecs.grader,
    dir: dataDir ? join(dataDir, "queues", "grader") : undefined,
  });
  const webhooksQueue = new LocalQueue<WebhookMessage>({
    spec: queueSpecs.webhooks,
    dir: dataDir ? join(dataDir, "queues", "webhooks") : undefined,
  });
  // Never consumed: what it holds is what an operator would find in the webhooks DLQ.
  const webhookDeadLetters = new LocalQueue<WebhookMessage>({
    spec: queueSpecs.webhooks,
    dir: dataDir ? join(dataDir, "queues", "webhooks-dlq") : undefined,
  });
  const busLogger = options.logger ?? createLogger(config, "reverie-bus");
  const notifications = new LocalNotificationTopic(busLogger);
  const eventBus = new LocalEventBus(busLogger);
  const dreamJobs = new LocalQueue<DreamJob>({
    spec: queueSpecs["dream-jobs"],
    dir: dataDir ? join(dataDir, "queues", "dream-jobs") : undefined,
  });
  const dreamScheduler = new LocalDreamScheduler((error) =>
    options.logger?.error("dream schedule firing failed", { error: String(error) }),
  );
  const deploymentScheduler = new LocalDeploymentScheduler(
    (error) => options.logger?.error("deployment firing failed", { error: String(error) }),
    options.scheduleClock,
  );
  const workspaceRoot = join(dataDir ?? join(tmpdir(), `reverie-${process.pid}-${Date.now()}`), "workspaces");
  mkdirSync(workspaceRoot, { recursive: true });
  const logger = options.logger ?? createLogger(config);
  const dataRoot = join(workspaceRoot, "..");
  const sandbox =
    options.sandbox === null
      ? undefined
      : (options.sandbox ??
        new BubblewrapSandbox({
          workspaceDir: (id) => join(workspaceRoot, id),
          // The sandbox sees its own workspace, never the rest of the data dir (database, queues, keys).
          hiddenPaths: [dataRoot],
          scratchDir: join(dataRoot, "sandbox"),
        }));
  const bash: EmbeddedStack["bash"] = sandbox
    ? await sandbox.availability()
    : { available: false, reason: "no sandbox is configured" };
  if (!bash.available)
    logger.warn("bash is not offered: the sandbox cannot run here", { reason: bash.reason });
  const orchestrator = new LocalFanoutOrchestrator({
    definition: fanoutStateMachineDefinition,
    // Fan-out messages share the agent-steps queue with step nudges (the step handler tells them apart).
    send: (body) => queue.send(body as StepMessage),
    logger,
  });
  // Workflow runs: each run's compiled plan, executed by aws-local-stepfunctions like the fan-out.
  const workflowOrchestrator = new LocalWorkflowOrchestrator({
    send: (body) => queue.send(body as StepMessage),
    logger,
  });
  const services = buildServices(config, {
    http: (services) => createApi(services, allApiRoutes),
    orchestrator,
    workflowOrchestrator,
    // Uploaded files sit beside the workspaces: <data dir>/files.
    fileBlobs: new DirectoryFileBlobStore(join(workspaceRoot, "..", "files")),
    store,
    steps: queue,
    model: options.model ?? (await createModel(config, config.ANTHROPIC_API_KEY, () => new SimulatedModel())),
    workspace: new DirectoryWorkspaceStore(workspaceRoot),
    sandbox,
    bashAvailable: bash.available,
    ...withMcp(config),
    notifier: new InProcessNotifier(),
    logger: options.logger,
    clock: options.clock,
    leaseMs: options.leaseMs ?? secondsToMs(config.REVERIE_STEP_LEASE_SECONDS),
    // A step's next steps run in the same consumer for a while (no queue round trip between two
    // steps of a turn); after that they go through the queue, so that every session gets its turn.
    chainStepsMs: (config.REVERIE_STEP_CHAIN_SECONDS ?? 2) * 1000,
    grader: graderQueue,
    webhooks: webhooksQueue,
    webhookDeadLetters,
    notifications,
    eventBus,
    dreamJobs,
    dreamMemory: options.dreamMemory,
    dreamTrigger: dreamScheduler,
    dreaming: buildDreams,
    deploymentTrigger: deploymentScheduler,
    deploying: buildDeployments,
    skilling: buildSkills,
    // Vault credentials are sealed under a key kept beside the data (created 0600 on first start);
    // an in-memory stack gets a key that lives as long as it does.
    secrets: dataDir ? AesSecretSealer.fromKeyFile(join(dataDir, "secrets.key")) : new AesSecretSealer(),
    vaultApi: buildVaultApi,
  });
  const apiKey = localApiKey(config, dataDir);
  await services.apiKeys.register(apiKey, { workspaceId: LOCAL_WORKSPACE_ID, apiKeyId: "apikey_local" });
  // One process owns a data dir: every lease alive now belongs to a process that died.
  const resumed = await resumeRunsAtBoot(services.deps);
  for (const runId of resumed)
    services.logger.info("resuming a run interrupted by the last shutdown", { runId });

  // Steps mostly wait on the model, so the local queue runs as many at once as one fan-out can
  // dispatch (plus its coordinator and other sessions), the way Lambda would scale agent-step.
  const stepConcurrency = options.stepConcurrency ?? FANOUT_MAX_CONCURRENCY + 7;
  queue.start(createStepHandler(services.deps), {
    concurrency: stepConcurrency,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds ?? config.REVERIE_QUEUE_VISIBILITY_SECONDS,
  });
  graderQueue.start(createGraderHandler(services.deps), { concurrency: 8 });
  if (services.webhooks)
    webhooksQueue.start(createWebhookHandler(services.webhooks.delivery), { concurrency: 4 });
  const dreaming = dreamsOf(services);
  dreamJobs.start(createDreamJobHandler(dreaming.dreamDeps), { concurrency: 2 });
  dreamScheduler.start((firing) => dreaming.dreamSchedules.fire(firing), await dreaming.dreamSchedules.all());
  const deploying = deploymentsOf(services);
  deploymentScheduler.start(
    (firing) => deploying.runner.fire(firing),
    await deploying.deployments.triggers(),
  );
  // One process owns a data dir: a run a dead process claimed is finished once its lease runs out.
  const sweepRuns = (olderThanMs?: number) =>
    deploying.runner
      .sweep(olderThanMs)
      .catch((error) => services.logger.error("deployment run sweep failed", { error: String(error) }));
  await sweepRuns(0);
  if (resumed.length > 0)
    await sweepStalledSessions(services.deps).catch((error) =>
      services.logger.error("sweep failed", { error: String(error) }),
    );
  // Workflow runs: their time limits, and (at boot) the executions a restart lost.
  const sweepWorkflows = () =>
    services.workflows
      ?.sweep(services.deps)
      .catch((error) => services.logger.error("workflow run sweep failed", { error: String(error) }));
  await sweepWorkflows();
  const sweeper = setInterval(
    () => {
      sweepStalledSessions(services.deps).catch((error) =>
        services.logger.error("sweep failed", { error: String(error) }),
      );
      sweepDreams(dreaming.dreamDeps).catch((error) =>
        services.logger.error("dream sweep failed", { error: String(error) }),
      );
      sweepRuns();
      sweepWorkflows();
      const webhooks = services.webhooks?.delivery;
      if (webhooks)
        sweepWebhookDeliveries(webhooks).catch((error) =>
          services.logger.error("webhook delivery sweep failed", { error: String(error) }),
        );
    },
    options.sweepIntervalMs ?? secondsToMs(config.REVERIE_SWEEP_INTERVAL_SECONDS) ?? 30_000,
  );

  // Built on the first request for it, so a stack that never serves the console never pays for esbuild.
  let consoleAssets: Promise<ConsoleAssets> | undefined;
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (isConsolePath(path) || (path === "/" && req.headers.accept?.includes("text/html"))) {
      consoleAssets ??= buildConsoleAssets();
      serveConsole(consoleAssets, req, res, path).catch((error) => {
        consoleAssets = undefined;
        services.logger.error("console failed", { error: String(error) });
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
        res.end(`the console is not available: ${(error as Error).message}\n`);
      });
      return;
    }
    serve(services, req, res).catch((error) => {
      services.logger.error("request failed", { error: String(error) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? config.PORT, config.REVERIE_HOST, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://${config.REVERIE_HOST}:${port}`,
    consoleUrl: `http://${config.REVERIE_HOST}:${port}/console/`,
    apiKey,
    services,
    queue,
    graderQueue,
    webhooksQueue,
    webhookDeadLetters,
    notifications,
    eventBus,
    orchestrator,
    workflowOrchestrator,
    bash,
    store: { kind: documents.kind, note: documents.note },
    deploymentScheduler,
    async stop() {
      clearInterval(sweeper);
      // Executions live in memory; the next start's sweep recovers the open runs' executions.
      await workflowOrchestrator.close();
      dreamScheduler.stop();
      deploymentScheduler.stop();
      await closeServer(server);
      await queue.stop();
      await graderQueue.stop();
      await webhooksQueue.stop();
      await dreamJobs.stop();
      // Once nothing consumes (a batch may send to another queue), the queues' database closes.
      for (const q of [queue, graderQueue, webhooksQueue, dreamJobs, webhookDeadLetters]) await q.close();
      await sandbox?.dispose?.();
      await documents.close();
    },
  };
}

const secondsToMs = (seconds: number | undefined) => (seconds === undefined ? undefined : seconds * 1000);

/** The request body is larger than the route takes (counted while it streams in). */
class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}

/** Reads the body, giving up as soon as it passes `limit` bytes (never buffering more than that). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limit) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > limit) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return chunks.length ? Buffer.concat(chunks) : undefined;
}

/**
 * Answers with Anthropic's error shape and closes the connection (the rest of the body is not read);
 * with `services`, logs the request line the API would have (the route as the router matches it).
 */
function refuse(
  res: ServerResponse,
  error: ApiError,
  refused?: { services: Services; method: string; path: string; startedAt: number },
) {
  const requestId = `req_${randomUUID().replaceAll("-", "")}`;
  res.writeHead(error.status, {
    "content-type": "application/json",
    "request-id": requestId,
    connection: "close",
  });
  const body = error.toBody(requestId);
  res.end(JSON.stringify(body));
  if (!refused) return;
  const { services, method, path, startedAt } = refused;
  const matched = (services.api as Api).router.match(method.toUpperCase(), path);
  const route = "miss" in matched ? "unmatched" : matched.route.path;
  logRequest(
    services.logger,
    { method: method.toUpperCase(), route, requestId, startedAt },
    { kind: "json", status: error.status, body },
  );
}

/** The console's static files (no API key: the page asks for one and sends it to the API itself). */
async function serveConsole(
  assets: Promise<ConsoleAssets>,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
) {
  if (path === "/") {
    res.writeHead(302, { location: "/console/" });
    res.end();
    return;
  }
  const answer = serveConsoleAsset(await assets, req.method ?? "GET", path, req.headers["if-none-match"]);
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/** Room for a multipart upload's envelope around the largest file. */
const UPLOAD_ENVELOPE_BYTES = 64 * 1024;

async function serve(services: Services, req: IncomingMessage, res: ServerResponse) {
  const startedAt = performance.now();
  const url = new URL(req.url ?? "/", "http://localhost");
  const refused = { services, method: req.method ?? "GET", path: url.pathname, startedAt };
  const headers: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) headers[k] = Array.isArray(v) ? v.join(",") : v;
  // Aborted only when the client goes before the answer is complete (an abort builds a DOMException
  // with its stack: not a cost every finished request should pay).
  const disconnected = new AbortController();
  res.on("close", () => {
    if (!res.writableFinished) disconnected.abort();
  });
  // Authentication before the body: an unauthenticated request never gets its body buffered.
  const credential = credentialOf(headers);
  const principal = url.pathname === "/health" ? undefined : await services.apiKeys.resolve(credential);
  if (url.pathname !== "/health" && !principal) {
    refuse(res, authenticationFailure(credential), refused);
    req.destroy();
    return;
  }
  const limit =
    url.pathname === "/v1/files"
      ? services.filesMaxBytes + UPLOAD_ENVELOPE_BYTES
      : isSkillUploadPath(url.pathname)
        ? services.filesMaxBytes + SKILL_UPLOAD_ENVELOPE_BYTES
        : bodyLimitOf({ principal });
  let raw: Buffer | undefined;
  try {
    raw = await readBody(req, limit);
  } catch (error) {
    if (!(error instanceof BodyTooLargeError)) throw error;
    refuse(res, new ApiError("request_too_large", `request body is larger than ${limit} bytes`), refused);
    req.destroy();
    return;
  }
  const request: HttpRequest = {
    method: req.method ?? "GET",
    path: url.pathname,
    query: url.searchParams,
    headers,
    body: raw?.toString("utf8"),
    rawBody: raw,
    signal: disconnected.signal,
    principal,
  };
  const response: HttpResponse = await (services.api as Api).handle(request);
  if (response.kind === "json") {
    res.writeHead(response.status, { "content-type": "application/json", ...response.headers });
    res.end(JSON.stringify(response.body));
    return;
  }
  if (response.kind === "binary") {
    res.writeHead(response.status, response.headers);
    res.end(response.body);
    return;
  }
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  res.flushHeaders();
  const iterator = response.chunks[Symbol.asyncIterator]();
  const closed = new Promise<void>((resolve) =>
    disconnected.signal.addEventListener("abort", () => resolve()),
  );
  try {
    for (;;) {
      const next = await Promise.race([
        iterator.next(),
        closed.then(() => ({ done: true as const, value: undefined })),
      ]);
      if (next.done) break;
      // The frames of one burst (a step's events come out of one log read) go out as one write.
      res.cork();
      res.write(next.value);
      process.nextTick(() => res.uncork());
    }
  } finally {
    await iterator.return?.();
    // A write still corked when the response ends is dropped, not sent: the last frame (a failed
    // stream's `error`) comes right before the end.
    while (res.writableCorked > 0) res.uncork();
    res.end();
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
