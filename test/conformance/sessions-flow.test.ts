/**
 * A session end to end through the official SDK against the embedded stack, with a real HTTP mock
 * of the Messages API as the upstream model.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.reset());

const text = (s: string) => ({
  type: "user.message" as const,
  content: [{ type: "text" as const, text: s }],
});

describe("session turn", () => {
  it("answers a message with text, usage and the expected event sequence", async () => {
    const { agentId, environmentId } = await h.setup();
    h.upstream.script(mockText("Hello from the model"));
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      title: "t1",
    });
    expect(session.id).toMatch(/^sesn_/);
    expect(session.status).toBe("idle");
    expect(session.agent.id).toBe(agentId);

    await h.client.beta.sessions.events.send(session.id, { events: [text("hi")] });
    const done = await h.waitIdle(session.id);
    const events = await h.allEvents(session.id);
    expect(events.map((e) => e.type)).toEqual([
      "user.message",
      "session.status_running",
      "span.model_request_start",
      "agent.message",
      "span.model_request_end",
      "session.usage",
      "session.status_idle",
    ]);
    const idle = events.at(-1) as Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionStatusIdleEvent;
    expect(idle.stop_reason).toEqual({ type: "end_turn" });
    expect((events[3] as { content: unknown }).content).toEqual([
      { type: "text", text: "Hello from the model" },
    ]);
    expect(done.usage.input_tokens).toBeGreaterThan(0);
    expect(done.usage.output_tokens).toBeGreaterThan(0);

    // The upstream saw the system prompt and tools with cache breakpoints on the stable prefix.
    const request = h.upstream.requests[0] as Anthropic.Messages.MessageCreateParams;
    expect(request.system).toEqual([
      { type: "text", text: "You are a careful test agent.", cache_control: { type: "ephemeral" } },
    ]);
    expect(request.tools?.at(-1)).toMatchObject({ cache_control: { type: "ephemeral" } });
    expect(request.tools?.map((t) => (t as { name: string }).name).sort()).toEqual([
      "bash",
      "edit",
      "glob",
      "grep",
      "read",
      "web_fetch",
      "write",
    ]);
    expect(request.messages).toEqual([{ role: "user", content: [{ type: "text", text: "hi" }] }]);
  });

  it("runs builtin tools: write then read in the session workspace", async () => {
    const { agentId, environmentId } = await h.setup();
    h.upstream.script(
      mockToolUse("write", { file_path: "notes/a.txt", content: "alpha\nbeta\n" }),
      mockToolUse("read", { file_path: "/workspace/notes/a.txt" }),
      mockToolUse("read", { file_path: "../../etc/passwd" }),
      mockText("done"),
    );
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("write and read")] });
    await h.waitIdle(session.id);
    const events = await h.allEvents(session.id);
    const results = events.filter(
      (e) => e.type === "agent.tool_result",
    ) as Anthropic.Beta.Sessions.Events.BetaManagedAgentsAgentToolResultEvent[];
    expect(results).toHaveLength(3);
    expect(results[0]?.is_error).toBe(false);
    expect(JSON.stringify(results[1]?.content)).toContain("alpha");
    expect(results[2]?.is_error).toBe(true);
    const toolUses = events.filter((e) => e.type === "agent.tool_use");
    expect(results.map((r) => r.tool_use_id)).toEqual(toolUses.map((t) => t.id));
    for (const use of toolUses) expect(use.evaluation).toEqual({ type: "always_allow" });
    // The model got the read result back as a tool_result for its own tool_use id.
    const last = h.upstream.requests.at(-1) as Anthropic.Messages.MessageCreateParams;
    const lastUser = last.messages.at(-1) as { content: Array<{ type: string; is_error?: boolean }> };
    expect(lastUser.content[0]).toMatchObject({ type: "tool_result", is_error: true });
  });

  it("round-trips a custom tool through requires_action", async () => {
    const { agentId, environmentId } = await h.setup({
      tools: [
        {
          type: "custom",
          name: "lookup_order",
          description: "Looks up an order",
          input_schema: { type: "object", properties: { id: { type: "string" } }, required: ["id"] },
        },
      ],
    });
    h.upstream.script(mockToolUse("lookup_order", { id: "42" }), mockText("Order 42 shipped"));
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("where is order 42?")] });
    await h.waitIdle(session.id);
    let events = await h.allEvents(session.id);
    const use = events.find(
      (e) => e.type === "agent.custom_tool_use",
    ) as Anthropic.Beta.Sessions.Events.BetaManagedAgentsAgentCustomToolUseEvent;
    expect(use.input).toEqual({ id: "42" });
    const idle = events.at(-1) as Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionStatusIdleEvent;
    expect(idle.stop_reason).toEqual({ type: "requires_action", event_ids: [use.id] });

    await expect(
      h.client.beta.sessions.events.send(session.id, {
        events: [
          {
            type: "user.custom_tool_result",
            custom_tool_use_id: "sevt_unknown",
            content: [{ type: "text", text: "x" }],
          },
        ],
      }),
    ).rejects.toBeInstanceOf(Anthropic.ConflictError);

    await h.client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.custom_tool_result",
          custom_tool_use_id: use.id,
          content: [{ type: "text", text: "shipped" }],
        },
      ],
    });
    await h.waitIdle(session.id);
    events = await h.allEvents(session.id);
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    const followUp = h.upstream.requests.at(-1) as Anthropic.Messages.MessageCreateParams;
    expect(JSON.stringify(followUp.messages.at(-1))).toContain("shipped");
  });

  it("stops the turn on user.interrupt", async () => {
    const { agentId, environmentId } = await h.setup();
    h.upstream.delayMs = 400;
    h.upstream.script(mockToolUse("write", { file_path: "x.txt", content: "1" }), mockText("never reached"));
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, { events: [text("go")] });
    await h.upstream.waitForRequests(1);
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    h.upstream.delayMs = 0;
    await h.waitIdle(session.id);
    const events = await h.allEvents(session.id);
    expect(events.at(-1)).toMatchObject({ type: "session.status_idle", stop_reason: { type: "end_turn" } });
    expect(h.upstream.requests).toHaveLength(1);
  });

  it("streams events live over SSE and resumes with Last-Event-ID", async () => {
    const { agentId, environmentId } = await h.setup();
    h.upstream.script(mockToolUse("write", { file_path: "s.txt", content: "s" }), mockText("streamed"));
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const stream = await h.client.beta.sessions.events.stream(session.id);
    await h.client.beta.sessions.events.send(session.id, { events: [text("stream please")] });
    const seen: string[] = [];
    for await (const event of stream) {
      seen.push(event.type);
      if (event.type === "session.status_idle") break;
    }
    expect(seen).toEqual([
      "user.message",
      "session.status_running",
      "span.model_request_start",
      "agent.tool_use",
      "span.model_request_end",
      "agent.tool_result",
      "span.model_request_start",
      "agent.message",
      "span.model_request_end",
      "session.usage",
      "session.status_idle",
    ]);
    // A reconnecting client names the last event it saw and gets only what followed.
    const resumed = await fetch(`${h.stack.url}/v1/sessions/${session.id}/events/stream`, {
      headers: { "x-api-key": h.stack.apiKey, "last-event-id": "9" },
    });
    const reader = resumed.body?.getReader();
    let body = "";
    while (!body.includes("session.status_idle"))
      body += new TextDecoder().decode((await reader?.read())?.value);
    await reader?.cancel();
    expect(body.match(/^event: (.+)$/gm)).toEqual(["event: session.usage", "event: session.status_idle"]);

    // The event's own id (what the SDK hands out) resumes the same way; an unknown one is a 400.
    const events = await h.allEvents(session.id);
    const ninth = events[8]?.id as string;
    const byId = await fetch(`${h.stack.url}/v1/sessions/${session.id}/events/stream`, {
      headers: { "x-api-key": h.stack.apiKey, "last-event-id": ninth },
    });
    const idReader = byId.body?.getReader();
    let idBody = "";
    while (!idBody.includes("session.status_idle"))
      idBody += new TextDecoder().decode((await idReader?.read())?.value);
    await idReader?.cancel();
    expect(idBody.match(/^event: (.+)$/gm)).toEqual(["event: session.usage", "event: session.status_idle"]);
    const unknown = await fetch(`${h.stack.url}/v1/sessions/${session.id}/events/stream`, {
      headers: { "x-api-key": h.stack.apiKey, "last-event-id": "sevt_unknown" },
    });
    expect(unknown.status).toBe(400);
  });
});
