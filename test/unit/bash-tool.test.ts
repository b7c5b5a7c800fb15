import type {
  BetaManagedAgentsAgentToolConfig,
  BetaManagedAgentsAgentToolset20260401,
} from "@anthropic-ai/sdk/resources/beta/agents/agents";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import type {
  HttpFetcher,
  SandboxExecRequest,
  SandboxExecResult,
  ShellSandbox,
  WorkspaceStore,
} from "../../shared/core/ports.js";
import { BASH_MAX_TIMEOUT_MS, type BashSandboxContext } from "../../shared/core/tools/bash-tool.js";
import {
  BashInputSchema,
  builtinToolDefinitions,
  isBuiltinTool,
  runBuiltinTool,
  type ToolContext,
} from "../../shared/core/tools/toolset.js";

function toolset(
  configs: BetaManagedAgentsAgentToolset20260401["configs"] = [],
): BetaManagedAgentsAgentToolset20260401 {
  return {
    type: "agent_toolset_20260401",
    configs,
    default_config: { enabled: true, permission_policy: { type: "always_allow" } },
  } as BetaManagedAgentsAgentToolset20260401;
}

/** A ShellSandbox that answers from a script and records what it was asked. */
class FakeSandbox implements ShellSandbox {
  readonly requests: SandboxExecRequest[] = [];
  constructor(
    private readonly answer: (request: SandboxExecRequest) => Partial<SandboxExecResult> = () => ({}),
  ) {}
  async availability() {
    return { available: true as const };
  }
  async exec(request: SandboxExecRequest): Promise<SandboxExecResult> {
    this.requests.push(request);
    return { output: "", exitCode: 0, timedOut: false, mountChanges: [], ...this.answer(request) };
  }
  async close() {}
}

const BASH_DISABLED = {
  name: "bash",
  enabled: false,
  permission_policy: { type: "always_allow" },
} as BetaManagedAgentsAgentToolConfig;

const unusedWorkspace = {} as WorkspaceStore;
const unusedFetcher = {} as HttpFetcher;

function context(shell?: ShellSandbox, extra: Partial<ToolContext> = {}): ToolContext {
  const sandbox: BashSandboxContext | undefined = shell && {
    shell,
    sessionId: "sesn_1",
    network: { type: "limited", allowedHosts: ["api.example.com"], allowPackageManagers: false },
    mounts: [{ path: "/mnt/memory/notes", readOnly: false, files: [] }],
  };
  return { workspaceId: "sesn_1", workspace: unusedWorkspace, fetcher: unusedFetcher, sandbox, ...extra };
}

describe("bash in the toolset", () => {
  it("is offered only when the caller has a sandbox (bash: true), first, like the SDK's toolset", () => {
    expect(builtinToolDefinitions(toolset()).map((t) => t.name)).not.toContain("bash");
    expect(builtinToolDefinitions(toolset(), { bash: false }).map((t) => t.name)).not.toContain("bash");
    const names = builtinToolDefinitions(toolset(), { bash: true }).map((t) => t.name);
    expect(names).toEqual(["bash", "read", "write", "edit", "glob", "grep", "web_fetch"]);
    expect(names).not.toContain("web_search");
  });

  it("honours the toolset's config for bash", () => {
    const disabled = toolset([BASH_DISABLED]);
    expect(builtinToolDefinitions(disabled, { bash: true }).map((t) => t.name)).not.toContain("bash");
  });

  it("describes the SDK's input shape {command, restart, timeout_ms}", () => {
    const bash = builtinToolDefinitions(toolset(), { bash: true }).find((t) => t.name === "bash");
    const generated = z.toJSONSchema(BashInputSchema, { io: "input" }) as {
      properties: Record<string, unknown>;
    };
    expect(Object.keys(bash?.input_schema.properties ?? {}).sort()).toEqual(
      Object.keys(generated.properties).sort(),
    );
    expect(Object.keys(generated.properties).sort()).toEqual(["command", "restart", "timeout_ms"]);
    expect(bash?.input_schema.required ?? []).toEqual([]);
    expect(bash?.description).toMatch(/persistent/);
    expect(isBuiltinTool("bash")).toBe(true);
  });
});

