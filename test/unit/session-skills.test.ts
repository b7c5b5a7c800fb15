/**
 * Skills in the core, over in-memory fakes: versions (strictly increasing ids, `latest` after a crash
 * between the version and its skill's pointer), a new session's set-up (pinning, the 20-skill limit
 * across every agent, one name per mount directory, text copied and binaries left out) and what a
 * running session sees (the prompt note for a cloud session, a worker session and a coordinator's
 * thread; the read-only mount).
 */
import { describe, expect, it } from "vitest";
import { MemoryDocumentStore } from "../../shared/adapters/local/memory-document-store.js";
import { InvalidRequestError } from "../../shared/contract/errors.js";
import { TimeSortableIds } from "../../shared/contract/ids.js";
import type { SessionAgent } from "../../shared/contract/sdk-types.js";
import {
  ConditionFailedError,
  type DocumentStore,
  type FileBlobStore,
  type PutOptions,
  type StoredItem,
} from "../../shared/core/ports.js";
import { SessionSkillSetup } from "../../shared/core/skills/session-skill-setup.js";
import {
  loadSkillCatalog,
  sessionSkillMounts,
  sessionSkillsStoreId,
  skillsPromptNote,
} from "../../shared/core/skills/session-skills.js";
import { unpackSkillArchive } from "../../shared/core/skills/skill-bundle.js";
import { SkillsService } from "../../shared/core/skills/skills-service.js";
import { FileToolError } from "../../shared/core/tools/file-tools.js";
import { sessionFixture } from "../fixtures/in-memory-runtime.js";
import { MemoryWorkspaceStore } from "../fixtures/memory-workspace-store.js";

const WS = "wrkspc_test";
const enc = (t: string) => new TextEncoder().encode(t);

class MapBlobStore implements FileBlobStore {
  readonly blobs = new Map<string, Uint8Array>();
  async put(key: string, bytes: Uint8Array) {
    this.blobs.set(key, bytes);
  }
  async get(key: string) {
    return this.blobs.get(key);
  }
  async delete(key: string) {
    this.blobs.delete(key);
  }
}

function world(now = () => 1_767_225_600_000, store: DocumentStore = new MemoryDocumentStore()) {
  const workspace = new MemoryWorkspaceStore();
  const skills = new SkillsService({
    store,
    blobs: new MapBlobStore(),
    ids: new TimeSortableIds(now),
    clock: { now },
  });
  const setup = new SessionSkillSetup({ store, workspace }, skills);
  return { store, workspace, skills, setup };
}

const files = (
  name: string,
  description = "Does a thing. Use when asked.",
  extra: Record<string, Uint8Array> = {},
) => [
  { path: `${name}/SKILL.md`, bytes: enc(`---\nname: ${name}\ndescription: ${description}\n---\nSteps.\n`) },
  ...Object.entries(extra).map(([path, bytes]) => ({ path: `${name}/${path}`, bytes })),
];

const agentWith = (skills: SessionAgent["skills"], id = "agent_1"): SessionAgent =>
  ({ ...sessionFixture("sesn_x", { skills }).agent, id }) as SessionAgent;

describe("skill versions", () => {
  it("gives versions strictly increasing ids, even within one millisecond", async () => {
    const { skills } = world(() => 1_000);
    const skill = await skills.create(WS, { files: files("tick") });
    const a = await skills.createVersion(WS, skill.id, { files: files("tick") });
    const b = await skills.createVersion(WS, skill.id, { files: files("tick") });
    expect([skill.latest_version_id, a.id, b.id]).toEqual(["1000000", "1000001", "1000002"]);
    expect((await skills.retrieve(WS, skill.id)).latest_version_id).toBe(b.id);
  });

  it("resolves `latest` to a version whose skill pointer a crash left behind", async () => {
    const inner = new MemoryDocumentStore();
    let crash = false;
    const store: DocumentStore = Object.assign(Object.create(inner) as DocumentStore, {
      put: async (table: "resources" | "events", item: StoredItem, options?: PutOptions) => {
        if (crash && item.pk === `ws#${WS}#skill`) throw new Error("process died");
        return inner.put(table, item, options);
      },
    });
    let t = 5_000;
    const { skills } = world(() => t, store);
    const skill = await skills.create(WS, { files: files("crashy") });
    crash = true;
    t += 1;
    await expect(skills.createVersion(WS, skill.id, { files: files("crashy", "Second.") })).rejects.toThrow(
      "process died",
    );
    crash = false;
    expect((await skills.retrieve(WS, skill.id)).latest_version_id).toBe(skill.latest_version_id);
    const latest = await skills.retrieveVersion(WS, skill.id, "latest");
    expect(latest.description).toBe("Second.");
    // The next version moves the pointer past both.
    t += 1;
    const third = await skills.createVersion(WS, skill.id, { files: files("crashy", "Third.") });
    expect((await skills.retrieve(WS, skill.id)).latest_version_id).toBe(third.id);
  });
});

