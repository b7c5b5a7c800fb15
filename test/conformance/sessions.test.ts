/**
 * /v1/sessions and /v1/sessions/{id}/events through the official SDK against the embedded stack,
 * with a real HTTP mock of the Messages API as the upstream model: agent references and overrides,
 * initial events, retrieve/update/list/archive/delete, unsupported agent features, event listing
 * and tool confirmation.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Session = Anthropic.Beta.Sessions.BetaManagedAgentsSession;
type SessionEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;
type ToolUse = Anthropic.Beta.Sessions.Events.BetaManagedAgentsAgentToolUseEvent;
type ToolResult = Anthropic.Beta.Sessions.Events.BetaManagedAgentsAgentToolResultEvent;
type Idle = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionStatusIdleEvent;
type MessageParams = Anthropic.Messages.MessageCreateParams;

let h: Harness;
let environmentId: string;
beforeAll(async () => {
  h = await startHarness();
  environmentId = (await h.client.beta.environments.create({ name: "sessions" })).id;
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.reset());

const text = (s: string) => ({
  type: "user.message" as const,
  content: [{ type: "text" as const, text: s }],
});

async function newAgent(params: Partial<Anthropic.Beta.Agents.AgentCreateParams> = {}) {
  return h.client.beta.agents.create({
    name: "session-tester",
    model: "claude-sonnet-4-6",
    system: "You are a careful test agent.",
    tools: [{ type: "agent_toolset_20260401" }],
    ...params,
  });
}

/** The system prompt text the upstream model was sent. */
function systemOf(request: MessageParams | undefined): string {
  const system = request?.system;
  if (system === undefined) return "";
  return typeof system === "string" ? system : system.map((b) => b.text).join("\n");
}

async function sessionIds(params: Anthropic.Beta.Sessions.SessionListParams): Promise<string[]> {
  const ids: string[] = [];
  for await (const s of h.client.beta.sessions.list(params)) ids.push(s.id);
  return ids;
}

