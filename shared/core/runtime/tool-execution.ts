/**
 * Runs the builtin tools a step asked for. Each result goes to a slot reserved in the step record;
 * a slot already written means the tool already ran, so a retried step does not run it again.
 * A tool that took effect but whose result was not written yet (a crash in between) is re-run, so
 * every tool that changes something is keyed by its `agent.tool_use` event (`tool-intents.ts`):
 * `write`/`edit` apply their change as a compare-and-swap, anything else with effects runs at most
 * once, and read-only tools just run again.
 */
import { idPrefix } from "../../contract/ids.js";
import type { AgentToolset, Session, SessionAgent, SessionEvent } from "../../contract/sdk-types.js";
import { emitOnce } from "../events/emit-once.js";
import type { LoggedEvent } from "../events/event-log.js";
import { capToolResultText } from "../events/result-size.js";
import { mcpResultEvent, runMcpCall } from "../mcp/mcp-calls.js";
import { McpServers, mcpRunOf } from "../mcp/mcp-servers.js";
import type { SandboxNetwork } from "../ports.js";
import { type SessionRecord, SessionRepository } from "../sessions/session-record.js";
import { sandboxMounts, writeBackMountChanges } from "../tools/bash-mounts.js";
import { BASH_DEFAULT_TIMEOUT_MS, type BashSandboxContext } from "../tools/bash-tool.js";
import { type MountedStore, withWriteIntents } from "../tools/file-tools.js";
import { describeFailure, isBuiltinTool, runBuiltinTool, type ToolOutcome } from "../tools/toolset.js";
import type { ExtensionTool, MountContext } from "./run-extension.js";
import type { StepDeps } from "./step-deps.js";
import type { StepRecord } from "./step-record.js";
import { fileIntentLog, runOnce } from "./tool-intents.js";
import { isWorkerTool } from "./worker-tools.js";

/** Builtin tools that only read: re-running one after a crash changes nothing. */
const READ_ONLY_TOOLS: ReadonlySet<string> = new Set(["read", "glob", "grep", "web_fetch"]);
/** Builtin tools that change one file, as a compare-and-swap against their recorded intent. */
const FILE_CHANGE_TOOLS: ReadonlySet<string> = new Set(["write", "edit"]);

function resultEvent(id: string, toolUseEventId: string, outcome: ToolOutcome, now: number): SessionEvent {
  return {
    type: "agent.tool_result",
    id,
    processed_at: new Date(now).toISOString(),
    tool_use_id: toolUseEventId,
    is_error: outcome.isError,
    content: [{ type: "text", text: capToolResultText(outcome.content) }],
  };
}

/** What a tool call needs beyond the agent to mount the session's resources. */
export interface ToolSession {
  workspaceId: string;
  resources: Session["resources"];
  /**
   * The session whose workspace the tools work on and as which memory is written: the run's own id,
   * or for a child thread its parent session (threads share the session's files).
   */
  owner?: string;
  /** For a child thread: the coordinator's `send_to_agent` tool use that gave it its current message. */
  dispatchedBy?: string;
  /** The session's environment (its `networking` decides what `bash` may reach). */
  environmentId?: string;
  /** A self-hosted session: its worker runs the toolset, not this server. */
  servedByWorker?: boolean;
  /** The session's vaults: their credentials authorize its MCP servers. */
  vaultIds?: readonly string[];
}

/** The mounting context of a claimed session (or child thread: its record carries `thread`). */
export const toolSession = (record: {
  workspaceId: string;
  session: Session;
  thread?: unknown;
}): ToolSession => ({
  workspaceId: record.workspaceId,
  resources: record.session.resources,
  owner: (record.thread as { sessionId?: string } | undefined)?.sessionId,
  dispatchedBy: (record.thread as { dispatch?: { toolUseEventId?: string } } | undefined)?.dispatch
    ?.toolUseEventId,
  environmentId: record.session.environment_id,
  servedByWorker: (record as { run?: { hands?: string } }).run?.hands === "worker",
  vaultIds: record.session.vault_ids ?? [],
});

