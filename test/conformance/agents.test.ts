/**
 * /v1/agents through the official SDK against the embedded stack: create, retrieve (by version),
 * update with optimistic concurrency, list with pagination, archive, versions, validation and
 * multiagent rosters.
 */
import Anthropic, { type APIError } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { rejection } from "../fixtures/sdk-assertions.js";

type Agent = Anthropic.Beta.Agents.BetaManagedAgentsAgent;
type Toolset = Anthropic.Beta.Agents.BetaManagedAgentsAgentToolset20260401;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const basic = (name: string) => ({ name, model: "claude-sonnet-4-6" });

/** The error body's type and message, as Anthropic's error shape carries them. */
function errorOf(error: APIError) {
  const body = error.error as { type: string; error: { type: string; message: string }; request_id?: string };
  expect(body.type).toBe("error");
  return body.error;
}

describe("create", () => {
  it("creates an agent from a model string with a configured toolset, a custom tool and metadata", async () => {
    const agent = await h.client.beta.agents.create({
      name: "researcher",
      description: "finds things",
      model: "claude-sonnet-4-6",
      system: "Be brief.",
      metadata: { team: "search", tier: "1" },
      tools: [
        {
          type: "agent_toolset_20260401",
          default_config: { permission_policy: { type: "always_allow" } },
          configs: [
            { name: "web_fetch", enabled: false },
            { name: "write", permission_policy: { type: "always_ask" } },
          ],
        },
        {
          type: "custom",
          name: "lookup_order",
          description: "Looks up an order",
          input_schema: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
        },
      ],
    });
    expect(agent.id).toMatch(/^agent_/);
    expect(agent.type).toBe("agent");
    expect(agent.version).toBe(1);
    expect(agent.archived_at).toBeNull();
    expect(Date.parse(agent.created_at)).not.toBeNaN();
    expect(agent.updated_at).toBe(agent.created_at);
    expect(agent.name).toBe("researcher");
    expect(agent.description).toBe("finds things");
    expect(agent.system).toBe("Be brief.");
    expect(agent.metadata).toEqual({ team: "search", tier: "1" });
    expect(agent.model.id).toBe("claude-sonnet-4-6");
    expect(agent.multiagent).toBeNull();
    expect(agent.mcp_servers).toEqual([]);
    expect(agent.skills).toEqual([]);
    expect(agent.execution_identity).toEqual({ type: "service_account" });

    const toolset = agent.tools[0] as Toolset;
    expect(toolset.type).toBe("agent_toolset_20260401");
    expect(toolset.default_config).toEqual({ enabled: true, permission_policy: { type: "always_allow" } });
    const config = (name: string) => toolset.configs.find((c) => c.name === name);
    expect(config("web_fetch")).toMatchObject({
      enabled: false,
      permission_policy: { type: "always_allow" },
    });
    expect(config("write")).toMatchObject({ enabled: true, permission_policy: { type: "always_ask" } });
    expect(config("read")).toMatchObject({ enabled: true, permission_policy: { type: "always_allow" } });
    expect(agent.tools[1]).toEqual({
      type: "custom",
      name: "lookup_order",
      description: "Looks up an order",
      input_schema: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
    });
  });

  it("creates an agent from a model config object", async () => {
    const agent = await h.client.beta.agents.create({
      name: "thinker",
      model: { id: "claude-opus-4-6", effort: "high", speed: "standard" },
    });
    expect(agent.model).toMatchObject({ id: "claude-opus-4-6", effort: { type: "high" }, speed: "standard" });
    // the bare level string and the object form mean the same thing
    const other = await h.client.beta.agents.create({
      name: "thinker-2",
      model: { id: "claude-opus-4-6", effort: { type: "high" } },
    });
    expect(other.model.effort).toEqual({ type: "high" });
    // the string form resolves to a config object too
    const plain = await h.client.beta.agents.create(basic("plain"));
    expect(plain.model).toMatchObject({ id: "claude-sonnet-4-6" });
  });
});

