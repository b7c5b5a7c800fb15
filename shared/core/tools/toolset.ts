/**
 * The built-in `agent_toolset_20260401` as Reverie runs it in a `cloud` environment: which tools the
 * model is offered, their input schemas, their permission policy, and one entry point that runs a call.
 * `bash` is offered only where the caller has a sandbox to run it in (`builtinToolDefinitions(…,
 * { bash: true })`, and `ToolContext.sandbox` when it runs): a call without one is refused, never run
 * on the host. `web_search` is never offered: there is no search backend.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type {
  BetaManagedAgentsAgentToolConfig,
  BetaManagedAgentsAgentToolset20260401,
  BetaManagedAgentsAgentToolset20260401EditInput,
  BetaManagedAgentsAgentToolset20260401GlobInput,
  BetaManagedAgentsAgentToolset20260401GrepInput,
  BetaManagedAgentsAgentToolset20260401ReadInput,
  BetaManagedAgentsAgentToolset20260401WriteInput,
  BetaManagedAgentsWebFetchToolConfig,
} from "@anthropic-ai/sdk/resources/beta/agents/agents";
import type { BetaManagedAgentsAgentMCPToolResultEvent } from "@anthropic-ai/sdk/resources/beta/sessions/events";
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { HttpFetcher, SandboxMountChange, WorkspaceStore } from "../ports.js";
import { BASH_DESCRIPTION, BashInputSchema, type BashSandboxContext, runBash } from "./bash-tool.js";
import {
  editFile,
  FileToolError,
  globFiles,
  grepFiles,
  type MountedStore,
  readFile,
  writeFile,
} from "./file-tools.js";
import { WebFetchError, type WebFetchInput, webFetch } from "./web-fetch.js";
import { WorkspacePathError } from "./workspace-paths.js";

export interface ToolContext {
  workspaceId: string;
  workspace: WorkspaceStore;
  fetcher: HttpFetcher;
  /**
   * The agent's resolved toolset. When given, calls to a disabled tool are refused and `web_fetch`
   * applies its config (`allowed_domains`, `blocked_domains`, `max_content_tokens`).
   */
  toolset?: BetaManagedAgentsAgentToolset20260401;
  /** Stores mounted besides the workspace (memory stores at `/mnt/memory/<name>`). */
  mounts?: readonly MountedStore[];
  /**
   * Where `bash` runs: the sandbox, the shell's session id, the environment's networking and the
   * mounts as the shell sees them. Absent, a `bash` call is refused.
   */
  sandbox?: BashSandboxContext;
}

export interface ToolOutcome {
  content: string;
  isError: boolean;
  /**
   * The result as content blocks when it is more than one text (an MCP tool's images and
   * documents); `content` then holds its text. Absent, the result is one text block of `content`.
   */
  blocks?: ToolResultBlock[];
  /** `bash` only: what the command changed in writable mounts, to be written back into their stores. */
  mountChanges?: SandboxMountChange[];
}

/** A block of a tool result as the SDK types `agent.tool_result` / `agent.mcp_tool_result` content. */
export type ToolResultBlock = NonNullable<BetaManagedAgentsAgentMCPToolResultEvent["content"]>[number];

export type BuiltinToolName = "bash" | "read" | "write" | "edit" | "glob" | "grep" | "web_fetch";

export type PermissionPolicyType = "always_allow" | "always_ask" | "auto";

/** The builtin tools Reverie can run, in the order they are offered (`bash` only with a sandbox). */
export const BUILTIN_TOOL_NAMES: readonly BuiltinToolName[] = [
  "bash",
  "read",
  "write",
  "edit",
  "glob",
  "grep",
  "web_fetch",
];

// Input schemas: zod validates a call, and `satisfies` proves each matches the SDK's input type.
export { BashInputSchema };

export const ReadInputSchema = lazySchema(
  () =>
    z.object({
      file_path: z.string(),
      view_range: z.array(z.number().int()).min(1).max(2).optional(),
    }) satisfies z.ZodType<BetaManagedAgentsAgentToolset20260401ReadInput>,
);

export const WriteInputSchema = lazySchema(
  () =>
    z.object({
      file_path: z.string(),
      content: z.string(),
    }) satisfies z.ZodType<BetaManagedAgentsAgentToolset20260401WriteInput>,
);

export const EditInputSchema = lazySchema(
  () =>
    z.object({
      file_path: z.string(),
      old_string: z.string(),
      new_string: z.string(),
      replace_all: z.boolean().optional(),
    }) satisfies z.ZodType<BetaManagedAgentsAgentToolset20260401EditInput>,
);

