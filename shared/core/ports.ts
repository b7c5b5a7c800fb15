/**
 * The outside world as the core sees it: one interface per outside thing. Adapters live in
 * `shared/adapters/{aws,local,model}`; only `shared/runtime/container.ts` chooses them.
 */
import type Anthropic from "@anthropic-ai/sdk";

/** A stored item: a partition key, a sort key and any JSON-serialisable attributes. */
export interface StoredItem {
  pk: string;
  sk: string | number;
  [attribute: string]: unknown;
}

export type { TableName } from "../infra-spec/tables.js";

import type { TableName } from "../infra-spec/tables.js";

/** Raised by a conditional write whose condition did not hold. */
export class ConditionFailedError extends Error {
  override name = "ConditionFailedError";
}

/**
 * A call DynamoDB would refuse (a sort key of the wrong type, duplicate keys in one group, a query
 * limit below 1, an item or key too large), refused by a store before it writes anything, in
 * DynamoDB's words: so that what works on the embedded stack works on AWS. The DynamoDB adapter
 * raises it for what it checks itself (a group, a query's options); what DynamoDB checks (the key
 * of a single get, put, delete or increment) comes as DynamoDB's own ValidationException.
 */
export class StoreValidationError extends Error {
  override name = "StoreValidationError";
}

/**
 * The conditions of one put. `ifNotExists` with an `expectedRev` other than 0 can never hold (an
 * item that must not exist has no rev): every store refuses it with a TypeError, writing nothing.
 */
export interface PutOptions {
  /** Fail with ConditionFailedError if an item with this key exists. */
  ifNotExists?: boolean;
  /** Optimistic concurrency: fail unless the stored item's `rev` equals this (0 = must not exist). */
  expectedRev?: number;
}

/** One put of a group (DocumentStore.putAll). */
export interface GroupedPut {
  table: TableName;
  item: StoredItem;
  options?: PutOptions;
}

/**
 * A query's range, prefix, size and order. The bounds are of the table's sort key type (`after: 3`
 * on `resources`, whose keys are strings, is refused, as DynamoDB refuses the key condition), and
 * `beginsWith` only on a table whose sort keys are strings.
 */
export interface QueryOptions {
  /** Only sort keys strictly greater than this. */
  after?: string | number;
  /** Only sort keys strictly smaller than this. */
  before?: string | number;
  /** Only sort keys that start with this (string keys). */
  beginsWith?: string;
  /** At most this many items: an integer of at least 1 (DynamoDB refuses `Limit: 0`). */
  limit?: number;
  order?: "asc" | "desc";
}

/**
 * A key–value document store with single-item conditional writes (DynamoDB semantics, which dynalite
 * also speaks). No transactions: callers order their writes so that a crash between two is recoverable.
 *
 * Every store refuses what DynamoDB refuses, with StoreValidationError (see there): a sort key of the
 * wrong type for its table (`sk` is a string on `resources`, a number on `events`: shared/infra-spec),
 * a query bound of the wrong type, a query limit below 1.
 */
export interface DocumentStore {
  get(table: TableName, pk: string, sk: string | number): Promise<StoredItem | undefined>;
  put(table: TableName, item: StoredItem, options?: PutOptions): Promise<void>;
  /**
   * Writes several items unconditionally (overwriting), in as few requests as the store allows. Two
   * items with one key are refused (StoreValidationError), before anything is written: DynamoDB's
   * BatchWriteItem refuses them within a request, and every store refuses them within the call.
   */
  putMany(table: TableName, items: StoredItem[]): Promise<void>;
  /**
   * Puts several items in order, each under its own options, in as few writes as the store allows:
   * SQLite commits them in one transaction; DynamoDB, whose conditions hold one item each (DESIGN.md
   * §5), puts a conditional item alone and batches the unconditional ones between. The first failed
   * condition throws ConditionFailedError and nothing after it is written (SQLite: nothing at all);
   * so a group that leads with its guard (a step record, an emit-once marker) is all or nothing.
   * The group is checked whole before anything is written: two puts of one key (same table, pk and
   * sk), a sort key of the wrong type or contradictory options are refused, however the store would
   * split the group into requests.
   */
  putAll(puts: ReadonlyArray<GroupedPut>): Promise<void>;
  delete(table: TableName, pk: string, sk: string | number): Promise<void>;
  query(table: TableName, pk: string, options?: QueryOptions): Promise<StoredItem[]>;
  /** Atomically adds `by` to a numeric attribute (creating it at 0) and returns the new value. */
  increment(
    table: TableName,
    pk: string,
    sk: string | number,
    attribute: string,
    by: number,
  ): Promise<number>;
}