describe("retrieve", () => {
  it("returns the latest version, or the one named by `version`", async () => {
    const created = await h.client.beta.agents.create({ ...basic("v"), system: "one" });
    expect(await h.client.beta.agents.retrieve(created.id)).toEqual(created);
    const updated = await h.client.beta.agents.update(created.id, { version: 1, system: "two" });
    expect(updated.version).toBe(2);
    expect((await h.client.beta.agents.retrieve(created.id)).system).toBe("two");
    const v1 = await h.client.beta.agents.retrieve(created.id, { version: 1 });
    expect(v1).toEqual(created);
    expect((await h.client.beta.agents.retrieve(created.id, { version: 2 })).system).toBe("two");
    await rejection(h.client.beta.agents.retrieve(created.id, { version: 9 }), Anthropic.NotFoundError);
  });
});

describe("update", () => {
  it("bumps the version on a change, not on a no-op, and rejects a stale version with 409", async () => {
    const created = await h.client.beta.agents.create({
      ...basic("updatable"),
      description: "d",
      metadata: { keep: "k", drop: "x" },
    });
    const updated = await h.client.beta.agents.update(created.id, {
      version: 1,
      name: "renamed",
      metadata: { drop: null, add: "a" },
    });
    expect(updated.version).toBe(2);
    expect(updated.name).toBe("renamed");
    expect(updated.description).toBe("d"); // omitted: preserved
    expect(updated.metadata).toEqual({ keep: "k", add: "a" });
    expect(updated.created_at).toBe(created.created_at);
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.updated_at));

    // a no-op (same values) does not make a new version
    const same = await h.client.beta.agents.update(created.id, { version: 2, name: "renamed" });
    expect(same.version).toBe(2);
    expect(same.updated_at).toBe(updated.updated_at);

    // stale version: the SDK raises its ConflictError for 409
    const conflict = await rejection(
      h.client.beta.agents.update(created.id, { version: 1, name: "late" }),
      Anthropic.ConflictError,
    );
    expect(conflict.status).toBe(409);
    expect(errorOf(conflict).message).toContain("version");
    expect((await h.client.beta.agents.retrieve(created.id)).name).toBe("renamed");

    // clearing: null / empty clears description and system
    const cleared = await h.client.beta.agents.update(created.id, { version: 2, description: null });
    expect(cleared.version).toBe(3);
    expect(cleared.description).toBeNull();
  });

  it("answers a final 409 with x-should-retry: false, so the SDK with its default retries sends it once", async () => {
    // Prepare: a client with the SDK's default retries (2), counting what it sends
    const created = await h.client.beta.agents.create(basic("retry-advice"));
    await h.client.beta.agents.update(created.id, { version: 1, name: "moved on" });
    const sent: string[] = [];
    const client = new Anthropic({
      baseURL: h.stack.url,
      apiKey: h.stack.apiKey,
      fetch: async (url, init) => {
        sent.push(String(init?.headers && new Headers(init.headers).get("x-stainless-retry-count")));
        return fetch(url, init);
      },
    });
    // Act
    const conflict = await rejection(
      client.beta.agents.update(created.id, { version: 1, name: "late" }),
      Anthropic.ConflictError,
    );
    // Assess: one request, told not to retry (without the header the SDK sends it three times)
    expect(conflict.headers?.get("x-should-retry")).toBe("false");
    expect(sent).toEqual(["0"]);
  });

  it("applies an update without `version` unconditionally (as the SDK documents)", async () => {
    const created = await h.client.beta.agents.create(basic("unconditional"));
    const updated = await h.client.beta.agents.update(created.id, { description: "updated" });
    expect(updated.version).toBe(2);
    expect(updated.description).toBe("updated");
  });

  it("replaces tools wholesale", async () => {
    const created = await h.client.beta.agents.create({
      ...basic("tools"),
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const updated = await h.client.beta.agents.update(created.id, {
      version: 1,
      tools: [{ type: "custom", name: "only", description: "d", input_schema: { type: "object" } }],
    });
    expect(updated.tools.map((t) => t.type)).toEqual(["custom"]);
    const emptied = await h.client.beta.agents.update(created.id, { version: 2, tools: null });
    expect(emptied.tools).toEqual([]);
  });
});

