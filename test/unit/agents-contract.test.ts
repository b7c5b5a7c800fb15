import { describe, expect, test } from "vitest";
import {
  AGENT_TOOL_NAMES,
  type AgentCreate,
  AgentCreateSchema,
  type AgentFields,
  AgentListQuerySchema,
  type AgentRefParams,
  AgentUpdateSchema,
  applyAgentUpdate,
  multiagentReferences,
  type NormalizeAgentOptions,
  normalizeAgentFields,
} from "../../shared/contract/agents.js";
import { InvalidRequestError } from "../../shared/contract/errors.js";
import { parseBody, parseQuery } from "../../shared/contract/validation.js";

const create = (body: unknown) => parseBody(AgentCreateSchema, body);
const update = (body: unknown) => parseBody(AgentUpdateSchema, body);

function errorOf(fn: () => unknown): InvalidRequestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRequestError);
    return e as InvalidRequestError;
  }
  throw new Error("expected an InvalidRequestError");
}

/** Resolves every roster reference to version 3 of itself; `self` is agent_self v1. */
const roster: NormalizeAgentOptions = {
  resolveAgent: (ref: AgentRefParams) =>
    ref.type === "self"
      ? { type: "agent", id: "agent_self", version: 1 }
      : { type: "agent", id: ref.id, version: ref.version ?? 3 },
};

const githubAgent = {
  name: "GitHub helper",
  model: "claude-opus-4-8",
  mcp_servers: [{ type: "url", name: "github", url: "https://api.githubcopilot.com/mcp/" }],
  tools: [
    { type: "agent_toolset_20260401" },
    {
      type: "mcp_toolset",
      mcp_server_name: "github",
      default_config: { permission_policy: { type: "always_allow" } },
    },
  ],
};

describe("AgentCreateSchema: valid bodies from the SDK and docs", () => {
  test.each([
    ["minimal (SDK example)", { model: "claude-opus-5-5", name: "My First Agent" }],
    [
      "agent toolset asking before every tool (permission policies doc)",
      {
        name: "Coding Assistant",
        model: "claude-opus-4-8",
        tools: [
          { type: "agent_toolset_20260401", default_config: { permission_policy: { type: "always_ask" } } },
        ],
      },
    ],
    [
      "per-tool override (permission policies doc)",
      {
        name: "Coding Assistant",
        model: "claude-opus-4-8",
        tools: [
          {
            type: "agent_toolset_20260401",
            default_config: { permission_policy: { type: "always_allow" } },
            configs: [{ name: "bash", permission_policy: { type: "always_ask" } }],
          },
        ],
      },
    ],
    ["MCP server with its toolset", githubAgent],
    [
      "custom tool with extra JSON Schema keywords",
      {
        name: "Weather",
        model: { id: "claude-sonnet-4-6", speed: "fast", effort: "medium" },
        tools: [
          {
            type: "custom",
            name: "get_weather",
            description: "Current weather for a city",
            input_schema: {
              type: "object",
              properties: { city: { type: "string" } },
              required: ["city"],
              additionalProperties: false,
            },
          },
        ],
      },
    ],
    [
      "everything else",
      {
        name: "Full",
        model: { id: "claude-opus-4-8", effort: { type: "xhigh" }, inference_geo: "us", speed: null },
        description: "does things",
        system: "You are helpful.",
        metadata: { team: "platform" },
        skills: [
          { type: "anthropic", skill_id: "xlsx" },
          { type: "custom", skill_id: "skill_01abc", version: "3" },
        ],
        execution_identity: { type: "aws_role", role_arn: "arn:aws:iam::123456789012:role/my-agent-runner" },
        multiagent: {
          type: "coordinator",
          agents: ["agent_a", { type: "agent", id: "agent_b", version: 2 }, { type: "self" }],
        },
      },
    ],
    [
      "web tools with domain lists and url sources",
      {
        name: "Web",
        model: "claude-opus-4-8",
        tools: [
          {
            type: "agent_toolset_20260401",
            configs: [
              {
                name: "web_fetch",
                allowed_domains: ["docs.example.com"],
                max_content_tokens: 5000,
                url_sources: {
                  user_input: "all",
                  server_tool_results: {
                    type: "only",
                    tools: [{ name: "web_search", type: "tool_reference" }],
                  },
                },
              },
              {
                name: "web_search",
                blocked_domains: ["ads.example.com/path"],
                user_location: { type: "approximate", country: "GB", city: "London" },
              },
            ],
          },
        ],
      },
    ],
    [
      "multiagent_20261001",
      {
        name: "Orchestrator",
        model: "claude-opus-4-8",
        multiagent: {
          type: "multiagent_20261001",
          advisor: { type: "enabled", model: "claude-opus-4-8" },
          subagents: { type: "enabled", inline_agents: { type: "disabled" }, predefined_agents: ["agent_a"] },
          workflows: null,
        },
      },
    ],
  ])("%s", (_name, body) => {
    expect(() => create(body)).not.toThrow();
  });
});