/**
 * A child thread mounts its session's resources as they are now (files added or detached since the
 * thread was created included), not the copy taken when the thread was created.
 */
async function ownerResources(deps: StepDeps, mounting: ToolSession, owner: string) {
  const parent = await new SessionRepository(deps.store).get(mounting.workspaceId, owner);
  return parent?.session.resources ?? mounting.resources;
}

/** One tool call of a run: its `agent.tool_use` event and what the model asked for. */
interface ToolCall {
  toolUseEventId: string;
  name: string;
  input: unknown;
}

async function execute(
  deps: StepDeps,
  sessionId: string,
  agent: SessionAgent,
  call: ToolCall,
  options: { fresh: boolean; session?: ToolSession },
): Promise<ToolOutcome> {
  const { name, input, toolUseEventId } = call;
  const toolset = agent.tools.find((t) => t.type === "agent_toolset_20260401") as AgentToolset | undefined;
  let mounting = options.session;
  const owner = mounting?.owner ?? sessionId;
  try {
    if (mounting && owner !== sessionId)
      mounting = { ...mounting, resources: await ownerResources(deps, mounting, owner) };
    let workspace: StepDeps["workspace"] = deps.workspace;
    let mounts: MountedStore[] | undefined = mounting
      ? extensionMounts(deps, {
          workspaceId: mounting.workspaceId,
          runId: sessionId,
          owner,
          resources: mounting.resources,
          agent,
          toolUseEventId,
          tool: name,
          dispatchedBy: mounting.dispatchedBy,
        })
      : undefined;
    if (FILE_CHANGE_TOOLS.has(name)) {
      const intents = fileIntentLog(deps, sessionId, toolUseEventId, name, { fresh: options.fresh });
      workspace = withWriteIntents(workspace, intents);
      mounts = mounts?.map((m) => ({ ...m, store: withWriteIntents(m.store, intents) }));
    }
    const sandbox = name === "bash" ? await bashSandbox(deps, owner, mounting, mounts) : undefined;
    const run = async () => {
      const outcome = await runBuiltinTool(name, name === "bash" ? withinLease(input, deps.leaseMs) : input, {
        workspaceId: owner,
        workspace,
        fetcher: deps.fetcher,
        toolset,
        mounts,
        sandbox,
      });
      // Inside `run`: what bash changed in a memory mount is saved before its outcome is recorded.
      const notes = await writeBackMountChanges(mounts, outcome.mountChanges);
      return notes.length > 0 ? { ...outcome, content: `${outcome.content}\n${notes.join("\n")}` } : outcome;
    };
    // Any other builtin tool may have effects that cannot be compared afterwards: at most once.
    if (isBuiltinTool(name) && !READ_ONLY_TOOLS.has(name) && !FILE_CHANGE_TOOLS.has(name))
      return await runOnce(deps, sessionId, toolUseEventId, name, run);
    return await run();
  } catch (error) {
    deps.logger.error("tool failed", { sessionId, tool: name, error: String(error) });
    return { isError: true, content: `The ${name} tool failed: ${describeFailure(error)}` };
  }
}

/** What the run's extensions mount for a tool call (memory stores, session files, skills), in order. */
function extensionMounts(deps: StepDeps, context: MountContext): MountedStore[] {
  return (deps.extensions ?? []).flatMap((extension) => extension.mounts?.(deps, context) ?? []);
}

/**
 * A `bash` call's timeout, kept inside the step's lease: a command that outlived it would be taken
 * for a crash (the sweeper re-runs the step, which reports the call as interrupted while it runs).
 */
