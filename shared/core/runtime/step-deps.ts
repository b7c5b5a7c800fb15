/** Everything a step needs from outside, handed in by the composition root. */

import type { SessionStatusIdleEvent } from "../../contract/sdk-types.js";
import type { EventLog } from "../events/event-log.js";
import type { McpTimeouts } from "../mcp/mcp-servers.js";
import type { OutcomeSettings } from "../outcomes/outcome-settings.js";
import type {
  Clock,
  DocumentStore,
  DomainEvents,
  EventNotifier,
  FanoutOrchestrator,
  HttpFetcher,
  IdGenerator,
  Logger,
  McpConnector,
  MessageQueue,
  ModelProvider,
  SandboxNetwork,
  ShellSandbox,
  WorkQueuePort,
  WorkspaceStore,
} from "../ports.js";
import type { SessionRepository } from "../sessions/session-record.js";
import type { VaultCredentials } from "../vaults/vault-credentials.js";
import type { RetryPolicy } from "./model-retry.js";
import type { RunExtension } from "./run-extension.js";
import type { StepMessage } from "./step-message.js";

/** Why a run went idle (the SDK's `stop_reason`). */
export type StopReason = SessionStatusIdleEvent["stop_reason"];

/**
 * How a session's child threads are addressed (core/threads): the scope a queue message's run
 * lives in, the fan-out's own queue messages, and the sweeper's repair of a thread's report. What
 * a coordinator adds to its steps is its RunExtension (`threads`), not a hook here.
 */
export interface ThreadHooks {
  /** The deps a message's run uses: the primary thread's as given, a child thread's own repository, queue and extension. */
  depsFor(deps: StepDeps, message: StepMessage): Promise<StepDeps>;
  /** Handles a fan-out message (thread dispatch, coordinator resume) from the agent-steps queue; false if `body` is none. */
  handleQueueMessage(deps: StepDeps, body: unknown): Promise<boolean>;
  /** Sweeper: finishes the report of an idle child thread whose task was never answered (a crash). */
  recoverIdleThread(deps: StepDeps, workspaceId: string, sessionId: string, threadId: string): Promise<void>;
}

export interface StepDeps {
  store: DocumentStore;
  sessions: SessionRepository;
  events: EventLog;
  notifier: EventNotifier;
  steps: MessageQueue<StepMessage>;
  model: ModelProvider;
  workspace: WorkspaceStore;
  fetcher: HttpFetcher;
  clock: Clock;
  ids: IdGenerator;
  logger: Logger;
  /** Webhooks / EventBridge / SNS, for lifecycle events. */
  domainEvents: DomainEvents;
  /** The grader queue and its settings; without it an outcome is never graded. */
  outcomes?: OutcomeSettings;
  retry: RetryPolicy;
  /** How long a step holds its lease, ms. */
  leaseMs: number;
  /** What plugs into the step loop (run-extension.ts), asked in this order. */
  extensions?: readonly RunExtension[];
  /** Multiagent threads (set by the composition root when wired). */
  threads?: ThreadHooks;
  orchestrator?: FanoutOrchestrator;
  /** The sandbox `bash` runs in for cloud sessions (bubblewrap on one machine, a Lambda on AWS). */
  sandbox?: ShellSandbox;
  /** Whether the sandbox can run commands here (checked at start); else `bash` is not offered. */
  bashAvailable?: boolean;
  /** An environment's `networking`, as the sandbox applies it. */
  environmentNetwork?: (workspaceId: string, environmentId: string) => Promise<SandboxNetwork>;
  /** Self-hosted environments' work queue (absent: self-hosted sessions wait until the timeout). */
  work?: WorkQueuePort;
  /** How long a step waits for a self-hosted worker's tool results before ending the turn, ms. */
  workerTimeoutMs: number;
  /**
   * Credentials of the session's vaults at the moment of use:
   * `authorizationFor(workspaceId, session.vault_ids, mcpServerUrl, { afterUnauthorized })` is the
   * `Authorization` header for that MCP server, or undefined.
   */
  vaultCredentials?: VaultCredentials;
  /** Connects to the agents' MCP servers (agent-step and the embedded stack); absent, they are unreachable. */
  mcp?: McpConnector;
  /** Bounds on MCP connects, listings and calls; default `DEFAULT_MCP_TIMEOUTS`. */
  mcpTimeouts?: McpTimeouts;
}