describe("AgentCreateSchema: invalid bodies are 400s naming the field", () => {
  test.each<[string, unknown, string]>([
    ["not an object", null, "body: expected object, received null"],
    ["missing name", { model: "m" }, "name: required"],
    ["empty name", { model: "m", name: "" }, "name: must not be empty"],
    ["name too long", { model: "m", name: "x".repeat(257) }, "name: must have at most 256 characters"],
    [
      "wrong model type",
      { model: 5, name: "a" },
      "model: expected a model id string or a model config object",
    ],
    ["model object without id", { model: {}, name: "a" }, "model.id: required"],
    [
      "bad effort",
      { model: { id: "m", effort: "huge" }, name: "a" },
      "model.effort: expected one of low, medium, high",
    ],
    [
      "bad speed",
      { model: { id: "m", speed: "warp" }, name: "a" },
      "model.speed: expected one of standard, fast",
    ],
    ["unknown field", { model: "m", name: "a", colour: "red" }, "colour: unknown field"],
    [
      "unknown tool type",
      { model: "m", name: "a", tools: [{ type: "bogus" }] },
      "tools.0.type: expected one of agent_toolset_20260401, mcp_toolset, custom",
    ],
    [
      "unknown field inside a tool",
      { model: "m", name: "a", tools: [{ type: "agent_toolset_20260401", extra: true }] },
      "tools.0.extra: unknown field",
    ],
    [
      "unknown toolset tool",
      { model: "m", name: "a", tools: [{ type: "agent_toolset_20260401", configs: [{ name: "rm_rf" }] }] },
      "tools.0.configs.0.name: expected one of bash, edit, read, write, glob, grep, web_fetch, web_search",
    ],
    [
      "config type disagrees with name",
      {
        model: "m",
        name: "a",
        tools: [{ type: "agent_toolset_20260401", configs: [{ name: "bash", type: "edit" }] }],
      },
      "tools.0.configs.0.type: expected bash",
    ],
    [
      "bad permission policy",
      {
        model: "m",
        name: "a",
        tools: [
          { type: "agent_toolset_20260401", default_config: { permission_policy: { type: "sometimes" } } },
        ],
      },
      "tools.0.default_config.permission_policy.type: expected one of always_allow, always_ask, auto",
    ],
    [
      "custom tool schema not an object",
      {
        model: "m",
        name: "a",
        tools: [{ type: "custom", name: "t", description: "d", input_schema: { type: "string" } }],
      },
      "tools.0.input_schema.type: expected object",
    ],
    [
      "custom tool name with spaces",
      {
        model: "m",
        name: "a",
        tools: [{ type: "custom", name: "my tool", description: "d", input_schema: { type: "object" } }],
      },
      "tools.0.name: must be 1-128 characters: letters, digits, underscores and hyphens",
    ],
    [
      "duplicate custom tool names",
      {
        model: "m",
        name: "a",
        tools: [
          { type: "custom", name: "t", description: "d", input_schema: { type: "object" } },
          { type: "custom", name: "t", description: "e", input_schema: { type: "object" } },
        ],
      },
      'tools.1.name: duplicate tool name "t"',
    ],
    [
      "custom tool shadowing a built-in tool",
      {
        model: "m",
        name: "a",
        tools: [
          { type: "agent_toolset_20260401" },
          { type: "custom", name: "bash", description: "d", input_schema: { type: "object" } },
        ],
      },
      'tools.1.name: "bash" is already a tool of agent_toolset_20260401',
    ],
    [
      "two agent toolsets",
      {
        model: "m",
        name: "a",
        tools: [{ type: "agent_toolset_20260401" }, { type: "agent_toolset_20260401" }],
      },
      "tools.1.type: only one agent_toolset_20260401 is allowed",
    ],
    [
      "duplicate config entries",
      {
        model: "m",
        name: "a",
        tools: [{ type: "agent_toolset_20260401", configs: [{ name: "bash" }, { name: "bash" }] }],
      },
      'tools.0.configs.1.name: duplicate config for tool "bash"',
    ],
    [
      "mcp_toolset naming a missing server",
      { model: "m", name: "a", tools: [{ type: "mcp_toolset", mcp_server_name: "github" }] },
      'tools.0.mcp_server_name: no MCP server named "github" in mcp_servers',
    ],
    [
      "unreferenced MCP server",
      { model: "m", name: "a", mcp_servers: [{ type: "url", name: "github", url: "https://x.example" }] },
      'mcp_servers.0: server "github" is not referenced by any mcp_toolset in tools',
    ],
    [
      "duplicate MCP server names",
      {
        ...githubAgent,
        mcp_servers: [githubAgent.mcp_servers[0], githubAgent.mcp_servers[0]],
      },
      'mcp_servers.1.name: duplicate MCP server name "github"',
    ],
    [
      "MCP server URL not http(s)",
      { ...githubAgent, mcp_servers: [{ type: "url", name: "github", url: "ftp://x.example" }] },
      "mcp_servers.0.url: must be an http(s) URL",
    ],
    [
      "too many MCP servers",
      {
        model: "m",
        name: "a",
        mcp_servers: Array.from({ length: 21 }, (_, i) => ({
          type: "url",
          name: `s${i}`,
          url: "https://x.example",
        })),
      },
      "mcp_servers: must have at most 20 items",
    ],
    [
      "too many tools",
      {
        model: "m",
        name: "a",
        tools: Array.from({ length: 257 }, (_, i) => ({
          type: "custom",
          name: `t${i}`,
          description: "d",
          input_schema: { type: "object" },
        })),
      },
      "tools: must have at most 256 items",
    ],
    [
      "empty domain list",
      {
        model: "m",
        name: "a",
        tools: [{ type: "agent_toolset_20260401", configs: [{ name: "web_fetch", allowed_domains: [] }] }],
      },
      "tools.0.configs.0.allowed_domains: must not be empty (omit the field instead)",
    ],
    [
      "domain with a scheme",
      {
        model: "m",
        name: "a",
        tools: [
          {
            type: "agent_toolset_20260401",
            configs: [{ name: "web_fetch", allowed_domains: ["https://a.com"] }],
          },
        ],
      },
      "tools.0.configs.0.allowed_domains.0: must be a plain hostname",
    ],
    [
      "allowed and blocked domains together",
      {
        model: "m",
        name: "a",
        tools: [
          {
            type: "agent_toolset_20260401",
            configs: [{ name: "web_search", allowed_domains: ["a.com"], blocked_domains: ["b.com"] }],
          },
        ],
      },
      "tools.0.configs.0.blocked_domains: cannot be combined with allowed_domains",
    ],
    [
      "every url source none",
      {
        model: "m",
        name: "a",
        tools: [
          {
            type: "agent_toolset_20260401",
            configs: [
              {
                name: "web_fetch",
                url_sources: {
                  user_input: "none",
                  client_tool_results: "none",
                  server_tool_results: { type: "none" },
                },
              },
            ],
          },
        ],
      },
      'tools.0.configs.0.url_sources: setting every source to "none" is not allowed',
    ],
    [
      "server_tool_results naming another tool",
      {
        model: "m",
        name: "a",
        tools: [
          {
            type: "agent_toolset_20260401",
            configs: [
              {
                name: "web_fetch",
                url_sources: {
                  server_tool_results: { type: "only", tools: [{ name: "bash", type: "tool_reference" }] },
                },
              },
            ],
          },
        ],
      },
      "tools.0.configs.0.url_sources.server_tool_results.tools.0.name: expected one of web_search, web_fetch",
    ],
    [
      "client_tool_results naming a missing custom tool",
      {
        model: "m",
        name: "a",
        tools: [
          {
            type: "agent_toolset_20260401",
            configs: [
              {
                name: "web_fetch",
                url_sources: {
                  client_tool_results: { type: "except", tools: [{ name: "ghost", type: "tool_reference" }] },
                },
              },
            ],
          },
        ],
      },
      'tools.0.configs.0.url_sources.client_tool_results.tools.0.name: no custom tool named "ghost" in tools',
    ],
    [
      "bad country code",
      {
        model: "m",
        name: "a",
        tools: [
          {
            type: "agent_toolset_20260401",
            configs: [{ name: "web_search", user_location: { type: "approximate", country: "uk" } }],
          },
        ],
      },
      "tools.0.configs.0.user_location.country: must be a two-letter uppercase ISO 3166-1 country code",
    ],
    [
      "unknown skill type",
      { model: "m", name: "a", skills: [{ type: "plugin", skill_id: "x" }] },
      "skills.0.type: expected one of anthropic, custom",
    ],
    [
      "duplicate skills",
      {
        model: "m",
        name: "a",
        skills: [
          { type: "anthropic", skill_id: "xlsx" },
          { type: "anthropic", skill_id: "xlsx", version: "2" },
        ],
      },
      'skills.1.skill_id: duplicate skill "xlsx"',
    ],
    [
      "bad role ARN",
      { model: "m", name: "a", execution_identity: { type: "aws_role", role_arn: "nope" } },
      "execution_identity.role_arn: must be an IAM role ARN",
    ],
    [
      "metadata with too many keys",
      {
        model: "m",
        name: "a",
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])),
      },
      "metadata: must have at most 16 keys (got 17)",
    ],
    [
      "metadata key too long",
      { model: "m", name: "a", metadata: { ["k".repeat(65)]: "v" } },
      `metadata.${"k".repeat(65)}: key must have at most 64 characters`,
    ],
    [
      "metadata value too long",
      { model: "m", name: "a", metadata: { k: "v".repeat(513) } },
      "metadata.k: must have at most 512 characters",
    ],
    [
      "metadata value not a string",
      { model: "m", name: "a", metadata: { k: 1 } },
      "metadata.k: expected string, received number",
    ],
    [
      "system too long",
      { model: "m", name: "a", system: "s".repeat(100_001) },
      "system: must have at most 100000 characters",
    ],
    [
      "empty roster",
      { model: "m", name: "a", multiagent: { type: "coordinator", agents: [] } },
      "multiagent.agents: must have at least 1 item",
    ],
    [
      "roster over 20",
      {
        model: "m",
        name: "a",
        multiagent: { type: "coordinator", agents: Array.from({ length: 21 }, (_, i) => `agent_${i}`) },
      },
      "multiagent.agents: must have at most 20 items",
    ],
    [
      "roster with a duplicate agent (string and object forms)",
      {
        model: "m",
        name: "a",
        multiagent: { type: "coordinator", agents: ["agent_a", { type: "agent", id: "agent_a" }] },
      },
      "multiagent.agents.1: agent agent_a is listed more than once",
    ],
    [
      "roster with two selves",
      {
        model: "m",
        name: "a",
        multiagent: { type: "coordinator", agents: [{ type: "self" }, { type: "self" }] },
      },
      'multiagent.agents.1: at most one "self" entry is allowed',
    ],
    [
      "roster entry of unknown type",
      { model: "m", name: "a", multiagent: { type: "coordinator", agents: [{ type: "robot" }] } },
      "multiagent.agents.0.type: expected one of agent, self, advisor",
    ],
    [
      "roster reference with version 0",
      {
        model: "m",
        name: "a",
        multiagent: { type: "coordinator", agents: [{ type: "agent", id: "agent_a", version: 0 }] },
      },
      "multiagent.agents.0.version: must be at least 1",
    ],
    [
      "unknown multiagent type",
      { model: "m", name: "a", multiagent: { type: "swarm" } },
      "multiagent.type: expected one of coordinator, multiagent_20261001",
    ],
    [
      "enabled advisor without a model",
      { model: "m", name: "a", multiagent: { type: "multiagent_20261001", advisor: { type: "enabled" } } },
      "multiagent.advisor.model: required",
    ],
  ])("%s", (_name, body, message) => {
    const error = errorOf(() => create(body));
    expect(error.status).toBe(400);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain(message);
  });

  test("the error body has Anthropic's shape", () => {
    const error = errorOf(() => create({ model: "m" }));
    expect(error.toBody("req_1")).toEqual({
      type: "error",
      error: { type: "invalid_request_error", message: "name: required" },
      request_id: "req_1",
    });
  });

  test("several problems are reported together", () => {
    const error = errorOf(() => create({ name: "", extra: 1 }));
    expect(error.message).toBe("model: required; name: must not be empty; extra: unknown field");
  });
});