export const GlobInputSchema = lazySchema(
  () =>
    z.object({
      pattern: z.string(),
      path: z.string().optional(),
    }) satisfies z.ZodType<BetaManagedAgentsAgentToolset20260401GlobInput>,
);

export const GrepInputSchema = lazySchema(
  () =>
    z.object({
      pattern: z.string(),
      path: z.string().optional(),
    }) satisfies z.ZodType<BetaManagedAgentsAgentToolset20260401GrepInput>,
);

export const WebFetchInputSchema = lazySchema(
  () =>
    z.object({
      url: z.string(),
    }) satisfies z.ZodType<WebFetchInput>,
);

type InputSchema = Anthropic.Messages.Tool.InputSchema;

const PATH_NOTE = "Relative paths resolve against the working directory /workspace.";

const DEFINITIONS: Record<BuiltinToolName, { description: string; input_schema: InputSchema }> = {
  bash: {
    description: BASH_DESCRIPTION,
    input_schema: {
      type: "object",
      properties: {
        command: { type: "string", description: "The command to run. Omit only with restart." },
        restart: { type: "boolean", description: "Restart the persistent shell before running (or alone)." },
        timeout_ms: { type: "integer", description: "Per-call timeout in milliseconds." },
      },
    },
  },
  read: {
    description: `Read a text file. Lines are numbered like \`cat -n\`. ${PATH_NOTE} Long files are truncated; use view_range to read a part.`,
    input_schema: {
      type: "object",
      properties: {
        file_path: { type: "string", description: "Path of the file to read." },
        view_range: {
          type: "array",
          items: { type: "integer" },
          minItems: 1,
          maxItems: 2,
          description:
            'Optional [start_line, end_line], 1-indexed and inclusive. An end_line of 0 or less means "to end of file".',
        },
      },
      required: ["file_path"],
    },
  },
  write: {
    description: `Write a file, replacing its entire contents (parent directories are created). ${PATH_NOTE}`,
    input_schema: {
      type: "object",
      properties: {
        file_path: { type: "string", description: "Path of the file to write." },
        content: { type: "string", description: "Full file contents to write." },
      },
      required: ["file_path", "content"],
    },
  },
  edit: {
    description: `Replace text in a file. old_string must occur exactly once unless replace_all is true. ${PATH_NOTE}`,
    input_schema: {
      type: "object",
      properties: {
        file_path: { type: "string", description: "Path of the file to edit." },
        old_string: { type: "string", description: "Exact text to find and replace." },
        new_string: { type: "string", description: "Replacement text." },
        replace_all: {
          type: "boolean",
          description: "Replace every occurrence of old_string instead of requiring a unique match.",
        },
      },
      required: ["file_path", "old_string", "new_string"],
    },
  },
  glob: {
    description: `List files matching a doublestar glob pattern (e.g. \`**/*.ts\`), newest first. ${PATH_NOTE}`,
    input_schema: {
      type: "object",
      properties: {
        pattern: { type: "string", description: "Doublestar glob pattern, relative to path." },
        path: { type: "string", description: "Directory to search under. Defaults to /workspace." },
      },
      required: ["pattern"],
    },
  },
  grep: {
    description: `Search file contents with a JavaScript regular expression; prints \`path:line:text\` for each matching line. ${PATH_NOTE}`,
    input_schema: {
      type: "object",
      properties: {
        pattern: { type: "string", description: "Regular expression to search for." },
        path: { type: "string", description: "File or directory to search under. Defaults to /workspace." },
      },
      required: ["pattern"],
    },
  },
  web_fetch: {
    description:
      "Fetch an http(s) URL and return its content as text (HTML is converted to plain text; long pages are truncated). Private and internal network addresses are refused.",
    input_schema: {
      type: "object",
      properties: { url: { type: "string", description: "The http or https URL to fetch." } },
      required: ["url"],
    },
  },
};

function configOf(
  toolset: BetaManagedAgentsAgentToolset20260401,
  name: string,
): BetaManagedAgentsAgentToolConfig | undefined {
  return toolset.configs.find((config) => config.name === name);
}

function isEnabled(toolset: BetaManagedAgentsAgentToolset20260401, name: BuiltinToolName): boolean {
  return configOf(toolset, name)?.enabled ?? toolset.default_config?.enabled ?? true;
}

/**
 * The resolved agent_toolset_20260401 tools offered to the model in a `cloud` environment: read, write,
 * edit, glob, grep, web_fetch when enabled, and bash too when `options.bash` says a sandbox can run it
 * (web_search is never offered).
 */
