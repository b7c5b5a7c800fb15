/**
 * MCP toolsets, without a network: the naming and config rules (mcp-toolsets.ts), how MCP results
 * become result blocks (mcp-calls.ts), and exactly-once calls across a crash — a step that dies while
 * the server runs the tool, or after it answered but before the result was written, never calls the
 * server a second time when it is retried.
 */
import { describe, expect, it } from "vitest";
import type { Session, SessionEvent } from "../../shared/contract/sdk-types.js";
import type { LoggedEvent } from "../../shared/core/events/event-log.js";
import { EventsService } from "../../shared/core/events/events-service.js";
import { MAX_TOOL_RESULT_STORED_BYTES } from "../../shared/core/events/result-size.js";
import { mcpOutcome } from "../../shared/core/mcp/mcp-calls.js";
import { mcpToolListKey } from "../../shared/core/mcp/mcp-tool-lists.js";
import {
  evaluateMcpPermission,
  hashedMcpToolName,
  type McpToolset,
  MODEL_TOOL_NAME_MAX,
  mcpToolDefinition,
  mcpToolEnabled,
  mcpToolPolicy,
  modelInputSchema,
  offeredMcpTools,
} from "../../shared/core/mcp/mcp-toolsets.js";
import type {
  GroupedPut,
  McpCallResult,
  McpConnection,
  McpConnector,
  McpTool,
} from "../../shared/core/ports.js";
import { runAgentStep } from "../../shared/core/runtime/agent-step.js";
import { sweepStalledSessions } from "../../shared/core/runtime/sweeper.js";
import { purgeRunData } from "../../shared/core/sessions/session-purge.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { inMemoryDeps, ScriptedModel, sessionFixture, text, toolUse } from "../fixtures/in-memory-runtime.js";

const tool = (name: string, extra: Partial<McpTool> = {}): McpTool => ({
  name,
  inputSchema: { type: "object" },
  ...extra,
});

function toolset(server: string, extra: Partial<McpToolset> = {}): McpToolset {
  return {
    type: "mcp_toolset",
    mcp_server_name: server,
    default_config: { enabled: true, permission_policy: { type: "always_ask" } },
    configs: [],
    ...extra,
  };
}

const agentWith = (servers: string[], toolsets: McpToolset[]) => ({
  tools: toolsets as Session["agent"]["tools"],
  mcp_servers: servers.map((name) => ({ type: "url" as const, name, url: `https://${name}.example/mcp` })),
});

