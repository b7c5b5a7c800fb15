/**
 * Dreams through the official SDK against the embedded stack, with the simulated provider doing
 * both the sessions' work and the dreaming (mechanically), so the before/after is real and offline.
 */

import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import { INSTRUCTION_PAYLOADS } from "../fixtures/poisoning-payloads.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

let h: Harness;
const sessionIds: string[] = [];

/** A memory store holding `files`, made through the SDK. */
async function seedStore(files: Record<string, string>): Promise<string> {
  const store = await h.client.beta.memoryStores.create({ name: `dream-input-${Date.now()}` });
  for (const [path, content] of Object.entries(files)) {
    await h.client.beta.memoryStores.memories.create(store.id, { path, content });
  }
  return store.id;
}

/** Every memory of a store (path → content and id), read back through the SDK. */
async function contents(storeId: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const item of h.client.beta.memoryStores.memories.list(storeId, { view: "full" })) {
    if (item.type !== "memory") continue;
    const full = await h.client.beta.memoryStores.memories.retrieve(item.id, { memory_store_id: storeId });
    out[full.path] = full.content ?? "";
  }
  return Object.fromEntries(Object.entries(out).sort());
}

async function memoryIdAt(storeId: string, path: string): Promise<string> {
  for await (const item of h.client.beta.memoryStores.memories.list(storeId)) {
    if (item.type === "memory" && item.path === path) return item.id;
  }
  throw new Error(`no memory at ${path}`);
}

const storeFiles = {
  "/notes/build.md": "Run npm test before pushing.\n",
  "/notes/build-again.md": "Run npm test before pushing.\n",
  "/notes/people.md": "Ada owns the billing service.\n",
};

beforeAll(async () => {
  h = await startHarness({ model: new SimulatedModel() });
  const { agentId, environmentId } = await h.setup();
  for (const n of [1, 2, 3]) {
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.message",
          content: [
            {
              type: "text",
              text: `write "note ${n}" to notes${n}.md then read missing${n}.md then read notes${n}.md. Always run the linter before committing.`,
            },
          ],
        },
      ],
    });
    await h.waitIdle(session.id);
    sessionIds.push(session.id);
  }
});
afterAll(async () => h.close());

