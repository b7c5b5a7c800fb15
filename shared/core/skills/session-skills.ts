/**
 * Skills in a running session, as the step loop needs them (kept free of the zip and YAML code, which
 * only the API's session creation loads — see `session-skill-setup.ts`):
 *
 * - the **catalog** (`skills#<session>` / `catalog`): the skills of every agent of the session, pinned
 *   at creation to concrete versions, with the name and description the model is shown;
 * - the **prompt note**: each skill of the run's agent by name and description, and where its SKILL.md
 *   is — in the system prompt, before the cache breakpoint (it never changes during a session);
 * - the **mount**: `/mnt/skills/<name>/…`, read-only, backed by a sibling WorkspaceStore id
 *   (`<session>.mnt-skills`) filled at creation. A self-hosted session has no mount here: the SDK's
 *   worker downloads the skills into `skills/<name>/` of its workdir itself.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { SessionAgent } from "../../contract/sdk-types.js";
import type { DocumentStore, WorkspaceFile, WorkspaceStore } from "../ports.js";
import { FileToolError, type MountedStore } from "../tools/file-tools.js";
import type { PathMount } from "../tools/workspace-paths.js";

/** Where a cloud session sees its skills (read-only). */
export const SKILLS_ROOT = "/mnt/skills";
/** Where the SDK's EnvironmentWorker puts them, relative to its workdir (`setupSkills`). */
export const WORKER_SKILLS_DIR = "skills";

const SKILLS_MOUNT: PathMount = { kind: "skills", root: SKILLS_ROOT, readOnly: true };

/** The store id of a session's skill files: a sibling of its workspace, never listed by its `glob`. */
export const sessionSkillsStoreId = (sessionId: string): string => `${sessionId}.mnt-skills`;

export const catalogKey = (sessionId: string) => ({ pk: `skills#${sessionId}`, sk: "catalog" });

const catalogEntrySchema = lazySchema(() =>
  z.object({
    skill_id: z.string(),
    /** The version the agent named (`latest` or an id). */
    requested: z.string(),
    /** The version it was pinned to when the session was created. */
    version: z.string(),
    name: z.string(),
    description: z.string(),
    /** Files not copied into the cloud mount (not UTF-8 text): the first few, and how many in all. */
    skipped: z.array(z.string()).default([]),
    skippedCount: z.number().int().min(0).default(0),
  }),
);
export type SkillCatalogEntry = z.infer<typeof catalogEntrySchema>;

export const skillCatalogSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    skills: z.array(catalogEntrySchema),
  }),
);
export type SkillCatalog = z.infer<typeof skillCatalogSchema>;

/** Catalogs never change after creation, so a process keeps the ones it read (bounded). */
const cache = new Map<string, SkillCatalog>();

/** A session's skill catalog, or undefined when it has none. */
export async function loadSkillCatalog(
  store: DocumentStore,
  sessionId: string,
): Promise<SkillCatalog | undefined> {
  const cached = cache.get(sessionId);
  if (cached) return cached;
  const { pk, sk } = catalogKey(sessionId);
  const item = await store.get("resources", pk, sk);
  if (!item) return undefined;
  const catalog = skillCatalogSchema.parse(item.catalog);
  if (cache.size >= 500) cache.delete(cache.keys().next().value as string);
  cache.set(sessionId, catalog);
  return catalog;
}

/** The catalog entries of an agent's skills (a thread's agent may name `latest`: its pin is found too). */
export function skillsOf(agent: Pick<SessionAgent, "skills">, catalog: SkillCatalog): SkillCatalogEntry[] {
  const out: SkillCatalogEntry[] = [];
  for (const ref of agent.skills) {
    const entry = catalog.skills.find(
      (e) => e.skill_id === ref.skill_id && (e.version === ref.version || e.requested === ref.version),
    );
    if (entry && !out.includes(entry)) out.push(entry);
  }
  return out;
}

/** A run as the prompt note needs it: its agent, its session (a thread's owner), who runs its tools. */
interface SkillRun {
  session: { id: string; agent: Pick<SessionAgent, "skills"> };
  thread?: unknown;
  run?: { hands?: string };
}

/**
 * The system prompt's skills section for a run (undefined when its agent has none): each skill's name
 * and description and the path of its SKILL.md, which the model reads with `read` when a task matches.
 */
export async function skillsPromptNote(store: DocumentStore, record: SkillRun): Promise<string | undefined> {
  if (record.session.agent.skills.length === 0) return undefined;
  const owner = (record.thread as { sessionId?: string } | undefined)?.sessionId ?? record.session.id;
  const catalog = await loadSkillCatalog(store, owner);
  if (!catalog) return undefined;
  const skills = skillsOf(record.session.agent, catalog);
  if (skills.length === 0) return undefined;
  const worker = record.run?.hands === "worker";
  const dir = (name: string) => (worker ? `${WORKER_SKILLS_DIR}/${name}` : `${SKILLS_ROOT}/${name}`);
  const lines = [
    "# Skills",
    `You have these skills: folders of instructions, scripts and resources for particular tasks. When a task matches a skill's description, first read its SKILL.md with the read tool and follow it; read the other files it mentions only when you need them. ${
      worker
        ? "The skill folders are in your working directory, under skills/."
        : `The skill folders are read-only, under ${SKILLS_ROOT}/; run their scripts from there with bash (e.g. python ${SKILLS_ROOT}/<skill>/scripts/x.py) and write your outputs under /workspace.`
    }`,
  ];
  for (const skill of skills) {
    lines.push("");
    lines.push(`## ${skill.name}`);
    lines.push(`Description: ${skill.description}`);
    lines.push(`Instructions: ${dir(skill.name)}/SKILL.md`);
    if (!worker && skill.skippedCount > 0)
      lines.push(
        `Not available here (binary files): ${skill.skipped.join(", ")}${skill.skippedCount > skill.skipped.length ? ` and ${skill.skippedCount - skill.skipped.length} more` : ""}`,
      );
  }
  return lines.join("\n");
}

/** The read-only view of a session's skill files. */
class SkillFilesView implements WorkspaceStore {
  constructor(private readonly inner: WorkspaceStore) {}
  read(id: string, key: string): Promise<string | undefined> {
    return this.inner.read(id, key);
  }
  list(id: string): Promise<WorkspaceFile[]> {
    return this.inner.list(id);
  }
  async write(): Promise<void> {
    throw new FileToolError(
      `${SKILLS_ROOT} is read-only (skills never change in a session); write under /workspace instead`,
    );
  }
}

/** The `/mnt/skills` mount of a cloud session (its owner session's copy of every skill's files). */
export function sessionSkillMounts(workspace: WorkspaceStore, ownerSessionId: string): MountedStore[] {
  return [
    { mount: SKILLS_MOUNT, store: new SkillFilesView(workspace), id: sessionSkillsStoreId(ownerSessionId) },
  ];
}