/** A durable queue with SQS semantics: at-least-once delivery, optional delay. */
export interface MessageQueue<Message> {
  send(message: Message, options?: { delaySeconds?: number }): Promise<void>;
}

/**
 * The largest workspace file {@link WorkspaceStore.read} loads: `bash` can make a file of any size
 * (`truncate -s 4G f`), and reading it whole into one string would take the step's memory with it.
 */
export const MAX_WORKSPACE_READ_BYTES = 64 * 1024 * 1024;

/** A workspace file larger than {@link MAX_WORKSPACE_READ_BYTES}: refused, never loaded. */
export class WorkspaceFileTooLargeError extends Error {
  override name = "WorkspaceFileTooLargeError";
  constructor(readonly size: number) {
    super(
      `the file is ${size} bytes, more than the ${MAX_WORKSPACE_READ_BYTES} bytes a file tool loads; ` +
        "look at parts of it with bash (head, tail, sed -n, grep)",
    );
  }
}

/** The workspace filesystem of a session (an S3 prefix on AWS, a directory locally). */
export interface WorkspaceStore {
  /** The file's text; undefined when there is no such file. @throws WorkspaceFileTooLargeError */
  read(workspaceId: string, path: string): Promise<string | undefined>;
  write(workspaceId: string, path: string, content: string): Promise<void>;
  /** Every file under the workspace (paths relative to its root, `/`-separated), newest first. */
  list(workspaceId: string): Promise<WorkspaceFile[]>;
}

export interface WorkspaceFile {
  path: string;
  size: number;
  modifiedAt: number;
}

export type ModelRequest = Anthropic.Messages.MessageCreateParamsNonStreaming;
export type ModelResponse = Anthropic.Messages.Message;

/** Why a model call failed, as far as retrying is concerned. */
export type ModelFailureKind = "rate_limited" | "overloaded" | "server_error" | "timeout" | "invalid_request";

