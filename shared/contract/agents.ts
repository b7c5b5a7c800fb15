/**
 * Agents: request schemas (`POST /v1/agents`, `POST /v1/agents/{id}`, `GET /v1/agents`) written to
 * match the SDK's `AgentCreateParams` / `AgentUpdateParams` / `AgentListParams`, and the
 * normalisation from request params to the stored/response fields of `BetaManagedAgentsAgent`.
 *
 * Limits are the ones the SDK doc comments state (see `AGENT_LIMITS`); where the SDK states none
 * (name, description) Reverie picks a generous bound so that a malformed body is still a clear 400.
 * Existence checks (roster agents exist, are not archived, have no multiagent of their own) are the
 * service's job: it resolves roster references through `NormalizeAgentOptions.resolveAgent`.
 */
import type {
  AgentCreateParams,
  AgentUpdateParams,
  BetaManagedAgentsAgent,
  BetaManagedAgentsAgentReference,
  BetaManagedAgentsAgentToolConfig,
  BetaManagedAgentsAgentToolset20260401,
  BetaManagedAgentsAlwaysAllowPolicy,
  BetaManagedAgentsAlwaysAskPolicy,
  BetaManagedAgentsAutoPolicy,
  BetaManagedAgentsCustomTool,
  BetaManagedAgentsExecutionIdentity,
  BetaManagedAgentsMCPToolset,
  BetaManagedAgentsModelConfig,
  BetaManagedAgentsMultiagent20261001,
  BetaManagedAgentsMultiagentAdvisor,
  BetaManagedAgentsMultiagentCoordinator,
  BetaManagedAgentsMultiagentSubagents,
  BetaManagedAgentsMultiagentWorkflows,
  BetaManagedAgentsWebFetchURLSources,
  BetaManagedAgentsWebFetchURLSourceToolFilter,
} from "@anthropic-ai/sdk/resources/beta/agents/agents";
import type { BetaManagedAgentsMultiagent } from "@anthropic-ai/sdk/resources/beta/sessions/sessions";
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import {
  applyMetadataPatch,
  type FieldProblem,
  metadataPatchSchema,
  metadataSchema,
  pageCursorSchema,
  pageLimitSchema,
  queryBooleanSchema,
  queryTimestampSchema,
  throwProblems,
} from "./validation.js";

// ---------------------------------------------------------------------------------------------
// Limits and defaults
// ---------------------------------------------------------------------------------------------

export const AGENT_LIMITS = {
  /** Not stated by the SDK; Reverie's bound. */
  nameMaxLength: 256,
  /** Not stated by the SDK; Reverie's bound. */
  descriptionMaxLength: 2048,
  /** SDK: session agent overrides, "system prompt up to 100,000 characters". */
  systemMaxLength: 100_000,
  /** SDK: "Maximum of 256 tools across all toolsets". */
  maxTools: 256,
  /** SDK: "MCP servers … Maximum 20". */
  maxMcpServers: 20,
  /** SDK: MCP server name "1-255 characters". */
  mcpServerNameMaxLength: 255,
  /** SDK: MCP tool config name "1-128 characters". */
  mcpToolNameMaxLength: 128,
  /** SDK: custom tool name "1-128 characters; letters, digits, underscores, and hyphens". */
  customToolNameMaxLength: 128,
  /** SDK: web tool `allowed_domains` / `blocked_domains` "At most 64 entries". */
  maxDomains: 64,
  /** SDK: url_sources `only` / `except` "Between 1 and 128 entries". */
  maxUrlSourceTools: 128,
  /** SDK: aws_role `role_arn` "Maximum 2048 characters". */
  roleArnMaxLength: 2048,
  /** SDK: coordinator roster "1–20 entries"; predefined_agents "At most 20". */
  maxRosterEntries: 20,
  /** Docs (Managed Agents skills): "Each session supports up to 20 skills total". */
  maxSkills: 20,
} as const;

/** The tools of `agent_toolset_20260401`, in the order responses list them. */
export const AGENT_TOOL_NAMES = [
  "bash",
  "edit",
  "read",
  "write",
  "glob",
  "grep",
  "web_fetch",
  "web_search",
] as const;
export type AgentToolName = (typeof AGENT_TOOL_NAMES)[number];

export type PermissionPolicy =
  | BetaManagedAgentsAlwaysAllowPolicy
  | BetaManagedAgentsAlwaysAskPolicy
  | BetaManagedAgentsAutoPolicy;

/** Docs (permission policies): the agent toolset defaults to `always_allow`… */
export const DEFAULT_AGENT_TOOLSET_POLICY = "always_allow" as const;
/** …and MCP toolsets default to `always_ask`, so new server tools never run unapproved. */
export const DEFAULT_MCP_TOOLSET_POLICY = "always_ask" as const;

export type EffortLevel = "low" | "medium" | "high" | "xhigh" | "max";

/**
 * Effort is "resolved to the per-model default at save time when not supplied". Reverie uses
 * `high` for every model (the Messages API default).
 */
export function defaultEffortFor(_modelId: string): EffortLevel {
  return "high";
}

// ---------------------------------------------------------------------------------------------
// Schemas: building blocks
// ---------------------------------------------------------------------------------------------

const permissionPolicySchema = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("always_allow") }),
    z.strictObject({ type: z.literal("always_ask") }),
    z.strictObject({ type: z.literal("auto") }),
  ]),
);

const HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${HOST_LABEL}(?:\\.${HOST_LABEL})*$`);
const HOSTNAME_WITH_PATH = new RegExp(
  `^(?=[^/]{1,253}(?:/|$))${HOST_LABEL}(?:\\.${HOST_LABEL})*(?:/[^\\s?#]*)?$`,
);

function domainList(pattern: RegExp, what: string) {
  return z
    .array(z.string().regex(pattern, { message: `must be ${what}` }))
    .min(1, { message: "must not be empty (omit the field instead)" })
    .max(AGENT_LIMITS.maxDomains);
}

const fetchDomains = lazySchema(() =>
  domainList(HOSTNAME, "a plain hostname like docs.example.com (no scheme, port or path)"),
);
const searchDomains = lazySchema(() =>
  domainList(HOSTNAME_WITH_PATH, "a hostname like docs.example.com (no scheme or port)"),
);

function noBothDomainLists(
  value: { allowed_domains?: unknown; blocked_domains?: unknown },
  ctx: z.core.$RefinementCtx<unknown>,
) {
  if (value.allowed_domains !== undefined && value.blocked_domains !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["blocked_domains"],
      message: "cannot be combined with allowed_domains",
    });
  }
}

const toolReferenceSchema = lazySchema(() =>
  z.strictObject({ name: z.string().min(1), type: z.literal("tool_reference") }),
);

function uniqueToolRefs(
  value: { tools: ReadonlyArray<{ name: string }> },
  ctx: z.core.$RefinementCtx<unknown>,
) {
  const seen = new Set<string>();
  value.tools.forEach((t, i) => {
    if (seen.has(t.name)) {
      ctx.addIssue({ code: "custom", path: ["tools", i, "name"], message: `duplicate tool "${t.name}"` });
    }
    seen.add(t.name);
  });
}

const toolRefList = lazySchema(() => z.array(toolReferenceSchema).min(1).max(AGENT_LIMITS.maxUrlSourceTools));
const urlSourceAll = lazySchema(() => z.strictObject({ type: z.literal("all") }));
const urlSourceNone = lazySchema(() => z.strictObject({ type: z.literal("none") }));
const urlSourceToolFilter = lazySchema(() =>
  z.discriminatedUnion("type", [
    urlSourceAll,
    urlSourceNone,
    z.strictObject({ type: z.literal("only"), tools: toolRefList }).superRefine(uniqueToolRefs),
    z.strictObject({ type: z.literal("except"), tools: toolRefList }).superRefine(uniqueToolRefs),
  ]),
);
const urlSourceShorthand = lazySchema(() => z.enum(["all", "none"]));
const urlSourceToolFilterParams = lazySchema(() =>
  z.union([urlSourceShorthand, urlSourceToolFilter], {
    error: 'expected "all", "none", or an object with type all, none, only or except',
  }),
);
const urlSourceUserInputParams = lazySchema(() =>
  z.union([urlSourceShorthand, z.discriminatedUnion("type", [urlSourceAll, urlSourceNone])], {
    error: 'expected "all", "none", {"type":"all"} or {"type":"none"}',
  }),
);

type UrlSourceParam = z.infer<typeof urlSourceToolFilterParams> | z.infer<typeof urlSourceUserInputParams>;
const sourceType = (v: UrlSourceParam | null | undefined) =>
  v == null ? undefined : typeof v === "string" ? v : v.type;

const urlSourcesParams = lazySchema(() =>
  z
    .strictObject({
      client_tool_results: urlSourceToolFilterParams.nullish(),
      server_tool_results: urlSourceToolFilterParams.nullish(),
      user_input: urlSourceUserInputParams.nullish(),
    })
    .superRefine((value, ctx) => {
      if (
        sourceType(value.client_tool_results) === "none" &&
        sourceType(value.server_tool_results) === "none" &&
        sourceType(value.user_input) === "none"
      ) {
        ctx.addIssue({ code: "custom", message: 'setting every source to "none" is not allowed' });
      }
      const server = value.server_tool_results;
      if (server && typeof server !== "string" && (server.type === "only" || server.type === "except")) {
        server.tools.forEach((t, i) => {
          if (t.name !== "web_search" && t.name !== "web_fetch") {
            ctx.addIssue({
              code: "custom",
              path: ["server_tool_results", "tools", i, "name"],
              message: "expected one of web_search, web_fetch",
            });
          }
        });
      }
    }),
);

// A function, not shared schemas: built inside the lazily built schemas that spread it.
const toolOverrideFields = () => ({
  enabled: z.boolean().nullish(),
  permission_policy: permissionPolicySchema.nullish(),
});

function simpleToolConfig<N extends Exclude<AgentToolName, "web_fetch" | "web_search">>(name: N) {
  return z.strictObject({ name: z.literal(name), type: z.literal(name).optional(), ...toolOverrideFields() });
}

const userLocationSchema = lazySchema(() =>
  z.strictObject({
    type: z.literal("approximate"),
    city: z.string().nullish(),
    country: z
      .string()
      .regex(/^[A-Z]{2}$/, { message: "must be a two-letter uppercase ISO 3166-1 country code" })
      .nullish(),
    region: z.string().nullish(),
    timezone: z.string().nullish(),
  }),
);

const webFetchToolConfig = lazySchema(() =>
  z
    .strictObject({
      name: z.literal("web_fetch"),
      type: z.literal("web_fetch").optional(),
      ...toolOverrideFields(),
      allowed_domains: fetchDomains.optional(),
      blocked_domains: fetchDomains.optional(),
      max_content_tokens: z.number().int().positive().nullish(),
      url_sources: urlSourcesParams.nullish(),
    })
    .superRefine(noBothDomainLists),
);

const webSearchToolConfig = lazySchema(() =>
  z
    .strictObject({
      name: z.literal("web_search"),
      type: z.literal("web_search").optional(),
      ...toolOverrideFields(),
      allowed_domains: searchDomains.optional(),
      blocked_domains: searchDomains.optional(),
      user_location: userLocationSchema.nullish(),
    })
    .superRefine(noBothDomainLists),
);

