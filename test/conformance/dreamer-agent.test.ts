/**
 * The agentic dreamer through the official SDK, against the embedded stack and a real HTTP upstream:
 * a dream is a session of the built-in dreamer on the step loop, whose structured answer comes only
 * through a tool call, bounded by a budget, with least privilege — and the input store is unchanged,
 * byte for byte, in every case.
 */
import { createHash } from "node:crypto";
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simulatedDreamerTurn } from "../../shared/adapters/model/simulated-dreamer.js";
import { DREAMER_MARKER } from "../../shared/core/dreams/dreamer-agent.js";
import type { ModelRequest } from "../../shared/core/ports.js";
import type { MockResponse, MockStep, ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { schemaFollowingStep } from "../fixtures/schema-following-upstream.js";

const isDreamer = (r: ReceivedRequest) => JSON.stringify(r.body.system ?? "").includes(DREAMER_MARKER);
const dreamerRequests = (h: Harness) => h.upstream.received.filter(isDreamer);

/** The dreamer's behaviour for the next dream; everything else answers "ok". */
let dreamer: (request: ReceivedRequest) => MockResponse = () => mockText("done");
const upstream: MockStep = (request) => (isDreamer(request) ? dreamer(request) : mockText("ok"));

/** The simulated dreamer, speaking through the upstream (ids left for the server to fill). */
const simulated = (request: ReceivedRequest): MockResponse => ({
  content: simulatedDreamerTurn(request.body as unknown as ModelRequest, "[dreamer]").map((b) =>
    b.type === "tool_use" ? { type: "tool_use" as const, name: b.name, input: b.input } : b,
  ),
});

async function seedStore(h: Harness, files: Record<string, string>): Promise<string> {
  const store = await h.client.beta.memoryStores.create({ name: `dreamer-input-${Date.now()}` });
  const entries = Object.entries(files);
  for (let i = 0; i < entries.length; i += 25) {
    await Promise.all(
      entries
        .slice(i, i + 25)
        .map(([path, content]) => h.client.beta.memoryStores.memories.create(store.id, { path, content })),
    );
  }
  return store.id;
}

/** Every memory of a store: path, content and its sha256, as the SDK reads them. */
async function snapshot(h: Harness, storeId: string): Promise<string> {
  const out: Array<[string, string, string]> = [];
  for await (const item of h.client.beta.memoryStores.memories.list(storeId, { view: "full" })) {
    if (item.type !== "memory") continue;
    const content = (item as { content?: string | null }).content ?? "";
    out.push([item.path, content, createHash("sha256").update(content).digest("hex")]);
  }
  return JSON.stringify(out.sort(([a], [b]) => (a < b ? -1 : 1)));
}

async function pastSessions(h: Harness, texts: string[]): Promise<string[]> {
  const { agentId, environmentId } = await h.setup();
  const ids: string[] = [];
  for (const text of texts) {
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text }] }],
    });
    await h.waitIdle(session.id);
    ids.push(session.id);
  }
  return ids;
}

