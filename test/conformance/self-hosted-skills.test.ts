/**
 * Skills on self-hosted environments, served to the official SDK's `EnvironmentWorker`, unchanged, in
 * a child process: the worker's own `setupSkills` downloads the session agent's skills with its
 * sessions token (`skills.versions.retrieve` + `download`) into `skills/<name>/` of its workdir, and
 * the scripted model reads SKILL.md, runs the skill's script (kept executable) and reads its binary
 * asset through the worker. The sessions token reaches exactly the pinned versions its session's agent
 * names: another skill is a 404 and every other skills endpoint a 403.
 */
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic, { toFile } from "@anthropic-ai/sdk";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import {
  createSelfHostedEnvironment,
  spawnEnvironmentWorker,
  toolResultText,
  waitFor,
} from "../fixtures/self-hosted.js";

let h: Harness;
const workers: ChildProcess[] = [];
const cleanup: string[] = [];

beforeAll(async () => {
  h = await startHarness({ env: { REVERIE_WORK_LEASE_SECONDS: "5", REVERIE_WORKER_TIMEOUT_SECONDS: "60" } });
});
afterEach(() => {
  for (const w of workers.splice(0)) w.kill("SIGKILL");
});
afterAll(async () => {
  await h.close();
  for (const path of cleanup) rmSync(path, { recursive: true, force: true });
});

const selfHostedEnvironment = () => createSelfHostedEnvironment(h.client, "skills-worker");

function startWorker(environmentId: string, key: string, workdir: string): ChildProcess {
  const child = spawnEnvironmentWorker({
    baseURL: h.stack.url,
    environmentId,
    key,
    workdir,
    id: "skills-worker",
  });
  workers.push(child);
  return child;
}

const resultText = toolResultText;

async function uploadSkill(name: string) {
  return h.client.beta.skills.create({
    files: [
      await toFile(
        Buffer.from(
          `---\nname: ${name}\ndescription: Reports the build. Use when asked for the build report.\n---\n# Build report\nRun scripts/report.sh.\n`,
        ),
        `${name}/SKILL.md`,
      ),
      await toFile(Buffer.from("#!/bin/sh\necho build is green\n"), `${name}/scripts/report.sh`),
      await toFile(new Uint8Array([0xff, 0xfe, 0x00, 0x01]), `${name}/assets/logo.bin`),
    ],
  });
}