const agentToolConfigParams = lazySchema(() =>
  z.discriminatedUnion("name", [
    simpleToolConfig("bash"),
    simpleToolConfig("edit"),
    simpleToolConfig("read"),
    simpleToolConfig("write"),
    simpleToolConfig("glob"),
    simpleToolConfig("grep"),
    webFetchToolConfig,
    webSearchToolConfig,
  ]),
);

const toolsetDefaultConfigParams = lazySchema(() => z.strictObject(toolOverrideFields()));

const agentToolsetParams = lazySchema(() =>
  z.strictObject({
    type: z.literal("agent_toolset_20260401"),
    configs: z.array(agentToolConfigParams).optional(),
    default_config: toolsetDefaultConfigParams.nullish(),
  }),
);

const mcpToolsetParams = lazySchema(() =>
  z.strictObject({
    type: z.literal("mcp_toolset"),
    mcp_server_name: z.string().min(1).max(AGENT_LIMITS.mcpServerNameMaxLength),
    configs: z
      .array(
        z.strictObject({
          name: z.string().min(1).max(AGENT_LIMITS.mcpToolNameMaxLength),
          ...toolOverrideFields(),
        }),
      )
      .optional(),
    default_config: toolsetDefaultConfigParams.nullish(),
  }),
);

/** JSON Schema of a custom tool's input: must be `type: "object"`; other keywords pass through. */
const customToolInputSchema = lazySchema(() =>
  z.looseObject({
    type: z.literal("object"),
    properties: z.record(z.string(), z.unknown()).nullish(),
    required: z.array(z.string()).nullish(),
  }),
);

const customToolParams = lazySchema(() =>
  z.strictObject({
    type: z.literal("custom"),
    name: z.string().regex(new RegExp(`^[A-Za-z0-9_-]{1,${AGENT_LIMITS.customToolNameMaxLength}}$`), {
      message: `must be 1-${AGENT_LIMITS.customToolNameMaxLength} characters: letters, digits, underscores and hyphens`,
    }),
    description: z.string(),
    input_schema: customToolInputSchema,
  }),
);

const toolParams = lazySchema(() =>
  z.discriminatedUnion("type", [agentToolsetParams, mcpToolsetParams, customToolParams]),
);
const toolsParams = lazySchema(() => z.array(toolParams).max(AGENT_LIMITS.maxTools));

const urlMcpServerParams = lazySchema(() =>
  z.strictObject({
    name: z.string().min(1).max(AGENT_LIMITS.mcpServerNameMaxLength),
    type: z.literal("url"),
    url: z.url({ protocol: /^https?$/, message: "must be an http(s) URL" }),
  }),
);
const mcpServersParams = lazySchema(() => z.array(urlMcpServerParams).max(AGENT_LIMITS.maxMcpServers));

const skillFields = () => ({
  skill_id: z.string().min(1),
  version: z.string().min(1).nullish(),
});
const skillParams = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("anthropic"), ...skillFields() }),
    z.strictObject({ type: z.literal("custom"), ...skillFields() }),
  ]),
);
const skillsParams = lazySchema(() =>
  z
    .array(skillParams)
    .max(AGENT_LIMITS.maxSkills)
    .superRefine((skills, ctx) => {
      const seen = new Set<string>();
      skills.forEach((s, i) => {
        const key = `${s.type}:${s.skill_id}`;
        if (seen.has(key))
          ctx.addIssue({ code: "custom", path: [i, "skill_id"], message: `duplicate skill "${s.skill_id}"` });
        seen.add(key);
      });
    }),
);

const executionIdentityParams = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("aws_role"),
      role_arn: z
        .string()
        .max(AGENT_LIMITS.roleArnMaxLength)
        .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/, {
          message: "must be an IAM role ARN like arn:aws:iam::123456789012:role/my-agent-runner",
        }),
    }),
    z.strictObject({ type: z.literal("service_account") }),
  ]),
);

const effortLevel = lazySchema(() => z.enum(["low", "medium", "high", "xhigh", "max"]));
const effortParams = lazySchema(() =>
  z.union([effortLevel, z.strictObject({ type: effortLevel })], {
    error: "expected one of low, medium, high, xhigh, max, or an object {type}",
  }),
);
const modelConfigParams = lazySchema(() =>
  z.strictObject({
    id: z.string().min(1),
    effort: effortParams.nullish(),
    inference_geo: z.string().nullish(),
    speed: z.enum(["standard", "fast"]).nullish(),
  }),
);
const modelParams = lazySchema(() =>
  z.union([z.string().min(1), modelConfigParams], {
    error: "expected a model id string or a model config object",
  }),
);

// Multiagent ---------------------------------------------------------------------------------

const agentRefParams = lazySchema(() =>
  z.strictObject({
    id: z.string().min(1),
    type: z.literal("agent"),
    version: z.number().int().min(1).optional(),
  }),
);
const selfParams = lazySchema(() => z.strictObject({ type: z.literal("self") }));
const advisorRosterParams = lazySchema(() =>
  z.strictObject({ model: z.string().min(1), type: z.literal("advisor") }),
);

type RosterEntry =
  | string
  | z.infer<typeof agentRefParams>
  | z.infer<typeof selfParams>
  | z.infer<typeof advisorRosterParams>;

/** Shape checks a roster can take without knowing which agent owns it. */
function rosterProblems(entries: ReadonlyArray<RosterEntry>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const ids = new Set<string>();
  let selves = 0;
  let advisors = 0;
  entries.forEach((e, i) => {
    if (typeof e === "string" || e.type === "agent") {
      const id = typeof e === "string" ? e : e.id;
      if (ids.has(id)) problems.push({ path: [i], message: `agent ${id} is listed more than once` });
      ids.add(id);
    } else if (e.type === "self") {
      if (++selves > 1) problems.push({ path: [i], message: 'at most one "self" entry is allowed' });
    } else if (++advisors > 1) {
      problems.push({ path: [i], message: "at most one advisor entry is allowed" });
    }
  });
  return problems;
}

