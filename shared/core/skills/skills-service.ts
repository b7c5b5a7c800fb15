/**
 * /v1/skills and /v1/skills/{skill_id}/versions: custom skills of a workspace and their immutable
 * versions. A version's files are validated ({@link readSkillBundle}) and stored as one canonical zip
 * in the FileBlobStore (S3 on AWS, a directory locally); metadata lives in the document store:
 *
 * - `ws#<ws>#skill` / skill id: the `BetaSkill` plus its immutable `name` slug, rev-checked;
 * - `ws#<ws>#skillver#<skill>` / version id: the `BetaSkillVersion`, its file list and blob key.
 *
 * Version ids are Unix epoch microseconds (Anthropic's version format), strictly increasing per
 * skill, so they sort by creation. Writes are ordered so a crash never leaves metadata without bytes:
 * blob, then version item (`ifNotExists`), then the skill's `latest_version_id`. The blob's key is the
 * upload's own (`files/skills/<ws>/<skill>/<upload id>.zip`: under `files/`, the only keys the API
 * functions may write on AWS), never derived from the version id, so an
 * upload that loses a version id to a concurrent one cannot overwrite the winner's bytes; the version
 * item names the key it was written with. A crash after the version item leaves a version that
 * `latest` already resolves to (it resolves through the versions themselves) while the skill's
 * `latest_version_id` lags until the next version. A crash between the blob and the version item
 * leaves a blob no version names: unreachable, and never cleaned (the FileBlobStore cannot list).
 *
 * Deleting follows Anthropic's rule: a skill's versions are deleted first, then the skill (a skill
 * with versions left is a 400). A skill whose versions are all deleted keeps the id of its last one
 * in `latest_version_id` until it is deleted itself.
 */
import { ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import {
  type BetaDeletedSkill,
  type BetaDeletedSkillVersion,
  type BetaSkill,
  type BetaSkillVersion,
  LATEST_VERSION,
  SKILL_LIMITS,
} from "../../contract/skills.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type FileBlobStore,
  type IdGenerator,
  type StoredItem,
} from "../ports.js";
import { readSkillBundle, type SkillBundle, skillArchive, type UploadedSkillFile } from "./skill-bundle.js";

const skillsKey = (ws: string) => `ws#${ws}#skill`;
const versionsKey = (ws: string, skillId: string) => `ws#${ws}#skillver#${skillId}`;
/**
 * Where an upload's canonical zip lives: a key of the upload's own, so no other upload ever writes
 * it, under `files/` (on AWS the API functions may write the workspace bucket's `files/` keys only;
 * `skills/…`, used before, was refused there). Versions stored before this named their blob
 * `skills/…/<version id>.zip`; every version item records its key, so all read the same way.
 */
const blobKey = (ws: string, skillId: string, uploadId: string) =>
  `files/skills/${ws}/${skillId}/${uploadId}.zip`;

/** The id prefix of an upload's blob (`skillzip_01…`). */
const UPLOAD_ID_PREFIX = "skillzip";

/** The id prefix of skills (`skill_01…`, as Anthropic's). */
export const SKILL_ID_PREFIX = "skill";

const SOURCES = new Set(["custom", "anthropic", "anthropic_example", "plugin"]);

/** A stored version: what the SDK sees, and where its files are. */
export interface StoredSkillVersion {
  version: BetaSkillVersion;
  /** How many files the version holds, and their size uncompressed (the list lives in the zip). */
  fileCount: number;
  totalBytes: number;
  /** The FileBlobStore key of its canonical zip, written by its upload alone. */
  blob: string;
}

/** A skill reference as agents hold it (`skills[]` of an agent or a session's agent snapshot). */
export interface SkillReference {
  type: string;
  skill_id: string;
  version?: string | null;
}

export interface SkillsDeps {
  store: DocumentStore;
  blobs: FileBlobStore;
  ids: IdGenerator;
  clock: Clock;
}

export class SkillsService {
  constructor(private readonly deps: SkillsDeps) {}

