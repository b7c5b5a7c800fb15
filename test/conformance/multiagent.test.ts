/**
 * `multiagent_20261001` through the official SDK: agents saved with it (defaults, `self`, pinned
 * versions, at most 20 predefined agents, depth limit 1, advisor pairing) and updated with the
 * documented level-by-level merge; sessions that copy the resolved configuration at creation.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { MockResponse, ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Multiagent = Anthropic.Beta.Agents.BetaManagedAgentsMultiagent20261001;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { REVERIE_MODEL_MAX_RETRIES: "0" } });
});
afterAll(async () => h.close());

const basic = (name: string, extra: Partial<Anthropic.Beta.Agents.AgentCreateParams> = {}) =>
  h.client.beta.agents.create({ name, model: "claude-sonnet-4-6", ...extra });
const ENABLED = { type: "enabled" } as const;
const DISABLED = { type: "disabled" } as const;

describe("agents with multiagent_20261001", () => {
  it("takes the documented defaults: subagents and workflows enabled with inline agents, no advisor", async () => {
    const agent = await basic("defaults", { multiagent: { type: "multiagent_20261001" } });
    expect(agent.multiagent).toEqual({
      type: "multiagent_20261001",
      advisor: DISABLED,
      subagents: { type: "enabled", inline_agents: ENABLED, predefined_agents: [] },
      workflows: { type: "enabled", inline_agents: ENABLED, predefined_agents: [] },
    });
    // null means "default", on create as well.
    const nulls = await basic("nulls", {
      multiagent: { type: "multiagent_20261001", advisor: null, subagents: null, workflows: null },
    });
    expect(nulls.multiagent).toEqual(agent.multiagent);
    expect(await h.client.beta.agents.retrieve(agent.id)).toEqual(agent);
  });

  it("pins predefined agents (id string, reference, self) to versions, each list on its own", async () => {
    const worker = await basic("worker");
    await h.client.beta.agents.update(worker.id, { version: 1, system: "v2" });
    const pinned = await basic("pinned");
    const lead = await basic("lead", {
      multiagent: {
        type: "multiagent_20261001",
        subagents: {
          type: "enabled",
          inline_agents: DISABLED,
          predefined_agents: [worker.id, { type: "agent", id: pinned.id, version: 1 }, { type: "self" }],
        },
        workflows: { type: "enabled", predefined_agents: [{ type: "agent", id: worker.id }] },
      },
    });
    expect(lead.multiagent).toEqual({
      type: "multiagent_20261001",
      advisor: DISABLED,
      subagents: {
        type: "enabled",
        inline_agents: DISABLED,
        predefined_agents: [
          { type: "agent", id: worker.id, version: 2 },
          { type: "agent", id: pinned.id, version: 1 },
          { type: "agent", id: lead.id, version: 1 },
        ],
      },
      workflows: {
        type: "enabled",
        inline_agents: ENABLED,
        predefined_agents: [{ type: "agent", id: worker.id, version: 2 }],
      },
    });
  });

  it("refuses what the SDK rules out, naming the field", async () => {
    const worker = await basic("leaf");
    const nested = await basic("nested", { multiagent: { type: "multiagent_20261001" } });
    const cases: Array<[Anthropic.Beta.Agents.AgentCreateParams["multiagent"], RegExp]> = [
      // at most 20 predefined agents
      [
        {
          type: "multiagent_20261001",
          subagents: {
            type: "enabled",
            predefined_agents: Array.from({ length: 21 }, () => ({ type: "self" })),
          },
        },
        /multiagent\.subagents\.predefined_agents/,
      ],
      // depth limit 1
      [
        { type: "multiagent_20261001", subagents: { type: "enabled", predefined_agents: [nested.id] } },
        new RegExp(`${nested.id}.*one level deep`),
      ],
      // distinct agents
      [
        {
          type: "multiagent_20261001",
          workflows: { type: "enabled", predefined_agents: [worker.id, worker.id] },
        },
        /multiagent\.workflows\.predefined_agents\.1/,
      ],
      // inline agents disabled: at least one predefined agent
      [
        { type: "multiagent_20261001", subagents: { type: "enabled", inline_agents: DISABLED } },
        /multiagent\.subagents\.predefined_agents: must name at least one agent when inline_agents is disabled/,
      ],
      // an enabled advisor needs its model, and must be permitted for the agent's model
      [{ type: "multiagent_20261001", advisor: { type: "enabled" } as never }, /multiagent\.advisor\.model/],
      [
        { type: "multiagent_20261001", advisor: { type: "enabled", model: "claude-haiku-4-5" } },
        /multiagent\.advisor\.model: claude-haiku-4-5 is not permitted as an advisor/,
      ],
      // every object sent needs its type
      [{ type: "multiagent_20261001", workflows: {} as never }, /multiagent\.workflows/],
    ];
    for (const [multiagent, pattern] of cases) {
      const error = await rejection(basic("bad", { multiagent }), Anthropic.BadRequestError);
      expect(messageOf(error)).toMatch(pattern);
    }
    const missing = await rejection(
      basic("lost", {
        multiagent: {
          type: "multiagent_20261001",
          subagents: { type: "enabled", predefined_agents: ["agent_doesnotexist"] },
        },
      }),
      Anthropic.NotFoundError,
    );
    expect(messageOf(missing)).toContain("agent_doesnotexist");
  });

  it("merges an update level by level: omitted keeps, null defaults, another type replaces, a sent list replaces", async () => {
    const [a, b] = await Promise.all([basic("a"), basic("b")]);
    const agent = await basic("merging", {
      multiagent: {
        type: "multiagent_20261001",
        advisor: { type: "enabled", model: "claude-opus-4-8" },
        subagents: { type: "enabled", inline_agents: DISABLED, predefined_agents: [a.id] },
        workflows: DISABLED,
      },
    });
    const update = (multiagent: Anthropic.Beta.Agents.AgentUpdateParams["multiagent"], version: number) =>
      h.client.beta.agents.update(agent.id, { version, multiagent });

    // A sent predefined_agents list replaces the stored list; inline_agents, advisor, workflows keep.
    const v2 = await update(
      { type: "multiagent_20261001", subagents: { type: "enabled", predefined_agents: [b.id] } },
      1,
    );
    expect(v2.version).toBe(2);
    expect(v2.multiagent).toEqual({
      type: "multiagent_20261001",
      advisor: { type: "enabled", model: "claude-opus-4-8" },
      subagents: {
        type: "enabled",
        inline_agents: DISABLED,
        predefined_agents: [{ type: "agent", id: b.id, version: 1 }],
      },
      workflows: DISABLED,
    });
    // null takes the default ("workflows": null enables workflows; advisor: null disables it).
    const v3 = await update({ type: "multiagent_20261001", workflows: null, advisor: null }, 2);
    expect((v3.multiagent as Multiagent).workflows).toEqual({
      type: "enabled",
      inline_agents: ENABLED,
      predefined_agents: [],
    });
    expect((v3.multiagent as Multiagent).advisor).toEqual(DISABLED);
    expect((v3.multiagent as Multiagent).subagents).toEqual(
      v2.multiagent && (v2.multiagent as Multiagent).subagents,
    );
    // An object of another type replaces the stored one; what it omits takes its default.
    const v4 = await update({ type: "multiagent_20261001", subagents: DISABLED }, 3);
    expect((v4.multiagent as Multiagent).subagents).toEqual(DISABLED);
    const v5 = await update({ type: "multiagent_20261001", subagents: ENABLED }, 4);
    expect((v5.multiagent as Multiagent).subagents).toEqual({
      type: "enabled",
      inline_agents: ENABLED,
      predefined_agents: [],
    });
    // The same configuration again changes nothing (no new version).
    const same = await update({ type: "multiagent_20261001" }, 5);
    expect(same.version).toBe(5);
    // Validation applies to the merged result.
    const error = await rejection(
      update({ type: "multiagent_20261001", subagents: { type: "enabled", inline_agents: DISABLED } }, 5),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toMatch(
      /multiagent\.subagents\.predefined_agents: must name at least one agent/,
    );
    // A coordinator replaces it outright; null clears it.
    const coordinator = await update({ type: "coordinator", agents: [a.id] }, 5);
    expect(coordinator.multiagent).toEqual({
      type: "coordinator",
      agents: [{ type: "agent", id: a.id, version: 1 }],
    });
    const cleared = await update(null, 6);
    expect(cleared.multiagent).toBeNull();
    // Old versions keep what they had.
    const old = await h.client.beta.agents.retrieve(agent.id, { version: 2 });
    expect(old.multiagent).toEqual(v2.multiagent);
  });
});

describe("sessions with multiagent_20261001", () => {
  it("start, with the configuration resolved and pinned: predefined agents copied as full definitions", async () => {
    const { environmentId } = await h.setup();
    const worker = await basic("pinned worker", {
      system: "v1",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const lead = await basic("pinning lead", {
      system: "LEAD",
      multiagent: {
        type: "multiagent_20261001",
        advisor: { type: "enabled", model: "claude-opus-4-8" },
        subagents: { type: "enabled", predefined_agents: [worker.id, { type: "self" }] },
        workflows: DISABLED,
      },
    });
    const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
    // A later change to the predefined agent does not reach the session.
    await h.client.beta.agents.update(worker.id, { version: 1, system: "v2" });
    const retrieved = await h.client.beta.sessions.retrieve(session.id);
    const multiagent = retrieved.agent
      .multiagent as Anthropic.Beta.Sessions.BetaManagedAgentsSessionMultiagent20261001;
    expect(multiagent.type).toBe("multiagent_20261001");
    expect(multiagent.advisor).toEqual({ type: "enabled", model: "claude-opus-4-8" });
    expect(multiagent.workflows).toEqual(DISABLED);
    const subagents =
      multiagent.subagents as Anthropic.Beta.Sessions.BetaManagedAgentsSessionMultiagentSubagentsEnabled;
    expect(subagents.inline_agents).toEqual(ENABLED);
    expect(subagents.predefined_agents).toEqual([
      expect.objectContaining({
        type: "agent",
        id: worker.id,
        version: 1,
        name: "pinned worker",
        system: "v1",
      }),
      expect.objectContaining({
        type: "agent",
        id: lead.id,
        version: 1,
        name: "pinning lead",
        system: "LEAD",
      }),
    ]);
    expect(subagents.predefined_agents[0]?.tools).toEqual(worker.tools);
    expect(retrieved).toEqual({ ...session, ...pick(retrieved, ["stats", "usage", "updated_at", "status"]) });
  });
});

function pick<T extends object>(value: T, keys: Array<keyof T>): Partial<T> {
  return Object.fromEntries(keys.map((k) => [k, value[k]])) as Partial<T>;
}

const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");
const lastUser = (r: ReceivedRequest) => r.body.messages.at(-1);
const toolResultsOf = (r: ReceivedRequest) =>
  ((lastUser(r)?.content ?? []) as Anthropic.Messages.ToolResultBlockParam[]).filter(
    (b) => b.type === "tool_result",
  );
const resultText = (b: Anthropic.Messages.ToolResultBlockParam | undefined) =>
  Array.isArray(b?.content)
    ? b.content.map((x) => (x.type === "text" ? x.text : "")).join("")
    : String(b?.content);
const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });

describe("self_hosted environments", () => {
  it("run an advisor-only multiagent_20261001 session, and refuse one whose threads the worker could not serve", async () => {
    const env = await h.client.beta.environments.create({ name: "runner", config: { type: "self_hosted" } });
    const advisorOnly = await basic("advised worker-run", {
      multiagent: {
        type: "multiagent_20261001",
        advisor: { type: "enabled", model: "claude-opus-4-8" },
        subagents: DISABLED,
        workflows: DISABLED,
      },
    });
    const session = await h.client.beta.sessions.create({ agent: advisorOnly.id, environment_id: env.id });
    expect(session.agent.multiagent?.type).toBe("multiagent_20261001");
    const withThreads = await basic("delegating worker-run", { multiagent: { type: "multiagent_20261001" } });
    const error = await rejection(
      h.client.beta.sessions.create({ agent: withThreads.id, environment_id: env.id }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toMatch(/multiagent.*subagents or workflows enabled.*self_hosted/);
  });
});

describe("the advisor", () => {
  it("answers an advisor call with one call to the advisor model over the conversation, counted in usage", async () => {
    const { environmentId } = await h.setup();
    const lead = await basic("advised", {
      model: "claude-sonnet-4-6",
      system: "ADVISED",
      tools: [{ type: "agent_toolset_20260401" }],
      multiagent: {
        type: "multiagent_20261001",
        advisor: { type: "enabled", model: "claude-opus-4-8" },
        subagents: DISABLED,
        workflows: DISABLED,
      },
    });
    h.upstream.reset();
    h.upstream.fallback = (r) => {
      if (r.body.model === "claude-opus-4-8")
        return {
          content: "PLAN: check the inputs first, then write the report.",
          usage: { input_tokens: 900, output_tokens: 40 },
        };
      if (toolResultsOf(r).length > 0) return { content: "following the advice" };
      return {
        stop_reason: "tool_use",
        content: [
          { type: "tool_use", name: "advisor", input: { question: "how should I approach the report?" } },
        ],
      };
    };
    const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [say("write the quarterly report")] });
    const done = await h.waitIdle(session.id);

    // The agent was offered the advisor tool; the advisor was called exactly once, on its own model,
    // with the conversation so far (as text: it has no tools) and the agent's question.
    const agentCalls = h.upstream.received.filter((r) => systemOf(r) === "ADVISED");
    expect(agentCalls[0]?.body.tools?.map((t) => (t as { name: string }).name)).toContain("advisor");
    const advisorCalls = h.upstream.received.filter((r) => r.body.model === "claude-opus-4-8");
    expect(advisorCalls).toHaveLength(1);
    const prompt = JSON.stringify(advisorCalls[0]?.body.messages);
    expect(prompt).toContain("write the quarterly report");
    expect(prompt).toContain("how should I approach the report?");
    expect(advisorCalls[0]?.body.tools).toBeUndefined();
    // The advice came back as the tool's result.
    const results = toolResultsOf(agentCalls.at(-1) as ReceivedRequest);
    expect(results).toHaveLength(1);
    expect(results[0]?.is_error).toBeFalsy();
    expect(resultText(results[0])).toBe("PLAN: check the inputs first, then write the report.");

    // The consultation is an anthropic.advisor thread on the primary stream…
    const events = await h.allEvents(session.id);
    const advisorEvents = events.filter(
      (e) =>
        ("agent_name" in e && e.agent_name === "anthropic.advisor") ||
        (e.type === "agent.thread_message_received" && e.from_agent_name === "anthropic.advisor"),
    );
    expect(advisorEvents.map((e) => e.type)).toEqual([
      "session.thread_created",
      "session.thread_status_running",
      "agent.thread_message_received",
      "session.thread_status_idle",
      "session.thread_status_terminated",
    ]);
    // …listed with the advisor form of agent, its usage the advisor call's.
    const threads: Anthropic.Beta.Sessions.Threads.BetaManagedAgentsSessionThread[] = [];
    for await (const t of h.client.beta.sessions.threads.list(session.id)) threads.push(t);
    expect(threads).toHaveLength(1);
    expect(threads[0]?.agent).toEqual({ type: "advisor", model: "claude-opus-4-8" });
    expect(threads[0]?.status).toBe("terminated");
    expect(threads[0]?.usage?.input_tokens).toBe(900);
    expect(threads[0]?.usage?.output_tokens).toBe(40);
    const advisorLog: Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent[] = [];
    for await (const e of h.client.beta.sessions.threads.events.list(threads[0]?.id as string, {
      session_id: session.id,
    }))
      advisorLog.push(e);
    expect(advisorLog.map((e) => e.type)).toEqual([
      "user.message",
      "span.model_request_start",
      "span.model_request_end",
      "agent.message",
    ]);
    expect(advisorLog[2]).toMatchObject({ model_usage: { input_tokens: 900, output_tokens: 40 } });
    // The session's usage counts the advisor's tokens with its own.
    expect(agentCalls).toHaveLength(2);
    expect(done.usage.input_tokens).toBeGreaterThanOrEqual(900 + 2);
    expect(done.usage.output_tokens).toBeGreaterThanOrEqual(40);
  });

  it("is offered only when enabled, and a failed consultation does not fail the turn", async () => {
    const { environmentId } = await h.setup();
    const plain = await basic("unadvised", {
      system: "UNADVISED",
      multiagent: { type: "multiagent_20261001", subagents: DISABLED, workflows: DISABLED },
    });
    const advised = await basic("advised-failing", {
      system: "FAILING",
      multiagent: {
        type: "multiagent_20261001",
        advisor: { type: "enabled", model: "claude-opus-4-8" },
        subagents: DISABLED,
        workflows: DISABLED,
      },
    });
    h.upstream.reset();
    h.upstream.fallback = (r): MockResponse => {
      if (r.body.model === "claude-opus-4-8") return { fault: 529, message: "advisor overloaded" };
      if (toolResultsOf(r).length > 0 || systemOf(r) === "UNADVISED") return { content: "done" };
      return { stop_reason: "tool_use", content: [{ type: "tool_use", name: "advisor", input: {} }] };
    };
    const s1 = await h.client.beta.sessions.create({ agent: plain.id, environment_id: environmentId });
    await h.client.beta.sessions.events.send(s1.id, { events: [say("hi")] });
    await h.waitIdle(s1.id);
    const unadvised = h.upstream.received.find((r) => systemOf(r) === "UNADVISED");
    expect((unadvised?.body.tools ?? []).map((t) => (t as { name: string }).name)).not.toContain("advisor");

    const s2 = await h.client.beta.sessions.create({ agent: advised.id, environment_id: environmentId });
    await h.client.beta.sessions.events.send(s2.id, { events: [say("hi")] });
    const idle = await h.waitIdle(s2.id);
    const last = h.upstream.received.filter((r) => systemOf(r) === "FAILING").at(-1) as ReceivedRequest;
    const [result] = toolResultsOf(last);
    expect(result?.is_error).toBe(true);
    expect(resultText(result)).toMatch(/advisor could not be consulted/);
    const events = await h.allEvents(s2.id);
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    expect(events.some((e) => e.type === "session.error")).toBe(false);
    expect(idle.status).toBe("idle");
  });
});

describe("subagents", () => {
  type Tool = { name: string; input: unknown };
  let leadNext: Tool[] = [];
  const toolNames = (r: ReceivedRequest | undefined) =>
    (r?.body.tools ?? []).map((t) => (t as { name: string }).name);

  function script() {
    h.upstream.reset();
    h.upstream.fallback = (r) => {
      const system = systemOf(r);
      if (system === "LEAD") {
        if (toolResultsOf(r).length > 0 && leadNext.length === 0) return { content: "summary done" };
        const calls = leadNext;
        leadNext = [];
        return {
          stop_reason: "tool_use",
          content: calls.map((c) => ({ type: "tool_use" as const, name: c.name, input: c.input })),
        };
      }
      if (system === "WORKER alpha") return { content: "alpha did it" };
      if (system.startsWith("INLINE"))
        return { content: `${system.slice(7)} did it (turn ${r.body.messages.length})` };
      return { content: "?" };
    };
  }

  it("spawns a predefined and an inline subagent in one turn, through the threads API and fan-out", async () => {
    const { environmentId } = await h.setup();
    const worker = await basic("alpha", {
      model: "claude-haiku-4-5",
      system: "WORKER alpha",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const lead = await basic("lead", {
      system: "LEAD",
      tools: [{ type: "agent_toolset_20260401", configs: [{ name: "web_fetch", enabled: false }] }],
      multiagent: {
        type: "multiagent_20261001",
        subagents: { type: "enabled", predefined_agents: [worker.id] },
        workflows: DISABLED,
      },
    });
    script();
    const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
    leadNext = [
      { name: "list_agents", input: {} },
      { name: "send_to_agent", input: { agent_name: "alpha", message: "task A" } },
      {
        name: "send_to_agent",
        input: {
          agent: {
            name: "scout",
            model: "claude-haiku-4-5",
            system: "INLINE scout",
            tools: ["read", "grep"],
          },
          message: "task B",
        },
      },
      // Refused: a tool the lead does not have (web_fetch is disabled for it).
      { name: "send_to_agent", input: { agent: { tools: ["web_fetch"] }, message: "task C" } },
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("split the work")] });
    await h.waitIdle(session.id);

    const leadCalls = h.upstream.received.filter((r) => systemOf(r) === "LEAD");
    expect(leadCalls).toHaveLength(2);
    // The lead was offered the delegation tools; send_to_agent takes an inline agent.
    expect(toolNames(leadCalls[0])).toEqual(expect.arrayContaining(["list_agents", "send_to_agent"]));
    const send = leadCalls[0]?.body.tools?.find(
      (t) => (t as { name: string }).name === "send_to_agent",
    ) as Anthropic.Messages.Tool;
    expect(Object.keys((send.input_schema as { properties: object }).properties)).toContain("agent");
    // Four results, one per call (matched by tool_use id): the listing, two replies, one refusal.
    const calls = (leadCalls[1]?.body.messages.at(-2)?.content ??
      []) as Anthropic.Messages.ToolUseBlockParam[];
    const all = toolResultsOf(leadCalls[1] as ReceivedRequest);
    const results = calls.map((c) => all.find((b) => b.tool_use_id === c.id));
    expect(results.map((b) => b?.is_error ?? false)).toEqual([false, false, false, true]);
    expect(JSON.parse(resultText(results[0]))).toEqual([
      { name: "alpha", id: worker.id, version: 1, description: null, model: "claude-haiku-4-5" },
    ]);
    expect(resultText(results[1])).toBe("alpha did it");
    expect(resultText(results[2])).toBe("scout did it (turn 1)");
    expect(resultText(results[3])).toMatch(/"web_fetch" is not among them/);
    // The inline agent ran with its own model and system prompt, and only the tools it was given.
    const inlineCall = h.upstream.received.find((r) => systemOf(r) === "INLINE scout") as ReceivedRequest;
    expect(inlineCall.body.model).toBe("claude-haiku-4-5");
    expect(toolNames(inlineCall).sort()).toEqual(["grep", "read"]);
    const workerCall = h.upstream.received.find((r) => systemOf(r) === "WORKER alpha") as ReceivedRequest;
    expect(toolNames(workerCall)).toEqual(expect.arrayContaining(["read", "write", "web_fetch"]));

    // Same threads API and events as a coordinator's threads.
    const threads: Anthropic.Beta.Sessions.Threads.BetaManagedAgentsSessionThread[] = [];
    for await (const t of h.client.beta.sessions.threads.list(session.id)) threads.push(t);
    expect(threads).toHaveLength(2);
    const predefined = threads.find((t) => t.agent.type === "agent");
    const inline = threads.find((t) => t.agent.type === "inline");
    expect(predefined?.agent).toMatchObject({ id: worker.id, version: 1, name: "alpha" });
    expect(inline?.agent).toMatchObject({ type: "inline", name: "scout", system: "INLINE scout" });
    expect(inline?.agent).not.toHaveProperty("id");
    expect(inline?.status).toBe("idle");
    expect(inline?.usage?.output_tokens).toBeGreaterThan(0);
    const events = await h.allEvents(session.id);
    for (const type of [
      "session.thread_created",
      "agent.thread_message_sent",
      "session.thread_status_running",
      "session.thread_status_idle",
      "agent.thread_message_received",
    ])
      expect(events.filter((e) => e.type === type).length, type).toBe(2);
    const own: string[] = [];
    for await (const e of h.client.beta.sessions.threads.events.list(inline?.id as string, {
      session_id: session.id,
    }))
      own.push(e.type);
    expect(own).toEqual(expect.arrayContaining(["user.message", "agent.message", "session.status_idle"]));

    // A follow-up reaches the inline thread, which kept its history.
    leadNext = [{ name: "send_to_agent", input: { thread_id: inline?.id, message: "one more thing" } }];
    await h.client.beta.sessions.events.send(session.id, { events: [say("follow up")] });
    await h.waitIdle(session.id);
    const followUp = toolResultsOf(
      h.upstream.received.filter((r) => systemOf(r) === "LEAD").at(-1) as ReceivedRequest,
    );
    expect(resultText(followUp[0])).toBe("scout did it (turn 3)");
  });

  it("isolates failures: an inline subagent whose upstream fails is an error result, its sibling's reply is kept", async () => {
    const { environmentId } = await h.setup();
    const worker = await basic("alpha", { model: "claude-haiku-4-5", system: "WORKER alpha" });
    const lead = await basic("isolating lead", {
      system: "LEAD",
      tools: [{ type: "agent_toolset_20260401" }],
      multiagent: {
        type: "multiagent_20261001",
        subagents: { type: "enabled", predefined_agents: [worker.id] },
        workflows: DISABLED,
      },
    });
    script();
    const base = h.upstream.fallback;
    h.upstream.fallback = (r): MockResponse =>
      systemOf(r) === "INLINE broken"
        ? { fault: 400, message: "bad request upstream" }
        : (base as (r: ReceivedRequest) => MockResponse)(r);
    const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
    leadNext = [
      { name: "send_to_agent", input: { agent_name: "alpha", message: "task A" } },
      {
        name: "send_to_agent",
        input: { agent: { name: "broken", system: "INLINE broken" }, message: "task B" },
      },
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    const last = h.upstream.received.filter((r) => systemOf(r) === "LEAD").at(-1) as ReceivedRequest;
    const results = toolResultsOf(last);
    expect(results).toHaveLength(2);
    const ok = results.find((b) => !b.is_error);
    const failed = results.find((b) => b.is_error);
    expect(resultText(ok)).toBe("alpha did it");
    expect(resultText(failed)).toMatch(/broken.*gave no result/);
    const threads: Anthropic.Beta.Sessions.Threads.BetaManagedAgentsSessionThread[] = [];
    for await (const t of h.client.beta.sessions.threads.list(session.id)) threads.push(t);
    expect(threads.map((t) => t.status).sort()).toEqual(["idle", "idle"]);
  });

  it("refuses inline agents when they are disabled, and offers no delegation when subagents are", async () => {
    const { environmentId } = await h.setup();
    const worker = await basic("alpha", { system: "WORKER alpha" });
    const lead = await basic("strict lead", {
      system: "LEAD",
      multiagent: {
        type: "multiagent_20261001",
        subagents: { type: "enabled", inline_agents: DISABLED, predefined_agents: [worker.id] },
        workflows: DISABLED,
      },
    });
    script();
    const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
    leadNext = [{ name: "send_to_agent", input: { agent: { system: "INLINE x" }, message: "task" } }];
    await h.client.beta.sessions.events.send(session.id, { events: [say("go")] });
    await h.waitIdle(session.id);
    const leadCalls = h.upstream.received.filter((r) => systemOf(r) === "LEAD");
    const send = leadCalls[0]?.body.tools?.find(
      (t) => (t as { name: string }).name === "send_to_agent",
    ) as Anthropic.Messages.Tool;
    expect(Object.keys((send.input_schema as { properties: object }).properties)).not.toContain("agent");
    const [refused] = toolResultsOf(leadCalls[1] as ReceivedRequest);
    expect(refused?.is_error).toBe(true);
    expect(resultText(refused)).toMatch(/Inline agents are disabled/);
    expect(h.upstream.received.some((r) => systemOf(r).startsWith("INLINE"))).toBe(false);

    const solo = await basic("solo", {
      system: "LEAD",
      multiagent: { type: "multiagent_20261001", subagents: DISABLED, workflows: DISABLED },
    });
    script();
    const s2 = await h.client.beta.sessions.create({ agent: solo.id, environment_id: environmentId });
    await h.client.beta.sessions.events.send(s2.id, { events: [say("go")] });
    await h.waitIdle(s2.id);
    expect(toolNames(h.upstream.received[0])).not.toContain("send_to_agent");
  });
});