function refineRoster(entries: ReadonlyArray<RosterEntry>, ctx: z.core.$RefinementCtx<unknown>) {
  for (const p of rosterProblems(entries))
    ctx.addIssue({ code: "custom", path: [...p.path], message: p.message });
}

const rosterEntryParams = lazySchema(() =>
  z.union(
    [z.string().min(1), z.discriminatedUnion("type", [agentRefParams, selfParams, advisorRosterParams])],
    { error: 'expected an agent id, {"type":"agent","id",…}, {"type":"self"} or {"type":"advisor","model"}' },
  ),
);
const coordinatorParams = lazySchema(() =>
  z.strictObject({
    type: z.literal("coordinator"),
    agents: z.array(rosterEntryParams).min(1).max(AGENT_LIMITS.maxRosterEntries).superRefine(refineRoster),
  }),
);

const predefinedAgentParams = lazySchema(() =>
  z.union([z.string().min(1), z.discriminatedUnion("type", [agentRefParams, selfParams])], {
    error: 'expected an agent id, {"type":"agent","id",…} or {"type":"self"}',
  }),
);
const predefinedAgentsParams = lazySchema(() =>
  z.array(predefinedAgentParams).max(AGENT_LIMITS.maxRosterEntries).superRefine(refineRoster),
);

const enabledOrDisabled = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("enabled") }),
    z.strictObject({ type: z.literal("disabled") }),
  ]),
);

function spawnerParams() {
  return z.discriminatedUnion("type", [
    z.strictObject({
      type: z.literal("enabled"),
      inline_agents: enabledOrDisabled.nullish(),
      predefined_agents: predefinedAgentsParams.nullish(),
    }),
    z.strictObject({ type: z.literal("disabled") }),
  ]);
}

const multiagent20261001Params = lazySchema(() =>
  z.strictObject({
    type: z.literal("multiagent_20261001"),
    advisor: z
      .discriminatedUnion("type", [
        z.strictObject({ type: z.literal("enabled"), model: z.string().min(1) }),
        z.strictObject({ type: z.literal("disabled") }),
      ])
      .nullish(),
    subagents: spawnerParams().nullish(),
    workflows: spawnerParams().nullish(),
  }),
);

const multiagentParams = lazySchema(() =>
  z.discriminatedUnion("type", [coordinatorParams, multiagent20261001Params]),
);

// ---------------------------------------------------------------------------------------------
// Cross-field checks (shared by create validation and post-update validation)
// ---------------------------------------------------------------------------------------------

interface ToolLike {
  type: string;
  name?: string;
  mcp_server_name?: string;
  configs?: ReadonlyArray<{ name: string; url_sources?: unknown }>;
}

function filterToolNames(filter: unknown): Array<{ name: string; index: number }> {
  if (!filter || typeof filter !== "object") return [];
  const tools = (filter as { tools?: unknown }).tools;
  if (!Array.isArray(tools)) return [];
  return tools.map((t: { name: string }, index) => ({ name: t.name, index }));
}

/**
 * Checks that only make sense across fields: one agent toolset; unique tool names; every
 * `mcp_toolset` names a server in `mcp_servers` and every server is referenced; server names unique;
 * web_fetch `client_tool_results` lists only custom tools of the same agent.
 */
export function agentToolProblems(
  tools: ReadonlyArray<ToolLike> | null | undefined,
  servers: ReadonlyArray<{ name: string }> | null | undefined,
): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const toolList = tools ?? [];
  const serverList = servers ?? [];

  const serverNames = new Set<string>();
  serverList.forEach((s, i) => {
    if (serverNames.has(s.name)) {
      problems.push({ path: ["mcp_servers", i, "name"], message: `duplicate MCP server name "${s.name}"` });
    }
    serverNames.add(s.name);
  });

  const hasAgentToolset = toolList.some((t) => t.type === "agent_toolset_20260401");
  const builtIn = new Set<string>(AGENT_TOOL_NAMES);
  const customNames = new Set<string>();
  const referencedServers = new Set<string>();
  let agentToolsets = 0;

  toolList.forEach((tool, i) => {
    if (tool.type === "agent_toolset_20260401" && ++agentToolsets > 1) {
      problems.push({ path: ["tools", i, "type"], message: "only one agent_toolset_20260401 is allowed" });
    }
    if (tool.type === "mcp_toolset" && tool.mcp_server_name !== undefined) {
      const name = tool.mcp_server_name;
      if (!serverNames.has(name)) {
        problems.push({
          path: ["tools", i, "mcp_server_name"],
          message: `no MCP server named "${name}" in mcp_servers`,
        });
      } else if (referencedServers.has(name)) {
        problems.push({
          path: ["tools", i, "mcp_server_name"],
          message: `duplicate mcp_toolset for server "${name}"`,
        });
      }
      referencedServers.add(name);
    }
    if (tool.type === "custom" && tool.name !== undefined) {
      if (customNames.has(tool.name)) {
        problems.push({ path: ["tools", i, "name"], message: `duplicate tool name "${tool.name}"` });
      } else if (hasAgentToolset && builtIn.has(tool.name)) {
        problems.push({
          path: ["tools", i, "name"],
          message: `"${tool.name}" is already a tool of agent_toolset_20260401`,
        });
      }
      customNames.add(tool.name);
    }
    const configNames = new Set<string>();
    (tool.configs ?? []).forEach((config, j) => {
      if (configNames.has(config.name)) {
        problems.push({
          path: ["tools", i, "configs", j, "name"],
          message: `duplicate config for tool "${config.name}"`,
        });
      }
      configNames.add(config.name);
    });
  });

  // web_fetch client_tool_results may only name custom tools of this agent.
  toolList.forEach((tool, i) => {
    if (tool.type !== "agent_toolset_20260401") return;
    (tool.configs ?? []).forEach((config, j) => {
      const sources = config.url_sources as { client_tool_results?: unknown } | null | undefined;
      for (const { name, index } of filterToolNames(sources?.client_tool_results)) {
        if (!customNames.has(name)) {
          problems.push({
            path: ["tools", i, "configs", j, "url_sources", "client_tool_results", "tools", index, "name"],
            message: `no custom tool named "${name}" in tools`,
          });
        }
      }
    });
  });

  serverList.forEach((s, i) => {
    if (!referencedServers.has(s.name)) {
      problems.push({
        path: ["mcp_servers", i],
        message: `server "${s.name}" is not referenced by any mcp_toolset in tools`,
      });
    }
  });
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Request schemas
// ---------------------------------------------------------------------------------------------