function withinLease(input: unknown, leaseMs: number): unknown {
  if (input === null || typeof input !== "object") return input;
  const asked = (input as { timeout_ms?: unknown }).timeout_ms;
  const limit = Math.max(1_000, leaseMs - 10_000);
  const timeout =
    typeof asked === "number" && asked > 0
      ? Math.min(asked, limit)
      : Math.min(BASH_DEFAULT_TIMEOUT_MS, limit);
  return { ...input, timeout_ms: timeout };
}

/**
 * Where a `bash` call runs: the session's shell in the sandbox (one per owner session), with the
 * environment's networking and the session's mounts. Undefined when there is no sandbox here, and
 * the call is then refused — a model's command never runs outside one.
 */
async function bashSandbox(
  deps: StepDeps,
  owner: string,
  mounting: ToolSession | undefined,
  mounts: MountedStore[] | undefined,
): Promise<BashSandboxContext | undefined> {
  if (!deps.sandbox || !deps.bashAvailable) return undefined;
  const network: SandboxNetwork =
    mounting?.environmentId && deps.environmentNetwork
      ? await deps.environmentNetwork(mounting.workspaceId, mounting.environmentId)
      : { type: "limited", allowedHosts: [], allowPackageManagers: false };
  return { shell: deps.sandbox, sessionId: owner, network, mounts: await sandboxMounts(mounts) };
}

export async function runStepTools(
  deps: StepDeps,
  sessionId: string,
  agent: SessionAgent,
  record: StepRecord,
  options: {
    fresh: boolean;
    session?: ToolSession;
    /** The claimed run and the tools its extensions offer this step (they run their own calls). */
    extension?: { run: SessionRecord; tools: readonly ExtensionTool[] };
  },
): Promise<void> {
  const owned = new Map(options.extension?.tools.map((t) => [t.definition.name, t]));
  // MCP calls of this step share one connection per server, closed when the step's tools are done.
  const mcp = record.toolRuns.some((r) => r.mcp)
    ? mcpServersOf(deps, sessionId, agent, options.session)
    : undefined;
  try {
    for (const run of record.toolRuns) {
      // On a step's first claim no result can exist yet; on a retry a written slot means it ran.
      if (!options.fresh && (await deps.events.exists(sessionId, run.resultSeq))) continue;
      const own = run.mcp ? undefined : owned.get(run.name);
      if (own && options.extension) {
        const outcome = await runExtensionTool(deps, own, options.extension.run, run);
        // Deferred: the extension writes the result into the slot itself (a fan-out's threads).
        if (outcome === "deferred") continue;
        const event = resultEvent(run.resultEventId, run.toolUseEventId, outcome, deps.clock.now());
        await deps.events.write(sessionId, [{ seq: run.resultSeq, event, internals: {} }]);
        continue;
      }
      const event =
        run.mcp && mcp
          ? mcpResultEvent(
              deps,
              run.toolUseEventId,
              await runMcpCall(deps, mcp, {
                ...run.mcp,
                toolUseEventId: run.toolUseEventId,
                input: mcpInput(run.input),
              }),
              run.resultEventId,
            )
          : resultEvent(
              run.resultEventId,
              run.toolUseEventId,
              await execute(deps, sessionId, agent, run, options),
              deps.clock.now(),
            );
      await deps.events.write(sessionId, [{ seq: run.resultSeq, event, internals: {} }]);
    }
  } finally {
    await mcp?.closeAll();
  }
}

/** An extension's tool call; a failure is the call's error result, as a builtin tool's is. */
async function runExtensionTool(
  deps: StepDeps,
  tool: ExtensionTool,
  run: SessionRecord,
  call: StepRecord["toolRuns"][number],
): Promise<ToolOutcome | "deferred"> {
  try {
    return await tool.run(deps, run, call);
  } catch (error) {
    deps.logger.error("tool failed", { sessionId: run.session.id, tool: call.name, error: String(error) });
    return { isError: true, content: `The ${call.name} tool failed: ${describeFailure(error)}` };
  }
}

