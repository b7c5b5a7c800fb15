/**
 * The `bash` tool of `agent_toolset_20260401`: a persistent shell per session, run by a
 * {@link ShellSandbox} and never anywhere else. Results are worded like the SDK's own bash tool: the
 * output on success, an error with the output (or `exit N`) on a non-zero exit, and an error saying
 * the shell was restarted when a command outlives its timeout.
 */
import type { BetaManagedAgentsAgentToolset20260401BashInput } from "@anthropic-ai/sdk/resources/beta/agents/agents";
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { SandboxMount, SandboxMountChange, SandboxNetwork, ShellSandbox } from "../ports.js";

/** A command's timeout when the call names none (or zero), and the most a call may ask for. */
export const BASH_DEFAULT_TIMEOUT_MS = 120_000;
export const BASH_MAX_TIMEOUT_MS = 600_000;

export const BashInputSchema = lazySchema(
  () =>
    z.object({
      command: z.string().optional(),
      restart: z.boolean().optional(),
      timeout_ms: z.number().int().optional(),
    }) satisfies z.ZodType<BetaManagedAgentsAgentToolset20260401BashInput>,
);

export type BashInput = z.infer<typeof BashInputSchema>;

/** Where a session's `bash` runs: the sandbox, the shell's identity, and what the shell sees. */
export interface BashSandboxContext {
  shell: ShellSandbox;
  /** One persistent shell per id: the session's (or, for a thread, its owner session's). */
  sessionId: string;
  /** The environment's `networking`. */
  network: SandboxNetwork;
  /** Stores the shell sees besides `/workspace` (memory stores at `/mnt/memory/<name>`). */
  mounts: readonly SandboxMount[];
}

export interface BashOutcome {
  content: string;
  isError: boolean;
  /** What the command changed in writable mounts, for the caller to write back into their stores. */
  mountChanges?: SandboxMountChange[];
}

export const BASH_DESCRIPTION =
  "Run a bash command in a persistent shell. State (working directory, environment variables) persists across calls; " +
  "the shell starts in /workspace. stdout and stderr are returned together, and long output keeps its end. " +
  `Commands time out after timeout_ms (default ${BASH_DEFAULT_TIMEOUT_MS} ms, at most ${BASH_MAX_TIMEOUT_MS} ms), ` +
  "which restarts the shell; restart: true restarts it on request. Commands get no stdin.";

/** The timeout a call runs with: `timeout_ms` when positive, clamped to the maximum; else the default. */
export function effectiveTimeoutMs(timeoutMs: number | undefined): number {
  return timeoutMs && timeoutMs > 0 ? Math.min(timeoutMs, BASH_MAX_TIMEOUT_MS) : BASH_DEFAULT_TIMEOUT_MS;
}

/** Runs one `bash` call; `sandbox` absent means there is nowhere to run it, and the call is refused. */
export async function runBash(
  input: BashInput,
  workspaceId: string,
  sandbox: BashSandboxContext | undefined,
): Promise<BashOutcome> {
  if (!sandbox) {
    return {
      isError: true,
      content: "bash is not available here: this environment has no sandbox to run commands in",
    };
  }
  const command = input.command;
  if (command === undefined || command === "") {
    if (!input.restart) return { isError: true, content: "bash: command is required" };
    await sandbox.shell.exec({
      sessionId: sandbox.sessionId,
      workspaceId,
      restart: true,
      mounts: sandbox.mounts,
      network: sandbox.network,
    });
    return { isError: false, content: "bash session restarted" };
  }
  const timeoutMs = effectiveTimeoutMs(input.timeout_ms);
  const result = await sandbox.shell.exec({
    sessionId: sandbox.sessionId,
    workspaceId,
    command,
    restart: input.restart,
    timeoutMs,
    mounts: sandbox.mounts,
    network: sandbox.network,
  });
  const mountChanges = result.mountChanges.length > 0 ? result.mountChanges : undefined;
  if (result.timedOut) {
    const message = `bash: command timed out after ${timeoutMs} ms; the shell was restarted`;
    return { isError: true, content: result.output ? `${message}\n${result.output}` : message, mountChanges };
  }
  if (result.exitCode === null) {
    return {
      isError: true,
      content: result.output || "bash: the shell exited; the next command starts a new shell",
      mountChanges,
    };
  }
  if (result.exitCode !== 0) {
    return { isError: true, content: result.output || `exit ${result.exitCode}`, mountChanges };
  }
  return { isError: false, content: result.output, mountChanges };
}