/** A failed model call; `retryable` decides between an SQS-delayed retry and a `session.error`. */
export class ModelCallError extends Error {
  override name = "ModelCallError";
  constructor(
    readonly kind: ModelFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
  get retryable(): boolean {
    return this.kind !== "invalid_request";
  }
}

/**
 * What a streaming model call reports while it runs, so that clients can preview the agent's text
 * (`event_deltas`). Best-effort and never durable: the response the call resolves with is what
 * counts. A provider that cannot stream just never calls it.
 */
export interface ModelStreamObserver {
  /** A content block opened at `index` of the response's content (`text`, `thinking`, `tool_use`, …). */
  blockStart(index: number, type: string): void;
  /** Text was appended to the text block at `index`. */
  textDelta(index: number, text: string): void;
}

/** One model call, Messages API in and out; with an observer, the call streams and reports as it goes. */
export interface ModelProvider {
  readonly name: string;
  createMessage(request: ModelRequest, observer?: ModelStreamObserver): Promise<ModelResponse>;
}

/** Fetches a URL for the `web_fetch` tool (the SSRF guard sits in front of it). */
export interface HttpFetcher {
  fetchText(
    url: string,
    options: { maxBytes: number; timeoutMs: number },
  ): Promise<{ status: number; contentType: string; body: string }>;
  /**
   * Sends one request with a method, headers and a body (an OAuth token endpoint, an MCP probe),
   * through the same guard; redirects are not followed. Optional so that test fakes of `fetchText`
   * stay valid; the guarded fetcher implements it.
   */
  send?(
    url: string,
    request: HttpSendRequest,
  ): Promise<{ status: number; contentType: string; body: string }>;
}

export interface HttpSendRequest {
  method: "GET" | "POST" | "DELETE";
  headers?: Record<string, string>;
  body?: string;
  /** The body read is cut here (the connection is closed). */
  maxBytes: number;
  timeoutMs: number;
}

/**
 * Seals secrets at rest (vault credentials): AES-256-GCM under a local key file, or KMS envelope
 * encryption on AWS. `context` is bound to the sealed value (GCM associated data, the KMS encryption
 * context): an envelope opens only with the context it was sealed with, so it cannot be moved to
 * another record. Both methods throw on a tampered envelope, a wrong key or a wrong context.
 */
export interface SecretSealer {
  seal(plaintext: string, context: Readonly<Record<string, string>>): Promise<string>;
  open(envelope: string, context: Readonly<Record<string, string>>): Promise<string>;
}

export interface Clock {
  now(): number;
}

export type { IdGenerator } from "../contract/ids.js";

/**
 * Announces written events to live followers (SSE). An optimisation only: the event table is the
 * truth, and a follower that hears nothing (another process wrote) polls it.
 */
export interface EventNotifier {
  /** Announces that events were written for a session, passing them along to in-process followers. */
  notify(sessionId: string, written?: readonly unknown[]): void;
  /** Calls `listener` with what every later `notify` passes, until the returned function is called. */
  subscribe(sessionId: string, listener: (written: readonly unknown[]) => void): () => void;
  /**
   * Resolves when `sessionId` is notified (true), or when `timeoutMs` passes or `signal` aborts
   * (false), whichever is first.
   */
  wait(sessionId: string, timeoutMs: number, signal?: AbortSignal): Promise<boolean>;
  /**
   * The previews channel that travels the same way (`event_deltas`); absent, or unheard across
   * processes, previews are simply not sent.
   */
  readonly previews?: EventPreviews;
}

/**
 * A preview of an event being produced (`event_start`, `event_delta`), as the SDK types them. Only
 * streams that ask for them (`event_deltas`) see them; they are never stored.
 */
export type EventPreview =
  | Anthropic.Beta.Sessions.BetaManagedAgentsStartEvent
  | Anthropic.Beta.Sessions.BetaManagedAgentsDeltaEvent;

/**
 * The non-durable channel from a step to the open event streams of its session (or thread):
 * in-process on one machine; a process that cannot reach the streams drops what it publishes.
 */
export interface EventPreviews {
  /** Whether any stream of `runId` wants previews now (a step streams its model call only then). */
  listening(runId: string): boolean;
  publish(runId: string, preview: EventPreview): void;
  /** Calls `listener` with every later preview of `runId`, until the returned function is called. */
  subscribe(runId: string, listener: (preview: EventPreview) => void): () => void;
}

export interface Logger {
  info(message: string, attributes?: Record<string, unknown>): void;
  warn(message: string, attributes?: Record<string, unknown>): void;
  error(message: string, attributes?: Record<string, unknown>): void;
}

/**
 * A domain event (an agent archived, a memory store changed, a session went idle, an outcome was
 * graded) that leaves the core for webhooks, the EventBridge bus or SNS. `id` is deterministic for
 * the change that caused it, so a retried write publishes the same event again and consumers dedupe.
 */
export interface DomainEvent {
  /** Webhook event type, as Anthropic names it (`session.status_idled`, `memory_store.updated`, …). */
  type: string;
  id: string;
  workspaceId: string;
  /** RFC 3339. */
  createdAt: string;
  /** The subject's fields beyond `type`, `id` and `workspace_id` (e.g. `session_id`, `outcome_id`). */
  data: Record<string, unknown>;
}

/** Where domain events go. At least once: publishing the same `id` twice must be harmless. */
export interface DomainEvents {
  publish(event: DomainEvent): Promise<void>;
}

/** POSTs a signed webhook to an endpoint's URL (the SSRF guard sits in front of it). */
export interface WebhookTransport {
  /** Resolves with the receiver's status; rejects when the target is refused or unreachable. */
  post(
    url: string,
    body: string,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number }>;
}

/** A message for operators' subscriptions (SNS on AWS), with attributes they can filter on. */
export interface NotificationTopic {
  publish(message: { subject: string; body: string; attributes: Record<string, string> }): Promise<void>;
}

/** An event bus for domain events (EventBridge on AWS) that users route with rules. */
export interface EventBus {
  put(events: Array<{ source: string; detailType: string; detail: Record<string, unknown> }>): Promise<void>;
}

/**
 * Runs fan-outs (Step Functions on AWS, aws-local-stepfunctions locally) and takes the callbacks of
 * the threads they wait on. Every call is idempotent from the caller's side: starting an execution
 * that already runs, or answering a task that is already answered or gone, changes nothing.
 */
export interface FanoutOrchestrator {
  /** Starts the fan-out execution `name` (unique per coordinator step) with `input`. */
  start(name: string, input: unknown): Promise<void>;
  sendTaskSuccess(taskToken: string, output: unknown): Promise<void>;
  sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void>;
  sendTaskHeartbeat(taskToken: string): Promise<void>;
}

/**
 * Runs workflow runs: each run's plan compiled to its own ASL definition (shared/infra-spec/
 * workflow-state-machine.ts) — a state machine and an execution on AWS, aws-local-stepfunctions
 * locally. Idempotent like {@link FanoutOrchestrator}; its task answers go through the same calls
 * (a thread answers its task token the same way whichever engine waits on it).
 */
export interface WorkflowOrchestrator {
  /** Starts execution `name` of `definition` with `input`; a second start of `name` changes nothing. */
  start(name: string, definition: object, input: unknown): Promise<void>;
  /** Stops execution `name` (an interrupt, a session delete, a run timeout); unknown or ended: nothing. */
  stop(name: string): Promise<void>;
  /**
   * For a run still open: starts execution `name` again if this engine lost it (the embedded stack
   * keeps executions in memory, so a restart loses them), and sends again the end of one that ended
   * (its `workflow_run_finished` was lost); Step Functions keeps its own, so its adapter has none.
   */
  recover?(name: string, definition: object, input: unknown): Promise<void>;
  sendTaskSuccess(taskToken: string, output: unknown): Promise<void>;
  sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void>;
  sendTaskHeartbeat(taskToken: string): Promise<void>;
}

/** Uploaded files' bytes (Files API): S3 on AWS, a directory locally. Keys are opaque. */
export interface FileBlobStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  delete(key: string): Promise<void>;
}

