/**
 * Skills in cloud sessions, through the official SDK against the embedded stack with a scripted
 * upstream model: the system prompt the model receives lists each skill (name, description, where its
 * SKILL.md is) in the cached prefix; the model reads SKILL.md with `read` from the read-only
 * `/mnt/skills` mount, cannot write there (file tools and bash alike), runs the skill's script with
 * bash; the session keeps the version pinned at creation when a newer one is uploaded; and a skill the
 * session cannot serve is a 400 at creation.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic, { toFile } from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalogKey } from "../../shared/core/skills/session-skills.js";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Event = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;

let h: Harness;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "reverie-skills-"));
  h = await startHarness({ dataDir });
});
afterAll(async () => {
  await h.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const skillMd = (name: string, body: string) =>
  `---\nname: ${name}\ndescription: Greets people by running its script. Use when asked to greet.\n---\n${body}`;

async function uploadSkill(name: string, body: string) {
  return h.client.beta.skills.create({
    files: [
      await toFile(Buffer.from(skillMd(name, body)), `${name}/SKILL.md`),
      await toFile(Buffer.from("#!/bin/sh\necho hello from the skill\n"), `${name}/scripts/hello.sh`),
      await toFile(new Uint8Array([0xff, 0xfe, 0x00, 0x01]), `${name}/assets/logo.bin`),
    ],
  });
}

async function turn(sessionId: string) {
  await h.client.beta.sessions.events.send(sessionId, {
    events: [{ type: "user.message", content: [{ type: "text", text: "please greet me" }] }],
  });
  await h.waitIdle(sessionId, 60_000);
  const events = await h.allEvents(sessionId);
  return events.filter(
    (e): e is Extract<Event, { type: "agent.tool_result" }> => e.type === "agent.tool_result",
  );
}

const textOf = (r: Extract<Event, { type: "agent.tool_result" }>) =>
  (r.content ?? []).map((b) => (b.type === "text" ? b.text : "")).join("");

describe("skills in a cloud session", () => {
  it("shows the skill in the system prompt, and the model reads its SKILL.md and runs its script from /mnt/skills", async () => {
    const name = `greeter-${Date.now().toString(36)}`;
    const skill = await uploadSkill(
      name,
      "# Greeting\nRun scripts/hello.sh and repeat what it prints. (v1)\n",
    );
    const { environmentId } = await h.setup();
    const agent = await h.client.beta.agents.create({
      name: "skilled",
      model: "claude-sonnet-4-6",
      system: "You are helpful.",
      tools: [{ type: "agent_toolset_20260401" }],
      skills: [{ type: "custom", skill_id: skill.id }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    // The session pins the version that was latest when it was created.
    expect(session.agent.skills).toEqual([
      { type: "custom", skill_id: skill.id, version: skill.latest_version_id },
    ]);
    // A newer version uploaded afterwards does not change what this session sees.
    await h.client.beta.skills.versions.create(skill.id, {
      files: [await toFile(Buffer.from(skillMd(name, "# Greeting (v2)\n")), `${name}/SKILL.md`)],
    });

    const dir = `/mnt/skills/${name}`;
    h.upstream.reset();
    h.upstream.script(
      mockToolUse("read", { file_path: `${dir}/SKILL.md` }),
      mockToolUse("glob", { pattern: "**/*", path: dir }),
      mockToolUse("write", { file_path: `${dir}/SKILL.md`, content: "hijacked" }),
      mockToolUse("bash", { command: `sh ${dir}/scripts/hello.sh; touch ${dir}/new.txt || echo refused` }),
      mockText("hello from the skill"),
    );
    const results = await turn(session.id);
    expect(results).toHaveLength(4);
    const [read, glob, write, bash] = results as [
      (typeof results)[0],
      (typeof results)[0],
      (typeof results)[0],
      (typeof results)[0],
    ];
    expect(read.is_error).toBeFalsy();
    expect(textOf(read)).toContain("Run scripts/hello.sh and repeat what it prints. (v1)");
    expect(textOf(read)).not.toContain("(v2)");
    expect(textOf(glob)).toContain(`${dir}/scripts/hello.sh`);
    // Binary files stay out of the cloud mount (the workspace holds text); a worker gets them.
    expect(textOf(glob)).not.toContain("logo.bin");
    expect(write.is_error).toBe(true);
    expect(textOf(write)).toMatch(/read-only/);
    expect(textOf(bash)).toContain("hello from the skill");
    expect(textOf(bash)).toContain("refused");

    // The model saw the skill in the system prompt, in the block that carries the cache breakpoint.
    const system = h.upstream.requests[0]?.system as Anthropic.Messages.TextBlockParam[];
    expect(system[0]?.text).toBe("You are helpful.");
    const note = system.at(-1);
    expect(note?.cache_control).toEqual({ type: "ephemeral" });
    expect(note?.text).toContain(`## ${name}`);
    expect(note?.text).toContain(
      "Description: Greets people by running its script. Use when asked to greet.",
    );
    expect(note?.text).toContain(`Instructions: ${dir}/SKILL.md`);
    expect(note?.text).toContain("Not available here (binary files): assets/logo.bin");
    // Every later step sends the same prefix, so it is read from cache.
    for (const request of h.upstream.requests) expect(request.system).toEqual(system);

    // Deleting the session removes its skill catalog.
    await h.client.beta.sessions.delete(session.id);
    const { pk, sk } = catalogKey(session.id);
    expect(await h.stack.services.deps.store.get("resources", pk, sk)).toBeUndefined();
  });

  it("refuses at creation a skill the session cannot serve, naming it", async () => {
    const { agentId, environmentId } = await h.setup();
    const anthropic = await rejection(
      h.client.beta.sessions.create({
        environment_id: environmentId,
        agent: {
          type: "agent_with_overrides",
          id: agentId,
          skills: [{ type: "anthropic", skill_id: "pptx" }],
        },
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(anthropic)).toMatch(/agent\.skills\.0: Anthropic's pre-built skills .*"pptx"/);
    const missing = await rejection(
      h.client.beta.sessions.create({
        environment_id: environmentId,
        agent: {
          type: "agent_with_overrides",
          id: agentId,
          skills: [{ type: "custom", skill_id: "skill_01nothere" }],
        },
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(missing)).toMatch(/agent\.skills\.0\.skill_id: skill skill_01nothere not found/);
  });
});
