/**
 * Memory stores mounted into sessions, through the official SDK and a scripted upstream model:
 * `resources[]` at creation and the session resources endpoints, the system-prompt note, reads
 * through `/mnt/memory/<name>/`, writes refused on `read_only` (tool error, nothing changes) and
 * accepted on `read_write`, attributed to the session and to the `agent.tool_use` event (Reverie).
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;
type MemoryResource = Anthropic.Beta.Sessions.BetaManagedAgentsMemoryStoreResource & { id: string };
type Version = Anthropic.Beta.MemoryStores.BetaManagedAgentsMemoryVersion & {
  reverie: { tool_use_event_id: string | null; tainted: boolean };
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.reset());

const say = (s: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text: s }] });

async function toolResults(sessionId: string) {
  const events = await h.allEvents(sessionId);
  const uses = events.filter((e) => e.type === "agent.tool_use") as Array<
    Extract<Event, { type: "agent.tool_use" }>
  >;
  const results = events.filter((e) => e.type === "agent.tool_result") as Array<
    Extract<Event, { type: "agent.tool_result" }>
  >;
  return { uses, results, text: (i: number) => JSON.stringify(results[i]?.content) };
}

describe("memory mounts", () => {
  it("attaches stores at creation, lists them as session resources and describes them in the system prompt", async () => {
    const { agentId, environmentId } = await h.setup();
    const prefs = await h.client.beta.memoryStores.create({
      name: "User Preferences",
      description: "What the user likes",
    });
    const facts = await h.client.beta.memoryStores.create({ name: "user preferences!" });
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      resources: [
        { type: "memory_store", memory_store_id: prefs.id, instructions: "Check before answering." },
        { type: "memory_store", memory_store_id: facts.id, access: "read_only" },
      ],
    });
    const [a, b] = session.resources as MemoryResource[];
    expect(a).toMatchObject({
      type: "memory_store",
      memory_store_id: prefs.id,
      access: "read_write",
      instructions: "Check before answering.",
      name: "User Preferences",
      description: "What the user likes",
      mount_path: "/mnt/memory/user-preferences",
    });
    expect(b).toMatchObject({ access: "read_only", mount_path: "/mnt/memory/user-preferences-2" });

    const listed = [];
    for await (const r of h.client.beta.sessions.resources.list(session.id)) listed.push(r);
    expect(listed).toEqual(session.resources);
    const one = await h.client.beta.sessions.resources.retrieve((b as MemoryResource).id, {
      session_id: session.id,
    });
    expect(one).toEqual(b);
    const sessions = await h.client.beta.sessions.list({ memory_store_id: facts.id });
    expect(sessions.data.map((s) => s.id)).toEqual([session.id]);

    h.upstream.script(mockText("noted"));
    await h.client.beta.sessions.events.send(session.id, { events: [say("hi")] });
    await h.waitIdle(session.id);
    const system = h.upstream.requests[0]?.system as Anthropic.Messages.TextBlockParam[];
    expect(system).toHaveLength(2);
    expect(system[0]?.cache_control).toBeUndefined();
    expect(system[1]?.cache_control).toEqual({ type: "ephemeral" });
    expect(system[1]?.text).toContain("/mnt/memory/user-preferences/ — User Preferences (read-write)");
    expect(system[1]?.text).toContain("Description: What the user likes");
    expect(system[1]?.text).toContain("Instructions: Check before answering.");
    expect(system[1]?.text).toContain("/mnt/memory/user-preferences-2/ — user preferences! (read-only");

    // detaching unmounts
    await h.client.beta.sessions.resources.delete((b as MemoryResource).id, { session_id: session.id });
    expect((await h.client.beta.sessions.retrieve(session.id)).resources).toHaveLength(1);
    await rejection(
      h.client.beta.sessions.resources.retrieve((b as MemoryResource).id, { session_id: session.id }),
      Anthropic.NotFoundError,
    );
  });

  it("rejects bad resources: unknown, archived or repeated stores, more than 8, missing files", async () => {
    const { agentId, environmentId } = await h.setup();
    const create = (resources: Anthropic.Beta.Sessions.SessionCreateParams["resources"]) =>
      h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, resources });
    await rejection(
      create([{ type: "memory_store", memory_store_id: "memstore_nope" }]),
      Anthropic.BadRequestError,
    );
    const archived = await h.client.beta.memoryStores.create({ name: "old" });
    await h.client.beta.memoryStores.archive(archived.id);
    await rejection(
      create([{ type: "memory_store", memory_store_id: archived.id }]),
      Anthropic.BadRequestError,
    );
    const store = await h.client.beta.memoryStores.create({ name: "one" });
    await rejection(
      create([
        { type: "memory_store", memory_store_id: store.id },
        { type: "memory_store", memory_store_id: store.id },
      ]),
      Anthropic.BadRequestError,
    );
    const nine = [];
    for (let i = 0; i < 9; i++) nine.push(await h.client.beta.memoryStores.create({ name: `s${i}` }));
    const tooMany = await rejection(
      create(nine.map((s) => ({ type: "memory_store" as const, memory_store_id: s.id }))),
      Anthropic.BadRequestError,
    );
    expect(messageOf(tooMany)).toMatch(/at most 8 memory stores/);
    await create(nine.slice(0, 8).map((s) => ({ type: "memory_store" as const, memory_store_id: s.id })));
    const file = await rejection(create([{ type: "file", file_id: "file_x" }]), Anthropic.BadRequestError);
    expect(messageOf(file)).toMatch(/file file_x not found/);
    await rejection(
      create([{ type: "memory_store", memory_store_id: store.id, instructions: "x".repeat(4097) }]),
      Anthropic.BadRequestError,
    );

    const session = await create([{ type: "memory_store", memory_store_id: store.id }]);
    await rejection(
      h.client.beta.sessions.resources.add(session.id, { type: "file", file_id: "file_x" }),
      Anthropic.NotFoundError,
    );
    const [resource] = session.resources as MemoryResource[];
    await rejection(
      h.client.beta.sessions.resources.update((resource as MemoryResource).id, {
        session_id: session.id,
        authorization_token: "t",
      }),
      Anthropic.BadRequestError,
    );
  });

  it("reads through the mount, refuses writes on read_only and attributes read_write writes to the session and its tool use", async () => {
    const { agentId, environmentId } = await h.setup();
    const shared = await h.client.beta.memoryStores.create({ name: "Team Facts" });
    const mine = await h.client.beta.memoryStores.create({ name: "Scratch" });
    await h.client.beta.memoryStores.memories.create(shared.id, {
      path: "/deploy.md",
      content: "deploy on fridays: no\n",
    });
    await h.client.beta.memoryStores.memories.create(mine.id, {
      path: "/todo.md",
      content: "- write tests\n",
    });
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      resources: [
        { type: "memory_store", memory_store_id: shared.id, access: "read_only" },
        { type: "memory_store", memory_store_id: mine.id },
      ],
    });

    h.upstream.script(
      mockToolUse("read", { file_path: "/mnt/memory/team-facts/deploy.md" }),
      mockToolUse("grep", { pattern: "tests", path: "/mnt/memory/scratch" }),
      mockToolUse("glob", { pattern: "**/*.md", path: "/mnt/memory/team-facts" }),
      mockToolUse("write", { file_path: "/mnt/memory/team-facts/deploy.md", content: "deploy any day" }),
      mockToolUse("edit", {
        file_path: "/mnt/memory/team-facts/deploy.md",
        old_string: "no",
        new_string: "yes",
      }),
      mockToolUse("edit", {
        file_path: "/mnt/memory/scratch/todo.md",
        old_string: "write tests",
        new_string: "write more tests",
      }),
      mockToolUse("write", {
        file_path: "/mnt/memory/scratch/notes/new.md",
        content: "learned: mounts work",
      }),
      mockText("done"),
    );
    await h.client.beta.sessions.events.send(session.id, { events: [say("use your memory")] });
    await h.waitIdle(session.id);
    const { uses, results, text } = await toolResults(session.id);
    expect(results).toHaveLength(7);
    expect(results[0]?.is_error).toBe(false);
    expect(text(0)).toContain("deploy on fridays: no");
    expect(text(1)).toContain("/mnt/memory/scratch/todo.md:1:- write tests");
    expect(text(2)).toContain("/mnt/memory/team-facts/deploy.md");
    for (const i of [3, 4]) {
      expect(results[i]?.is_error).toBe(true);
      expect(text(i)).toContain("read-only");
    }
    expect(results[5]?.is_error).toBe(false);
    expect(results[6]?.is_error).toBe(false);

    // read_only: nothing changed
    const sharedList = await h.client.beta.memoryStores.memories.list(shared.id, { view: "full" });
    expect(sharedList.data.map((m) => (m as { content: string }).content)).toEqual([
      "deploy on fridays: no\n",
    ]);
    const sharedVersions = await h.client.beta.memoryStores.memoryVersions.list(shared.id);
    expect(sharedVersions.data).toHaveLength(1);

    // read_write: changed, attributed to the session and the tool use that wrote it
    const mineList = await h.client.beta.memoryStores.memories.list(mine.id, { view: "full" });
    expect(mineList.data.map((m) => [m.path, (m as { content: string }).content])).toEqual([
      ["/notes/new.md", "learned: mounts work"],
      ["/todo.md", "- write more tests\n"],
    ]);
    const bySession = [];
    for await (const v of h.client.beta.memoryStores.memoryVersions.list(mine.id, { session_id: session.id }))
      bySession.push(v as Version);
    expect(bySession.map((v) => [v.operation, v.path])).toEqual([
      ["created", "/notes/new.md"],
      ["modified", "/todo.md"],
    ]);
    for (const v of bySession)
      expect(v.created_by).toEqual({ type: "session_actor", session_id: session.id });
    expect(bySession[1]?.reverie.tool_use_event_id).toBe(uses[5]?.id);
    expect(bySession[0]?.reverie.tool_use_event_id).toBe(uses[6]?.id);
    // only memory was read before these writes: nothing untrusted entered the context
    expect(bySession.every((v) => v.reverie.tainted === false)).toBe(true);
  });
});
