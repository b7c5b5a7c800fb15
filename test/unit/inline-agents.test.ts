/**
 * Inline agents (core/multiagent/inline-agents.ts): what the model may define is bounded by its
 * parent — a subset of the parent's tools with their configuration, the parent's skills and
 * principal — and an omitted field takes the parent's value.
 */
import { describe, expect, it } from "vitest";
import type { AgentToolset, SessionAgent } from "../../shared/contract/sdk-types.js";
import {
  buildInlineAgent,
  InlineAgentError,
  inlineToolNames,
  presentInlineAgent,
} from "../../shared/core/multiagent/inline-agents.js";
import { builtinToolDefinitions } from "../../shared/core/tools/toolset.js";
import { sessionFixture } from "../fixtures/in-memory-runtime.js";

const parent: SessionAgent = sessionFixture("sesn_1", {
  model: { id: "claude-sonnet-4-6", effort: { type: "low" }, speed: "standard" },
  system: "PARENT",
  tools: [
    {
      type: "agent_toolset_20260401",
      default_config: { enabled: true, permission_policy: { type: "always_allow" } },
      configs: [
        { name: "bash", type: "bash", enabled: true, permission_policy: { type: "always_ask" } },
        { name: "read", type: "read", enabled: true, permission_policy: { type: "always_allow" } },
        { name: "write", type: "write", enabled: true, permission_policy: { type: "always_ask" } },
        { name: "web_fetch", type: "web_fetch", enabled: false, permission_policy: { type: "always_allow" } },
      ],
    } as unknown as AgentToolset,
    { type: "custom", name: "lookup", description: "d", input_schema: { type: "object" } },
    {
      type: "mcp_toolset",
      mcp_server_name: "docs",
      default_config: { enabled: true, permission_policy: { type: "always_ask" } },
      configs: [],
    },
  ],
  mcp_servers: [
    { type: "url", name: "docs", url: "https://docs.example.com/mcp" },
    { type: "url", name: "other", url: "https://other.example.com/mcp" },
  ],
  skills: [{ type: "custom", skill_id: "skill_1", version: "3" }],
}).agent;

describe("inline agents", () => {
  it("may list the parent's enabled builtin tools, custom tools and MCP servers", () => {
    expect(inlineToolNames(parent)).toEqual([
      "bash",
      "edit",
      "read",
      "write",
      "glob",
      "grep",
      "web_search",
      "lookup",
      "docs",
    ]);
  });

  it("keeps only the tools it was given, with the parent's configuration and policies", () => {
    const agent = buildInlineAgent(
      parent,
      { name: "scout", model: "claude-haiku-4-5", system: "SCOUT", tools: ["read", "write", "docs"] },
      { budgeted: true, defaultName: "inline-1" },
    );
    expect(agent).toMatchObject({
      name: "scout",
      system: "SCOUT",
      model: { id: "claude-haiku-4-5", effort: { type: "high" }, speed: "standard" },
      multiagent: null,
      skills: parent.skills,
      execution_identity: parent.execution_identity,
      mcp_servers: [{ name: "docs" }],
    });
    const toolset = agent.tools[0] as AgentToolset;
    expect(builtinToolDefinitions(toolset, { bash: true }).map((t) => t.name)).toEqual(["read", "write"]);
    expect(toolset.configs.find((c) => c.name === "write")?.permission_policy).toEqual({
      type: "always_ask",
    });
    expect(agent.tools.map((t) => t.type)).toEqual(["agent_toolset_20260401", "mcp_toolset"]);
    expect(presentInlineAgent(agent)).not.toHaveProperty("id");
    expect(presentInlineAgent(agent).type).toBe("inline");
  });

  it("takes the parent's values for what it omits", () => {
    const agent = buildInlineAgent(parent, {}, { budgeted: false, defaultName: "inline-2" });
    expect(agent).toMatchObject({ name: "inline-2", system: "PARENT", model: parent.model });
    expect(agent.tools).toHaveLength(3);
    expect(agent.mcp_servers.map((s) => s.name)).toEqual(["docs"]);
  });

  it("refuses a tool the parent does not have, and an unpriced model in a budgeted session", () => {
    expect(() =>
      buildInlineAgent(
        parent,
        { tools: ["read", "web_fetch", "other"] },
        { budgeted: false, defaultName: "x" },
      ),
    ).toThrow(
      new InlineAgentError(
        'An inline agent can only have tools you have: "web_fetch", "other" are not among them (bash, edit, read, write, glob, grep, web_search, lookup, docs).',
      ),
    );
    expect(() => buildInlineAgent(parent, { model: "gpt-x" }, { budgeted: true, defaultName: "x" })).toThrow(
      /has no list price/,
    );
    expect(buildInlineAgent(parent, { model: "gpt-x" }, { budgeted: false, defaultName: "x" }).model.id).toBe(
      "gpt-x",
    );
  });
});