describe("running bash", () => {
  it("refuses without a sandbox, and never runs anything", async () => {
    const outcome = await runBuiltinTool("bash", { command: "echo hi" }, context());
    expect(outcome.isError).toBe(true);
    expect(outcome.content).toMatch(/^bash is not available here/);
  });

  it("runs the command in the session's sandbox with its workspace, network and mounts", async () => {
    const shell = new FakeSandbox(() => ({ output: "hi" }));
    expect(await runBuiltinTool("bash", { command: "echo hi" }, context(shell))).toEqual({
      isError: false,
      content: "hi",
    });
    expect(shell.requests).toEqual([
      {
        sessionId: "sesn_1",
        workspaceId: "sesn_1",
        command: "echo hi",
        restart: undefined,
        timeoutMs: 120_000,
        mounts: [{ path: "/mnt/memory/notes", readOnly: false, files: [] }],
        network: { type: "limited", allowedHosts: ["api.example.com"], allowPackageManagers: false },
      },
    ]);
  });

  it("clamps timeout_ms to the maximum, and treats 0 as the default", async () => {
    const shell = new FakeSandbox();
    await runBuiltinTool("bash", { command: "true", timeout_ms: 10 * BASH_MAX_TIMEOUT_MS }, context(shell));
    await runBuiltinTool("bash", { command: "true", timeout_ms: 0 }, context(shell));
    expect(shell.requests.map((r) => r.timeoutMs)).toEqual([BASH_MAX_TIMEOUT_MS, 120_000]);
  });

  it("formats a non-zero exit as an error with the output, or exit N", async () => {
    const withOutput = new FakeSandbox(() => ({ output: "ls: nope", exitCode: 2 }));
    expect(await runBuiltinTool("bash", { command: "ls nope" }, context(withOutput))).toEqual({
      isError: true,
      content: "ls: nope",
    });
    const silent = new FakeSandbox(() => ({ output: "", exitCode: 7 }));
    expect(await runBuiltinTool("bash", { command: "exit 7" }, context(silent))).toEqual({
      isError: true,
      content: "exit 7",
    });
  });

  it("formats a timeout as an error saying the shell was restarted", async () => {
    const shell = new FakeSandbox(() => ({ output: "", exitCode: null, timedOut: true }));
    expect(await runBuiltinTool("bash", { command: "sleep 99", timeout_ms: 1500 }, context(shell))).toEqual({
      isError: true,
      content: "bash: command timed out after 1500 ms; the shell was restarted",
    });
  });

  it("restarts on request, and asks for a command otherwise", async () => {
    const shell = new FakeSandbox();
    expect(await runBuiltinTool("bash", { restart: true }, context(shell))).toEqual({
      isError: false,
      content: "bash session restarted",
    });
    expect(shell.requests[0]?.restart).toBe(true);
    expect(shell.requests[0]?.command).toBeUndefined();
    expect(await runBuiltinTool("bash", {}, context(shell))).toEqual({
      isError: true,
      content: "bash: command is required",
    });
    expect(shell.requests).toHaveLength(1);
  });

  it("hands the writable mounts' changes back to the caller", async () => {
    const change = { mountPath: "/mnt/memory/notes", path: "a.md", content: "new\n" };
    const shell = new FakeSandbox(() => ({ mountChanges: [change] }));
    const outcome = await runBuiltinTool(
      "bash",
      { command: "echo new > /mnt/memory/notes/a.md" },
      context(shell),
    );
    expect(outcome).toEqual({ isError: false, content: "", mountChanges: [change] });
  });

  it("rejects input that is not the SDK's shape, and a disabled bash", async () => {
    const shell = new FakeSandbox();
    expect((await runBuiltinTool("bash", { command: 42 }, context(shell))).content).toMatch(
      /^Invalid input for bash/,
    );
    const disabled = toolset([BASH_DISABLED]);
    expect(await runBuiltinTool("bash", { command: "true" }, context(shell, { toolset: disabled }))).toEqual({
      isError: true,
      content: "The bash tool is not enabled for this agent",
    });
    expect(shell.requests).toHaveLength(0);
  });
});
