/**
 * Skills through the official SDK: all nine endpoints of `client.beta.skills` and
 * `client.beta.skills.versions` (upload as separate files or one zip, versions, `latest`, download,
 * delete in Anthropic's order), their 4xx (bad bundles, size, name changes, another workspace, delete
 * with versions left), and the checks agents get (`skills[]` must name skills that exist here;
 * Anthropic's pre-built skills are refused with the alternative named; at most 20).
 */
import Anthropic, { toFile } from "@anthropic-ai/sdk";
import { unzipSync, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

let h: Harness;
let other: Anthropic;
beforeAll(async () => {
  h = await startHarness({ env: { REVERIE_FILE_MAX_BYTES: String(64 * 1024) } });
  const otherKey = `sk-other-workspace-${Date.now()}`;
  await h.stack.services.apiKeys.register(otherKey, {
    workspaceId: "wrkspc_other",
    apiKeyId: "apikey_other",
  });
  other = new Anthropic({ baseURL: h.stack.url, apiKey: otherKey, maxRetries: 0 });
});
afterAll(async () => h.close());

const skillMd = (name: string, description: string, body = "# How\n1. Run scripts/hello.sh.\n") =>
  `---\nname: ${name}\ndescription: ${description}\n---\n${body}`;

/** A skill's files as the SDK uploads a directory: one `files[]` part per file, named by its path. */
async function filesOf(entries: Record<string, string>) {
  return Promise.all(Object.entries(entries).map(([path, text]) => toFile(Buffer.from(text), path)));
}

const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

async function createSkill(name = `greeter-${unique()}`, extra: Record<string, string> = {}) {
  const skill = await h.client.beta.skills.create({
    files: await filesOf({
      [`${name}/SKILL.md`]: skillMd(name, "Greets people. Use when asked to greet."),
      [`${name}/scripts/hello.sh`]: "#!/bin/sh\necho hello\n",
      ...extra,
    }),
  });
  return { skill, name };
}

describe("skills", () => {
  it("creates a skill from a directory's files, retrieves it and lists it", async () => {
    const { skill, name } = await createSkill();
    expect(skill).toMatchObject({ type: "skill", display_name: name, source: { type: "custom" } });
    expect(skill.id).toMatch(/^skill_01/);
    expect(skill.latest_version_id).toMatch(/^\d{16}$/);
    expect(Date.parse(skill.created_at)).not.toBeNaN();
    expect(skill.updated_at).toBe(skill.created_at);
    expect(await h.client.beta.skills.retrieve(skill.id)).toEqual(skill);

    const titled = await h.client.beta.skills.create({
      display_name: "Friendly greeter",
      files: await filesOf({ [`g-${unique()}/SKILL.md`]: skillMd("greeter-two", "Greets.") }),
    });
    expect(titled.display_name).toBe("Friendly greeter");

    const listed: string[] = [];
    for await (const s of h.client.beta.skills.list({ limit: 1 })) listed.push(s.id);
    expect(listed.indexOf(titled.id)).toBeLessThan(listed.indexOf(skill.id));
    const custom = await h.client.beta.skills.list({ source: "custom", limit: 100 });
    expect(custom.data.map((s) => s.id)).toContain(skill.id);
    expect((await h.client.beta.skills.list({ source: "anthropic" })).data).toEqual([]);
    const bad = await rejection(
      h.client.beta.skills.list({ source: "elsewhere" }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(bad)).toMatch(/source: expected one of custom, anthropic/);
  });

  it("creates a skill from one zip, and downloads the version as a zip under the skill's name", async () => {
    const name = `zipped-${unique()}`;
    const zip = zipSync({
      [`${name}/SKILL.md`]: Buffer.from(skillMd(name, "Zipped skill.")),
      [`${name}/data/table.csv`]: Buffer.from("a,b\n1,2\n"),
      [`${name}/logo.bin`]: new Uint8Array([0, 255, 1, 254]),
    });
    const skill = await h.client.beta.skills.create({ files: [await toFile(zip, "bundle.zip")] });
    const response = await h.client.beta.skills.versions.download(skill.latest_version_id, {
      skill_id: skill.id,
    });
    expect(response.headers.get("content-type")).toBe("application/zip");
    expect(response.headers.get("content-disposition")).toContain(`${name}.zip`);
    const files = unzipSync(new Uint8Array(await response.arrayBuffer()));
    expect(Object.keys(files).sort()).toEqual([
      `${name}/SKILL.md`,
      `${name}/data/table.csv`,
      `${name}/logo.bin`,
    ]);
    expect(Buffer.from(files[`${name}/data/table.csv`] as Uint8Array).toString()).toBe("a,b\n1,2\n");
    expect([...(files[`${name}/logo.bin`] as Uint8Array)]).toEqual([0, 255, 1, 254]);
  });

  it("adds versions, resolves latest, lists newest first, and deletes versions then the skill", async () => {
    const { skill, name } = await createSkill();
    const first = await h.client.beta.skills.versions.retrieve(skill.latest_version_id, {
      skill_id: skill.id,
    });
    expect(first).toMatchObject({
      id: skill.latest_version_id,
      type: "skill_version",
      skill_id: skill.id,
      name,
      description: "Greets people. Use when asked to greet.",
    });

    const second = await h.client.beta.skills.versions.create(skill.id, {
      files: await filesOf({ [`${name}/SKILL.md`]: skillMd(name, "Greets people warmly.") }),
    });
    expect(second).toMatchObject({
      type: "skill_version",
      skill_id: skill.id,
      name,
      description: "Greets people warmly.",
    });
    expect(BigInt(second.id) > BigInt(first.id)).toBe(true);
    const updated = await h.client.beta.skills.retrieve(skill.id);
    expect(updated.latest_version_id).toBe(second.id);
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(skill.updated_at));
    expect(await h.client.beta.skills.versions.retrieve("latest", { skill_id: skill.id })).toEqual(second);

    const versions: string[] = [];
    for await (const v of h.client.beta.skills.versions.list(skill.id, { limit: 1 })) versions.push(v.id);
    expect(versions).toEqual([second.id, first.id]);

    // Anthropic's order: a skill with versions left is not deleted.
    const busy = await rejection(h.client.beta.skills.delete(skill.id), Anthropic.BadRequestError);
    expect(messageOf(busy)).toMatch(/still has versions.*delete every version first/);

    expect(await h.client.beta.skills.versions.delete(second.id, { skill_id: skill.id })).toEqual({
      id: second.id,
      type: "skill_version_deleted",
    });
    expect((await h.client.beta.skills.retrieve(skill.id)).latest_version_id).toBe(first.id);
    await rejection(
      h.client.beta.skills.versions.retrieve(second.id, { skill_id: skill.id }),
      Anthropic.NotFoundError,
    );
    await rejection(
      h.client.beta.skills.versions.download(second.id, { skill_id: skill.id }),
      Anthropic.NotFoundError,
    );
    await h.client.beta.skills.versions.delete(first.id, { skill_id: skill.id });
    await rejection(
      h.client.beta.skills.versions.retrieve("latest", { skill_id: skill.id }),
      Anthropic.NotFoundError,
    );

    expect(await h.client.beta.skills.delete(skill.id)).toEqual({ id: skill.id, type: "skill_deleted" });
    await rejection(h.client.beta.skills.retrieve(skill.id), Anthropic.NotFoundError);
    await rejection(h.client.beta.skills.versions.list(skill.id), Anthropic.NotFoundError);
    await rejection(h.client.beta.skills.delete(skill.id), Anthropic.NotFoundError);
  });

  it("refuses a version whose SKILL.md changes the skill's name, and `latest` as a version to delete", async () => {
    const { skill, name } = await createSkill();
    const renamed = await rejection(
      h.client.beta.skills.versions.create(skill.id, {
        files: await filesOf({ [`${name}/SKILL.md`]: skillMd("another-name", "Greets.") }),
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(renamed)).toMatch(new RegExp(`this skill is "${name}".*got "another-name"`));
    const latest = await rejection(
      h.client.beta.skills.versions.delete("latest", { skill_id: skill.id }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(latest)).toMatch(/name the version to delete by its id/);
    await rejection(
      h.client.beta.skills.versions.retrieve("1234", { skill_id: skill.id }),
      Anthropic.NotFoundError,
    );
  });

  it("answers bad bundles with a 400 that names the problem", async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ "x/README.md": "no skill here" }, /no SKILL\.md/],
      [{ "x/SKILL.md": "# no front matter\n" }, /must start with YAML front matter/],
      [{ "x/SKILL.md": skillMd("Bad Name", "d") }, /name: must contain only lowercase letters/],
      [{ "x/SKILL.md": skillMd("claude-tools", "d") }, /reserved word "claude"/],
      [{ "x/SKILL.md": "---\nname: x\n---\nbody\n" }, /description: is required/],
      [{ "SKILL.md": skillMd("flat", "d") }, /inside one directory named after the skill/],
      [{ "x/SKILL.md": skillMd("x", "d"), "x/../../escape.sh": "x" }, /path traversal/],
    ];
    for (const [entries, pattern] of cases) {
      const error = await rejection(
        h.client.beta.skills.create({ files: await filesOf(entries) }),
        Anthropic.BadRequestError,
      );
      expect(messageOf(error)).toMatch(pattern);
    }
    const traversal = zipSync({ "x/SKILL.md": Buffer.from(skillMd("x", "d")), "../evil": Buffer.from("x") });
    const zipped = await rejection(
      h.client.beta.skills.create({ files: [await toFile(traversal, "evil.zip")] }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(zipped)).toMatch(/zip member "\.\.\/evil" climbs out.*path traversal/);
    const none = await rejection(h.client.beta.skills.create({ files: [] }), Anthropic.BadRequestError);
    expect(messageOf(none)).toMatch(/upload the skill's files/);
    const long = await rejection(
      h.client.beta.skills.create({
        display_name: "x".repeat(256),
        files: await filesOf({ "x/SKILL.md": skillMd("x", "d") }),
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(long)).toMatch(/display_name/);
  });

  it("refuses an upload over the size limit with a 413", async () => {
    const error = await rejection(
      h.client.beta.skills.create({
        files: await filesOf({ "big/SKILL.md": skillMd("big", "d"), "big/blob.txt": "x".repeat(70 * 1024) }),
      }),
      Anthropic.APIError,
    );
    expect(error.status).toBe(413);
    expect(messageOf(error)).toMatch(/limited to 65536 bytes/);
  });

  it("keeps another workspace's skills out of sight: every endpoint is a 404", async () => {
    const { skill, name } = await createSkill();
    const v = skill.latest_version_id;
    await rejection(other.beta.skills.retrieve(skill.id), Anthropic.NotFoundError);
    await rejection(other.beta.skills.delete(skill.id), Anthropic.NotFoundError);
    await rejection(other.beta.skills.versions.list(skill.id), Anthropic.NotFoundError);
    await rejection(other.beta.skills.versions.retrieve(v, { skill_id: skill.id }), Anthropic.NotFoundError);
    await rejection(other.beta.skills.versions.download(v, { skill_id: skill.id }), Anthropic.NotFoundError);
    await rejection(other.beta.skills.versions.delete(v, { skill_id: skill.id }), Anthropic.NotFoundError);
    await rejection(
      other.beta.skills.versions.create(skill.id, {
        files: await filesOf({ [`${name}/SKILL.md`]: skillMd(name, "d") }),
      }),
      Anthropic.NotFoundError,
    );
    expect((await other.beta.skills.list()).data.map((s) => s.id)).not.toContain(skill.id);
    expect((await h.client.beta.skills.retrieve(skill.id)).id).toBe(skill.id);
  });
});

describe("skills on agents", () => {
  it("accepts a custom skill that exists (latest or a pinned version) and refuses what cannot run here", async () => {
    const { skill } = await createSkill();
    const agent = await h.client.beta.agents.create({
      name: "skilled",
      model: "claude-sonnet-4-6",
      skills: [{ type: "custom", skill_id: skill.id }],
    });
    expect(agent.skills).toEqual([{ type: "custom", skill_id: skill.id, version: "latest" }]);
    const pinned = await h.client.beta.agents.update(agent.id, {
      version: agent.version,
      skills: [{ type: "custom", skill_id: skill.id, version: skill.latest_version_id }],
    });
    expect(pinned.skills).toEqual([{ type: "custom", skill_id: skill.id, version: skill.latest_version_id }]);

    const missing = await rejection(
      h.client.beta.agents.create({
        name: "x",
        model: "claude-sonnet-4-6",
        skills: [{ type: "custom", skill_id: "skill_01missing" }],
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(missing)).toMatch(/skills\.0\.skill_id: skill skill_01missing not found/);
    const badVersion = await rejection(
      h.client.beta.agents.update(agent.id, {
        version: pinned.version,
        skills: [{ type: "custom", skill_id: skill.id, version: "1" }],
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(badVersion)).toMatch(/skills\.0\.version: skill .* has no version 1/);
    const anthropic = await rejection(
      h.client.beta.agents.create({
        name: "x",
        model: "claude-sonnet-4-6",
        skills: [{ type: "anthropic", skill_id: "xlsx" }],
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(anthropic)).toMatch(
      /pre-built skills .*"xlsx".* not available on Reverie.*client\.beta\.skills\.create/,
    );
    const tooMany = await rejection(
      h.client.beta.agents.create({
        name: "x",
        model: "claude-sonnet-4-6",
        skills: Array.from({ length: 21 }, (_, i) => ({ type: "custom" as const, skill_id: `skill_${i}` })),
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(tooMany)).toMatch(/skills: .*20/);
    const otherWorkspace = await rejection(
      other.beta.agents.create({
        name: "x",
        model: "claude-sonnet-4-6",
        skills: [{ type: "custom", skill_id: skill.id }],
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(otherWorkspace)).toMatch(/not found/);
  });
});