/** Body of `POST /v1/agents` (matches `AgentCreateParams` minus the header params). */
export const AgentCreateSchema = lazySchema(() =>
  z
    .strictObject({
      model: modelParams,
      name: z.string().min(1).max(AGENT_LIMITS.nameMaxLength),
      description: z.string().max(AGENT_LIMITS.descriptionMaxLength).nullish(),
      execution_identity: executionIdentityParams.nullish(),
      mcp_servers: mcpServersParams.optional(),
      metadata: metadataSchema.optional(),
      multiagent: multiagentParams.nullish(),
      skills: skillsParams.optional(),
      system: z.string().max(AGENT_LIMITS.systemMaxLength).nullish(),
      tools: toolsParams.optional(),
    })
    .superRefine((value, ctx) => {
      for (const p of agentToolProblems(value.tools, value.mcp_servers)) {
        ctx.addIssue({ code: "custom", path: [...p.path], message: p.message });
      }
    }),
);
export type AgentCreate = z.infer<typeof AgentCreateSchema>;

/**
 * Body of `POST /v1/agents/{id}` (matches `AgentUpdateParams` minus the header params). Every field
 * is optional; `version`, when sent, must equal the stored version (checked by the service).
 * Cross-field rules are checked on the merged result by `applyAgentUpdate`.
 */
export const AgentUpdateSchema = lazySchema(() =>
  z.strictObject({
    version: z.number().int().min(1).optional(),
    description: z.string().max(AGENT_LIMITS.descriptionMaxLength).nullish(),
    execution_identity: executionIdentityParams.nullish(),
    mcp_servers: mcpServersParams.nullish(),
    metadata: metadataPatchSchema.nullish(),
    model: modelParams.optional(),
    multiagent: multiagentParams.nullish(),
    name: z.string().min(1).max(AGENT_LIMITS.nameMaxLength).optional(),
    skills: skillsParams.nullish(),
    system: z.string().max(AGENT_LIMITS.systemMaxLength).nullish(),
    tools: toolsParams.nullish(),
  }),
);
export type AgentUpdate = z.infer<typeof AgentUpdateSchema>;

/** Query of `GET /v1/agents`. Unknown parameters are ignored (the SDK adds `beta=true`). */
export const AgentListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    include_archived: queryBooleanSchema,
    "created_at[gte]": queryTimestampSchema.optional(),
    "created_at[lte]": queryTimestampSchema.optional(),
  }),
);
export type AgentListQuery = z.infer<typeof AgentListQuerySchema>;

/** Query of `GET /v1/agents/{id}`: `version` (≥ 1) picks an older version. */
export const AgentRetrieveQuerySchema = lazySchema(() =>
  z.object({
    version: z
      .string()
      .regex(/^\d+$/, { message: "must be an integer" })
      .transform(Number)
      .pipe(z.number().int().min(1))
      .optional(),
  }),
);
export type AgentRetrieveQuery = z.infer<typeof AgentRetrieveQuerySchema>;

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/** The stored/response fields of an agent, minus id, type, version and timestamps. */
export type AgentFields = Pick<
  BetaManagedAgentsAgent,
  | "name"
  | "description"
  | "model"
  | "system"
  | "tools"
  | "mcp_servers"
  | "skills"
  | "execution_identity"
  | "multiagent"
  | "metadata"
>;

/** A roster reference that needs resolving to a concrete `{type:"agent", id, version}`. */
export type AgentRefParams = { type: "agent"; id: string; version?: number } | { type: "self" };

export interface NormalizeAgentOptions {
  /**
   * Resolves a multiagent roster reference (string ids arrive as `{type:"agent", id}`) to a
   * concrete version. `self` means the agent that owns the configuration. The service looks the
   * agents up beforehand (see `multiagentReferences`) and throws NotFound/InvalidRequest itself.
   */
  resolveAgent?: (ref: AgentRefParams) => BetaManagedAgentsAgentReference;
}

type ModelParams = z.infer<typeof modelParams>;
type EffortParams = z.infer<typeof effortParams>;
type PolicyParams = z.infer<typeof permissionPolicySchema>;
type ToolParams = z.infer<typeof toolParams>;
type AgentToolConfigParams = z.infer<typeof agentToolConfigParams>;
type MultiagentParams = z.infer<typeof multiagentParams>;
type SpawnerParams = NonNullable<z.infer<typeof multiagent20261001Params>["subagents"]>;
type SkillParams = z.infer<typeof skillParams>;
type ExecutionIdentityParams = z.infer<typeof executionIdentityParams>;
type McpServerParams = z.infer<typeof urlMcpServerParams>;
type Spawner = BetaManagedAgentsMultiagentSubagents | BetaManagedAgentsMultiagentWorkflows;