describe("normalizeAgentFields", () => {
  test("defaults for a minimal agent", () => {
    expect(normalizeAgentFields(create({ model: "claude-opus-5-5", name: "My First Agent" }))).toEqual({
      name: "My First Agent",
      description: null,
      model: { id: "claude-opus-5-5", effort: { type: "high" }, speed: "standard" },
      system: null,
      tools: [],
      mcp_servers: [],
      skills: [],
      execution_identity: { type: "service_account" },
      multiagent: null,
      metadata: {},
    } satisfies AgentFields);
  });

  test("model config: effort string or object, speed, inference_geo", () => {
    expect(
      normalizeAgentFields(
        create({ model: { id: "m", effort: "low", speed: "fast", inference_geo: "eu" }, name: "a" }),
      ).model,
    ).toEqual({
      id: "m",
      effort: { type: "low" },
      speed: "fast",
      inference_geo: "eu",
    });
    expect(
      normalizeAgentFields(create({ model: { id: "m", effort: { type: "max" }, speed: null }, name: "a" }))
        .model,
    ).toEqual({
      id: "m",
      effort: { type: "max" },
      speed: "standard",
    });
  });

  test("agent toolset: default_config resolved and every tool listed", () => {
    const fields = normalizeAgentFields(
      create({ model: "m", name: "a", tools: [{ type: "agent_toolset_20260401" }] }),
    );
    const [toolset] = fields.tools;
    expect(toolset).toMatchObject({
      type: "agent_toolset_20260401",
      default_config: { enabled: true, permission_policy: { type: "always_allow" } },
    });
    if (toolset?.type !== "agent_toolset_20260401") throw new Error("expected the agent toolset");
    expect(toolset.configs.map((c) => c.name)).toEqual([...AGENT_TOOL_NAMES]);
    for (const c of toolset.configs) {
      expect(c).toMatchObject({ type: c.name, enabled: true, permission_policy: { type: "always_allow" } });
    }
    expect(toolset.configs.find((c) => c.name === "web_fetch")).toEqual({
      name: "web_fetch",
      type: "web_fetch",
      enabled: true,
      permission_policy: { type: "always_allow" },
      url_sources: null,
    });
  });

  test("agent toolset: overrides win over the default, the rest inherit it", () => {
    const fields = normalizeAgentFields(
      create({
        model: "m",
        name: "a",
        tools: [
          {
            type: "agent_toolset_20260401",
            default_config: { enabled: false, permission_policy: { type: "auto" } },
            configs: [
              { name: "bash", enabled: true, permission_policy: { type: "always_ask" } },
              { name: "read", enabled: true },
              {
                name: "web_fetch",
                enabled: true,
                blocked_domains: ["ads.example.com"],
                url_sources: { user_input: "none", client_tool_results: { type: "all" } },
              },
            ],
          },
        ],
      }),
    );
    const toolset = fields.tools[0];
    if (toolset?.type !== "agent_toolset_20260401") throw new Error("expected the agent toolset");
    const byName = Object.fromEntries(toolset.configs.map((c) => [c.name, c]));
    expect(byName.bash).toMatchObject({ enabled: true, permission_policy: { type: "always_ask" } });
    expect(byName.read).toMatchObject({ enabled: true, permission_policy: { type: "auto" } });
    expect(byName.edit).toMatchObject({ enabled: false, permission_policy: { type: "auto" } });
    expect(byName.web_fetch).toEqual({
      name: "web_fetch",
      type: "web_fetch",
      enabled: true,
      permission_policy: { type: "auto" },
      blocked_domains: ["ads.example.com"],
      url_sources: {
        user_input: { type: "none" },
        client_tool_results: { type: "all" },
        server_tool_results: null,
      },
    });
  });

  test("mcp toolset defaults to always_ask and resolves its overrides", () => {
    const fields = normalizeAgentFields(
      create({
        ...githubAgent,
        tools: [
          {
            type: "mcp_toolset",
            mcp_server_name: "github",
            configs: [
              { name: "create_issue", enabled: false },
              { name: "list_repos", permission_policy: { type: "always_allow" } },
            ],
          },
        ],
      }),
    );
    expect(fields.tools).toEqual([
      {
        type: "mcp_toolset",
        mcp_server_name: "github",
        default_config: { enabled: true, permission_policy: { type: "always_ask" } },
        configs: [
          { name: "create_issue", enabled: false, permission_policy: { type: "always_ask" } },
          { name: "list_repos", enabled: true, permission_policy: { type: "always_allow" } },
        ],
      },
    ]);
    expect(fields.mcp_servers).toEqual([
      { name: "github", type: "url", url: "https://api.githubcopilot.com/mcp/" },
    ]);
  });

  test("custom tools keep their input schema as sent", () => {
    const input_schema = {
      type: "object",
      properties: { q: { type: "string" } },
      required: ["q"],
      $defs: {},
    };
    const fields = normalizeAgentFields(
      create({
        model: "m",
        name: "a",
        tools: [{ type: "custom", name: "search", description: "d", input_schema }],
      }),
    );
    expect(fields.tools).toEqual([{ type: "custom", name: "search", description: "d", input_schema }]);
  });

  test("skills default to the latest version; execution identity is kept", () => {
    const fields = normalizeAgentFields(
      create({
        model: "m",
        name: "a",
        skills: [
          { type: "anthropic", skill_id: "xlsx" },
          { type: "custom", skill_id: "skill_01", version: "4" },
        ],
        execution_identity: { type: "aws_role", role_arn: "arn:aws:iam::123456789012:role/runner" },
      }),
    );
    expect(fields.skills).toEqual([
      { type: "anthropic", skill_id: "xlsx", version: "latest" },
      { type: "custom", skill_id: "skill_01", version: "4" },
    ]);
    expect(fields.execution_identity).toEqual({
      type: "aws_role",
      role_arn: "arn:aws:iam::123456789012:role/runner",
    });
    expect(
      normalizeAgentFields(create({ model: "m", name: "a", execution_identity: null })).execution_identity,
    ).toEqual({
      type: "service_account",
    });
  });

  test("coordinator roster resolves through the service's resolver", () => {
    const body = create({
      model: "m",
      name: "a",
      multiagent: {
        type: "coordinator",
        agents: [
          "agent_a",
          { type: "agent", id: "agent_b", version: 2 },
          { type: "self" },
          { type: "advisor", model: "claude-opus-4-8" },
        ],
      },
    });
    expect(multiagentReferences(body.multiagent)).toEqual([
      { type: "agent", id: "agent_a" },
      { type: "agent", id: "agent_b", version: 2 },
      { type: "self" },
    ]);
    expect(normalizeAgentFields(body, roster).multiagent).toEqual({
      type: "coordinator",
      agents: [
        { type: "agent", id: "agent_a", version: 3 },
        { type: "agent", id: "agent_b", version: 2 },
        { type: "agent", id: "agent_self", version: 1 },
        { type: "advisor", model: "claude-opus-4-8" },
      ],
    });
  });

  test("a roster that lists the agent itself twice (self and its id) is rejected", () => {
    const body = create({
      model: "m",
      name: "a",
      multiagent: { type: "coordinator", agents: ["agent_self", { type: "self" }] },
    });
    expect(errorOf(() => normalizeAgentFields(body, roster)).message).toBe(
      "multiagent.agents.1: agent agent_self is listed more than once",
    );
  });

  test("multiagent_20261001 members take their documented defaults", () => {
    const fields = normalizeAgentFields(
      create({ model: "m", name: "a", multiagent: { type: "multiagent_20261001" } }),
      roster,
    );
    expect(fields.multiagent).toEqual({
      type: "multiagent_20261001",
      advisor: { type: "disabled" },
      subagents: { type: "enabled", inline_agents: { type: "enabled" }, predefined_agents: [] },
      workflows: { type: "enabled", inline_agents: { type: "enabled" }, predefined_agents: [] },
    });
  });

  test("disabled inline agents need at least one predefined agent", () => {
    const body = create({
      model: "m",
      name: "a",
      multiagent: {
        type: "multiagent_20261001",
        workflows: { type: "enabled", inline_agents: { type: "disabled" }, predefined_agents: [] },
      },
    });
    expect(errorOf(() => normalizeAgentFields(body, roster)).message).toBe(
      "multiagent.workflows.predefined_agents: must name at least one agent when inline_agents is disabled",
    );
  });
});

