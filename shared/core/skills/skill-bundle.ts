/**
 * A skill bundle as uploaded to `POST /v1/skills` or `/v1/skills/{id}/versions`: either the skill's
 * files as separate parts (each part's filename is its path, e.g. `pdf-tools/SKILL.md`) or one zip
 * archive. {@link readSkillBundle} checks it against Anthropic's documented rules and reduces it to
 * the skill's name, description and files relative to the skill's directory; every violation is a 400
 * that names the problem. {@link skillArchive} packs a bundle as the canonical zip Reverie stores and
 * serves (one top-level directory named after the skill), {@link unpackSkillArchive} reads it back.
 *
 * Layout rules: every file lies inside one directory — the deepest directory all paths share, so
 * `/home/me/skills/pdf-tools/SKILL.md` uploads like `pdf-tools/SKILL.md` — and `SKILL.md` sits
 * directly in it. No path may climb with `..`; a zip member may not be absolute. `__MACOSX/` and
 * `.DS_Store` entries (added by macOS archivers) are ignored.
 */
import { ApiError, InvalidRequestError } from "../../contract/errors.js";
import {
  RESERVED_SKILL_NAME_WORDS,
  SKILL_LIMITS,
  SKILL_NAME_PATTERN,
  XML_TAG_PATTERN,
} from "../../contract/skills.js";
import { memberBytes, ZipFormatError, type ZipMember, zipMembers } from "./upload-zip.js";

type SkillCodecs = typeof import("./skill-codecs.js");

let codecs: Promise<SkillCodecs> | undefined;

/**
 * fflate's zipSync and js-yaml (skill-codecs.ts), imported on first use: only skill uploads need
 * them, and evaluating them at load (fflate's tables, js-yaml's
 * schemas) was one of the largest costs of the cold start of every Lambda function carrying this
 * module (docs/performance.md).
 */
function skillCodecs(): Promise<SkillCodecs> {
  codecs ??=
    typeof __REVERIE_SKILL_CODECS_FILE__ === "string"
      ? import(new URL(__REVERIE_SKILL_CODECS_FILE__, import.meta.url).href)
      : import("./skill-codecs.js");
  return codecs;
}

/**
 * Set (esbuild `define`) in the Lambda bundles whose asset carries skill-codecs.ts as a file of its own
 * beside the bundle, which then does not carry fflate and js-yaml (~59 KiB that V8 would compile at
 * every cold start; infra/aws/lambda-side-files.ts). Elsewhere the module itself is imported.
 */
declare const __REVERIE_SKILL_CODECS_FILE__: string | undefined;

/** One uploaded part (or zip member): its path as sent and its bytes. */
export interface UploadedSkillFile {
  path: string;
  bytes: Uint8Array;
}

/** A file of a skill, by path relative to the skill's directory (`SKILL.md`, `scripts/run.py`). */
export interface SkillFile {
  path: string;
  bytes: Uint8Array;
}

/** A valid bundle: the front matter's name and description, and the skill's files. */
export interface SkillBundle {
  name: string;
  description: string;
  files: SkillFile[];
  /** Sum of the files' sizes, uncompressed. */
  totalBytes: number;
}

/** The 400 of a bundle that breaks a rule; its message names the rule and the offending path. */
export class SkillBundleError extends InvalidRequestError {
  override name = "SkillBundleError";
}

const SKILL_FILE = "SKILL.md";
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
const IGNORED_SEGMENTS = new Set(["__MACOSX"]);
const IGNORED_NAMES = new Set([".DS_Store"]);

const isZip = (file: UploadedSkillFile) =>
  file.path.toLowerCase().endsWith(".zip") || ZIP_MAGIC.every((b, i) => file.bytes[i] === b);

/**
 * Validates an upload and returns the skill it holds.
 *
 * @throws SkillBundleError (400) for a missing or misplaced SKILL.md, bad front matter, a path that
 *   escapes (`..`, absolute zip members), files outside one directory, duplicates, too many files or
 *   more than 30 MB uncompressed; ApiError `request_too_large` is the edge's job (request size).
 */