function effortOf(p: EffortParams): { type: EffortLevel } {
  return { type: typeof p === "string" ? p : p.type };
}

/**
 * `model` → `{id, effort, inference_geo?, speed}`. `effort` and `speed` are always present (effort is
 * "always present; resolved to the per-model default at save time", speed "defaults to standard").
 * With `stored` (an update), an omitted effort keeps the stored one; everything else is replaced.
 */
export function normalizeModel(
  p: ModelParams,
  stored?: BetaManagedAgentsModelConfig,
): BetaManagedAgentsModelConfig {
  if (typeof p === "string") {
    return { id: p, effort: stored?.effort ?? { type: defaultEffortFor(p) }, speed: "standard" };
  }
  const effort =
    p.effort === undefined
      ? (stored?.effort ?? { type: defaultEffortFor(p.id) })
      : p.effort === null
        ? { type: defaultEffortFor(p.id) }
        : effortOf(p.effort);
  const out: BetaManagedAgentsModelConfig = { id: p.id, effort, speed: p.speed ?? "standard" };
  if (p.inference_geo) out.inference_geo = p.inference_geo;
  return out;
}

function policy(p: PolicyParams | null | undefined, fallback: PermissionPolicy): PermissionPolicy {
  return { type: (p ?? fallback).type };
}

function normalizeFilter(
  p: z.infer<typeof urlSourceToolFilterParams> | null | undefined,
): BetaManagedAgentsWebFetchURLSourceToolFilter | null {
  if (p == null) return null;
  if (typeof p === "string") return { type: p };
  if (p.type === "only" || p.type === "except") {
    return { type: p.type, tools: p.tools.map((t) => ({ name: t.name, type: "tool_reference" as const })) };
  }
  return { type: p.type };
}

function normalizeUrlSources(
  p: z.infer<typeof urlSourcesParams> | null | undefined,
): BetaManagedAgentsWebFetchURLSources | null {
  if (p == null) return null;
  const user = p.user_input;
  return {
    client_tool_results: normalizeFilter(p.client_tool_results),
    server_tool_results: normalizeFilter(p.server_tool_results),
    user_input: user == null ? null : { type: typeof user === "string" ? user : user.type },
  };
}

function normalizeToolConfig(
  name: AgentToolName,
  override: AgentToolConfigParams | undefined,
  defaults: { enabled: boolean; permission_policy: PermissionPolicy },
): BetaManagedAgentsAgentToolConfig {
  const enabled = override?.enabled ?? defaults.enabled;
  const permission_policy = policy(override?.permission_policy, defaults.permission_policy);
  if (name === "web_fetch") {
    const o = override?.name === "web_fetch" ? override : undefined;
    return {
      name,
      type: name,
      enabled,
      permission_policy,
      url_sources: normalizeUrlSources(o?.url_sources),
      ...(o?.allowed_domains ? { allowed_domains: [...o.allowed_domains] } : {}),
      ...(o?.blocked_domains ? { blocked_domains: [...o.blocked_domains] } : {}),
      ...(o?.max_content_tokens !== undefined ? { max_content_tokens: o.max_content_tokens } : {}),
    };
  }
  if (name === "web_search") {
    const o = override?.name === "web_search" ? override : undefined;
    const loc = o?.user_location;
    return {
      name,
      type: name,
      enabled,
      permission_policy,
      ...(o?.allowed_domains ? { allowed_domains: [...o.allowed_domains] } : {}),
      ...(o?.blocked_domains ? { blocked_domains: [...o.blocked_domains] } : {}),
      ...(loc !== undefined ? { user_location: loc === null ? null : { ...loc } } : {}),
    };
  }
  return { name, type: name, enabled, permission_policy } as BetaManagedAgentsAgentToolConfig;
}

function normalizeTool(
  tool: ToolParams,
): BetaManagedAgentsAgentToolset20260401 | BetaManagedAgentsMCPToolset | BetaManagedAgentsCustomTool {
  switch (tool.type) {
    case "agent_toolset_20260401": {
      const default_config = {
        enabled: tool.default_config?.enabled ?? true,
        permission_policy: policy(tool.default_config?.permission_policy, {
          type: DEFAULT_AGENT_TOOLSET_POLICY,
        }),
      };
      return {
        type: tool.type,
        default_config,
        configs: AGENT_TOOL_NAMES.map((name) =>
          normalizeToolConfig(
            name,
            tool.configs?.find((c) => c.name === name),
            default_config,
          ),
        ),
      };
    }
    case "mcp_toolset": {
      const default_config = {
        enabled: tool.default_config?.enabled ?? true,
        permission_policy: policy(tool.default_config?.permission_policy, {
          type: DEFAULT_MCP_TOOLSET_POLICY,
        }),
      };
      return {
        type: tool.type,
        mcp_server_name: tool.mcp_server_name,
        default_config,
        configs: (tool.configs ?? []).map((c) => ({
          name: c.name,
          enabled: c.enabled ?? default_config.enabled,
          permission_policy: policy(c.permission_policy, default_config.permission_policy),
        })),
      };
    }
    case "custom":
      return {
        type: tool.type,
        name: tool.name,
        description: tool.description,
        input_schema: structuredClone(tool.input_schema),
      };
  }
}

function normalizeSkill(s: SkillParams): AgentFields["skills"][number] {
  return { type: s.type, skill_id: s.skill_id, version: s.version ?? "latest" };
}