describe("list", () => {
  it("pages through every agent with `limit` and the SDK's auto-pagination", async () => {
    const mine: string[] = [];
    for (let i = 0; i < 5; i++) mine.push((await h.client.beta.agents.create(basic(`paged-${i}`))).id);
    const first = await h.client.beta.agents.list({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.next_page).toBeTruthy();
    expect(first.hasNextPage()).toBe(true);

    const seen: string[] = [];
    let pages = 0;
    for await (const page of (await h.client.beta.agents.list({ limit: 2 })).iterPages()) {
      pages++;
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((a) => a.id));
    }
    expect(pages).toBeGreaterThanOrEqual(3);
    expect(new Set(seen).size).toBe(seen.length); // no duplicates across pages
    for (const id of mine) expect(seen).toContain(id);

    const items: Agent[] = [];
    for await (const agent of h.client.beta.agents.list({ limit: 2 })) items.push(agent);
    expect(items.map((a) => a.id)).toEqual(seen);
  });

  it("archives: archived_at is set, the agent leaves the default list, include_archived brings it back", async () => {
    const agent = await h.client.beta.agents.create(basic("to-archive"));
    const archived = await h.client.beta.agents.archive(agent.id);
    expect(archived.id).toBe(agent.id);
    expect(archived.archived_at).not.toBeNull();
    expect(Date.parse(archived.archived_at as string)).not.toBeNaN();
    expect((await h.client.beta.agents.retrieve(agent.id)).archived_at).toBe(archived.archived_at);

    const ids = async (params: Anthropic.Beta.Agents.AgentListParams) => {
      const out: string[] = [];
      for await (const a of h.client.beta.agents.list({ limit: 50, ...params })) out.push(a.id);
      return out;
    };
    expect(await ids({})).not.toContain(agent.id);
    expect(await ids({ include_archived: true })).toContain(agent.id);
    // archiving twice is harmless
    expect((await h.client.beta.agents.archive(agent.id)).archived_at).toBe(archived.archived_at);
    // an archived agent takes no updates
    await rejection(
      h.client.beta.agents.update(agent.id, { version: 1, name: "zombie" }),
      Anthropic.BadRequestError,
    );
  });
});

describe("versions", () => {
  it("lists versions newest first, each an immutable snapshot", async () => {
    const created = await h.client.beta.agents.create({ ...basic("versioned"), system: "s1" });
    await h.client.beta.agents.update(created.id, { version: 1, system: "s2" });
    await h.client.beta.agents.update(created.id, { version: 2, system: "s3", name: "versioned-3" });

    const versions: Agent[] = [];
    for await (const v of h.client.beta.agents.versions.list(created.id, { limit: 2 })) versions.push(v);
    expect(versions.map((v) => v.version)).toEqual([3, 2, 1]);
    expect(versions.map((v) => v.system)).toEqual(["s3", "s2", "s1"]);
    expect(versions.every((v) => v.id === created.id)).toBe(true);
    expect(versions[2]).toEqual(created);

    // a later update leaves the stored snapshots alone
    await h.client.beta.agents.update(created.id, { version: 3, system: "s4" });
    const again: Agent[] = [];
    for await (const v of h.client.beta.agents.versions.list(created.id)) again.push(v);
    expect(again.map((v) => v.version)).toEqual([4, 3, 2, 1]);
    expect(again.slice(1)).toEqual(versions);
  });
});

describe("validation", () => {
  it("rejects duplicate tool names with 400 naming the field", async () => {
    const error = await rejection(
      h.client.beta.agents.create({
        ...basic("dup"),
        tools: [
          { type: "custom", name: "same", description: "a", input_schema: { type: "object" } },
          { type: "custom", name: "same", description: "b", input_schema: { type: "object" } },
        ],
      }),
      Anthropic.BadRequestError,
    );
    expect(error.status).toBe(400);
    const body = errorOf(error);
    expect(body.type).toBe("invalid_request_error");
    expect(body.message).toContain("tools.1.name");
    expect(body.message).toContain("same");
  });

  it("rejects an mcp_toolset that names no declared MCP server", async () => {
    const error = await rejection(
      h.client.beta.agents.create({
        ...basic("mcp"),
        tools: [{ type: "mcp_toolset", mcp_server_name: "ghost" }],
      }),
      Anthropic.BadRequestError,
    );
    expect(errorOf(error).message).toContain("tools.0.mcp_server_name");
    expect(errorOf(error).message).toContain("ghost");
  });

  it("rejects an MCP server no mcp_toolset references", async () => {
    const error = await rejection(
      h.client.beta.agents.create({
        ...basic("mcp-unref"),
        mcp_servers: [{ type: "url", name: "docs", url: "https://mcp.example.com/sse" }],
      }),
      Anthropic.BadRequestError,
    );
    expect(errorOf(error).message).toContain("mcp_servers.0");
  });

  it("rejects missing and malformed fields", async () => {
    const noName = await rejection(
      h.client.beta.agents.create({ model: "claude-sonnet-4-6" } as Anthropic.Beta.Agents.AgentCreateParams),
      Anthropic.BadRequestError,
    );
    expect(errorOf(noName).message).toContain("name");
    const badMetadata = await rejection(
      h.client.beta.agents.create({ ...basic("meta"), metadata: { ["k".repeat(65)]: "v" } }),
      Anthropic.BadRequestError,
    );
    expect(errorOf(badMetadata).message).toContain("metadata");
  });
});

