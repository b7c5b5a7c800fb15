/**
 * Everything a step needs from outside, handed in by the composition root, and what plugs into the
 * step loop (RunExtension).
 *
 * One run kernel: a session's primary thread, a coordinator's thread, a child thread, a dream and a
 * workflow run's threads all run through the same step loop (agent-step.ts). What differs between
 * them is not a branch inside the loop but a `RunExtension` the composition root lists, asked at
 * fixed points of every step:
 *
 *     claim ─▶ resumeParked?      a parked run's claim restarts what it waits on (a fan-out)
 *           ─▶ systemNote         session-constant prompt additions (memory mounts, skills, a brief)
 *           ─▶ contextText        what its own events say in the model's context (an outcome, a result)
 *           ─▶ tools              tools beyond the agent's toolset, run here (coordinator, dreamer…)
 *     model ─▶ tool.run           each call to an extension tool, result in its reserved slot
 *           ─▶ afterTools         may park the run until outside work ends (threads, a workflow run)
 *     interrupt ─▶ interrupted    stop outside work (a fan-out's threads, workflow runs)
 *     commit ─▶ insteadOfIdle     may take the end of a turn over (an outcome's grader)
 *            ─▶ afterIdle         the idle transition is committed (a child thread reports back)
 *     budget ─▶ overBudget        a run's own budget rule (a child thread's token budget)
 *            ─▶ endTurn           the turn ends for the extension's own reason (a canceled dream)
 *     sweep  ─▶ nudgeStalled      a stalled run whose pending work is the extension's (a grading)
 *
 * The kernel imports no extension; extensions import the kernel. Every hook may run more than once
 * for the same step (a crash, a duplicate delivery) and must be idempotent (DESIGN.md §5).
 */

import type Anthropic from "@anthropic-ai/sdk";
import type { SessionStatusIdleEvent, SessionUsage } from "../../contract/sdk-types.js";
import type { EventLog, LoggedEvent } from "../events/event-log.js";
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
import type { SessionRecord, SessionRepository } from "../sessions/session-record.js";
import type { MountedStore } from "../tools/file-tools.js";
import type { ToolOutcome } from "../tools/toolset.js";
import type { VaultCredentials } from "../vaults/vault-credentials.js";
import type { RetryPolicy } from "./model-retry.js";
import type { StepMessage } from "./step-message.js";
import type { StepRecord, ToolRun } from "./step-record.js";

/** Why a run went idle (the SDK's `stop_reason`). */
export type StopReason = SessionStatusIdleEvent["stop_reason"];

/**
 * How a session's child threads are addressed (core/threads): the scope a queue message's run
 * lives in, and the sweeper's repair of a thread's report (the fan-out's own queue messages go to
 * the threads runtime as one of `queueHandlers`). What
 * a coordinator adds to its steps is its RunExtension (`threads`), not a hook here.
 */