/**
 * A directory the sandbox sees besides `/workspace` (a mounted memory store): its files are laid out
 * before the command runs; for a writable mount the sandbox reports what the command changed.
 */
export interface SandboxMount {
  /** Absolute path inside the sandbox, e.g. `/mnt/memory/notes`. */
  path: string;
  readOnly: boolean;
  /** Files by path relative to the mount root. */
  files: ReadonlyArray<{ path: string; content: string }>;
}

/** What a command changed in a writable mount: `content: null` is a deletion. */
export interface SandboxMountChange {
  mountPath: string;
  path: string;
  content: string | null;
}

/** Egress of a sandbox, from the environment's `networking` config. */
export type SandboxNetwork =
  | { type: "unrestricted" }
  | { type: "limited"; allowedHosts: readonly string[]; allowPackageManagers: boolean };

export interface SandboxExecRequest {
  /** The sandbox's identity: one persistent shell per session (or per thread's owner session). */
  sessionId: string;
  /** The WorkspaceStore id whose files are the sandbox's writable `/workspace`. */
  workspaceId: string;
  /** The command; absent with `restart` only restarts the shell. */
  command?: string;
  /** Restart the persistent shell before running. */
  restart?: boolean;
  /** Per-call timeout in ms (the adapter clamps it to its maximum). */
  timeoutMs?: number;
  mounts: readonly SandboxMount[];
  network: SandboxNetwork;
}

export interface SandboxExecResult {
  /** stdout and stderr interleaved, truncated (with a marker) past the adapter's limit. */
  output: string;
  /** The command's exit code; null when it was killed (timeout) or the shell died. */
  exitCode: number | null;
  timedOut: boolean;
  mountChanges: SandboxMountChange[];
}