describe("skills on a self-hosted environment", () => {
  it("the SDK's worker downloads the session agent's skill; the model reads SKILL.md and runs its script", async () => {
    const { environmentId, key } = await selfHostedEnvironment();
    const name = `build-report-${Date.now().toString(36)}`;
    const skill = await uploadSkill(name);
    const agent = await h.client.beta.agents.create({
      name: "worker-skills",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
      skills: [{ type: "custom", skill_id: skill.id }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    const workdir = mkdtempSync(join(tmpdir(), "reverie-skills-worker-"));
    cleanup.push(workdir);

    h.upstream.reset();
    h.upstream.script(
      mockToolUse("read", { file_path: `skills/${name}/SKILL.md` }),
      mockToolUse("bash", { command: `./skills/${name}/scripts/report.sh` }),
      mockToolUse("bash", { command: `od -An -tx1 skills/${name}/assets/logo.bin` }),
      mockText("build is green"),
    );
    startWorker(environmentId, key, workdir);
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "build report please" }] }],
    });
    await waitFor(
      "the turn to end",
      async () => {
        const events = await h.allEvents(session.id);
        return events.some((e) => e.type === "session.status_idle") ? true : undefined;
      },
      45_000,
    );

    const events = await h.allEvents(session.id);
    const results = events.filter((e) => e.type === "user.tool_result");
    expect(results).toHaveLength(3);
    for (const r of results) expect((r as { is_error?: boolean }).is_error).toBeFalsy();
    expect(resultText(results[0])).toContain("Run scripts/report.sh.");
    expect(resultText(results[1])).toBe("build is green");
    expect(resultText(results[2])?.trim()).toBe("ff fe 00 01");

    // The model was told where the worker puts the skill (relative to its working directory).
    const system = h.upstream.requests[0]?.system as Anthropic.Messages.TextBlockParam[];
    const note = system.at(-1);
    expect(note?.cache_control).toEqual({ type: "ephemeral" });
    expect(note?.text).toContain(`## ${name}`);
    expect(note?.text).toContain(`Instructions: skills/${name}/SKILL.md`);
  });

  it("a sessions token reaches only the pinned versions its session's agent names", async () => {
    const { environmentId, key } = await selfHostedEnvironment();
    const named = await uploadSkill(`named-${Date.now().toString(36)}`);
    const unrelated = await uploadSkill(`unrelated-${Date.now().toString(36)}`);
    const agent = await h.client.beta.agents.create({
      name: "token-skills",
      model: "claude-sonnet-4-6",
      tools: [{ type: "agent_toolset_20260401" }],
      skills: [{ type: "custom", skill_id: named.id }],
    });
    const session = await h.client.beta.sessions.create({ agent: agent.id, environment_id: environmentId });
    h.upstream.reset();
    h.upstream.script(mockToolUse("bash", { command: "true" }));
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "go" }] }],
    });
    const poller = new Anthropic({ baseURL: h.stack.url, apiKey: key, maxRetries: 0 });
    const work = await waitFor(
      "a work item",
      async () => (await poller.beta.environments.work.poll(environmentId)) ?? undefined,
    );
    const secret = JSON.parse(Buffer.from(work.secret as string, "base64url").toString("utf8")) as {
      sessions_token: string;
    };
    const token = new Anthropic({ baseURL: h.stack.url, apiKey: secret.sessions_token, maxRetries: 0 });
    await token.beta.environments.work.ack(work.id, { environment_id: environmentId });

    // Exactly what the SDK's setupSkills calls, for the version the session pinned.
    const pinned = (await token.beta.sessions.retrieve(session.id)).agent.skills[0];
    expect(pinned).toEqual({ type: "custom", skill_id: named.id, version: named.latest_version_id });
    const version = await token.beta.skills.versions.retrieve(pinned?.version as string, {
      skill_id: named.id,
    });
    expect(version.id).toBe(named.latest_version_id);
    const zip = await token.beta.skills.versions.download(version.id, { skill_id: named.id });
    expect(zip.headers.get("content-type")).toBe("application/zip");

    // Anything else is out of reach.
    const otherVersion = unrelated.latest_version_id;
    await expect(
      token.beta.skills.versions.retrieve(otherVersion, { skill_id: unrelated.id }),
    ).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(
      token.beta.skills.versions.download(otherVersion, { skill_id: unrelated.id }),
    ).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(token.beta.skills.list()).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
    await expect(token.beta.skills.retrieve(named.id)).rejects.toBeInstanceOf(
      Anthropic.PermissionDeniedError,
    );
    await expect(token.beta.skills.versions.list(named.id)).rejects.toBeInstanceOf(
      Anthropic.PermissionDeniedError,
    );
    await expect(
      token.beta.skills.versions.delete(version.id, { skill_id: named.id }),
    ).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
    await expect(
      token.beta.skills.create({ files: [await toFile(Buffer.from("x"), "x/SKILL.md")] }),
    ).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);
    // The environment key itself reaches no skill.
    await expect(
      poller.beta.skills.versions.retrieve(version.id, { skill_id: named.id }),
    ).rejects.toBeInstanceOf(Anthropic.PermissionDeniedError);

    await h.client.beta.environments.work.stop(work.id, { environment_id: environmentId, force: true });
    await h.client.beta.sessions.events.send(session.id, { events: [{ type: "user.interrupt" }] });
    await h.waitIdle(session.id);
  });
});