  /** POST /v1/skills: a new skill with its first version. */
  async create(
    workspaceId: string,
    upload: { files: readonly UploadedSkillFile[]; displayName?: string },
  ): Promise<BetaSkill> {
    const bundle = await readSkillBundle(upload.files);
    const now = this.deps.clock.now();
    const skillId = this.deps.ids.next(SKILL_ID_PREFIX);
    const blob = await this.storeArchive(workspaceId, skillId, bundle, now);
    const version = await this.storeVersion(workspaceId, skillId, bundle, blob, String(now * 1000), now);
    const at = new Date(now).toISOString();
    const skill: BetaSkill = {
      id: skillId,
      type: "skill",
      created_at: at,
      updated_at: at,
      display_name: upload.displayName?.trim() || bundle.name,
      latest_version_id: version.version.id,
      source: { type: "custom" },
    };
    await this.deps.store.put(
      "resources",
      { pk: skillsKey(workspaceId), sk: skillId, rev: 1, skill, name: bundle.name },
      { expectedRev: 0 },
    );
    return skill;
  }

  async retrieve(workspaceId: string, skillId: string): Promise<BetaSkill> {
    return (await this.item(workspaceId, skillId)).skill as BetaSkill;
  }

  /** GET /v1/skills: newest first; only custom skills exist here (`source: "anthropic"` lists none). */
  async list(
    workspaceId: string,
    query: { limit: number; page?: string; source?: string },
  ): Promise<PageCursorBody<BetaSkill>> {
    if (query.source !== undefined && !SOURCES.has(query.source))
      throw new InvalidRequestError(
        `source: expected one of ${[...SOURCES].join(", ")} (got ${JSON.stringify(query.source)})`,
      );
    if (query.source !== undefined && query.source !== "custom") {
      decodeCursor(query.page);
      return { data: [], next_page: null };
    }
    return collectPage<StoredItem, BetaSkill>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (before, limit) =>
        this.deps.store.query("resources", skillsKey(workspaceId), {
          before: before as string | undefined,
          limit,
          order: "desc",
        }),
      keyOf: (i) => i.sk,
      keep: () => true,
      map: (i) => i.skill as BetaSkill,
    });
  }

  /** DELETE /v1/skills/{id}: only once its versions are deleted (Anthropic's rule). */
  async delete(workspaceId: string, skillId: string): Promise<BetaDeletedSkill> {
    await this.item(workspaceId, skillId);
    const left = await this.deps.store.query("resources", versionsKey(workspaceId, skillId), {
      limit: 1,
      order: "desc",
    });
    if (left.length > 0)
      throw new InvalidRequestError(
        `skill ${skillId} still has versions (newest: ${left[0]?.sk}); delete every version first with client.beta.skills.versions.delete, then the skill`,
      );
    await this.deps.store.delete("resources", skillsKey(workspaceId), skillId);
    return { id: skillId, type: "skill_deleted" };
  }

  /** POST /v1/skills/{id}/versions: a new version, whose SKILL.md must carry the skill's name. */
  async createVersion(
    workspaceId: string,
    skillId: string,
    upload: { files: readonly UploadedSkillFile[] },
  ): Promise<BetaSkillVersion> {
    const item = await this.item(workspaceId, skillId);
    const bundle = await readSkillBundle(upload.files);
    if (bundle.name !== item.name)
      throw new InvalidRequestError(
        `SKILL.md front matter: name: this skill is "${item.name}" and its name never changes; every version's SKILL.md must say name: ${item.name} (got "${bundle.name}")`,
      );
    // The bytes go under this upload's own key once; each attempt below only claims an id for them.
    const blob = await this.storeArchive(workspaceId, skillId, bundle, this.deps.clock.now());
    for (let attempt = 0; ; attempt++) {
      const now = this.deps.clock.now();
      const newest = await this.newestVersionId(workspaceId, skillId);
      const id = String(Math.max(now * 1000, newest === undefined ? 0 : Number(newest) + 1));
      let stored: StoredSkillVersion;
      try {
        stored = await this.storeVersion(workspaceId, skillId, bundle, blob, id, now);
      } catch (error) {
        // Any other error may come after the item was written (a timeout): the blob stays.
        if (!(error instanceof ConditionFailedError)) throw error;
        // The id is taken — by this very write when the store retried it after a lost response
        // (then the item names this upload's blob: it is ours), or by another upload.
        const taken = await this.deps.store.get("resources", versionsKey(workspaceId, skillId), id);
        const mine = taken?.stored as StoredSkillVersion | undefined;
        if (mine?.blob === blob) stored = mine;
        else if (attempt < 10) continue;
        else {
          // No item names the blob (each taken id was checked): nothing can serve it.
          await this.deps.blobs.delete(blob).catch(() => undefined);
          throw error;
        }
      }
      await this.pointLatestAt(workspaceId, skillId, id, now);
      return stored.version;
    }
  }

  async retrieveVersion(workspaceId: string, skillId: string, version: string): Promise<BetaSkillVersion> {
    return (await this.version(workspaceId, skillId, version)).version;
  }

  /** GET /v1/skills/{id}/versions: newest first. */
  async listVersions(
    workspaceId: string,
    skillId: string,
    query: { limit: number; page?: string },
  ): Promise<PageCursorBody<BetaSkillVersion>> {
    await this.item(workspaceId, skillId);
    return collectPage<StoredItem, BetaSkillVersion>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (before, limit) =>
        this.deps.store.query("resources", versionsKey(workspaceId, skillId), {
          before: before as string | undefined,
          limit,
          order: "desc",
        }),
      keyOf: (i) => i.sk,
      keep: () => true,
      map: (i) => (i.stored as StoredSkillVersion).version,
    });
  }

  /**
   * DELETE /v1/skills/{id}/versions/{version}. The skill's `latest_version_id` moves to the newest
   * other version first, so a crash half way leaves the version still there (a retry deletes it),
   * never a skill pointing at nothing while versions remain.
   */
  async deleteVersion(
    workspaceId: string,
    skillId: string,
    version: string,
  ): Promise<BetaDeletedSkillVersion> {
    if (version === LATEST_VERSION)
      throw new InvalidRequestError(
        `version: name the version to delete by its id, not "${LATEST_VERSION}" (client.beta.skills.versions.list)`,
      );
    const stored = await this.version(workspaceId, skillId, version);
    const others = await this.deps.store.query("resources", versionsKey(workspaceId, skillId), {
      limit: 2,
      order: "desc",
    });
    const next = others.map((i) => String(i.sk)).find((id) => id !== version);
    if (next !== undefined) await this.pointLatestAt(workspaceId, skillId, next, this.deps.clock.now(), true);
    await this.deps.store.delete("resources", versionsKey(workspaceId, skillId), version);
    await this.deps.blobs.delete(stored.blob);
    return { id: version, type: "skill_version_deleted" };
  }

  /** The version's canonical zip (GET …/content), with the name its download should carry. */
  async content(
    workspaceId: string,
    skillId: string,
    version: string,
  ): Promise<{ stored: StoredSkillVersion; bytes: Uint8Array; filename: string }> {
    const stored = await this.version(workspaceId, skillId, version);
    const bytes = await this.deps.blobs.get(stored.blob);
    if (!bytes) throw new NotFoundError("skill version content", `${skillId}@${stored.version.id}`);
    return { stored, bytes, filename: `${stored.version.name}.zip` };
  }

  /**
   * A version by id, or the newest for `latest` (resolved through the versions themselves, so a
   * version whose skill pointer a crash left behind is still found).
   *
   * @throws NotFoundError when the skill (in this workspace) or the version does not exist.
   */
  async version(workspaceId: string, skillId: string, version: string): Promise<StoredSkillVersion> {
    await this.item(workspaceId, skillId);
    const id = version === LATEST_VERSION ? await this.newestVersionId(workspaceId, skillId) : version;
    const item =
      id === undefined
        ? undefined
        : await this.deps.store.get("resources", versionsKey(workspaceId, skillId), id);
    if (!item) throw new NotFoundError("skill version", `${skillId}@${version}`);
    return item.stored as StoredSkillVersion;
  }

  /**
   * Checks an agent's `skills[]` (agent create / update): Anthropic's pre-built skills cannot be
   * served here, and a custom skill (and a pinned version) must exist in the workspace.
   *
   * @throws InvalidRequestError naming the entry (`skills.<i>`) and what to do instead.
   */
  async checkReferences(
    workspaceId: string,
    skills: readonly SkillReference[],
    root = "skills",
  ): Promise<void> {
    if (skills.length > SKILL_LIMITS.maxSkillsPerSession)
      throw new InvalidRequestError(
        `${root}: ${skills.length} skills; an agent names at most ${SKILL_LIMITS.maxSkillsPerSession}`,
      );
    for (const [i, ref] of skills.entries()) await this.resolveReference(workspaceId, ref, `${root}.${i}`);
  }

  /** The version a reference names (`latest` resolved), or a 400 that names the entry. */
  async resolveReference(
    workspaceId: string,
    ref: SkillReference,
    where: string,
  ): Promise<StoredSkillVersion> {
    if (ref.type !== "custom")
      throw new InvalidRequestError(
        `${where}: Anthropic's pre-built skills (type "anthropic", skill_id "${ref.skill_id}") are not available on Reverie, which runs without Anthropic's skill content; upload the skill's files as a custom skill (client.beta.skills.create) and name it as {type: "custom", skill_id}`,
      );
    const version = ref.version ?? LATEST_VERSION;
    try {
      return await this.version(workspaceId, ref.skill_id, version);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
      const skill = await this.deps.store.get("resources", skillsKey(workspaceId), ref.skill_id);
      throw new InvalidRequestError(
        skill
          ? `${where}.version: skill ${ref.skill_id} has no version ${version}`
          : `${where}.skill_id: skill ${ref.skill_id} not found`,
      );
    }
  }

  private async item(workspaceId: string, skillId: string): Promise<StoredItem> {
    const item = await this.deps.store.get("resources", skillsKey(workspaceId), skillId);
    if (!item) throw new NotFoundError("skill", skillId);
    return item;
  }

  private async newestVersionId(workspaceId: string, skillId: string): Promise<string | undefined> {
    const [newest] = await this.deps.store.query("resources", versionsKey(workspaceId, skillId), {
      limit: 1,
      order: "desc",
    });
    return newest === undefined ? undefined : String(newest.sk);
  }

  /** Writes the bundle's canonical zip under a key of this upload's own, and returns the key. */
  private async storeArchive(
    workspaceId: string,
    skillId: string,
    bundle: SkillBundle,
    now: number,
  ): Promise<string> {
    const blob = blobKey(workspaceId, skillId, this.deps.ids.next(UPLOAD_ID_PREFIX));
    await this.deps.blobs.put(blob, await skillArchive(bundle.name, bundle.files, now), "application/zip");
    return blob;
  }

  /**
   * The version item for bytes already stored at `blob` (`ifNotExists`: a taken id is a
   * ConditionFailedError, and nothing was written).
   */
  private async storeVersion(
    workspaceId: string,
    skillId: string,
    bundle: SkillBundle,
    blob: string,
    id: string,
    now: number,
  ): Promise<StoredSkillVersion> {
    const stored: StoredSkillVersion = {
      version: {
        id,
        type: "skill_version",
        skill_id: skillId,
        name: bundle.name,
        description: bundle.description,
        created_at: new Date(now).toISOString(),
      },
      fileCount: bundle.files.length,
      totalBytes: bundle.totalBytes,
      blob,
    };
    await this.deps.store.put(
      "resources",
      { pk: versionsKey(workspaceId, skillId), sk: id, stored },
      { ifNotExists: true },
    );
    return stored;
  }

  /**
   * Moves `latest_version_id` to `id` (rev-checked): forward only, unless `backwards` (a delete
   * moving it to the newest remaining version).
   */
  private async pointLatestAt(
    workspaceId: string,
    skillId: string,
    id: string,
    now: number,
    backwards = false,
  ): Promise<void> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const item = await this.item(workspaceId, skillId);
      const skill = item.skill as BetaSkill;
      const forward = Number(id) > Number(skill.latest_version_id);
      if (!forward && !backwards) return;
      if (skill.latest_version_id === id) return;
      const next: BetaSkill = {
        ...skill,
        latest_version_id: id,
        updated_at: forward ? new Date(now).toISOString() : skill.updated_at,
      };
      try {
        await this.deps.store.put(
          "resources",
          { ...item, rev: Number(item.rev) + 1, skill: next },
          { expectedRev: Number(item.rev) },
        );
        return;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    throw new ConflictError(`skill ${skillId} changed concurrently: retry`, { retryable: true });
  }
}