function normalizeExecutionIdentity(
  p: ExecutionIdentityParams | null | undefined,
): BetaManagedAgentsExecutionIdentity {
  if (p?.type === "aws_role") return { type: "aws_role", role_arn: p.role_arn };
  return { type: "service_account" };
}

function normalizeMcpServer(s: McpServerParams): AgentFields["mcp_servers"][number] {
  return { name: s.name, type: "url", url: s.url };
}

type PredefinedEntry = z.infer<typeof predefinedAgentParams>;

function refOf(entry: PredefinedEntry): AgentRefParams {
  if (typeof entry === "string") return { type: "agent", id: entry };
  if (entry.type === "self") return { type: "self" };
  return entry.version === undefined
    ? { type: "agent", id: entry.id }
    : { type: "agent", id: entry.id, version: entry.version };
}

/**
 * Every roster reference in a multiagent configuration, for the service to look up before calling
 * `normalizeAgentFields` / `applyAgentUpdate` (advisor entries need no lookup).
 */
export function multiagentReferences(m: MultiagentParams | null | undefined): AgentRefParams[] {
  if (!m) return [];
  if (m.type === "coordinator") {
    return m.agents.flatMap((e) => (typeof e !== "string" && e.type === "advisor" ? [] : [refOf(e)]));
  }
  const lists = [m.subagents, m.workflows].flatMap((s) =>
    s?.type === "enabled" ? [s.predefined_agents ?? []] : [],
  );
  return lists.flatMap((list) => list.map(refOf));
}

function resolver(options: NormalizeAgentOptions | undefined) {
  return (ref: AgentRefParams): BetaManagedAgentsAgentReference => {
    if (!options?.resolveAgent) {
      throw new Error("multiagent roster references need NormalizeAgentOptions.resolveAgent");
    }
    const r = options.resolveAgent(ref);
    return { type: "agent", id: r.id, version: r.version };
  };
}

function duplicateRefProblems(
  refs: ReadonlyArray<{ id: string } | undefined>,
  path: ReadonlyArray<PropertyKey>,
): FieldProblem[] {
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  refs.forEach((r, i) => {
    if (!r) return;
    if (seen.has(r.id))
      problems.push({ path: [...path, i], message: `agent ${r.id} is listed more than once` });
    seen.add(r.id);
  });
  return problems;
}

const DISABLED = () => ({ type: "disabled" as const });
const ENABLED = () => ({ type: "enabled" as const });

function mergeSpawner(
  p: SpawnerParams | null | undefined,
  stored: Spawner | undefined,
  resolve: (ref: AgentRefParams) => BetaManagedAgentsAgentReference,
): Spawner {
  if (p === undefined && stored) return stored;
  if (p == null) return { type: "enabled", inline_agents: ENABLED(), predefined_agents: [] };
  if (p.type === "disabled") return DISABLED();
  const base = stored?.type === "enabled" ? stored : undefined;
  const inline_agents =
    p.inline_agents === undefined
      ? (base?.inline_agents ?? ENABLED())
      : p.inline_agents === null
        ? ENABLED()
        : { type: p.inline_agents.type };
  const predefined_agents =
    p.predefined_agents === undefined
      ? (base?.predefined_agents ?? [])
      : (p.predefined_agents ?? []).map((e) => resolve(refOf(e)));
  return { type: "enabled", inline_agents, predefined_agents };
}

function mergeAdvisor(
  p: z.infer<typeof multiagent20261001Params>["advisor"],
  stored: BetaManagedAgentsMultiagentAdvisor | undefined,
): BetaManagedAgentsMultiagentAdvisor {
  if (p === undefined && stored) return stored;
  if (p == null || p.type === "disabled") return DISABLED();
  return { type: "enabled", model: p.model };
}

/**
 * Multiagent params → the resolved configuration. With `stored` of the same `multiagent_20261001`
 * type (an update), members merge level by level as the SDK documents: omitted keeps, null takes
 * the default, an object of another type replaces, a sent `predefined_agents` list replaces.
 */
export function normalizeMultiagent(
  p: MultiagentParams | null | undefined,
  options?: NormalizeAgentOptions,
  stored?: BetaManagedAgentsMultiagent | null,
): BetaManagedAgentsMultiagent | null {
  if (p == null) return null;
  const resolve = resolver(options);
  const problems: FieldProblem[] = [];
  let out: BetaManagedAgentsMultiagent;
  if (p.type === "coordinator") {
    const agents: BetaManagedAgentsMultiagentCoordinator["agents"] = p.agents.map((e) =>
      typeof e !== "string" && e.type === "advisor" ? { type: "advisor", model: e.model } : resolve(refOf(e)),
    );
    problems.push(
      ...duplicateRefProblems(
        agents.map((a) => (a.type === "agent" ? a : undefined)),
        ["multiagent", "agents"],
      ),
    );
    out = { type: "coordinator", agents };
  } else {
    const base = stored?.type === "multiagent_20261001" ? stored : undefined;
    const m: BetaManagedAgentsMultiagent20261001 = {
      type: "multiagent_20261001",
      advisor: mergeAdvisor(p.advisor, base?.advisor),
      subagents: mergeSpawner(p.subagents, base?.subagents, resolve),
      workflows: mergeSpawner(p.workflows, base?.workflows, resolve),
    };
    for (const key of ["subagents", "workflows"] as const) {
      const s = m[key];
      if (s.type !== "enabled") continue;
      if (s.inline_agents.type === "disabled" && s.predefined_agents.length === 0) {
        problems.push({
          path: ["multiagent", key, "predefined_agents"],
          message: "must name at least one agent when inline_agents is disabled",
        });
      }
      problems.push(...duplicateRefProblems(s.predefined_agents, ["multiagent", key, "predefined_agents"]));
    }
    out = m;
  }
  throwProblems(problems);
  return out;
}