async function waitDream(id: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const dream = await h.client.beta.dreams.retrieve(id);
    if (dream.status === "completed" || dream.status === "failed" || dream.status === "canceled")
      return dream;
    if (Date.now() > deadline) throw new Error(`dream ${id} still ${dream.status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const inputs = (storeId: string, ids = sessionIds): Anthropic.Beta.Dreams.DreamCreateParams["inputs"] => [
  { type: "memory_store", memory_store_id: storeId },
  { type: "sessions", session_ids: ids },
];

describe("dreams through the SDK", () => {
  it("create → completed: outputs name a new store, the input store is byte-for-byte unchanged", async () => {
    const input = await seedStore(storeFiles);
    const before = JSON.stringify(await contents(input));
    const created = await h.client.beta.dreams.create({
      inputs: inputs(input),
      model: "claude-sonnet-4-6",
    });
    expect(created).toMatchObject({
      type: "dream",
      status: "pending",
      outputs: [],
      model: { id: "claude-sonnet-4-6" },
    });
    expect(created.id).toMatch(/^drm_/);
    expect(created.output_behavior).toEqual({ type: "create_new" });
    const done = await waitDream(created.id);
    expect(done.status).toBe("completed");
    const output = done.outputs[0]?.memory_store_id as string;
    expect(output).toMatch(/^memstore_/);
    expect(output).not.toBe(input);
    expect(JSON.stringify(await contents(input))).toBe(before);
    const after = await contents(output);
    expect(Object.keys(after)).toEqual(expect.arrayContaining(["/notes/build-again.md", "/notes/people.md"]));
    expect(Object.keys(after)).not.toContain("/notes/build.md");
    const notes = Object.keys(after).filter((p) => p.startsWith("/dreams/"));
    expect(notes.some((p) => p.startsWith("/dreams/recurring-errors/read-"))).toBe(true);
    expect(notes.some((p) => p.startsWith("/dreams/preferences/"))).toBe(true);
    expect(done.usage.input_tokens).toBeGreaterThan(0);

    // The output store is an ordinary memory store; a note's version names the dream and its evidence.
    expect((await h.client.beta.memoryStores.retrieve(output)).name).toContain(created.id);
    const notePath = notes.find((p) => p.startsWith("/dreams/preferences/")) as string;
    const noteId = await memoryIdAt(output, notePath);
    const versions = await h.client.get(`/v1/memory_stores/${output}/memory_versions`, {
      query: { memory_id: noteId },
    });
    const provenance = (versions as { data: Array<{ reverie?: { dream_id: string; citations: string[] } }> })
      .data[0]?.reverie;
    expect(provenance?.dream_id).toBe(created.id);
    expect(provenance?.citations.join(" ")).toContain(`${sessionIds[0]}#`);

    // The dream's session is a session like any other: retrievable, with a readable event log.
    const session = await h.client.beta.sessions.retrieve(done.session_id as string);
    expect(session.status).toBe("idle");
    const events = await h.allEvents(session.id);
    expect(events.at(-1)?.type).toBe("session.status_idle");
  });

  it("update_existing writes into the input store", async () => {
    const input = await seedStore(storeFiles);
    const created = await h.client.beta.dreams.create({
      inputs: inputs(input),
      model: { id: "claude-sonnet-4-6", speed: "standard" },
      instructions: "Focus on recurring errors.",
      output_behavior: { type: "update_existing", memory_store_id: input },
    });
    const done = await waitDream(created.id);
    expect(done).toMatchObject({ status: "completed", instructions: "Focus on recurring errors." });
    expect(done.outputs).toEqual([{ type: "memory_store", memory_store_id: input }]);
    expect(Object.keys(await contents(input)).some((p) => p.startsWith("/dreams/"))).toBe(true);
  });

  it("cancels and archives; lists with filters", async () => {
    const input = await seedStore(storeFiles);
    const a = await h.client.beta.dreams.create({ inputs: inputs(input), model: "claude-sonnet-4-6" });
    // The simulated dreamer may finish first (test/unit/dreams/dreams-flow.test.ts cancels a running
    // dream deterministically): then cancel is the documented 400 for a completed dream.
    const canceled = await h.client.beta.dreams.cancel(a.id).catch((error: unknown) => {
      if (
        error instanceof Anthropic.BadRequestError &&
        /is completed and cannot be canceled/.test(error.message)
      )
        return { status: "completed" as const };
      throw error;
    });
    expect(["canceled", "completed"]).toContain(canceled.status);
    const ended = await waitDream(a.id);
    const archived = await h.client.beta.dreams.archive(a.id);
    expect(archived.archived_at).not.toBeNull();
    const listed: string[] = [];
    for await (const d of h.client.beta.dreams.list()) listed.push(d.id);
    expect(listed).not.toContain(a.id);
    const all: string[] = [];
    for await (const d of h.client.beta.dreams.list({ include_archived: true, statuses: [ended.status] }))
      all.push(d.id);
    expect(all).toContain(a.id);
  });

  it("leaves dreams' sessions out of sessions.list unless asked for", async () => {
    const input = await seedStore(storeFiles);
    const created = await h.client.beta.dreams.create({ inputs: inputs(input), model: "claude-sonnet-4-6" });
    const sessionId = (await waitDream(created.id)).session_id as string;
    const ids = async (query: Record<string, unknown>) => {
      const out: string[] = [];
      for await (const s of h.client.beta.sessions.list(query)) out.push(s.id);
      return out;
    };
    const plain = await ids({});
    expect(plain).not.toContain(sessionId);
    expect(plain).toEqual(expect.arrayContaining(sessionIds));
    expect(await ids({ agent_id: "agent_reverie_dreamer" })).toContain(sessionId);
    const all = await ids({ include_dream_sessions: true });
    expect(all).toContain(sessionId);
    expect(all).toEqual(expect.arrayContaining(sessionIds));
    const dreamSession = await h.client.beta.sessions.retrieve(sessionId);
    expect(dreamSession.metadata).toMatchObject({ reverie_dream_id: created.id });
  });

  it("refuses user events to a dream's session (cancel the dream instead)", async () => {
    const input = await seedStore(storeFiles);
    const created = await h.client.beta.dreams.create({ inputs: inputs(input), model: "claude-sonnet-4-6" });
    const done = await waitDream(created.id);
    const sessionId = done.session_id as string;
    for (const event of [
      { type: "user.message" as const, content: [{ type: "text" as const, text: "hi" }] },
      { type: "user.interrupt" as const },
    ]) {
      const error = await rejection(
        h.client.beta.sessions.events.send(sessionId, { events: [event] }),
        Anthropic.BadRequestError,
      );
      expect(messageOf(error)).toMatch(/belongs to dream .*cancel the dream/);
    }
    expect((await h.client.beta.sessions.retrieve(sessionId)).status).toBe("idle");
  });

  it("returns the documented errors", async () => {
    const input = await seedStore(storeFiles);
    await rejection(
      h.client.beta.dreams.create({
        inputs: [{ type: "memory_store", memory_store_id: input }],
        model: "m",
      }),
      Anthropic.BadRequestError,
    );
    await rejection(
      h.client.beta.dreams.create({
        inputs: inputs(input),
        model: "m",
        instructions: "x".repeat(4097),
      }),
      Anthropic.BadRequestError,
    );
    await rejection(
      h.client.beta.dreams.create({ inputs: inputs(input, Array(101).fill("sesn_x")), model: "m" }),
      Anthropic.BadRequestError,
    );
    await rejection(
      h.client.beta.dreams.create({ inputs: inputs("memstore_nope"), model: "m" }),
      Anthropic.NotFoundError,
    );
    await rejection(h.client.beta.dreams.retrieve("drm_nope"), Anthropic.NotFoundError);
    const ue = { type: "update_existing" as const, memory_store_id: input };
    const first = await h.client.beta.dreams.create({
      inputs: inputs(input),
      model: "m",
      output_behavior: ue,
    });
    const second = h.client.beta.dreams.create({
      inputs: inputs(input),
      model: "m",
      output_behavior: ue,
    });
    const status = await second.then(
      () => "created",
      (e) => (e as { status?: number }).status,
    );
    // The first may already have finished on a fast machine; then the second is allowed.
    const firstNow = await h.client.beta.dreams.retrieve(first.id);
    if (firstNow.status === "pending" || firstNow.status === "running") expect(status).toBe(409);
    await waitDream(first.id);
    const done = await h.client.beta.dreams.retrieve(first.id);
    await rejection(h.client.beta.dreams.cancel(done.id), Anthropic.BadRequestError);
  });

  it("review: changes with evidence, partial apply, a concurrent edit is a conflict and nothing is lost", async () => {
    const input = await seedStore(storeFiles);
    const created = await h.client.beta.dreams.create({
      inputs: inputs(input),
      model: "claude-sonnet-4-6",
    });
    await waitDream(created.id);
    const changes = (await h.client.get(`/v1/dreams/${created.id}/changes`)) as {
      data: Array<{ path: string; change: string; evidence: Array<{ session_id: string }>; diff: string }>;
    };
    const note = changes.data.find((c) => c.path.startsWith("/dreams/preferences/"));
    expect(note?.evidence.length).toBeGreaterThanOrEqual(2);
    expect(note?.diff).toContain("+# User preference");
    const merged = changes.data.find((c) => c.path === "/notes/build.md");
    expect(merged?.change).toBe("deleted");
    // A concurrent edit while the dream waits for review.
    await h.client.beta.memoryStores.memories.update(await memoryIdAt(input, "/notes/build.md"), {
      memory_store_id: input,
      content: "Run npm test and lint before pushing.\n",
    });
    const applied = (await h.client.post(`/v1/dreams/${created.id}/apply`, {
      body: { paths: [note?.path, "/notes/build.md"] },
    })) as { results: Array<{ path: string; outcome: string }> };
    expect(applied.results).toEqual([
      { path: note?.path, outcome: "applied" },
      { path: "/notes/build.md", outcome: "conflict" },
    ]);
    const live = await contents(input);
    expect(live["/notes/build.md"]).toBe("Run npm test and lint before pushing.\n");
    expect(live[note?.path as string]).toContain("User preference");
    expect(live["/notes/build-again.md"]).toBe(storeFiles["/notes/build-again.md"]);
  });
});