describe("multiagent", () => {
  it("stores a roster resolved to concrete versions, with self", async () => {
    const worker = await h.client.beta.agents.create(basic("worker"));
    await h.client.beta.agents.update(worker.id, { version: 1, system: "work hard" });
    const pinned = await h.client.beta.agents.create(basic("pinned"));
    const coordinator = await h.client.beta.agents.create({
      ...basic("coordinator"),
      multiagent: {
        type: "coordinator",
        agents: [worker.id, { type: "agent", id: pinned.id, version: 1 }, { type: "self" }],
      },
    });
    expect(coordinator.multiagent).toEqual({
      type: "coordinator",
      agents: [
        { type: "agent", id: worker.id, version: 2 },
        { type: "agent", id: pinned.id, version: 1 },
        { type: "agent", id: coordinator.id, version: 1 },
      ],
    });
    expect(await h.client.beta.agents.retrieve(coordinator.id)).toEqual(coordinator);
  });

  it("rejects a roster naming an unknown agent (it must exist)", async () => {
    const error = await h.client.beta.agents
      .create({ ...basic("lost"), multiagent: { type: "coordinator", agents: ["agent_doesnotexist"] } })
      .then(
        () => undefined,
        (e: unknown) => e as APIError,
      );
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect([400, 404]).toContain(error?.status);
    expect(errorOf(error as APIError).message).toContain("agent_doesnotexist");
  });

  it("rejects a coordinator in a roster (one level deep) and duplicate entries", async () => {
    const worker = await h.client.beta.agents.create(basic("leaf"));
    const coordinator = await h.client.beta.agents.create({
      ...basic("mid"),
      multiagent: { type: "coordinator", agents: [worker.id] },
    });
    const nested = await rejection(
      h.client.beta.agents.create({
        ...basic("top"),
        multiagent: { type: "coordinator", agents: [coordinator.id] },
      }),
      Anthropic.BadRequestError,
    );
    expect(errorOf(nested).message).toContain("multiagent");
    expect(errorOf(nested).message).toContain(coordinator.id);

    const duplicate = await rejection(
      h.client.beta.agents.create({
        ...basic("dup-roster"),
        multiagent: { type: "coordinator", agents: [worker.id, worker.id] },
      }),
      Anthropic.BadRequestError,
    );
    expect(errorOf(duplicate).message).toContain("multiagent.agents.1");
  });

  it("rejects an archived agent in a roster", async () => {
    const worker = await h.client.beta.agents.create(basic("retired"));
    await h.client.beta.agents.archive(worker.id);
    const error = await rejection(
      h.client.beta.agents.create({
        ...basic("boss"),
        multiagent: { type: "coordinator", agents: [worker.id] },
      }),
      Anthropic.BadRequestError,
    );
    expect(errorOf(error).message).toContain("archived");
  });
});

describe("unknown ids", () => {
  it("answers 404 not_found_error for every agent route", async () => {
    const id = "agent_0000000000000000000000";
    const calls: Array<() => Promise<unknown>> = [
      () => h.client.beta.agents.retrieve(id),
      () => h.client.beta.agents.update(id, { version: 1, name: "x" }),
      () => h.client.beta.agents.archive(id),
      () => h.client.beta.agents.versions.list(id),
    ];
    for (const call of calls) {
      const error = await rejection(call(), Anthropic.NotFoundError);
      expect(error.status).toBe(404);
      expect(errorOf(error).type).toBe("not_found_error");
      expect(errorOf(error).message).toContain(id);
    }
  });
});