/**
 * The hands of a `cloud` environment: an isolated shell per session over its workspace (bubblewrap
 * on one machine, an isolated engine on AWS). A model's command never runs anywhere else.
 */
export interface ShellSandbox {
  /** Whether commands can run here; when not, `bash` is not offered and `reason` says why. */
  availability(): Promise<{ available: true } | { available: false; reason: string }>;
  exec(request: SandboxExecRequest): Promise<SandboxExecResult>;
  /** Ends a session's shell (idle, session deleted); the workspace stays. */
  close(sessionId: string): Promise<void>;
  /** Ends every shell (the process is shutting down). */
  dispose?(): Promise<void>;
}

/** The work queue of self-hosted environments, as a step needs it. */
export interface WorkQueuePort {
  /** Makes sure the session has a live work item for a worker to claim (idempotent). */
  ensureWork(workspaceId: string, environmentId: string, sessionId: string): Promise<string>;
  /** Stops the session's work item, if any. */
  stopForSession(workspaceId: string, sessionId: string): Promise<void>;
  /**
   * Before a work item's sessions token is shown the worker tool call at `seq`: records that its
   * worker may run it; false when the token no longer holds the item (it must not be shown).
   */
  noteDelivered?(
    workspaceId: string,
    token: { environmentId: string; workId: string; generation: number },
    seq: number,
  ): Promise<boolean>;
}

/** A tool an MCP server offers: its `tools/list` entry, as far as Reverie uses it. */
export interface McpTool {
  name: string;
  description?: string;
  /** The tool's input as JSON Schema (`type: "object"`). */
  inputSchema: Record<string, unknown>;
  /** The server's hints (`readOnlyHint`, `destructiveHint`, …): untrusted, advisory only. */
  annotations?: Record<string, unknown>;
}

/** What an MCP `tools/call` answered: its content blocks as the server sent them. */
export interface McpCallResult {
  content: ReadonlyArray<Record<string, unknown>>;
  isError: boolean;
  structuredContent?: unknown;
}

/**
 * Why talking to an MCP server failed: `unauthorized` (401), `refused` (the SSRF guard or a 403),
 * `unreachable` (DNS, connection, a 5xx, the server went away), `timeout`, `protocol` (it answered
 * something that is not MCP: invalid JSON-RPC, a JSON-RPC error, an unexpected content type).
 */
export type McpFailureKind = "unauthorized" | "refused" | "unreachable" | "timeout" | "protocol";

/** What marks an {@link McpServerError}, whichever copy of this module built it. */
const MCP_SERVER_ERROR: unique symbol = Symbol.for("reverie.McpServerError");

/**
 * A failed MCP connection or request; the message never carries credentials.
 *
 * `instanceof` recognises one built by another copy of this class: in agent-step's Lambda asset the
 * MCP client is a file of its own (infra/aws/lambda-side-files.ts), bundled with its own copy of
 * this module, and the step's code checks the errors it throws.
 */
export class McpServerError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && MCP_SERVER_ERROR in value;
  }
  readonly [MCP_SERVER_ERROR] = true;
  override name = "McpServerError";
  constructor(
    readonly kind: McpFailureKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One live connection to an MCP server (an initialized MCP client session). */
export interface McpConnection {
  /** Which transport the server answered on. */
  readonly transport: "streamable_http" | "sse";
  /** Every tool the server lists (all pages). */
  listTools(options: { timeoutMs: number }): Promise<McpTool[]>;
  /** Calls one tool; a tool's own failure is `isError: true`, a failure to get an answer throws McpServerError. */
  callTool(
    name: string,
    args: Record<string, unknown>,
    options: { timeoutMs: number },
  ): Promise<McpCallResult>;
  close(): Promise<void>;
}

/**
 * Connects to remote MCP servers (Streamable HTTP, falling back to the older HTTP+SSE transport),
 * every request through the SSRF guard. `headers` carry the Authorization a vault resolved.
 *
 * @throws McpServerError when the server cannot be reached or initialized within `timeoutMs`.
 */
export interface McpConnector {
  connect(
    url: string,
    options: { headers: Record<string, string>; timeoutMs: number },
  ): Promise<McpConnection>;
}