describe("applyAgentUpdate", () => {
  const base = (extra: Partial<AgentCreate> = {}) =>
    normalizeAgentFields(
      create({
        ...githubAgent,
        model: { id: "claude-opus-4-8", effort: "low", inference_geo: "us" },
        name: "Agent",
        description: "desc",
        system: "sys",
        metadata: { a: "1", b: "2" },
        skills: [{ type: "anthropic", skill_id: "xlsx" }],
        ...extra,
      }),
      roster,
    );

  test("SDK example: only the description changes", () => {
    const current = base();
    const { fields, changed } = applyAgentUpdate(current, update({ description: "updated" }));
    expect(changed).toBe(true);
    expect(fields).toEqual({ ...current, description: "updated" });
  });

  test("an update that changes nothing reports changed=false (no new version)", () => {
    const current = base();
    expect(applyAgentUpdate(current, update({})).changed).toBe(false);
    expect(applyAgentUpdate(current, update({ version: 1 })).changed).toBe(false);
    expect(
      applyAgentUpdate(current, update({ name: "Agent", description: "desc", metadata: { a: "1" } })).changed,
    ).toBe(false);
    expect(
      applyAgentUpdate(current, update({ tools: githubAgent.tools, mcp_servers: githubAgent.mcp_servers }))
        .changed,
    ).toBe(false);
  });

  test("null and empty string clear description and system", () => {
    const current = base();
    expect(applyAgentUpdate(current, update({ description: null, system: "" })).fields).toMatchObject({
      description: null,
      system: null,
    });
  });

  test("null or [] clears list fields; null restores the default execution identity", () => {
    const current = base({
      execution_identity: { type: "aws_role", role_arn: "arn:aws:iam::123456789012:role/r" },
    });
    const { fields } = applyAgentUpdate(
      current,
      update({ tools: null, mcp_servers: [], skills: null, execution_identity: null }),
    );
    expect(fields).toMatchObject({
      tools: [],
      mcp_servers: [],
      skills: [],
      execution_identity: { type: "service_account" },
    });
  });

  test("metadata is a patch: strings upsert, null deletes, the bag stays within 16 keys", () => {
    const current = base();
    expect(applyAgentUpdate(current, update({ metadata: { a: null, c: "3" } })).fields.metadata).toEqual({
      b: "2",
      c: "3",
    });
    expect(applyAgentUpdate(current, update({ metadata: null })).changed).toBe(false);
    const many = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, "v"]));
    expect(errorOf(() => applyAgentUpdate(current, update({ metadata: many }))).message).toBe(
      "metadata: must have at most 16 keys after the update (would have 17)",
    );
  });

  test("model is replaced, but an omitted effort keeps the stored one", () => {
    const current = base();
    expect(applyAgentUpdate(current, update({ model: "claude-sonnet-4-6" })).fields.model).toEqual({
      id: "claude-sonnet-4-6",
      effort: { type: "low" },
      speed: "standard",
    });
    expect(
      applyAgentUpdate(current, update({ model: { id: "claude-opus-4-8", effort: null } })).fields.model,
    ).toEqual({
      id: "claude-opus-4-8",
      effort: { type: "high" },
      speed: "standard",
    });
  });

  test("the merged result must keep tools and MCP servers consistent", () => {
    const current = base();
    expect(
      errorOf(() => applyAgentUpdate(current, update({ tools: [{ type: "agent_toolset_20260401" }] })))
        .message,
    ).toBe('mcp_servers.0: server "github" is not referenced by any mcp_toolset in tools');
    expect(errorOf(() => applyAgentUpdate(current, update({ mcp_servers: null }))).message).toBe(
      'tools.1.mcp_server_name: no MCP server named "github" in mcp_servers',
    );
  });

  test("update bodies: every field optional, version ≥ 1, name cannot be cleared", () => {
    expect(update({})).toEqual({});
    expect(errorOf(() => update({ version: 0 })).message).toBe("version: must be at least 1");
    expect(errorOf(() => update({ name: null })).message).toBe("name: expected string, received null");
    expect(errorOf(() => update({ model: null })).message).toBe(
      "model: expected a model id string or a model config object",
    );
    expect(errorOf(() => update({ tools: [{ type: "nope" }] })).message).toBe(
      "tools.0.type: expected one of agent_toolset_20260401, mcp_toolset, custom",
    );
  });

  test("multiagent_20261001 merges level by level", () => {
    const current = base({
      multiagent: {
        type: "multiagent_20261001",
        advisor: { type: "enabled", model: "claude-opus-4-8" },
        subagents: { type: "enabled", inline_agents: { type: "disabled" }, predefined_agents: ["agent_a"] },
      },
    });
    // Omitted keys keep their stored values; a sent list replaces the stored one.
    const merged = applyAgentUpdate(
      current,
      update({
        multiagent: {
          type: "multiagent_20261001",
          subagents: { type: "enabled", predefined_agents: ["agent_b"] },
        },
      }),
      roster,
    ).fields.multiagent;
    expect(merged).toEqual({
      type: "multiagent_20261001",
      advisor: { type: "enabled", model: "claude-opus-4-8" },
      subagents: {
        type: "enabled",
        inline_agents: { type: "disabled" },
        predefined_agents: [{ type: "agent", id: "agent_b", version: 3 }],
      },
      workflows: { type: "enabled", inline_agents: { type: "enabled" }, predefined_agents: [] },
    });
    // Null takes the default.
    expect(
      applyAgentUpdate(
        current,
        update({ multiagent: { type: "multiagent_20261001", advisor: null, subagents: null } }),
        roster,
      ).fields.multiagent,
    ).toMatchObject({
      advisor: { type: "disabled" },
      subagents: { type: "enabled", inline_agents: { type: "enabled" }, predefined_agents: [] },
    });
    // Validation applies to the merged result.
    expect(
      errorOf(() =>
        applyAgentUpdate(
          current,
          update({
            multiagent: {
              type: "multiagent_20261001",
              subagents: { type: "enabled", predefined_agents: null },
            },
          }),
          roster,
        ),
      ).message,
    ).toBe(
      "multiagent.subagents.predefined_agents: must name at least one agent when inline_agents is disabled",
    );
    // Sending multiagent: null clears it.
    expect(applyAgentUpdate(current, update({ multiagent: null }), roster).fields.multiagent).toBeNull();
  });
});