async function waitForStatus(sessionId: string, status: Session["status"], timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const session = await h.client.beta.sessions.retrieve(sessionId);
    if (session.status === status) return session;
    if (Date.now() > deadline) throw new Error(`session ${sessionId} never became ${status}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("create", () => {
  it("by agent id pins the latest version; by {type: agent, id, version} pins an older one", async () => {
    const agent = await newAgent({ system: "prompt v1" });
    await h.client.beta.agents.update(agent.id, { version: 1, system: "prompt v2" });

    const latest = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    expect(latest.id).toMatch(/^sesn_/);
    expect(latest.type).toBe("session");
    expect(latest.agent).toMatchObject({ type: "agent", id: agent.id, version: 2, system: "prompt v2" });

    const pinned = await h.client.beta.sessions.create({
      agent: { type: "agent", id: agent.id, version: 1 },
      environment_id: environmentId,
    });
    expect(pinned.agent).toMatchObject({ type: "agent", id: agent.id, version: 1, system: "prompt v1" });

    // a later agent update does not move either session
    await h.client.beta.agents.update(agent.id, { version: 2, system: "prompt v3" });
    expect((await h.client.beta.sessions.retrieve(pinned.id)).agent.version).toBe(1);

    // and the pinned version is what the model runs with
    h.upstream.script(mockText("from v1"));
    await h.client.beta.sessions.events.send(pinned.id, { events: [text("which prompt?")] });
    await h.waitIdle(pinned.id);
    expect(systemOf(h.upstream.requests[0])).toBe("prompt v1");

    // agent_version filters only together with agent_id
    expect(await sessionIds({ agent_id: agent.id, agent_version: 1 })).toEqual([pinned.id]);
    expect(await sessionIds({ agent_id: agent.id, agent_version: 2 })).toEqual([latest.id]);

    await rejection(
      h.client.beta.sessions.create({
        agent: { type: "agent", id: agent.id, version: 42 },
        environment_id: environmentId,
      }),
      Anthropic.NotFoundError,
    );
  });

  it("agent_with_overrides runs with the overridden fields and leaves the agent alone", async () => {
    const agent = await newAgent({ system: "the stored prompt" });
    const session = await h.client.beta.sessions.create({
      agent: {
        type: "agent_with_overrides",
        id: agent.id,
        system: "an overriding prompt",
        tools: [{ type: "custom", name: "ping", description: "pings", input_schema: { type: "object" } }],
      },
      environment_id: environmentId,
    });
    expect(session.agent.id).toBe(agent.id);
    expect(session.agent.version).toBe(1);
    expect(session.agent.system).toBe("an overriding prompt");
    expect(session.agent.tools.map((t) => t.type)).toEqual(["custom"]);
    expect(await h.client.beta.agents.retrieve(agent.id)).toEqual(agent);

    h.upstream.script(mockText("overridden"));
    await h.client.beta.sessions.events.send(session.id, { events: [text("hello")] });
    await h.waitIdle(session.id);
    const request = h.upstream.requests[0];
    expect(systemOf(request)).toBe("an overriding prompt");
    expect(request?.tools?.map((t) => (t as { name: string }).name)).toEqual(["ping"]);

    // overrides are validated like an agent update, with the field named
    const error = await rejection(
      h.client.beta.sessions.create({
        agent: {
          type: "agent_with_overrides",
          id: agent.id,
          tools: [
            { type: "custom", name: "twin", description: "a", input_schema: { type: "object" } },
            { type: "custom", name: "twin", description: "b", input_schema: { type: "object" } },
          ],
        },
        environment_id: environmentId,
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toContain("tools.1.name");
  });

  it("initial_events run a turn; title and metadata are stored", async () => {
    const agent = await newAgent();
    h.upstream.script(mockText("Welcome aboard"));
    const session = await h.client.beta.sessions.create({
      agent: agent.id,
      environment_id: environmentId,
      title: "onboarding",
      metadata: { ticket: "T-1", owner: "ops" },
      initial_events: [text("hello at creation")],
    });
    expect(session.title).toBe("onboarding");
    expect(session.metadata).toEqual({ ticket: "T-1", owner: "ops" });
    const done = await h.waitIdle(session.id);
    const events = await h.allEvents(session.id);
    expect(events[0]).toMatchObject({
      type: "user.message",
      content: [{ type: "text", text: "hello at creation" }],
    });
    expect(events.find((e) => e.type === "agent.message")).toMatchObject({
      content: [{ type: "text", text: "Welcome aboard" }],
    });
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    expect(h.upstream.requests[0]?.messages).toEqual([
      { role: "user", content: [{ type: "text", text: "hello at creation" }] },
    ]);

    // retrieve: the document, with stats and usage
    expect(done.id).toBe(session.id);
    expect(done.status).toBe("idle");
    expect(done.stats.duration_seconds).toBeGreaterThanOrEqual(0);
    expect(done.stats.active_seconds).toBeGreaterThanOrEqual(0);
    expect(done.usage.input_tokens).toBeGreaterThan(0);
    expect(done.usage.output_tokens).toBeGreaterThan(0);
    expect(done.usage.cache_creation).toBeDefined();
    expect(done.environment_id).toBe(environmentId);
    expect(done.archived_at).toBeNull();
  });

  it("rejects unknown or archived agents", async () => {
    await rejection(
      h.client.beta.sessions.create({ agent: "agent_0000000000000000000000", environment_id: environmentId }),
      Anthropic.NotFoundError,
    );
    const agent = await newAgent();
    await h.client.beta.agents.archive(agent.id);
    const error = await rejection(
      h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toContain("archived");
  });
});

describe("update, list, archive, delete", () => {
  it("updates the title and patches metadata (null deletes a key)", async () => {
    const agent = await newAgent();
    const session = await h.client.beta.sessions.create({
      agent: agent.id,
      environment_id: environmentId,
      title: "first",
      metadata: { keep: "k", drop: "d" },
    });
    const updated = await h.client.beta.sessions.update(session.id, {
      title: "second",
      metadata: { drop: null, add: "a" },
    });
    expect(updated.title).toBe("second");
    expect(updated.metadata).toEqual({ keep: "k", add: "a" });
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(session.updated_at));
    const retrieved = await h.client.beta.sessions.retrieve(session.id);
    expect(retrieved.title).toBe("second");
    expect(retrieved.metadata).toEqual({ keep: "k", add: "a" });

    // omitted fields are preserved; null clears the title
    const cleared = await h.client.beta.sessions.update(session.id, { title: null });
    expect(cleared.title).toBeNull();
    expect(cleared.metadata).toEqual({ keep: "k", add: "a" });
  });

  it("lists with agent_id, statuses, order, pagination and include_archived", async () => {
    const agent = await newAgent();
    const created: Session[] = [];
    for (let i = 0; i < 3; i++) {
      created.push(
        await h.client.beta.sessions.create({
          agent: agent.id,
          environment_id: environmentId,
          title: `s${i}`,
        }),
      );
    }
    const ids = created.map((s) => s.id);

    // default order: newest first; asc is the reverse
    const desc = await sessionIds({ agent_id: agent.id });
    expect(desc).toEqual([...ids].reverse());
    expect(await sessionIds({ agent_id: agent.id, order: "asc" })).toEqual(ids);

    // pagination: one per page, the SDK follows next_page
    const firstPage = await h.client.beta.sessions.list({ agent_id: agent.id, limit: 1 });
    expect(firstPage.data.map((s) => s.id)).toEqual([ids[2]]);
    expect(firstPage.hasNextPage()).toBe(true);
    const secondPage = await firstPage.getNextPage();
    expect(secondPage.data.map((s) => s.id)).toEqual([ids[1]]);
    expect(await sessionIds({ agent_id: agent.id, limit: 1 })).toEqual(desc);
    expect(await sessionIds({ agent_id: agent.id, limit: 2, order: "asc" })).toEqual(ids);

    // statuses
    expect(await sessionIds({ agent_id: agent.id, statuses: ["idle"] })).toEqual(desc);
    expect(await sessionIds({ agent_id: agent.id, statuses: ["running", "terminated"] })).toEqual([]);
    expect(await sessionIds({ agent_id: agent.id, statuses: ["running", "idle"] })).toEqual(desc);

    // archive: excluded by default, back with include_archived
    const archived = await h.client.beta.sessions.archive(ids[1] as string);
    expect(archived.archived_at).not.toBeNull();
    expect(Date.parse(archived.archived_at as string)).not.toBeNaN();
    expect(await sessionIds({ agent_id: agent.id })).toEqual([ids[2], ids[0]]);
    expect(await sessionIds({ agent_id: agent.id, include_archived: true })).toEqual(desc);
    // an archived session is still readable but takes no new events
    expect((await h.client.beta.sessions.retrieve(archived.id)).archived_at).toBe(archived.archived_at);
    const error = await rejection(
      h.client.beta.sessions.events.send(archived.id, { events: [text("anyone?")] }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toContain("archived");

    // another agent's sessions are not included
    const other = await newAgent();
    await h.client.beta.sessions.create({ agent: other.id, environment_id: environmentId });
    expect(await sessionIds({ agent_id: agent.id, include_archived: true })).toEqual(desc);
  });

  it("deletes: session_deleted, then 404, and its events are gone", async () => {
    const agent = await newAgent();
    h.upstream.script(mockText("short-lived"));
    const session = await h.client.beta.sessions.create({
      agent: agent.id,
      environment_id: environmentId,
      initial_events: [text("hi")],
    });
    await h.waitIdle(session.id);
    expect((await h.allEvents(session.id)).length).toBeGreaterThan(0);

    const deleted = await h.client.beta.sessions.delete(session.id);
    expect(deleted).toEqual({ id: session.id, type: "session_deleted" });
    await rejection(h.client.beta.sessions.retrieve(session.id), Anthropic.NotFoundError);
    await rejection(h.client.beta.sessions.events.list(session.id), Anthropic.NotFoundError);
    await rejection(
      h.client.beta.sessions.events.send(session.id, { events: [text("hello?")] }),
      Anthropic.NotFoundError,
    );
    await rejection(h.client.beta.sessions.delete(session.id), Anthropic.NotFoundError);
    expect(await sessionIds({ agent_id: agent.id, include_archived: true })).toEqual([]);
    expect(await h.stack.services.deps.events.read(session.id, { limit: 10 })).toEqual([]);
  });

  it("refuses to delete a running session (409) until it is idle again", async () => {
    const agent = await newAgent();
    h.upstream.delayMs = 1_500;
    h.upstream.script(mockText("slow answer"));
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("take your time")] });
    await waitForStatus(session.id, "running");
    expect(await sessionIds({ agent_id: agent.id, statuses: ["running"] })).toEqual([session.id]);
    expect(await sessionIds({ agent_id: agent.id, statuses: ["idle"] })).toEqual([]);

    const conflict = await rejection(h.client.beta.sessions.delete(session.id), Anthropic.ConflictError);
    expect(conflict.status).toBe(409);
    expect(messageOf(conflict)).toContain("running");
    await rejection(h.client.beta.sessions.archive(session.id), Anthropic.ConflictError);

    await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    await h.waitIdle(session.id);
    expect(await h.client.beta.sessions.delete(session.id)).toEqual({
      id: session.id,
      type: "session_deleted",
    });
  });

  it("answers 404 for unknown session ids", async () => {
    const id = "sesn_0000000000000000000000";
    const calls: Array<() => Promise<unknown>> = [
      () => h.client.beta.sessions.retrieve(id),
      () => h.client.beta.sessions.update(id, { title: "x" }),
      () => h.client.beta.sessions.archive(id),
      () => h.client.beta.sessions.delete(id),
      () => h.client.beta.sessions.events.list(id),
      () => h.client.beta.sessions.events.send(id, { events: [text("x")] }),
    ];
    for (const call of calls) {
      const error = await rejection(call(), Anthropic.NotFoundError);
      expect(messageOf(error)).toContain(id);
    }
  });
});

describe("events list", () => {
  it("orders, filters by type and pages (SDK auto-pagination over several pages)", async () => {
    const agent = await newAgent();
    h.upstream.script(
      mockToolUse("write", { file_path: "a.txt", content: "A" }),
      mockToolUse("write", { file_path: "b.txt", content: "B" }),
      mockToolUse("read", { file_path: "a.txt" }),
      mockText("all done"),
    );
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("write a, write b, read a")] });
    await h.waitIdle(session.id);

    const asc = await h.allEvents(session.id);
    expect(asc.length).toBeGreaterThan(10);
    expect(asc[0]?.type).toBe("user.message");
    expect(asc.at(-1)?.type).toBe("session.status_idle");

    // small pages: the SDK follows next_page until the end
    const firstPage = await h.client.beta.sessions.events.list(session.id, { limit: 3 });
    expect(firstPage.data).toHaveLength(3);
    expect(firstPage.hasNextPage()).toBe(true);
    let pages = 0;
    const paged: SessionEvent[] = [];
    for await (const page of firstPage.iterPages()) {
      pages++;
      paged.push(...page.data);
    }
    expect(pages).toBe(Math.ceil(asc.length / 3));
    expect(paged).toEqual(asc);
    const auto: SessionEvent[] = [];
    for await (const e of h.client.beta.sessions.events.list(session.id, { limit: 4 })) auto.push(e);
    expect(auto).toEqual(asc);

    // desc is the exact reverse, also across pages
    const desc: SessionEvent[] = [];
    for await (const e of h.client.beta.sessions.events.list(session.id, { order: "desc", limit: 5 }))
      desc.push(e);
    expect(desc).toEqual([...asc].reverse());

    // types filter, combined with pagination and order
    const tools: SessionEvent[] = [];
    for await (const e of h.client.beta.sessions.events.list(session.id, {
      types: ["agent.tool_use", "agent.tool_result"],
      limit: 2,
    }))
      tools.push(e);
    expect(tools.map((e) => e.type)).toEqual([
      "agent.tool_use",
      "agent.tool_result",
      "agent.tool_use",
      "agent.tool_result",
      "agent.tool_use",
      "agent.tool_result",
    ]);
    expect(tools).toEqual(asc.filter((e) => e.type === "agent.tool_use" || e.type === "agent.tool_result"));
    const lastUse = await h.client.beta.sessions.events.list(session.id, {
      types: ["agent.tool_use"],
      order: "desc",
      limit: 1,
    });
    expect(lastUse.data).toHaveLength(1);
    expect((lastUse.data[0] as ToolUse).name).toBe("read");
  });
});

describe("tool confirmation", () => {
  const askingAgent = () =>
    newAgent({
      tools: [
        { type: "agent_toolset_20260401", default_config: { permission_policy: { type: "always_ask" } } },
      ],
    });

  async function askedFor(sessionId: string): Promise<ToolUse> {
    await h.waitIdle(sessionId);
    const events = await h.allEvents(sessionId);
    const use = events.find((e) => e.type === "agent.tool_use") as ToolUse;
    expect(use.evaluated_permission).toBe("ask");
    expect(use.evaluation).toEqual({ type: "always_ask" });
    expect(events.some((e) => e.type === "agent.tool_result")).toBe(false);
    const idle = events.at(-1) as Idle;
    expect(idle.type).toBe("session.status_idle");
    expect(idle.stop_reason).toEqual({ type: "requires_action", event_ids: [use.id] });
    expect((await h.client.beta.sessions.retrieve(sessionId)).status).toBe("idle");
    return use;
  }

  it("always_ask: the tool waits; allow runs it and the turn continues", async () => {
    const agent = await askingAgent();
    h.upstream.script(
      mockToolUse("write", { file_path: "confirmed.txt", content: "approved content" }),
      mockToolUse("read", { file_path: "confirmed.txt" }),
      mockText("written and read"),
    );
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("write then read")] });
    const write = await askedFor(session.id);
    expect(write.name).toBe("write");
    expect(h.upstream.requests).toHaveLength(1);

    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.tool_confirmation", tool_use_id: write.id, result: "allow" }],
    });
    await h.waitIdle(session.id);
    let events = await h.allEvents(session.id);
    const writeResult = events.find(
      (e) => e.type === "agent.tool_result" && e.tool_use_id === write.id,
    ) as ToolResult;
    expect(writeResult.is_error).toBe(false);
    // the turn went on to the next tool call, which asks again
    const read = events.filter((e) => e.type === "agent.tool_use").at(-1) as ToolUse;
    expect(read.name).toBe("read");
    expect(events.at(-1)).toMatchObject({
      type: "session.status_idle",
      stop_reason: { type: "requires_action", event_ids: [read.id] },
    });

    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.tool_confirmation", tool_use_id: read.id, result: "allow" }],
    });
    await h.waitIdle(session.id);
    events = await h.allEvents(session.id);
    const readResult = events.find(
      (e) => e.type === "agent.tool_result" && e.tool_use_id === read.id,
    ) as ToolResult;
    expect(readResult.is_error).toBe(false);
    expect(JSON.stringify(readResult.content)).toContain("approved content");
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    expect(
      events.some(
        (e) => e.type === "agent.message" && JSON.stringify(e.content).includes("written and read"),
      ),
    ).toBe(true);
    expect(h.upstream.requests).toHaveLength(3);

    // a confirmation for something the session is not waiting on is a conflict
    await rejection(
      h.client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.tool_confirmation", tool_use_id: read.id, result: "allow" }],
      }),
      Anthropic.ConflictError,
    );
  });

  it("deny with deny_message: the model gets an error tool_result with that message", async () => {
    const agent = await askingAgent();
    h.upstream.script(
      mockToolUse("write", { file_path: "secret.txt", content: "nope" }),
      mockText("understood, not writing"),
    );
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("write the secret")] });
    const write = await askedFor(session.id);

    await h.client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.tool_confirmation",
          tool_use_id: write.id,
          result: "deny",
          deny_message: "Writing secrets is not allowed",
        },
      ],
    });
    await h.waitIdle(session.id);
    const events = await h.allEvents(session.id);
    const result = events.find(
      (e) => e.type === "agent.tool_result" && e.tool_use_id === write.id,
    ) as ToolResult;
    expect(result.is_error).toBe(true);
    expect(JSON.stringify(result.content)).toContain("Writing secrets is not allowed");
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    expect(events.find((e) => e.type === "user.tool_confirmation")).toMatchObject({
      result: "deny",
      deny_message: "Writing secrets is not allowed",
    });

    // the model saw an error tool_result for its own tool_use id, carrying the message
    expect(h.upstream.requests).toHaveLength(2);
    const followUp = h.upstream.requests[1] as MessageParams;
    const assistant = followUp.messages.at(-2) as { content: Array<{ type: string; id?: string }> };
    const toolUseId = assistant.content.find((b) => b.type === "tool_use")?.id;
    const lastUser = followUp.messages.at(-1) as {
      content: Array<{ type: string; tool_use_id?: string; is_error?: boolean }>;
    };
    const toolResult = lastUser.content.find((b) => b.type === "tool_result");
    expect(toolResult).toMatchObject({ tool_use_id: toolUseId, is_error: true });
    expect(JSON.stringify(toolResult)).toContain("Writing secrets is not allowed");
  });
});