describe("dreams: poisoning through the SDK", () => {
  const injections = INSTRUCTION_PAYLOADS.slice(0, 20);

  /** A session whose custom tool fails with `error` (untrusted tool output), then works on a retry. */
  async function poisonedSession(agentId: string, environmentId: string, error: string): Promise<string> {
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.message",
          content: [
            { type: "text", text: 'call probe with {"attempt":1} then call probe with {"attempt":2}' },
          ],
        },
      ],
    });
    for (const [i, answer] of [
      { is_error: true, text: error },
      { is_error: false, text: "ok" },
    ].entries()) {
      await h.waitIdle(session.id);
      const uses = (await h.allEvents(session.id)).filter((e) => e.type === "agent.custom_tool_use");
      const use = uses[i];
      if (!use) throw new Error(`session ${session.id}: no custom tool use #${i + 1}`);
      await h.client.beta.sessions.events.send(session.id, {
        events: [
          {
            type: "user.custom_tool_result",
            custom_tool_use_id: use.id,
            is_error: answer.is_error,
            content: [{ type: "text", text: answer.text }],
          },
        ],
      });
    }
    await h.waitIdle(session.id);
    return session.id;
  }

  it(`none of ${injections.length} instruction-like tool outputs in the sessions reaches live memory unreviewed`, async () => {
    const { agentId, environmentId } = await h.setup({
      tools: [{ type: "custom", name: "probe", description: "probes", input_schema: { type: "object" } }],
    });
    const sessions: string[] = [];
    for (const injection of injections) {
      for (let k = 0; k < 2; k++) sessions.push(await poisonedSession(agentId, environmentId, injection));
    }
    const input = await seedStore(storeFiles);
    // update_existing in auto mode: the only way a dream writes live memory without a reviewer.
    const created = await h.client.beta.dreams.create({
      inputs: inputs(input, sessions),
      model: "claude-sonnet-4-6",
      output_behavior: { type: "update_existing", memory_store_id: input },
    });
    expect((await waitDream(created.id)).status).toBe("completed");
    const live = Object.values(await contents(input)).join("\n");
    const reached = injections.filter((text) => live.includes(text));
    console.log(
      `poisoning cases through the SDK: ${injections.length}, reached live memory unreviewed: ${reached.length}`,
    );
    expect(reached).toEqual([]);
    const changes = (await h.client.get(`/v1/dreams/${created.id}/changes`)) as {
      data: Array<{ change: string }>;
      review: { state: string };
    };
    expect(changes.data.filter((c) => c.change === "quarantined")).toHaveLength(injections.length);
    expect(changes.review.state).toBe("pending");
  }, 120_000);
});
