/**
 * File resources on sessions through the official SDK and a scripted upstream model: a file uploaded
 * with `files.upload` and mounted at creation is read by the `read` tool; `resources.add` / list /
 * retrieve / delete on a running session (a retried add returns the same resource, a detached file
 * under /mnt/session is gone from the next tool call on); missing, foreign and badly placed files,
 * archived sessions.
 */
import Anthropic, { toFile } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;
type FileResource = Anthropic.Beta.Sessions.BetaManagedAgentsFileResource;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.reset());

const say = (s: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text: s }] });

async function upload(name: string, content: string | Uint8Array, type = "text/plain") {
  const bytes = typeof content === "string" ? Buffer.from(content) : content;
  return h.client.beta.files.upload({ file: await toFile(bytes, name, { type }) });
}

async function results(sessionId: string) {
  const events = await h.allEvents(sessionId);
  return (
    events.filter((e) => e.type === "agent.tool_result") as Array<
      Extract<Event, { type: "agent.tool_result" }>
    >
  ).map((r) => ({ isError: r.is_error, text: JSON.stringify(r.content) }));
}

describe("session file resources", () => {
  it("mounts an uploaded file at creation; the read tool returns its content", async () => {
    const { agentId, environmentId } = await h.setup();
    const csv = await upload("data.csv", "region,revenue\nemea,42\n", "text/csv");
    const notes = await upload("notes.md", "# Notes\nremember the milk\n");
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      resources: [
        { type: "file", file_id: csv.id, mount_path: "/workspace/data.csv" },
        { type: "file", file_id: notes.id },
      ],
    });
    const [a, b] = session.resources as FileResource[];
    expect(a).toMatchObject({ type: "file", file_id: csv.id, mount_path: "/workspace/data.csv" });
    expect(a?.id).toMatch(/^sesrsc_/);
    expect(a?.created_at).toBe(a?.updated_at);
    expect(b).toMatchObject({
      type: "file",
      file_id: notes.id,
      mount_path: `/mnt/session/uploads/${notes.id}`,
    });

    // The original upload may go away: the session has its own copies.
    await h.client.beta.files.delete(csv.id);

    h.upstream.script(
      mockToolUse("read", { file_path: "/workspace/data.csv" }),
      mockToolUse("read", { file_path: `/mnt/session/uploads/${notes.id}` }),
      mockToolUse("write", { file_path: `/mnt/session/uploads/${notes.id}`, content: "overwritten" }),
      mockToolUse("edit", { file_path: "data.csv", old_string: "42", new_string: "43" }),
      mockToolUse("glob", { pattern: "**/*", path: "/workspace" }),
      mockText("done"),
    );
    await h.client.beta.sessions.events.send(session.id, { events: [say("look at the files")] });
    await h.waitIdle(session.id);
    const r = await results(session.id);
    expect(r).toHaveLength(5);
    expect(r[0]?.isError).toBe(false);
    expect(r[0]?.text).toContain("emea,42");
    expect(r[1]?.isError).toBe(false);
    expect(r[1]?.text).toContain("remember the milk");
    // /mnt/session is read-only; the /workspace copy is the agent's to edit
    expect(r[2]?.isError).toBe(true);
    expect(r[2]?.text).toContain("read-only");
    expect(r[3]?.isError).toBe(false);
    // the /mnt/session copies are not part of the workspace
    expect(r[4]?.text).toContain("/workspace/data.csv");
    expect(r[4]?.text).not.toContain(notes.id);
    // the tool result of the read reached the upstream model
    const last = JSON.stringify(h.upstream.requests.at(-1)?.messages);
    expect(last).toContain("remember the milk");
  });

  it("adds, lists, retrieves and deletes files on a running session; a retried add does not duplicate", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const late = await upload("late.txt", "arrived late\n");
    const added = await h.client.beta.sessions.resources.add(session.id, { type: "file", file_id: late.id });
    expect(added).toMatchObject({
      type: "file",
      file_id: late.id,
      mount_path: `/mnt/session/uploads/${late.id}`,
    });
    const again = await h.client.beta.sessions.resources.add(session.id, { type: "file", file_id: late.id });
    expect(again).toEqual(added);
    const elsewhere = await h.client.beta.sessions.resources.add(session.id, {
      type: "file",
      file_id: late.id,
      mount_path: "/mnt/session/inbox/late.txt",
    });
    expect(elsewhere.id).not.toBe(added.id);

    const listed = [];
    for await (const r of h.client.beta.sessions.resources.list(session.id)) listed.push(r);
    expect(listed.map((r) => (r as FileResource).id)).toEqual([added.id, elsewhere.id]);
    expect(await h.client.beta.sessions.resources.retrieve(added.id, { session_id: session.id })).toEqual(
      added,
    );

    h.upstream.script(mockToolUse("read", { file_path: `/mnt/session/uploads/${late.id}` }), mockText("ok"));
    await h.client.beta.sessions.events.send(session.id, { events: [say("read it")] });
    await h.waitIdle(session.id);
    expect((await results(session.id))[0]?.text).toContain("arrived late");

    const deleted = await h.client.beta.sessions.resources.delete(added.id, { session_id: session.id });
    expect(deleted).toEqual({ id: added.id, type: "session_resource_deleted" });
    await rejection(
      h.client.beta.sessions.resources.retrieve(added.id, { session_id: session.id }),
      Anthropic.NotFoundError,
    );
    h.upstream.script(
      mockToolUse("read", { file_path: `/mnt/session/uploads/${late.id}` }),
      mockToolUse("read", { file_path: "/mnt/session/inbox/late.txt" }),
      mockText("ok"),
    );
    await h.client.beta.sessions.events.send(session.id, { events: [say("read it again")] });
    await h.waitIdle(session.id);
    const r = await results(session.id);
    expect(r[1]?.isError).toBe(true);
    expect(r[2]?.isError).toBe(false);
    expect(r[2]?.text).toContain("arrived late");
  });

  it("rejects missing, foreign, binary and badly placed files", async () => {
    const { agentId, environmentId } = await h.setup();
    const create = (resources: Anthropic.Beta.Sessions.SessionCreateParams["resources"]) =>
      h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId, resources });
    const missing = await rejection(
      create([{ type: "file", file_id: "file_nope" }]),
      Anthropic.BadRequestError,
    );
    expect(messageOf(missing)).toMatch(/file file_nope not found/);
    const text = await upload("a.txt", "a");
    for (const mount_path of ["/etc/passwd", "/mnt/memory/x/a.txt", "/workspace", "/workspace/../../x"]) {
      const bad = await rejection(
        create([{ type: "file", file_id: text.id, mount_path }]),
        Anthropic.BadRequestError,
      );
      expect(messageOf(bad)).toMatch(/mount_path/);
    }
    await rejection(
      create([
        { type: "file", file_id: text.id, mount_path: "/workspace/a.txt" },
        { type: "file", file_id: text.id, mount_path: "a.txt" },
      ]),
      Anthropic.BadRequestError,
    );
    const binary = await upload("b.bin", new Uint8Array([0xff, 0xfe, 0x00]), "application/octet-stream");
    const notText = await rejection(
      create([{ type: "file", file_id: binary.id }]),
      Anthropic.BadRequestError,
    );
    expect(messageOf(notText)).toMatch(/not UTF-8 text/);

    const session = await create([{ type: "file", file_id: text.id, mount_path: "a.txt" }]);
    expect((session.resources[0] as FileResource).mount_path).toBe("/workspace/a.txt");
    await rejection(
      h.client.beta.sessions.resources.add(session.id, { type: "file", file_id: "file_nope" }),
      Anthropic.NotFoundError,
    );
    const other = await upload("b.txt", "b");
    await rejection(
      h.client.beta.sessions.resources.add(session.id, {
        type: "file",
        file_id: other.id,
        mount_path: "/workspace/a.txt",
      }),
      Anthropic.BadRequestError,
    );
    await rejection(
      h.client.beta.sessions.resources.add("sesn_nope", { type: "file", file_id: text.id }),
      Anthropic.NotFoundError,
    );
    const archived = await create([]);
    await h.client.beta.sessions.archive(archived.id);
    await rejection(
      h.client.beta.sessions.resources.add(archived.id, { type: "file", file_id: text.id }),
      Anthropic.BadRequestError,
    );

    // another workspace's file is as unknown as a missing one
    const otherKey = "sk-ant-rev-other-workspace-files-0123456789";
    await h.stack.services.apiKeys.register(otherKey, {
      workspaceId: "wrkspc_files_other",
      apiKeyId: "apikey_fo",
    });
    const foreign = new Anthropic({ baseURL: h.stack.url, apiKey: otherKey, maxRetries: 0 });
    const theirs = await foreign.beta.files.upload({ file: await toFile(Buffer.from("theirs"), "t.txt") });
    await rejection(
      h.client.beta.sessions.resources.add(session.id, { type: "file", file_id: theirs.id }),
      Anthropic.NotFoundError,
    );
    await rejection(create([{ type: "file", file_id: theirs.id }]), Anthropic.BadRequestError);
  });
});
