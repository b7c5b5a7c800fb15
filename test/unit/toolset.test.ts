import type {
  BetaManagedAgentsAgentToolConfig,
  BetaManagedAgentsAgentToolset20260401,
} from "@anthropic-ai/sdk/resources/beta/agents/agents";
import { beforeEach, describe, expect, it } from "vitest";
import { z } from "zod";
import type { HttpFetcher } from "../../shared/core/ports.js";
import {
  BUILTIN_TOOL_NAMES,
  builtinToolDefinitions,
  EditInputSchema,
  GlobInputSchema,
  GrepInputSchema,
  isBuiltinTool,
  ReadInputSchema,
  runBuiltinTool,
  type ToolContext,
  toolPolicy,
  WebFetchInputSchema,
  WriteInputSchema,
} from "../../shared/core/tools/toolset.js";
import { MemoryWorkspaceStore } from "../fixtures/memory-workspace-store.js";

function toolset(
  configs: BetaManagedAgentsAgentToolConfig[] = [],
  defaults: Partial<BetaManagedAgentsAgentToolset20260401["default_config"]> = {},
): BetaManagedAgentsAgentToolset20260401 {
  return {
    type: "agent_toolset_20260401",
    configs,
    default_config: { enabled: true, permission_policy: { type: "always_allow" }, ...defaults },
  };
}

function config(name: string, extra: Record<string, unknown> = {}): BetaManagedAgentsAgentToolConfig {
  return {
    name,
    type: name,
    enabled: true,
    permission_policy: { type: "always_allow" },
    ...(name === "web_fetch" ? { url_sources: null } : {}),
    ...extra,
  } as BetaManagedAgentsAgentToolConfig;
}

describe("builtinToolDefinitions", () => {
  it("offers the six cloud tools, bash only where a sandbox runs it, never web_search", () => {
    const names = builtinToolDefinitions(toolset()).map((tool) => tool.name);
    expect(names).toEqual(["read", "write", "edit", "glob", "grep", "web_fetch"]);
    const withSandbox = builtinToolDefinitions(toolset(), { bash: true }).map((tool) => tool.name);
    expect(withSandbox).toEqual(["bash", "read", "write", "edit", "glob", "grep", "web_fetch"]);
  });

  it("leaves out disabled tools and honours per-tool overrides of the default", () => {
    expect(
      builtinToolDefinitions(toolset([config("web_fetch", { enabled: false })])).map((t) => t.name),
    ).not.toContain("web_fetch");
    const onlyRead = toolset([config("read")], { enabled: false });
    expect(builtinToolDefinitions(onlyRead).map((t) => t.name)).toEqual(["read"]);
  });

  it("describes each input with a JSON Schema that agrees with its zod schema", () => {
    const schemas = {
      read: ReadInputSchema,
      write: WriteInputSchema,
      edit: EditInputSchema,
      glob: GlobInputSchema,
      grep: GrepInputSchema,
      web_fetch: WebFetchInputSchema,
    };
    for (const tool of builtinToolDefinitions(toolset())) {
      // bash's JSON Schema is the SDK toolset's own (test/unit/bash-tool.test.ts checks it)
      const generated = z.toJSONSchema(schemas[tool.name as keyof typeof schemas], { io: "input" }) as {
        properties: Record<string, unknown>;
        required?: string[];
      };
      expect(tool.description?.length).toBeGreaterThan(20);
      expect(tool.input_schema.type).toBe("object");
      expect(Object.keys(tool.input_schema.properties ?? {}).sort()).toEqual(
        Object.keys(generated.properties).sort(),
      );
      expect([...(tool.input_schema.required ?? [])].sort()).toEqual([...(generated.required ?? [])].sort());
    }
  });
});

describe("isBuiltinTool", () => {
  it("knows the runnable builtins", () => {
    for (const name of BUILTIN_TOOL_NAMES) expect(isBuiltinTool(name)).toBe(true);
    expect(isBuiltinTool("bash")).toBe(true);
    expect(isBuiltinTool("web_search")).toBe(false);
    expect(isBuiltinTool("my_custom_tool")).toBe(false);
  });
});