describe("AgentListQuerySchema", () => {
  const list = (query: Record<string, string | string[]>) => parseQuery(AgentListQuerySchema, query);

  test("defaults", () => {
    expect(list({})).toEqual({ limit: 20, include_archived: false });
  });

  test("all parameters, and the SDK's beta=true is ignored", () => {
    expect(
      list({
        limit: "100",
        page: "cursor_1",
        include_archived: "true",
        "created_at[gte]": "2026-04-01T00:00:00Z",
        "created_at[lte]": "2026-05-01T00:00:00.000+02:00",
        beta: "true",
      }),
    ).toEqual({
      limit: 100,
      page: "cursor_1",
      include_archived: true,
      "created_at[gte]": "2026-04-01T00:00:00Z",
      "created_at[lte]": "2026-05-01T00:00:00.000+02:00",
    });
    expect(parseQuery(AgentListQuerySchema, new URLSearchParams("limit=5&include_archived=false"))).toEqual({
      limit: 5,
      include_archived: false,
    });
  });

  test.each<[Record<string, string | string[]>, string]>([
    [{ limit: "0" }, "limit: must be at least 1"],
    [{ limit: "101" }, "limit: must be at most 100"],
    [{ limit: "ten" }, "limit: must be an integer"],
    [{ include_archived: "yes" }, "include_archived: expected one of true, false"],
    [{ "created_at[gte]": "yesterday" }, "created_at[gte]: expected an RFC 3339 timestamp"],
    [{ limit: ["1", "2"] }, "limit: must be given at most once"],
  ])("%j is a 400", (query, message) => {
    expect(errorOf(() => list(query)).message).toBe(message);
  });
});