describe("MCP tool names", () => {
  it("offers <server>__<tool>, unique across servers, and a hashed form when a name had to change", () => {
    const agent = agentWith(["github", "jira"], [toolset("github"), toolset("jira")]);
    const offered = offeredMcpTools(
      agent,
      new Map([
        ["github", [tool("search"), tool("search.issues"), tool("search_issues")]],
        ["jira", [tool("search")]],
      ]),
      new Set(["read", "write"]),
    );
    const names = offered.map((o) => o.modelName);
    expect(names.slice(0, 1)).toEqual(["github__search"]);
    // "search.issues" cannot be sent as is: hashed; "search_issues" keeps its plain name.
    expect(names[1]).toMatch(/^github__search_issues_[0-9a-f]{8}$/);
    expect(names[2]).toBe("github__search_issues");
    expect(names[3]).toBe("jira__search");
    expect(new Set(names).size).toBe(names.length);
    expect(offered.map((o) => [o.server, o.tool.name])).toEqual([
      ["github", "search"],
      ["github", "search.issues"],
      ["github", "search_issues"],
      ["jira", "search"],
    ]);
  });

  it("keeps every name within the API's 64 characters and its alphabet, the same on every step", () => {
    const server = "a-very-long-server-name-for-the-internal-knowledge-base";
    const long = "lookup_every_document_that_mentions_the_quarterly_report";
    const agent = agentWith([server], [toolset(server)]);
    const lists = new Map([[server, [tool(long), tool("ünïcödé tool"), tool("x/y")]]]);
    const names = offeredMcpTools(agent, lists, new Set()).map((o) => o.modelName);
    for (const name of names) {
      expect(name.length).toBeLessThanOrEqual(MODEL_TOOL_NAME_MAX);
      expect(name).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    expect(offeredMcpTools(agent, lists, new Set()).map((o) => o.modelName)).toEqual(names);
    expect(names[0]).toBe(hashedMcpToolName(server, long));
  });

  it("steps around a name another tool of the request already has (a custom tool, a coordinator tool)", () => {
    const agent = agentWith(["crm"], [toolset("crm")]);
    const [offered] = offeredMcpTools(agent, new Map([["crm", [tool("lookup")]]]), new Set(["crm__lookup"]));
    expect(offered?.modelName).toMatch(/^crm__lookup_[0-9a-f]{8}$/);
  });

  it("a server without a toolset, without a list, or listing a name twice offers nothing extra", () => {
    const agent = agentWith(["a", "b"], [toolset("a")]);
    const offered = offeredMcpTools(
      agent,
      new Map([
        ["a", [tool("x"), tool("x")]],
        ["b", [tool("y")]],
      ]),
      new Set(),
    );
    expect(offered.map((o) => o.modelName)).toEqual(["a__x"]);
    expect(offeredMcpTools(agent, new Map(), new Set())).toEqual([]);
  });
});

describe("MCP toolset configs", () => {
  it("a per-tool config overrides default_config; with no config at all a tool is enabled and always_ask", () => {
    const set = toolset("s", {
      default_config: { enabled: false, permission_policy: { type: "always_allow" } },
      configs: [{ name: "read_only", enabled: true, permission_policy: { type: "auto" } }],
    });
    expect(mcpToolEnabled(set, "read_only")).toBe(true);
    expect(mcpToolEnabled(set, "other")).toBe(false);
    expect(mcpToolPolicy(set, "read_only")).toBe("auto");
    expect(mcpToolPolicy(set, "other")).toBe("always_allow");
    const bare = { type: "mcp_toolset", mcp_server_name: "s" } as McpToolset;
    expect(mcpToolEnabled(bare, "x")).toBe(true);
    expect(mcpToolPolicy(bare, "x")).toBe("always_ask");
  });

  it("only enabled tools are offered", () => {
    const agent = agentWith(
      ["s"],
      [
        toolset("s", {
          default_config: { enabled: false, permission_policy: { type: "always_ask" } },
          configs: [{ name: "b", enabled: true, permission_policy: { type: "always_allow" } }],
        }),
      ],
    );
    const offered = offeredMcpTools(agent, new Map([["s", [tool("a"), tool("b"), tool("c")]]]), new Set());
    expect(offered.map((o) => [o.modelName, o.policy])).toEqual([["s__b", "always_allow"]]);
  });

  it("evaluates permissions: allow, ask, and auto by the server's read-only hint", () => {
    const of = (policy: "always_allow" | "always_ask" | "auto", annotations?: Record<string, unknown>) =>
      evaluateMcpPermission({ policy, tool: tool("t", annotations ? { annotations } : {}) });
    expect(of("always_allow")).toEqual({ permission: "allow", evaluation: { type: "always_allow" } });
    expect(of("always_ask")).toEqual({ permission: "ask", evaluation: { type: "always_ask" } });
    expect(of("auto", { readOnlyHint: true })).toEqual({
      permission: "allow",
      evaluation: { type: "auto", evaluated_permission: { type: "allow" } },
    });
    for (const hints of [undefined, { readOnlyHint: false }, { readOnlyHint: true, destructiveHint: true }])
      expect(of("auto", hints)).toEqual({
        permission: "ask",
        evaluation: { type: "auto", evaluated_permission: { type: "ask", reason_code: "indeterminate" } },
      });
  });

  it("offers a tool's schema as a JSON Schema object without the draft marker", () => {
    expect(
      modelInputSchema({
        $schema: "http://json-schema.org/draft-07/schema#",
        properties: { q: { type: "string" } },
        required: ["q"],
      }),
    ).toEqual({ type: "object", properties: { q: { type: "string" } }, required: ["q"] });
    const definition = mcpToolDefinition({
      modelName: "s__t",
      server: "s",
      tool: tool("t"),
      policy: "always_ask",
    });
    expect(definition).toEqual({
      name: "s__t",
      description: "The t tool of the MCP server s.",
      input_schema: { type: "object" },
    });
  });
});

describe("MCP results", () => {
  const convert = (content: McpCallResult["content"], extra: Partial<McpCallResult> = {}) =>
    mcpOutcome({ content, isError: false, ...extra });

  it("keeps text, readable images and PDFs; describes what the model cannot read", () => {
    const outcome = convert([
      { type: "text", text: "hello" },
      { type: "text", text: "" },
      { type: "image", data: "AAAA", mimeType: "image/png" },
      { type: "image", data: "AAAA", mimeType: "image/bmp" },
      { type: "audio", data: "AAAA", mimeType: "audio/wav" },
      { type: "resource_link", uri: "file:///a.txt", name: "a.txt" },
      { type: "resource", resource: { uri: "mem://note", text: "note body" } },
      { type: "resource", resource: { uri: "mem://doc", mimeType: "application/pdf", blob: "JVBE" } },
      { type: "resource", resource: { uri: "mem://bin", mimeType: "application/zip", blob: "UEsD" } },
      { type: "hologram" },
    ]);
    expect(outcome.blocks).toEqual([
      { type: "text", text: "hello" },
      { type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } },
      { type: "text", text: "[an image of type image/bmp was left out: the model cannot read it]" },
      { type: "text", text: "[audio (audio/wav) was left out: the model cannot hear it]" },
      { type: "text", text: "[resource] a.txt: file:///a.txt" },
      { type: "text", text: "[resource mem://note]\nnote body" },
      { type: "document", source: { type: "base64", media_type: "application/pdf", data: "JVBE" } },
      { type: "text", text: "[resource mem://bin (application/zip) was left out: the model cannot read it]" },
      { type: "text", text: "[a hologram block the model cannot read was left out]" },
    ]);
    expect(outcome.content.startsWith("hello\n")).toBe(true);
    expect(outcome.isError).toBe(false);
  });

  it("falls back to structured content, then to a note; carries isError; cuts what is too large to store", () => {
    expect(convert([], { structuredContent: { sum: 3 } }).blocks).toEqual([
      { type: "text", text: '{"sum":3}' },
    ]);
    expect(convert([]).blocks).toEqual([{ type: "text", text: "(the tool returned no content)" }]);
    expect(mcpOutcome({ content: [{ type: "text", text: "nope" }], isError: true }).isError).toBe(true);
    const huge = convert([{ type: "text", text: "x".repeat(300_000) }]);
    expect(Buffer.byteLength(JSON.stringify(huge.blocks))).toBeLessThan(MAX_TOOL_RESULT_STORED_BYTES + 200);
    expect(huge.content).toContain("[output truncated");
  });
});