describe("concurrent versions", () => {
  /**
   * Two uploads that read the same newest version at the same millisecond: each version item waits
   * until both uploads are about to write theirs, so both claim the same id and one must retry.
   */
  function racing(mode: "race" | "always taken" | "lost response" = "race") {
    const inner = new MemoryDocumentStore();
    const waiting: (() => void)[] = [];
    let racers = 0;
    let lost = 0;
    const store: DocumentStore = Object.assign(Object.create(inner) as DocumentStore, {
      put: async (table: "resources" | "events", item: StoredItem, options?: PutOptions) => {
        if (String(item.pk).includes("#skillver#") && racers > 0) {
          if (mode === "always taken") throw new ConditionFailedError("taken");
          if (mode === "lost response") {
            // The write lands, its response is lost, and the store's retry finds the id taken.
            racers = 0;
            await inner.put(table, item, options);
            throw new ConditionFailedError("taken");
          }
          // Released together, in the order they came: the first to read the id writes first.
          const turn = new Promise<void>((resolve) => waiting.push(resolve));
          if (--racers === 0) for (const release of waiting.splice(0)) release();
          await turn;
        }
        return inner.put(table, item, options).catch((error: unknown) => {
          if (error instanceof ConditionFailedError) lost++;
          throw error;
        });
      },
    });
    const blobs = new MapBlobStore();
    const now = () => 1_760_000_000_000;
    const skills = new SkillsService({ store, blobs, ids: new TimeSortableIds(now), clock: { now } });
    const race = (uploads: number) => {
      racers = uploads;
    };
    return { skills, blobs, race, lost: () => lost };
  }

  const described = (description: string) => files("racer", description);

  /** The description in the SKILL.md a version downloads as. */
  async function served(skills: SkillsService, skillId: string, version: string) {
    const { bytes } = await skills.content(WS, skillId, version);
    const skillMd = (await unpackSkillArchive("racer", bytes)).find((f) => f.path === "SKILL.md");
    return /description: (.*)/.exec(new TextDecoder().decode(skillMd?.bytes))?.[1];
  }

  it("never serves one upload's files under another's version, and leaves no blob behind", async () => {
    const { skills, blobs, race, lost } = racing();
    const skill = await skills.create(WS, { files: described("First.") });
    race(2);
    const versions = await Promise.all(
      ["Upload A.", "Upload B."].map((d) => skills.createVersion(WS, skill.id, { files: described(d) })),
    );
    // Both claimed the id after the first version; the one that lost it took the next.
    expect(lost()).toBe(1);
    expect(versions.map((v) => v.id).sort()).toEqual(["1760000000000001", "1760000000000002"]);
    for (const version of [...versions, await skills.retrieveVersion(WS, skill.id, skill.latest_version_id)])
      expect(await served(skills, skill.id, version.id), `version ${version.id}`).toBe(version.description);
    // Each upload wrote its bytes once, under its own key; the retry only claimed the next id.
    expect(blobs.blobs.size).toBe(3);
    // On AWS the API functions may write only the workspace bucket's files/ keys (reverie-runtime.ts).
    for (const key of blobs.blobs.keys()) expect(key).toMatch(/^files\/skills\//);
  });

  it("deletes an upload's blob when it never gets a version id", async () => {
    const { skills, blobs, race } = racing("always taken");
    const skill = await skills.create(WS, { files: described("First.") });
    race(1);
    await expect(skills.createVersion(WS, skill.id, { files: described("Never.") })).rejects.toThrow(
      ConditionFailedError,
    );
    expect([...blobs.blobs.keys()]).toEqual([(await skills.version(WS, skill.id, "latest")).blob]);
  });

  it("takes a version write whose retry found its own item as written (no second version on the same blob)", async () => {
    const { skills, blobs, race } = racing("lost response");
    const skill = await skills.create(WS, { files: described("First.") });
    race(1);
    const version = await skills.createVersion(WS, skill.id, { files: described("Once.") });
    const listed = await skills.listVersions(WS, skill.id, { limit: 10 });
    expect(listed.data.map((v) => v.id)).toEqual([version.id, skill.latest_version_id]);
    expect(await served(skills, skill.id, version.id)).toBe("Once.");
    expect(blobs.blobs.size).toBe(2);
  });
});

describe("a new session's skills", () => {
  it("pins `latest`, writes the catalog, copies text files and leaves binaries out", async () => {
    const { store, workspace, skills, setup } = world();
    const skill = await skills.create(WS, {
      files: files("pdf", "PDF things.", {
        "scripts/run.py": enc("print(1)\n"),
        "assets/a.bin": new Uint8Array([0xff, 0xfe]),
        "assets/b.bin": new Uint8Array([0xc3, 0x28]),
      }),
    });
    const agent = await setup.prepare(
      WS,
      "sesn_1",
      agentWith([{ type: "custom", skill_id: skill.id, version: "latest" }]),
      {
        members: [],
        copyFiles: true,
      },
    );
    expect(agent.skills).toEqual([{ type: "custom", skill_id: skill.id, version: skill.latest_version_id }]);
    expect(await workspace.read(sessionSkillsStoreId("sesn_1"), "pdf/SKILL.md")).toContain("Steps.");
    expect(await workspace.read(sessionSkillsStoreId("sesn_1"), "pdf/scripts/run.py")).toBe("print(1)\n");
    expect((await workspace.list(sessionSkillsStoreId("sesn_1"))).map((f) => f.path).sort()).toEqual([
      "pdf/SKILL.md",
      "pdf/scripts/run.py",
    ]);
    const catalog = await loadSkillCatalog(store, "sesn_1");
    expect(catalog?.skills).toEqual([
      {
        skill_id: skill.id,
        requested: "latest",
        version: skill.latest_version_id,
        name: "pdf",
        description: "PDF things.",
        skipped: ["assets/a.bin", "assets/b.bin"],
        skippedCount: 2,
      },
    ]);
  });

  it("copies nothing for a self-hosted session (its worker downloads the skills) but still catalogs them", async () => {
    const { store, workspace, skills, setup } = world();
    const skill = await skills.create(WS, { files: files("notes") });
    await setup.prepare(
      WS,
      "sesn_2",
      agentWith([{ type: "custom", skill_id: skill.id, version: "latest" }]),
      {
        members: [],
        copyFiles: false,
      },
    );
    expect(workspace.writes).toEqual([]);
    expect((await loadSkillCatalog(store, "sesn_2"))?.skills.map((s) => s.name)).toEqual(["notes"]);
  });

  it("counts skills across every agent of the session: at most 20", async () => {
    const { skills, setup } = world();
    const refs: SessionAgent["skills"] = [];
    for (let i = 0; i < 21; i++) {
      const s = await skills.create(WS, { files: files(`s${i}`) });
      refs.push({ type: "custom", skill_id: s.id, version: "latest" });
    }
    const primary = agentWith(refs.slice(0, 15));
    const member = agentWith(refs.slice(10), "agent_2");
    const error = await setup
      .prepare(WS, "sesn_3", primary, { members: [member], copyFiles: false })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toMatch(
      /name 21 skills; a session supports at most 20, counted across every agent/,
    );
    // The same skill named by two agents counts once.
    await setup.prepare(WS, "sesn_4", agentWith(refs.slice(0, 15)), {
      members: [agentWith(refs.slice(5, 20), "agent_2")],
      copyFiles: false,
    });
  });

  it("refuses two skills with one name (they would share /mnt/skills/<name>) and Anthropic's skills", async () => {
    const { skills, setup } = world();
    const a = await skills.create(WS, { files: files("same") });
    const b = await skills.create(WS, { files: files("same") });
    const clash = await setup
      .prepare(
        WS,
        "sesn_5",
        agentWith([
          { type: "custom", skill_id: a.id, version: "latest" },
          { type: "custom", skill_id: b.id, version: "latest" },
        ]),
        { members: [], copyFiles: true },
      )
      .catch((e: unknown) => e as Error);
    expect(clash).toBeInstanceOf(InvalidRequestError);
    expect((clash as Error).message).toMatch(
      /both named "same"; one session mounts one skill per name \(\/mnt\/skills\/same\)/,
    );
    const anthropic = await setup
      .prepare(WS, "sesn_6", agentWith([{ type: "anthropic", skill_id: "docx", version: "latest" }]), {
        members: [],
        copyFiles: true,
      })
      .catch((e: unknown) => e as Error);
    expect((anthropic as Error).message).toMatch(/^agent\.skills\.0: Anthropic's pre-built skills .*"docx"/);
  });
});

describe("skills in a running session", () => {
  it("lists the run's skills in the prompt note: a cloud session's mount path, a worker's relative path", async () => {
    const { store, skills, setup } = world();
    const skill = await skills.create(WS, {
      files: files("report", "Writes the report.", { "logo.png": new Uint8Array([0x89, 0xff]) }),
    });
    const agent = await setup.prepare(
      WS,
      "sesn_7",
      agentWith([{ type: "custom", skill_id: skill.id, version: "latest" }]),
      { members: [], copyFiles: true },
    );
    const session = { ...sessionFixture("sesn_7"), agent };
    const cloud = await skillsPromptNote(store, { session });
    expect(cloud).toContain("# Skills");
    expect(cloud).toContain(
      "## report\nDescription: Writes the report.\nInstructions: /mnt/skills/report/SKILL.md",
    );
    expect(cloud).toContain("Not available here (binary files): logo.png");
    const worker = await skillsPromptNote(store, { session, run: { hands: "worker" } });
    expect(worker).toContain("Instructions: skills/report/SKILL.md");
    expect(worker).not.toContain("binary files");
    expect(await skillsPromptNote(store, { session: sessionFixture("sesn_7") })).toBeUndefined();
  });

  it("finds a coordinator thread's skills (named `latest` in its agent) in its session's catalog", async () => {
    const { store, skills, setup } = world();
    const mine = await skills.create(WS, { files: files("coordinating") });
    const theirs = await skills.create(WS, { files: files("researching", "Researches.") });
    const member = agentWith([{ type: "custom", skill_id: theirs.id, version: "latest" }], "agent_member");
    await setup.prepare(WS, "sesn_8", agentWith([{ type: "custom", skill_id: mine.id, version: "latest" }]), {
      members: [member],
      copyFiles: true,
    });
    const thread = {
      session: { ...sessionFixture("sthr_1"), agent: member },
      thread: { sessionId: "sesn_8" },
    };
    const note = await skillsPromptNote(store, thread);
    expect(note).toContain("## researching");
    expect(note).not.toContain("## coordinating");
  });

  it("mounts the session's skill files read-only at /mnt/skills", async () => {
    const { workspace } = world();
    await workspace.write(sessionSkillsStoreId("sesn_9"), "x/SKILL.md", "hello");
    const [mount] = sessionSkillMounts(workspace, "sesn_9");
    expect(mount?.mount).toMatchObject({ root: "/mnt/skills", readOnly: true, kind: "skills" });
    expect(await mount?.store.read(mount.id, "x/SKILL.md")).toBe("hello");
    await expect(mount?.store.write(mount.id, "x/SKILL.md", "changed")).rejects.toBeInstanceOf(FileToolError);
    expect(await workspace.read(sessionSkillsStoreId("sesn_9"), "x/SKILL.md")).toBe("hello");
  });
});