export interface ThreadHooks {
  /** The deps a message's run uses: the primary thread's as given, a child thread's own repository, queue and extension. */
  depsFor(deps: StepDeps, message: StepMessage): Promise<StepDeps>;
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
  /**
   * How long one queue message may go on running its run's next steps in process, ms (agent-step.ts
   * `runAgentStep`); 0 or absent: each step is its own queue message.
   */
  chainStepsMs?: number;
  /** What plugs into the step loop (run-extension.ts), asked in this order. */
  extensions?: readonly RunExtension[];
  /** Multiagent threads (set by the composition root when wired). */
  threads?: ThreadHooks;
  orchestrator?: FanoutOrchestrator;
  /**
   * Handlers of other work on the agent-steps queue (a fan-out's dispatches and resumes, workflow
   * runs' tasks, phases and ends), asked before a message is read as a step nudge; each takes only
   * the kinds it owns and returns false for any other body.
   */
  queueHandlers?: ReadonlyArray<{ handleQueueMessage(deps: StepDeps, body: unknown): Promise<boolean> }>;
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

/** A tool an extension offers to a run's model and runs on the server. */
export interface ExtensionTool {
  definition: Anthropic.Messages.Tool;
  /**
   * Runs one call; its outcome becomes the call's `agent.tool_result`. Called again after a crash
   * until that result is written, so it is read-only or keyed by `call.toolUseEventId` (runOnce).
   * `"deferred"`: no result now — the extension writes it into `call.resultSeq` later (`afterTools`).
   */
  run(deps: StepDeps, run: SessionRecord, call: ToolRun): Promise<ToolOutcome | "deferred">;
}

/** Where a tool call mounts what it may read and write, beyond the run's workspace. */
export interface MountContext {
  workspaceId: string;
  /** The run whose tool call this is (a session, or a child thread). */
  runId: string;
  /** The session whose workspace and memory the call works on (a child thread's parent session). */
  owner: string;
  resources: SessionRecord["session"]["resources"];
  agent: SessionRecord["session"]["agent"];
  toolUseEventId: string;
  /** The builtin tool being run (`bash` gets extra provenance on memory writes). */
  tool: string;
  /** For a child thread: the coordinator's tool use that gave it its current message. */
  dispatchedBy?: string;
}

/**
 * What a turn's end was handed to instead of going idle: `next` (the record about to be saved) was
 * changed accordingly, and this starts the handoff once it is saved (safe to repeat).
 */
export type IdleHandoff = () => Promise<void>;

export interface RunExtension {
  /** For logs and tests. */
  readonly name: string;
  /** A session-constant addition to the system prompt (cached with it), or undefined. */
  systemNote?(deps: StepDeps, run: SessionRecord): Promise<string | undefined>;
  /**
   * The user-turn text an event adds to the model's context (events of this extension's own kinds:
   * an outcome's instruction, a grader's feedback); undefined for events it does not render.
   */
  contextText?(logged: LoggedEvent): string | undefined;
  /** Tools this run's model is offered beyond its agent's tools, named apart from them. */
  tools?(deps: StepDeps, run: SessionRecord): Promise<readonly ExtensionTool[]> | readonly ExtensionTool[];
  /** Stores a builtin tool call mounts (memory stores, session files, skills). */
  mounts?(deps: StepDeps, context: MountContext): MountedStore[];
  /** After a step's tools ran; true parks the run: it waits (status running) for work outside the loop. */
  afterTools?(deps: StepDeps, run: SessionRecord, step: StepRecord): Promise<boolean>;
  /** A parked run was claimed (the park was just committed, or redelivered): (re)starts what it waits on. */
  resumeParked?(deps: StepDeps, run: SessionRecord): Promise<boolean>;
  /**
   * A `user.interrupt` was recorded on the run (`run` as saved with it): stop the outside work the
   * extension started (a fan-out's threads, workflow runs). A crash here is finished by the parked
   * run's next claim (resumeParked sees the pending interrupt).
   */
  interrupted?(deps: StepDeps, run: SessionRecord): Promise<void>;
  /** The turn ended with `end_turn`: may take the place of the idle transition by changing `next`. */
  insteadOfIdle?(deps: StepDeps, next: SessionRecord): IdleHandoff | undefined;
  /**
   * The sweeper found the run stalled (its lease or deadline passed): when the work it waits on is
   * this extension's (an outcome being graded), re-send that work's message and return true —
   * the step is then not nudged.
   */
  nudgeStalled?(deps: StepDeps, run: SessionRecord): Promise<boolean>;
  /** The run's idle transition is committed. */
  afterIdle?(deps: StepDeps, run: SessionRecord, stop: StopReason): Promise<void>;
  /**
   * Whether the run's turn must end now for the extension's own reason (a dream canceled meanwhile,
   * its answer malformed as often as allowed): the stop reason it ends with, or undefined. Asked
   * before a model call and when a step commits; the first answer wins.
   */
  endTurn?(deps: StepDeps, run: SessionRecord): Promise<StopReason | undefined>;
  /** This run's own budget rule: true when spent; undefined defers to the next rule (the session's). */
  overBudget?(deps: StepDeps, run: SessionRecord, usage: SessionUsage): Promise<boolean | undefined>;
}