// ---------------------------------------------------------------------------------------------
// Exactly once across a crash
// ---------------------------------------------------------------------------------------------

const WS = "wrkspc_mcp";
const SESSION = "sesn_mcp";

/** An MCP server in memory: counts calls; `hold` makes the next call never answer. */
class FakeMcp implements McpConnector {
  calls: Array<{ name: string; args: Record<string, unknown>; headers: Record<string, string> }> = [];
  connects = 0;
  hold?: () => void;
  async connect(_url: string, options: { headers: Record<string, string> }): Promise<McpConnection> {
    this.connects += 1;
    return {
      transport: "streamable_http",
      listTools: async () => [tool("create", { description: "Creates a ticket." })],
      callTool: async (name, args) => {
        this.calls.push({ name, args, headers: options.headers });
        const hold = this.hold;
        if (hold) {
          this.hold = undefined;
          hold();
          return new Promise(() => {});
        }
        return { content: [{ type: "text", text: `ticket ${this.calls.length}` }], isError: false };
      },
      close: async () => {},
    };
  }
}

async function start(replies: ConstructorParameters<typeof ScriptedModel>[0]) {
  let clock = 1_000_000;
  const model = new ScriptedModel(replies);
  const rt = inMemoryDeps(model, () => clock);
  const mcp = new FakeMcp();
  rt.deps.mcp = mcp;
  await rt.deps.sessions.create({
    workspaceId: WS,
    session: sessionFixture(SESSION, {
      mcp_servers: [{ type: "url", name: "tickets", url: "https://tickets.example/mcp" }],
      tools: [
        toolset("tickets", {
          default_config: { enabled: true, permission_policy: { type: "always_allow" } },
        }),
      ],
    }),
    run: newRunState(),
  });
  await new EventsService(rt.deps).send(WS, SESSION, [
    { type: "user.message", content: [{ type: "text", text: "make a ticket" }] },
  ]);
  return {
    ...rt,
    model,
    mcp,
    advance: (ms: number) => {
      clock += ms;
    },
  };
}