describe("toolPolicy", () => {
  it("uses the per-tool policy, else the default", () => {
    const set = toolset([config("write", { permission_policy: { type: "always_ask" } })], {
      permission_policy: { type: "auto" },
    });
    expect(toolPolicy(set, "write")).toBe("always_ask");
    expect(toolPolicy(set, "read")).toBe("auto");
    expect(toolPolicy(toolset(), "edit")).toBe("always_allow");
  });
});

describe("runBuiltinTool", () => {
  let ctx: ToolContext;
  let fetched: string[];

  beforeEach(() => {
    fetched = [];
    const fetcher: HttpFetcher = {
      async fetchText(url) {
        fetched.push(url);
        return { status: 200, contentType: "text/plain", body: "page" };
      },
    };
    ctx = { workspaceId: "ws_1", workspace: new MemoryWorkspaceStore(), fetcher };
  });

  it("runs a write then a read", async () => {
    expect(await runBuiltinTool("write", { file_path: "a.txt", content: "hi\n" }, ctx)).toEqual({
      isError: false,
      content: "Wrote 1 lines (3 bytes) to /workspace/a.txt",
    });
    expect(await runBuiltinTool("read", { file_path: "/workspace/a.txt" }, ctx)).toEqual({
      isError: false,
      content: "     1\thi",
    });
  });

  it("turns invalid input into an error outcome", async () => {
    const outcome = await runBuiltinTool("read", { path: "a.txt" }, ctx);
    expect(outcome.isError).toBe(true);
    expect(outcome.content).toMatch(/^Invalid input for read: file_path: /);
    expect((await runBuiltinTool("edit", "nonsense", ctx)).isError).toBe(true);
    expect((await runBuiltinTool("read", { file_path: "a", view_range: [1.5] }, ctx)).isError).toBe(true);
  });

  it("turns path escapes, missing files and bad regexes into error outcomes", async () => {
    expect(await runBuiltinTool("write", { file_path: "../x", content: "" }, ctx)).toMatchObject({
      isError: true,
    });
    expect(await runBuiltinTool("read", { file_path: "missing.txt" }, ctx)).toEqual({
      isError: true,
      content: "File not found: /workspace/missing.txt",
    });
    expect(await runBuiltinTool("grep", { pattern: "[" }, ctx)).toMatchObject({ isError: true });
  });

  it("reports a failing store as an error outcome", async () => {
    ctx.workspace = {
      read: async () => {
        throw new Error("S3 unavailable");
      },
      write: async () => {},
      list: async () => [],
    };
    expect(await runBuiltinTool("read", { file_path: "a.txt" }, ctx)).toEqual({
      isError: true,
      content: "read failed: S3 unavailable",
    });
  });

  it("never shows a host path from an operating-system error", async () => {
    ctx.workspace = {
      read: async () => undefined,
      write: async () => {
        throw Object.assign(
          new Error("ENAMETOOLONG: name too long, rename '/srv/reverie-data/workspaces/.tmp/x.tmp'"),
          {
            code: "ENAMETOOLONG",
          },
        );
      },
      list: async () => [],
    };
    const outcome = await runBuiltinTool("write", { file_path: "a.txt", content: "x" }, ctx);
    expect(outcome).toEqual({ isError: true, content: "write failed: a file name is too long" });
  });

  it("refuses unknown and disabled tools", async () => {
    // bash without a sandbox is refused, never run
    expect(await runBuiltinTool("bash", { command: "ls" }, ctx)).toMatchObject({
      isError: true,
      content: expect.stringContaining("no sandbox"),
    });
    ctx.toolset = toolset([config("write", { enabled: false })]);
    expect(await runBuiltinTool("write", { file_path: "a", content: "" }, ctx)).toEqual({
      isError: true,
      content: "The write tool is not enabled for this agent",
    });
  });

  it("runs web_fetch with the toolset's domain rules", async () => {
    ctx.toolset = toolset([config("web_fetch", { allowed_domains: ["example.com"] })]);
    expect(await runBuiltinTool("web_fetch", { url: "https://example.com/x" }, ctx)).toMatchObject({
      isError: false,
    });
    expect(await runBuiltinTool("web_fetch", { url: "https://other.org/" }, ctx)).toMatchObject({
      isError: true,
    });
    expect(fetched).toEqual(["https://example.com/x"]);
  });
});