export function builtinToolDefinitions(
  toolset: BetaManagedAgentsAgentToolset20260401,
  options: { bash?: boolean } = {},
): Array<Anthropic.Messages.Tool> {
  const offered = BUILTIN_TOOL_NAMES.filter((name) => name !== "bash" || options.bash === true);
  return offered
    .filter((name) => isEnabled(toolset, name))
    .map((name) => ({
      name,
      description: DEFINITIONS[name].description,
      input_schema: structuredClone(DEFINITIONS[name].input_schema),
    }));
}

/** Whether `name` is a builtin tool that {@link runBuiltinTool} can run. */
export function isBuiltinTool(name: string): name is BuiltinToolName {
  return (BUILTIN_TOOL_NAMES as readonly string[]).includes(name);
}

/** The permission policy that applies to a builtin tool call (per-tool config overrides default_config). */
export function toolPolicy(
  toolset: BetaManagedAgentsAgentToolset20260401,
  name: string,
): PermissionPolicyType {
  return (
    configOf(toolset, name)?.permission_policy?.type ??
    toolset.default_config?.permission_policy?.type ??
    "always_allow"
  );
}

function describeIssues(name: string, error: z.ZodError): string {
  const issues = error.issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.join(".") : "input";
    return `${where}: ${issue.message}`;
  });
  return `Invalid input for ${name}: ${issues.join("; ")}`;
}

function parse<T>(schema: z.ZodType<T>, name: string, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new InvalidToolInputError(describeIssues(name, result.error));
  return result.data;
}

/** Tool input that does not match the tool's schema. */
export class InvalidToolInputError extends Error {
  override name = "InvalidToolInputError";
}

/** Failures whose message is already written for the model. */
function isExpected(error: unknown): error is Error {
  return (
    error instanceof InvalidToolInputError ||
    error instanceof FileToolError ||
    error instanceof WorkspacePathError ||
    error instanceof WebFetchError
  );
}

async function dispatch(
  name: Exclude<BuiltinToolName, "bash">,
  input: unknown,
  ctx: ToolContext,
): Promise<string> {
  const { workspace, workspaceId, mounts } = ctx;
  switch (name) {
    case "read":
      return readFile(workspace, workspaceId, parse(ReadInputSchema, name, input), mounts);
    case "write":
      return writeFile(workspace, workspaceId, parse(WriteInputSchema, name, input), mounts);
    case "edit":
      return editFile(workspace, workspaceId, parse(EditInputSchema, name, input), mounts);
    case "glob":
      return globFiles(workspace, workspaceId, parse(GlobInputSchema, name, input), mounts);
    case "grep":
      return grepFiles(workspace, workspaceId, parse(GrepInputSchema, name, input), mounts);
    case "web_fetch": {
      const config = ctx.toolset ? configOf(ctx.toolset, "web_fetch") : undefined;
      return webFetch(
        parse(WebFetchInputSchema, name, input),
        ctx.fetcher,
        config as BetaManagedAgentsWebFetchToolConfig | undefined,
      );
    }
  }
}

/**
 * Runs one builtin tool call; bad input (validated against the SDK input shape), path escapes, missing
 * files etc. become `{isError:true, content: <clear message>}` — never an exception. A failing store is
 * reported the same way, so the model can retry or work around it.
 */
export async function runBuiltinTool(name: string, input: unknown, ctx: ToolContext): Promise<ToolOutcome> {
  if (!isBuiltinTool(name)) {
    return { isError: true, content: `Unknown tool ${JSON.stringify(name)}` };
  }
  if (ctx.toolset && !isEnabled(ctx.toolset, name)) {
    return { isError: true, content: `The ${name} tool is not enabled for this agent` };
  }
  try {
    if (name === "bash")
      return await runBash(parse(BashInputSchema, name, input), ctx.workspaceId, ctx.sandbox);
    return { isError: false, content: await dispatch(name, input, ctx) };
  } catch (error) {
    if (isExpected(error)) return { isError: true, content: error.message };
    return { isError: true, content: `${name} failed: ${describeFailure(error)}` };
  }
}

const systemErrors: Record<string, string> = {
  ENAMETOOLONG: "a file name is too long",
  ENOSPC: "no space is left on the device",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EISDIR: "it is a directory",
  ENOTDIR: "a part of the path is a file, not a directory",
  EEXIST: "it already exists",
  EMFILE: "too many open files",
};

/**
 * What a tool failure says to the model (and the event log): an operating-system error by its
 * meaning, never its message — that names host paths (the data dir) the model must not see.
 */
export function describeFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^E[A-Z0-9]+$/.test(code))
    return systemErrors[code] ?? `system error ${code}`;
  return error instanceof Error ? error.message : String(error);
}