/** The MCP servers of a run's agent, with the session's vaults, for one step's calls. */
function mcpServersOf(deps: StepDeps, runId: string, agent: SessionAgent, session?: ToolSession): McpServers {
  return new McpServers(
    deps,
    mcpRunOf({
      workspaceId: session?.workspaceId ?? "",
      session: { id: runId, vault_ids: session?.vaultIds ?? [], agent },
    }),
  );
}

const mcpInput = (input: unknown): Record<string, unknown> =>
  input !== null && typeof input === "object" && !Array.isArray(input)
    ? (input as Record<string, unknown>)
    : {};

/**
 * Tool calls that waited for a `user.tool_confirmation`: allowed ones run now, denied ones get an
 * error result carrying the user's deny message. Each result is emitted once per tool call.
 */
export async function runConfirmedTools(
  deps: StepDeps,
  sessionId: string,
  agent: SessionAgent,
  log: LoggedEvent[],
  session?: ToolSession,
): Promise<boolean> {
  const answered = new Set(
    log.flatMap((e) =>
      e.event.type === "agent.tool_result" || e.event.type === "user.tool_result"
        ? [e.event.tool_use_id]
        : e.event.type === "agent.mcp_tool_result"
          ? [e.event.mcp_tool_use_id]
          : [],
    ),
  );
  let ran = false;
  let mcp: McpServers | undefined;
  try {
    for (const { event } of log) {
      if (event.type !== "user.tool_confirmation" || answered.has(event.tool_use_id)) continue;
      const toolUse = log.find((e) => e.event.id === event.tool_use_id)?.event;
      if (toolUse?.type !== "agent.mcp_tool_use") continue;
      const marker = await deps.store.get("resources", `once#${sessionId}`, `confirm#${toolUse.id}`);
      let outcome: ToolOutcome = { isError: false, content: "" };
      if (!marker && event.result === "allow") {
        mcp ??= mcpServersOf(deps, sessionId, agent, session);
        outcome = await runMcpCall(deps, mcp, {
          toolUseEventId: toolUse.id,
          server: toolUse.mcp_server_name,
          tool: toolUse.name,
          input: mcpInput(toolUse.input),
        });
      } else if (!marker) {
        outcome = { isError: true, content: event.deny_message ?? "The user denied this tool call." };
      }
      await emitOnce(deps.store, deps.events, sessionId, `confirm#${toolUse.id}`, [
        mcpResultEvent(deps, toolUse.id, outcome),
      ]);
      answered.add(toolUse.id);
      ran = true;
    }
  } finally {
    await mcp?.closeAll();
  }
  for (const { event } of log) {
    if (event.type !== "user.tool_confirmation" || answered.has(event.tool_use_id)) continue;
    const toolUse = log.find((e) => e.event.id === event.tool_use_id)?.event;
    if (toolUse?.type !== "agent.tool_use") continue;
    // A self-hosted worker runs an allowed call itself (its result is a user.tool_result); only a
    // denial is answered here.
    if (session?.servedByWorker && isWorkerTool(toolUse.name) && event.result === "allow") continue;
    const marker = await deps.store.get("resources", `once#${sessionId}`, `confirm#${toolUse.id}`);
    const outcome: ToolOutcome = marker
      ? { isError: false, content: "" }
      : event.result === "allow"
        ? await execute(
            deps,
            sessionId,
            agent,
            { toolUseEventId: toolUse.id, name: toolUse.name, input: toolUse.input },
            { fresh: false, session },
          )
        : { isError: true, content: event.deny_message ?? "The user denied this tool call." };
    await emitOnce(deps.store, deps.events, sessionId, `confirm#${toolUse.id}`, [
      resultEvent(deps.ids.next(idPrefix.event), toolUse.id, outcome, deps.clock.now()),
    ]);
    answered.add(toolUse.id);
    ran = true;
  }
  return ran;
}