export async function readSkillBundle(parts: readonly UploadedSkillFile[]): Promise<SkillBundle> {
  if (parts.length === 0)
    throw new SkillBundleError(
      "files: upload the skill's files (at least SKILL.md inside the skill's directory) as `files[]` parts, or one .zip of that directory",
    );
  const zips = parts.filter(isZip);
  let entries: UploadedSkillFile[];
  if (zips.length > 0) {
    if (parts.length > 1)
      throw new SkillBundleError(
        `files: a zip archive (${zips[0]?.path}) must be uploaded alone, not together with other files`,
      );
    entries = unzipUpload(parts[0] as UploadedSkillFile);
  } else {
    entries = parts.map((p) => ({ path: normalisePath(p.path, "upload"), bytes: p.bytes }));
  }
  entries = entries.filter((e) => !ignored(e.path));
  if (entries.length === 0) throw new SkillBundleError("files: the upload holds no files");
  if (entries.length > SKILL_LIMITS.maxFiles)
    throw new SkillBundleError(
      `files: ${entries.length} files; a skill holds at most ${SKILL_LIMITS.maxFiles} files`,
    );
  const seen = new Set<string>();
  let totalBytes = 0;
  for (const entry of entries) {
    if (seen.has(entry.path)) throw new SkillBundleError(`files: ${entry.path} is uploaded more than once`);
    seen.add(entry.path);
    totalBytes += entry.bytes.byteLength;
  }
  checkTotal(totalBytes);

  const root = skillRoot(entries.map((e) => e.path));
  const files = entries
    .map((e) => ({ path: e.path.slice(root.length + 1), bytes: e.bytes }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const skillMd = files.find((f) => f.path === SKILL_FILE) as SkillFile;
  const directory = root.split("/").at(-1) as string;
  const { name, description } = frontMatter(skillMd.bytes, directory, (await skillCodecs()).parseYaml);
  return { name, description, files, totalBytes };
}

function checkTotal(totalBytes: number) {
  if (totalBytes > SKILL_LIMITS.maxUncompressedBytes)
    throw new SkillBundleError(
      `files: the skill is ${totalBytes} bytes uncompressed; a skill must be under ${SKILL_LIMITS.maxUncompressedBytes} bytes (30 MB)`,
    );
}

const ignored = (path: string) => {
  const segments = path.split("/");
  return segments.some((s) => IGNORED_SEGMENTS.has(s)) || IGNORED_NAMES.has(segments.at(-1) as string);
};

/**
 * A path as sent → `a/b/c` (no leading, trailing or doubled slashes, no `.`). Backslashes count as
 * separators. A part's leading `/` is dropped (the SDK sends a read stream's path as its filename);
 * a zip member's is refused, like `..` anywhere.
 */
function normalisePath(raw: string, origin: "upload" | "zip"): string {
  const what = origin === "zip" ? "zip member" : "file";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters in a path are refused
  if (/[\u0000-\u001f\u007f]/.test(raw))
    throw new SkillBundleError(`files: ${what} ${JSON.stringify(raw)} has control characters in its path`);
  const slashed = raw.replaceAll("\\", "/");
  if (origin === "zip" && (slashed.startsWith("/") || /^[A-Za-z]:\//.test(slashed)))
    throw new SkillBundleError(
      `files: zip member ${JSON.stringify(raw)} has an absolute path (path traversal); members must be relative to the archive`,
    );
  const segments = slashed
    .replace(/^[A-Za-z]:\//, "")
    .split("/")
    .filter((s) => s !== "" && s !== ".");
  if (segments.includes(".."))
    throw new SkillBundleError(
      `files: ${what} ${JSON.stringify(raw)} climbs out of its directory with ".." (path traversal)`,
    );
  const path = segments.join("/");
  if (path === "") throw new SkillBundleError(`files: a ${what} has no path (its filename is empty)`);
  if (path.length > SKILL_LIMITS.maxPathLength)
    throw new SkillBundleError(
      `files: ${what} path ${JSON.stringify(`${path.slice(0, 60)}…`)} is longer than ${SKILL_LIMITS.maxPathLength} characters`,
    );
  return path;
}

/**
 * The members of an uploaded zip (directories skipped). The central directory is checked first —
 * paths, duplicates, the file count and the sum of the declared sizes against 30 MB — before
 * anything is inflated; then each member inflates to at most its declared size (upload-zip.ts): a
 * member whose stream holds more is refused as soon as its output passes the size it declares, so
 * the work an upload costs is bounded by 30 MB of output, whatever its streams hold.
 */
function unzipUpload(zip: UploadedSkillFile): UploadedSkillFile[] {
  const members: { path: string; member: ZipMember }[] = [];
  const names = new Set<string>();
  let declared = 0;
  try {
    for (const member of zipMembers(zip.bytes)) {
      if (member.name.endsWith("/") || member.name.endsWith("\\")) continue;
      const path = normalisePath(member.name, "zip");
      if (names.has(path))
        throw new SkillBundleError(`files: zip member ${path} appears more than once in the archive`);
      names.add(path);
      if (names.size > SKILL_LIMITS.maxFiles)
        throw new SkillBundleError(`files: the archive holds more than ${SKILL_LIMITS.maxFiles} files`);
      declared += member.declaredSize;
      checkTotal(declared);
      members.push({ path, member });
    }
    return members.map(({ path, member }) => {
      const bytes = memberBytes(zip.bytes, member);
      if (bytes === undefined)
        throw new SkillBundleError(
          `files: zip member ${path} holds more than the ${member.declaredSize} bytes its header declares (a corrupt archive or a zip bomb)`,
        );
      return { path, bytes };
    });
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new SkillBundleError(
      `files: ${zip.path} is not a readable zip archive (${(error as Error).message})`,
    );
  }
}

/**
 * The skill's directory: the deepest directory every path shares, which must hold SKILL.md itself.
 */
function skillRoot(paths: readonly string[]): string {
  const dirs = paths.map((p) => p.split("/").slice(0, -1));
  let common = dirs[0] as string[];
  for (const d of dirs.slice(1)) {
    let i = 0;
    while (i < common.length && i < d.length && common[i] === d[i]) i++;
    common = common.slice(0, i);
  }
  const root = common.join("/");
  const at = (dir: string) => (dir === "" ? SKILL_FILE : `${dir}/${SKILL_FILE}`);
  const found = paths.filter((p) => p === SKILL_FILE || p.endsWith(`/${SKILL_FILE}`));
  if (root === "") {
    if (paths.includes(SKILL_FILE))
      throw new SkillBundleError(
        "files: put the skill's files inside one directory named after the skill (e.g. my-skill/SKILL.md), not at the top level",
      );
    const tops = [...new Set(paths.map((p) => p.split("/")[0]))].slice(0, 3);
    throw new SkillBundleError(
      `files: all files must be in the same top-level directory (found ${tops.map((t) => `${t}/`).join(", ")}); upload one skill directory with SKILL.md at its root`,
    );
  }
  if (!paths.includes(at(root))) {
    if (found.length > 0)
      throw new SkillBundleError(
        `files: SKILL.md must be at the root of the skill's directory ${root}/ (found ${found[0]})`,
      );
    const wrongCase = paths.find((p) => p.split("/").at(-1)?.toLowerCase() === "skill.md");
    throw new SkillBundleError(
      wrongCase
        ? `files: found ${wrongCase}; the file must be named exactly SKILL.md (upper case) at the root of ${root}/`
        : `files: no SKILL.md: a skill needs a SKILL.md with YAML front matter (name, description) at the root of its directory ${root}/`,
    );
  }
  return root;
}

/** Reverie's bound on the front matter (the documented fields fit in ~1.1 kB). */
const MAX_FRONT_MATTER_CHARS = 64 * 1024;
const FRONT_MATTER = /^---[ \t]*\r?\n(?:([\s\S]*?)\r?\n)?---[ \t]*(?:\r?\n|$)/;

/** SKILL.md's front matter, validated: name (or the directory's name) and description. */
function frontMatter(
  bytes: Uint8Array,
  directory: string,
  parseYaml: SkillCodecs["parseYaml"],
): { name: string; description: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new SkillBundleError("SKILL.md: not UTF-8 text");
  }
  if (text.startsWith("\uFEFF")) text = text.slice(1);
  const match = FRONT_MATTER.exec(text.slice(0, MAX_FRONT_MATTER_CHARS + 16));
  if (!match)
    throw new SkillBundleError(
      `SKILL.md: must start with YAML front matter between two \`---\` lines, with \`name\` and \`description\` (at most ${MAX_FRONT_MATTER_CHARS} characters)`,
    );
  let data: unknown;
  try {
    data = parseYaml(match[1] ?? "");
  } catch (error) {
    const first = (error as Error).message.split("\n")[0];
    throw new SkillBundleError(`SKILL.md: the front matter is not valid YAML (${first})`);
  }
  if (data === null || typeof data !== "object" || Array.isArray(data))
    throw new SkillBundleError(
      "SKILL.md: the front matter must be a YAML mapping with `name` and `description`",
    );
  const fields = data as Record<string, unknown>;
  const problems: string[] = [];
  let name = fields.name;
  if (name === undefined || name === null) {
    const problem = skillNameProblem(directory);
    if (problem)
      throw new SkillBundleError(
        `SKILL.md: the front matter has no \`name\`, and the skill's directory "${directory}" is not a valid name (${problem}); add \`name:\` to the front matter`,
      );
    name = directory;
  } else if (typeof name !== "string") {
    problems.push("name: must be a string");
  } else {
    const problem = skillNameProblem(name);
    if (problem) problems.push(`name: ${problem}`);
  }
  const description = fields.description;
  if (description === undefined || description === null) problems.push("description: is required");
  else if (typeof description !== "string") problems.push("description: must be a string");
  else {
    const problem = skillDescriptionProblem(description);
    if (problem) problems.push(`description: ${problem}`);
  }
  if (problems.length > 0) throw new SkillBundleError(`SKILL.md front matter: ${problems.join("; ")}`);
  return { name: name as string, description: (description as string).trim() };
}

/** Why `name` is not a valid skill name, or undefined. */
export function skillNameProblem(name: string): string | undefined {
  if (name.length === 0) return "must not be empty";
  if (name.length > SKILL_LIMITS.nameMaxLength)
    return `must be at most ${SKILL_LIMITS.nameMaxLength} characters (it has ${name.length})`;
  if (XML_TAG_PATTERN.test(name)) return "must not contain XML tags";
  if (!SKILL_NAME_PATTERN.test(name))
    return `must contain only lowercase letters, numbers and hyphens (got ${JSON.stringify(name)})`;
  const reserved = RESERVED_SKILL_NAME_WORDS.find((w) => name.includes(w));
  if (reserved) return `must not contain the reserved word "${reserved}"`;
  return undefined;
}

/** Why `description` is not a valid skill description, or undefined. */
export function skillDescriptionProblem(description: string): string | undefined {
  if (description.trim() === "") return "must not be empty";
  if (description.length > SKILL_LIMITS.descriptionMaxLength)
    return `must be at most ${SKILL_LIMITS.descriptionMaxLength} characters (it has ${description.length})`;
  if (XML_TAG_PATTERN.test(description)) return "must not contain XML tags";
  return undefined;
}

const startsWithShebang = (bytes: Uint8Array) => bytes[0] === 0x23 && bytes[1] === 0x21;

/**
 * The canonical archive of a skill version: one top-level directory named after the skill (what
 * the SDK's worker strips when it extracts into `skills/<name>/`), regular files only; a file that
 * starts with `#!` is marked executable so a worker's extracted scripts run as they are.
 */
export async function skillArchive(
  name: string,
  files: readonly SkillFile[],
  mtime: number,
): Promise<Uint8Array> {
  const { zipSync } = await skillCodecs();
  const entries: Record<string, [Uint8Array, { os: number; attrs: number; mtime: number }]> = {};
  // Zip (DOS) timestamps cover 1980–2099 only.
  const stamp = Math.min(Math.max(mtime, Date.UTC(1980, 0, 2)), Date.UTC(2099, 11, 30));
  for (const file of files) {
    const mode = startsWithShebang(file.bytes) ? 0o100755 : 0o100644;
    entries[`${name}/${file.path}`] = [file.bytes, { os: 3, attrs: mode << 16, mtime: stamp }];
  }
  return zipSync(entries, { level: 6 });
}

/**
 * The files of an archive made by {@link skillArchive}, relative to the skill's directory (read like
 * an upload, by upload-zip.ts: Reverie's own archives declare their sizes truthfully).
 */
export async function unpackSkillArchive(name: string, archive: Uint8Array): Promise<SkillFile[]> {
  const prefix = `${name}/`;
  const files: SkillFile[] = [];
  for (const member of zipMembers(archive)) {
    if (!member.name.startsWith(prefix) || member.name.endsWith("/")) continue;
    const bytes = memberBytes(archive, member);
    if (bytes === undefined)
      throw new ZipFormatError(`skill archive member ${member.name} holds more than it declares`);
    files.push({ path: member.name.slice(prefix.length), bytes });
  }
  return files;
}