type Runtime = Awaited<ReturnType<typeof start>>;

async function drain(rt: Runtime) {
  for (let message = rt.queue.take(); message; message = rt.queue.take())
    await runAgentStep(rt.deps, message);
}

/** Runs the first step until it "dies" (never returns), lets the lease lapse, re-nudges and drains. */
async function crashAndRecover(rt: Runtime, dies: Promise<void>) {
  const first = rt.queue.take();
  if (!first) throw new Error("no step queued");
  void runAgentStep(rt.deps, first);
  await dies;
  rt.advance(rt.deps.leaseMs + 60_000);
  expect((await sweepStalledSessions(rt.deps)).nudged).toBe(1);
  await drain(rt);
}

async function mcpEvents(rt: Runtime) {
  const events = (await rt.deps.events.read(SESSION)).map((e) => e.event);
  return {
    uses: events.filter((e) => e.type === "agent.mcp_tool_use"),
    results: events.filter((e) => e.type === "agent.mcp_tool_result") as Array<
      Extract<SessionEvent, { type: "agent.mcp_tool_result" }>
    >,
    last: events.at(-1),
  };
}

describe("MCP calls exactly once", () => {
  it("offers the stored list to the model and records the call with its result", async () => {
    const rt = await start([toolUse("tickets__create", { title: "a" }), text("done")]);
    await drain(rt);
    expect(rt.model.requests[0]?.tools?.map((t) => (t as { name: string }).name)).toContain(
      "tickets__create",
    );
    const { uses, results, last } = await mcpEvents(rt);
    expect(uses).toEqual([
      expect.objectContaining({ name: "create", mcp_server_name: "tickets", input: { title: "a" } }),
    ]);
    expect(results).toEqual([
      expect.objectContaining({
        mcp_tool_use_id: uses[0]?.id,
        is_error: false,
        content: [{ type: "text", text: "ticket 1" }],
      }),
    ]);
    expect(last).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    // The second step offered the stored list without listing again: one connect for the first
    // step's offer, one for its call (which refreshed the list).
    expect(rt.mcp.connects).toBe(2);
    expect(await rt.store.query("resources", mcpToolListKey(SESSION))).toHaveLength(1);
  });

  it("a step that dies after the server answered, before the result was written, does not call again", async () => {
    const rt = await start([toolUse("tickets__create", { title: "once" }), text("done")]);
    const write = rt.deps.events.write.bind(rt.deps.events);
    const dies = new Promise<void>((died) => {
      rt.deps.events.write = (sessionId: string, entries: LoggedEvent[], guard?: GroupedPut) => {
        if (entries.some((e) => e.event.type === "agent.mcp_tool_result")) {
          rt.deps.events.write = write;
          died();
          return new Promise(() => {});
        }
        return write(sessionId, entries, guard);
      };
    });
    await crashAndRecover(rt, dies);
    expect(rt.mcp.calls).toHaveLength(1);
    const { results, last } = await mcpEvents(rt);
    expect(results).toEqual([
      expect.objectContaining({ is_error: false, content: [{ type: "text", text: "ticket 1" }] }),
    ]);
    expect(last).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
  });

  it("a step that dies while the server runs the call reports it interrupted and never calls again", async () => {
    const rt = await start([toolUse("tickets__create", { title: "maybe" }), text("checked")]);
    const dies = new Promise<void>((died) => {
      rt.mcp.hold = died;
    });
    await crashAndRecover(rt, dies);
    expect(rt.mcp.calls).toHaveLength(1);
    const { results, last } = await mcpEvents(rt);
    expect(results).toHaveLength(1);
    expect(results[0]?.is_error).toBe(true);
    expect(JSON.stringify(results[0]?.content)).toContain("interrupted by a restart");
    expect(last).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
  });

  it("a session delete purges the stored tool lists", async () => {
    const rt = await start([toolUse("tickets__create", { title: "a" }), text("done")]);
    await drain(rt);
    expect(await rt.store.query("resources", mcpToolListKey(SESSION))).toHaveLength(1);
    await purgeRunData(rt.store, rt.deps.events, SESSION);
    expect(await rt.store.query("resources", mcpToolListKey(SESSION))).toHaveLength(0);
  });
});
