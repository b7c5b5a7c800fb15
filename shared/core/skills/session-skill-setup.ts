/**
 * A new session's skills, set up by `sessions.create` before the session item is written: every
 * skill its agents name (its own agent and, for a coordinator, its roster's) is pinned to a concrete
 * version, checked (Anthropic's pre-built skills are refused, at most 20 per session, one name per
 * mount directory), copied into the session's read-only skill store (cloud sessions) and listed in
 * the session's catalog. Copies are idempotent overwrites and the catalog is one unconditional put,
 * so a create that dies half way leaves only files and a catalog that no session refers to.
 */
import { InvalidRequestError } from "../../contract/errors.js";
import type { SessionAgent } from "../../contract/sdk-types.js";
import { LATEST_VERSION, SKILL_LIMITS } from "../../contract/skills.js";
import type { DocumentStore, WorkspaceStore } from "../ports.js";
import {
  catalogKey,
  SKILLS_ROOT,
  type SkillCatalog,
  type SkillCatalogEntry,
  sessionSkillsStoreId,
} from "./session-skills.js";
import { unpackSkillArchive } from "./skill-bundle.js";
import type { SkillsService, StoredSkillVersion } from "./skills-service.js";

const MAX_SKIPPED_LISTED = 5;

export interface SessionSkillSetupOptions {
  /** The other agents of the session (a coordinator's roster), whose skills count and are mounted too. */
  members: readonly SessionAgent[];
  /** Lay the files out for the `/mnt/skills` mount (cloud); a self-hosted worker downloads them itself. */
  copyFiles: boolean;
}

export class SessionSkillSetup {
  constructor(
    private readonly deps: { store: DocumentStore; workspace: WorkspaceStore },
    private readonly skills: SkillsService,
  ) {}

  /**
   * Pins, checks, copies and catalogs the skills of a session about to be created; returns its agent
   * with each skill's `version` pinned (what the session shows, and what its worker downloads).
   *
   * @throws InvalidRequestError (400) naming the entry for an Anthropic skill, a missing skill or
   *   version, more than 20 skills, or two skills with one name.
   */
  async prepare(
    workspaceId: string,
    sessionId: string,
    agent: SessionAgent,
    options: SessionSkillSetupOptions,
  ): Promise<SessionAgent> {
    const refs = [
      ...agent.skills.map((ref, i) => ({ ref, where: `agent.skills.${i}` })),
      ...options.members.flatMap((member) =>
        member.skills.map((ref, i) => ({ ref, where: `agent.multiagent: agent ${member.id} skills.${i}` })),
      ),
    ];
    if (refs.length === 0) return agent;
    const pinned = new Map<string, { entry: SkillCatalogEntry; stored: StoredSkillVersion }>();
    for (const { ref, where } of refs) {
      const requested = ref.version || LATEST_VERSION;
      const key = `${ref.skill_id}@${requested}`;
      if (pinned.has(key)) continue;
      const stored = await this.skills.resolveReference(workspaceId, ref, where);
      const { version } = stored;
      pinned.set(key, {
        stored,
        entry: {
          skill_id: ref.skill_id,
          requested,
          version: version.id,
          name: version.name,
          description: version.description,
          skipped: [],
          skippedCount: 0,
        },
      });
    }
    const entries = [...pinned.values()];
    const skillIds = new Set(entries.map((e) => e.entry.skill_id));
    if (skillIds.size > SKILL_LIMITS.maxSkillsPerSession)
      throw new InvalidRequestError(
        `agent.skills: the session's agents name ${skillIds.size} skills; a session supports at most ${SKILL_LIMITS.maxSkillsPerSession}, counted across every agent`,
      );
    const byName = new Map<string, SkillCatalogEntry>();
    for (const { entry } of entries) {
      const other = byName.get(entry.name);
      if (other && (other.skill_id !== entry.skill_id || other.version !== entry.version))
        throw new InvalidRequestError(
          `agent.skills: ${other.skill_id}@${other.version} and ${entry.skill_id}@${entry.version} are both named "${entry.name}"; one session mounts one skill per name (${SKILLS_ROOT}/${entry.name})`,
        );
      byName.set(entry.name, entry);
    }
    const unique = entries.filter(({ entry }) => byName.get(entry.name) === entry);
    if (options.copyFiles) {
      for (const { entry, stored } of unique) {
        const skipped = await this.copy(workspaceId, sessionId, stored);
        // A few names are enough for the prompt; the catalog item stays small.
        entry.skipped = skipped.slice(0, MAX_SKIPPED_LISTED);
        entry.skippedCount = skipped.length;
      }
    }
    const catalog: SkillCatalog = { schemaVersion: 1, skills: entries.map((e) => e.entry) };
    await this.deps.store.put("resources", { ...catalogKey(sessionId), catalog });
    return {
      ...agent,
      skills: agent.skills.map((ref) => {
        const entry = pinned.get(`${ref.skill_id}@${ref.version || LATEST_VERSION}`)?.entry;
        return { ...ref, version: entry?.version ?? ref.version };
      }),
    };
  }

  /** Copies a version's text files into the session's skill store; returns the files it could not. */
  private async copy(workspaceId: string, sessionId: string, stored: StoredSkillVersion): Promise<string[]> {
    const { version } = stored;
    const { bytes } = await this.skills.content(workspaceId, version.skill_id, version.id);
    const skipped: string[] = [];
    const decoder = new TextDecoder("utf-8", { fatal: true });
    for (const file of await unpackSkillArchive(version.name, bytes)) {
      let text: string;
      try {
        text = decoder.decode(file.bytes);
      } catch {
        // The workspace holds text (as the file tools and the sandbox mounts do): binaries stay out.
        skipped.push(file.path);
        continue;
      }
      await this.deps.workspace.write(sessionSkillsStoreId(sessionId), `${version.name}/${file.path}`, text);
    }
    return skipped;
  }
}