function normalizeTools(tools: ReadonlyArray<ToolParams> | null | undefined): AgentFields["tools"] {
  return (tools ?? []).map(normalizeTool);
}

/**
 * Validated create params → the stored/response fields: model config resolved, every toolset
 * resolved (each agent-toolset tool listed with its effective `enabled` / `permission_policy`),
 * skill versions resolved to "latest", and the documented defaults for everything omitted.
 */
export function normalizeAgentFields(params: AgentCreate, options?: NormalizeAgentOptions): AgentFields {
  const fields: AgentFields = {
    name: params.name,
    description: params.description ?? null,
    model: normalizeModel(params.model),
    system: params.system ?? null,
    tools: normalizeTools(params.tools),
    mcp_servers: (params.mcp_servers ?? []).map(normalizeMcpServer),
    skills: (params.skills ?? []).map(normalizeSkill),
    execution_identity: normalizeExecutionIdentity(params.execution_identity),
    multiagent: normalizeMultiagent(params.multiagent, options),
    metadata: { ...(params.metadata ?? {}) },
  };
  throwProblems(advisorPairingProblems(fields.model.id, fields.multiagent));
  return fields;
}

/** Model families by capability, for advisor pairing; a model of another family is not ranked. */
const ADVISOR_FAMILIES = ["haiku", "sonnet", "opus"] as const;
const familyRank = (modelId: string) => ADVISOR_FAMILIES.findIndex((f) => modelId.includes(f));

/**
 * SDK: an advisor "must be permitted as an advisor for this agent's model"; Anthropic's docs: it
 * must meet a minimum capability bar, and the agent's own model must not be more capable than its
 * advisor (equals pair). Reverie ranks the families it knows (haiku < sonnet < opus): a Haiku
 * advisor, or an advisor of a lower family than the agent's model, is a 400. Models of other
 * families (a self-hosted gateway's names) are not ranked and pass.
 */
export function advisorPairingProblems(
  agentModel: string,
  multiagent: BetaManagedAgentsMultiagent | null,
): FieldProblem[] {
  const advisors: Array<{ model: string; path: PropertyKey[] }> = [];
  if (multiagent?.type === "multiagent_20261001" && multiagent.advisor.type === "enabled")
    advisors.push({ model: multiagent.advisor.model, path: ["multiagent", "advisor", "model"] });
  if (multiagent?.type === "coordinator")
    multiagent.agents.forEach((e, i) => {
      if (e.type === "advisor") advisors.push({ model: e.model, path: ["multiagent", "agents", i, "model"] });
    });
  const problems: FieldProblem[] = [];
  for (const { model, path } of advisors) {
    const advisor = familyRank(model);
    const own = familyRank(agentModel);
    if (advisor === 0)
      problems.push({
        path,
        message: `${model} is not permitted as an advisor (below the advisor capability bar)`,
      });
    else if (advisor >= 0 && own > advisor)
      problems.push({
        path,
        message: `${model} is not permitted as an advisor for ${agentModel}: the agent's model must not be more capable than its advisor`,
      });
  }
  return problems;
}

export interface AgentUpdateResult {
  fields: AgentFields;
  /** False when the update leaves every field as it was: the service must not bump the version. */
  changed: boolean;
}

/**
 * Applies validated update params to the current fields, following the SDK's per-field rules:
 * omitted preserves; `null` (and "" for description/system) clears nullable fields; tools, skills,
 * mcp_servers and execution_identity are full replacements; metadata is a patch (null deletes a
 * key; `metadata: null` changes nothing); model is replaced except that an omitted effort keeps the
 * stored one; multiagent merges as `normalizeMultiagent` describes. The merged result is validated
 * (tool/server cross references, metadata size) and `changed` says whether anything differs.
 */
export function applyAgentUpdate(
  current: AgentFields,
  params: AgentUpdate,
  options?: NormalizeAgentOptions,
): AgentUpdateResult {
  const next: AgentFields = { ...current };
  if (params.name !== undefined) next.name = params.name;
  if (params.description !== undefined) next.description = params.description || null;
  if (params.system !== undefined) next.system = params.system || null;
  if (params.model !== undefined) next.model = normalizeModel(params.model, current.model);
  if (params.execution_identity !== undefined) {
    next.execution_identity = normalizeExecutionIdentity(params.execution_identity);
  }
  if (params.mcp_servers !== undefined) next.mcp_servers = (params.mcp_servers ?? []).map(normalizeMcpServer);
  if (params.skills !== undefined) next.skills = (params.skills ?? []).map(normalizeSkill);
  if (params.tools !== undefined) next.tools = normalizeTools(params.tools);
  if (params.metadata != null) next.metadata = applyMetadataPatch(current.metadata, params.metadata);
  if (params.multiagent !== undefined) {
    next.multiagent = normalizeMultiagent(params.multiagent, options, current.multiagent);
  }
  if (params.tools !== undefined || params.mcp_servers !== undefined) {
    throwProblems(agentToolProblems(next.tools, next.mcp_servers));
  }
  if (params.model !== undefined || params.multiagent !== undefined)
    throwProblems(advisorPairingProblems(next.model.id, next.multiagent));
  return { fields: next, changed: !deepEqual(current, next) };
}

// Re-exported for callers that want the SDK's names next to the schemas.
export type { AgentCreateParams, AgentUpdateParams };

/**
 * `node:util`'s `isDeepStrictEqual`, taken on first use: importing `node:util` as an ES module
 * builds its ESM facade (every export read), ~5–10 ms of every Lambda cold start.
 */
function deepEqual(a: unknown, b: unknown): boolean {
  return process.getBuiltinModule("node:util").isDeepStrictEqual(a, b);
}