async function dreamOver(h: Harness, storeId: string, sessionIds: string[], timeoutMs = 60_000) {
  const created = await h.client.beta.dreams.create({
    inputs: [
      { type: "memory_store", memory_store_id: storeId },
      { type: "sessions", session_ids: sessionIds },
    ],
    model: "claude-sonnet-4-6",
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await h.client.beta.dreams.retrieve(created.id);
    if (d.status === "completed" || d.status === "failed" || d.status === "canceled") return d;
    if (Date.now() > deadline) throw new Error(`dream ${d.id} still ${d.status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const toolUses = (events: Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent[]) =>
  events.flatMap((e) => (e.type === "agent.tool_use" ? [e] : []));
const resultOf = (events: Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent[], useId: string) =>
  events.find((e) => e.type === "agent.tool_result" && e.tool_use_id === useId) as
    | { is_error?: boolean | null; content?: Array<{ type: string; text?: string }> }
    | undefined;
const textOf = (r: { content?: Array<{ type: string; text?: string }> } | undefined) =>
  (r?.content ?? []).map((c) => c.text ?? "").join("");

describe("the agentic dreamer through the SDK", () => {
  let h: Harness;
  let sessions: string[];

  beforeAll(async () => {
    h = await startHarness({ env: { REVERIE_DREAM_MAX_STEPS: "30" } });
    h.upstream.fallback = upstream;
    sessions = await pastSessions(h, [
      "Always run the linter before committing.",
      "Always run the linter first.",
    ]);
  }, 60_000);
  afterAll(async () => h.close());

  it("completes with an upstream that answers every tool-offering request with a schema-valid tool call", async () => {
    const storeId = await seedStore(h, { "/notes/a.md": "Alpha.\n", "/notes/b.md": "Beta.\n" });
    const before = await snapshot(h, storeId);
    dreamer = schemaFollowingStep;
    const done = await dreamOver(h, storeId, sessions);
    expect(done.status).toBe("completed");
    expect(done.usage.input_tokens).toBeGreaterThan(0);
    // Its session is a session like any other, showing the dreamer's own tool calls.
    const events = await h.allEvents(done.session_id as string);
    const names = new Set(toolUses(events).map((e) => e.name));
    for (const name of [
      "list_dream_sessions",
      "read_session_events",
      "search_dream_sessions",
      "finish_dream",
    ])
      expect(names).toContain(name);
    expect(events.at(-1)?.type).toBe("session.status_idle");
    expect(await snapshot(h, storeId)).toBe(before);
  });

  it("dreams a 1,500-memory store file by file, without input_memory_store_too_large", {
    timeout: 120_000,
  }, async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 1500; i++) files[`/bulk/m${String(i).padStart(4, "0")}.md`] = `Fact number ${i}.\n`;
    const storeId = await seedStore(h, files);
    const before = await snapshot(h, storeId);
    dreamer = simulated;
    const done = await dreamOver(h, storeId, sessions, 90_000);
    expect(done.error).toBeNull();
    expect(done.status).toBe("completed");
    const output = done.outputs[0]?.memory_store_id as string;
    let count = 0;
    for await (const item of h.client.beta.memoryStores.memories.list(output))
      if (item.type === "memory") count++;
    expect(count).toBeGreaterThanOrEqual(1500);
    // The store never travelled whole: no dreamer request carried every memory.
    const largest = Math.max(...dreamerRequests(h).map((r) => JSON.stringify(r.body).length));
    expect(largest).toBeLessThan(Object.values(files).join("").length + 200_000);
    expect(await snapshot(h, storeId)).toBe(before);
  });

  it("answers a malformed finish_dream with its validation error, retries, then fails saying why", async () => {
    const storeId = await seedStore(h, { "/a.md": "Alpha.\n" });
    const before = await snapshot(h, storeId);
    h.upstream.reset();
    h.upstream.fallback = upstream;
    dreamer = () => mockToolUse("finish_dream", { summary: "", changes: "none" });
    const done = await dreamOver(h, storeId, sessions);
    expect(done.status).toBe("failed");
    expect(done.error?.type).toBe("invalid_dreamer_answer");
    expect(done.error?.message).toMatch(/finish_dream call was malformed 3 times/);
    expect(done.error?.message).toMatch(/summary/);
    const events = await h.allEvents(done.session_id as string);
    const finishes = toolUses(events).filter((e) => e.name === "finish_dream");
    expect(finishes).toHaveLength(3);
    for (const use of finishes) {
      const result = resultOf(events, use.id);
      expect(result?.is_error).toBe(true);
      expect(textOf(result)).toMatch(/invalid finish_dream input: .*summary/);
    }
    // The dreamer's turn ended because its answers ran out, not because of a budget.
    const idles = events.filter((e) => e.type === "session.status_idle") as Array<{
      stop_reason: { type: string };
    }>;
    expect(idles.at(-1)?.stop_reason.type).toBe("retries_exhausted");
    expect(await snapshot(h, storeId)).toBe(before);
  });

  it("asks a dreamer that ended without an answer through a forced finish_dream call, bounded", async () => {
    const storeId = await seedStore(h, { "/a.md": "Alpha.\n" });
    const before = await snapshot(h, storeId);
    h.upstream.reset();
    h.upstream.fallback = upstream;
    dreamer = (r) =>
      (r.body.tool_choice as { name?: string } | undefined)?.name === "finish_dream"
        ? mockToolUse("finish_dream", { changes: [] })
        : mockText("I looked around; nothing to change.");
    const done = await dreamOver(h, storeId, sessions);
    expect(done.status).toBe("failed");
    expect(done.error?.message).toMatch(
      /could not be read after 3 attempts: invalid finish_dream input: summary/,
    );
    const forced = dreamerRequests(h).filter(
      (r) => (r.body.tool_choice as { name?: string } | undefined)?.name === "finish_dream",
    );
    expect(forced).toHaveLength(3);
    // The forced call is the session's own request shape: the same tools and the cached prefix.
    const names = (r: ReceivedRequest | undefined) =>
      (r?.body.tools ?? []).map((t) => ("name" in t ? t.name : ""));
    expect(names(forced[0])).toEqual(names(dreamerRequests(h)[0]));
    expect(JSON.stringify(forced[0]?.body.system)).toContain("ephemeral");
    // Each retry carries the validation error of the call before it.
    expect(JSON.stringify(forced[2]?.body.messages.at(-1))).toMatch(/is_error.*invalid finish_dream input/);
    expect(await snapshot(h, storeId)).toBe(before);

    // The same forced call, answered well, completes the dream.
    dreamer = (r) =>
      (r.body.tool_choice as { name?: string } | undefined)?.name === "finish_dream"
        ? mockToolUse("finish_dream", { summary: "Nothing to change.", changes: [] })
        : mockText("Nothing to change.");
    expect((await dreamOver(h, storeId, sessions)).status).toBe("completed");
  });

  it("least privilege: no session outside its inputs, no write to the input store, no fetch, no shell", async () => {
    const storeId = await seedStore(h, { "/a.md": "Alpha.\n" });
    const before = await snapshot(h, storeId);
    const [outsider] = await pastSessions(h, ["SECRET-OUTSIDER-TEXT is in this session only."]);
    h.upstream.reset();
    h.upstream.fallback = upstream;
    const plan: Array<[string, unknown]> = [
      ["read_session_events", { session_id: outsider }],
      ["search_dream_sessions", { query: "SECRET", session_ids: [outsider] }],
      ["write", { file_path: "/mnt/memory/input/a.md", content: "overwritten" }],
      ["edit", { file_path: "/mnt/memory/input/a.md", old_string: "Alpha", new_string: "Omega" }],
      ["delete_memory", { path: "/mnt/memory/input/a.md" }],
      ["web_fetch", { url: "https://example.com/" }],
      ["bash", { command: "curl https://example.com" }],
      ["finish_dream", { summary: "tried everything", changes: [] }],
    ];
    dreamer = (r) => {
      const done = r.body.messages.filter((m) => m.role === "assistant").length;
      const step = plan[done];
      return step ? mockToolUse(step[0], step[1]) : mockText("done");
    };
    const done = await dreamOver(h, storeId, sessions);
    expect(done.status).toBe("completed");
    const events = await h.allEvents(done.session_id as string);
    const uses = toolUses(events);
    const result = (name: string) => resultOf(events, uses.find((u) => u.name === name)?.id ?? "");
    expect(textOf(result("read_session_events"))).toMatch(/not one of this dream's sessions/);
    expect(textOf(result("search_dream_sessions"))).toMatch(/not this dream's sessions/);
    expect(textOf(result("write"))).toMatch(/read-only/);
    expect(textOf(result("edit"))).toMatch(/read-only/);
    for (const name of ["read_session_events", "search_dream_sessions", "write", "edit", "web_fetch", "bash"])
      expect(result(name)?.is_error).toBe(true);
    // No fetch, no shell: neither is offered, and a call of either is refused.
    const offered = (dreamerRequests(h)[0]?.body.tools ?? []).map((t) => ("name" in t ? t.name : ""));
    expect(offered).not.toContain("web_fetch");
    expect(offered).not.toContain("bash");
    // Nothing of the outside session reached the dreamer.
    expect(JSON.stringify(dreamerRequests(h).map((r) => r.body.messages))).not.toContain(
      "SECRET-OUTSIDER-TEXT",
    );
    expect(await snapshot(h, storeId)).toBe(before);
  });
});

describe("a dream's budget", () => {
  let h: Harness;
  afterAll(async () => h?.close());

  it("ends a dream that spends its budget as failed budget_exceeded, with its usage, nothing written", async () => {
    h = await startHarness({ env: { REVERIE_DREAM_BUDGET_TOKENS: "3000" } });
    h.upstream.fallback = (r) => (isDreamer(r) ? schemaFollowingStep(r) : mockText("ok"));
    const sessions = await pastSessions(h, ["Always lint."]);
    const storeId = await seedStore(h, { "/a.md": "Alpha.\n" });
    const before = await snapshot(h, storeId);
    const done = await dreamOver(h, storeId, sessions);
    expect(done.status).toBe("failed");
    expect(done.error?.type).toBe("budget_exceeded");
    expect(done.error?.message).toMatch(/budget of 3000 tokens/);
    const session = await h.client.beta.sessions.retrieve(done.session_id as string);
    const spent = (session.usage.input_tokens ?? 0) + (session.usage.output_tokens ?? 0);
    expect(spent).toBeGreaterThanOrEqual(3000);
    const idles = (await h.allEvents(done.session_id as string)).filter(
      (e) => e.type === "session.status_idle",
    ) as Array<{ stop_reason: { type: string } }>;
    expect(idles.at(-1)?.stop_reason.type).toBe("budget_reached");
    expect(done.outputs).toEqual([]);
    expect(await snapshot(h, storeId)).toBe(before);
  });
});
