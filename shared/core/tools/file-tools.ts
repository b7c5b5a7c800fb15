/**
 * The file tools of `agent_toolset_20260401` (`read`, `write`, `edit`, `glob`, `grep`) over a session's
 * WorkspaceStore. Each function returns the text handed back to the model, or throws a
 * {@link FileToolError} / {@link WorkspacePathError} whose message is written for the model to act on;
 * `toolset.ts` turns those into `is_error` tool results.
 *
 * `write` and `edit` change one file each. When the store they write to is guarded by a tool call's
 * {@link WriteIntentLog} ({@link withWriteIntents}), that change is a compare-and-swap keyed by the
 * call: the intended change (path, hash before, hash after, result) is recorded before it is applied,
 * and a re-run of the same call after a crash applies it at most once (see `runtime/tool-intents.ts`).
 */
import { createHash } from "node:crypto";
import type { Context, Script } from "node:vm";
import type {
  BetaManagedAgentsAgentToolset20260401EditInput as EditInput,
  BetaManagedAgentsAgentToolset20260401GlobInput as GlobInput,
  BetaManagedAgentsAgentToolset20260401GrepInput as GrepInput,
  BetaManagedAgentsAgentToolset20260401ReadInput as ReadInput,
  BetaManagedAgentsAgentToolset20260401WriteInput as WriteInput,
} from "@anthropic-ai/sdk/resources/beta/agents/agents";
import picomatch from "picomatch";
import { type WorkspaceFile, WorkspaceFileTooLargeError, type WorkspaceStore } from "../ports.js";
import {
  mountDisplayPath,
  type PathMount,
  resolveToolPath,
  WORKSPACE_MOUNT,
  WorkspacePathError,
} from "./workspace-paths.js";

/** Sizes that keep one tool call from flooding the context window or the store. */
export const FILE_TOOL_LIMITS = {
  /** Largest file `write`/`edit` will store, in UTF-8 bytes. */
  maxFileBytes: 10 * 1024 * 1024,
  /** Most lines (read) or result rows (glob, grep) returned by one call. */
  maxOutputLines: 2_000,
  /** Most UTF-8 bytes of output returned by one call. */
  maxOutputBytes: 100 * 1024,
  /** Longer lines are cut in read and grep output. */
  maxLineChars: 2_000,
  /**
   * Most time a glob call, or one batch of a grep call's files, may spend matching its pattern, in
   * milliseconds; a grep call stops after `maxMatchMs` × {@link GREP_BATCHES_TIMED} in all.
   */
  maxMatchMs: 2_000,
} as const;

/** A file tool call that cannot be carried out as asked (missing file, ambiguous edit, bad regex…). */
export class FileToolError extends Error {
  override name = "FileToolError";
}

/** A glob or grep whose matching ran out of time (a pattern that backtracks, or too much text). */
class MatchTimeoutError extends FileToolError {}

export { WorkspacePathError };

const encoder = new TextEncoder();

function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}

/** Collects output rows until a line or byte cap is reached. */
class CappedOutput {
  readonly rows: string[] = [];
  private bytes = 0;
  truncated = false;

  /** Adds a row; false once the output is full (the row was not added). */
  add(row: string): boolean {
    if (this.truncated) return false;
    const size = utf8Bytes(row) + 1;
    if (
      this.rows.length >= FILE_TOOL_LIMITS.maxOutputLines ||
      this.bytes + size > FILE_TOOL_LIMITS.maxOutputBytes
    ) {
      this.truncated = true;
      return false;
    }
    this.rows.push(row);
    this.bytes += size;
    return true;
  }
}

function clipLine(line: string): string {
  return line.length > FILE_TOOL_LIMITS.maxLineChars
    ? `${line.slice(0, FILE_TOOL_LIMITS.maxLineChars)}… [line cut at ${FILE_TOOL_LIMITS.maxLineChars} characters]`
    : line;
}

/** Splits file content into lines; a final newline does not start another line. */
function splitLines(content: string): string[] {
  if (content === "") return [];
  const lines = content.split(/\r?\n/);
  if (lines[lines.length - 1] === "") lines.pop();
  return lines;
}

/** SHA-256 of a file's UTF-8 content, hex — the same hash as a memory's `content_sha256`. */
export const contentSha256 = (content: string): string =>
  createHash("sha256").update(content, "utf8").digest("hex");

/**
 * What a store may offer the file tools beyond {@link WorkspaceStore} (a memory store does; the
 * workspace does not): the form it keeps content in, and a conditional write.
 */
export interface FileToolStore extends WorkspaceStore {
  /**
   * The content as the store would keep it (a memory store strips hidden characters), after the
   * store's own checks; the hash of this is what a write leaves behind.
   *
   * @throws FileToolError when the store would refuse the content or the key.
   */
  storedForm?(key: string, content: string): string;
  /**
   * Writes only if the file's current content hashes to `expectedSha` (`null`: only if there is no
   * such file) — a compare-and-swap.
   *
   * @throws FileToolError when the file is not as expected.
   */
  writeIfUnchanged?(id: string, key: string, content: string, expectedSha: string | null): Promise<void>;
}

/**
 * A store mounted into the session's filesystem besides the workspace (a memory store at
 * `/mnt/memory/<name>`): the file tools route each path to the store of the mount it lies in.
 */
export interface MountedStore {
  readonly mount: PathMount;
  readonly store: FileToolStore;
  /** The id handed to the store's methods (the workspace id for the workspace). */
  readonly id: string;
}

/**
 * The one change a `write` or `edit` call makes, as recorded before it is applied. Deterministic: a
 * re-run of the call on the same file computes the same intent.
 */
export interface FileChangeIntent {
  /** The file, absolute as the model sees it (`/workspace/f.txt`, `/mnt/memory/notes/a.md`). */
  path: string;
  /** {@link contentSha256} of the file before the change; `null` when there was no file. */
  before: string | null;
  /** {@link contentSha256} of the file as the store keeps it after the change. */
  after: string;
  /** The (successful) tool result the change reports. */
  result: string;
}

/**
 * Where one tool call records the change it is about to make (implemented over the document store
 * by `runtime/tool-intents.ts`, keyed by the run and the `agent.tool_use` event id).
 */
export interface WriteIntentLog {
  /** The change an earlier attempt of this tool call recorded, if any. */
  recorded(): Promise<FileChangeIntent | undefined>;
  /**
   * Records `intent` unless one is recorded already (a conditional put); returns the one already
   * recorded in that case, else undefined.
   */
  record(intent: FileChangeIntent): Promise<FileChangeIntent | undefined>;
}

/** A store seen through one tool call whose writes are guarded by that call's intent log. */
class IntentGuardedStore implements WorkspaceStore {
  constructor(
    readonly inner: FileToolStore,
    readonly intents: WriteIntentLog,
  ) {}
  read(id: string, key: string) {
    return this.inner.read(id, key);
  }
  write(id: string, key: string, content: string) {
    return this.inner.write(id, key, content);
  }
  list(id: string) {
    return this.inner.list(id);
  }
}

/**
 * `store` as one tool call sees it: a `write` or `edit` through it records its change in `intents`
 * before applying it, and on a re-run of the call applies it at most once. Wrap the workspace and
 * every mounted store of the call (the tool entry point passes stores, not per-call options).
 */
export function withWriteIntents(store: FileToolStore, intents: WriteIntentLog): WorkspaceStore {
  return new IntentGuardedStore(store instanceof IntentGuardedStore ? store.inner : store, intents);
}

/** Where a tool path lands: its store, the key in it, and how the model sees a key of that mount. */
interface Located {
  store: FileToolStore;
  /** The tool call's intent log when its writes are guarded. */
  intents?: WriteIntentLog;
  id: string;
  key: string;
  mount: PathMount;
  absolute: string;
  shown: (key: string) => string;
}

function locate(
  store: WorkspaceStore,
  workspaceId: string,
  mounts: readonly MountedStore[],
  path: string,
  allowRoot = false,
): Located {
  const table: MountedStore[] = [{ mount: WORKSPACE_MOUNT, store, id: workspaceId }, ...mounts];
  const resolved = resolveToolPath(path, { mounts: table.map((m) => m.mount), allowRoot });
  const target = table.find((m) => m.mount === resolved.mount) as MountedStore;
  const guarded = target.store instanceof IntentGuardedStore ? target.store : undefined;
  return {
    store: guarded?.inner ?? target.store,
    intents: guarded?.intents,
    id: target.id,
    key: resolved.key,
    mount: resolved.mount,
    absolute: resolved.absolute,
    shown: (key) => mountDisplayPath(resolved.mount, key),
  };
}

/** `read_only` mounts are enforced here, in the tool layer, not by prompt. */
function assertWritable(at: Located): void {
  if (at.mount.readOnly)
    throw new FileToolError(
      `${at.shown(at.key)} is on a read-only mount (${at.mount.root}); writes are refused`,
    );
}

async function isDirectory(store: WorkspaceStore, workspaceId: string, key: string): Promise<boolean> {
  const files = await store.list(workspaceId);
  return files.some((file) => file.path.startsWith(`${key}/`));
}

async function readExisting(at: Located): Promise<string> {
  const content = await at.store.read(at.id, at.key);
  if (content !== undefined) return content;
  throw await notAFile(at);
}

async function notAFile(at: Located): Promise<FileToolError> {
  const { store, id: workspaceId, key } = at;
  const shown = at.shown(key);
  if (await isDirectory(store, workspaceId, key)) {
    return new FileToolError(`${shown} is a directory, not a file; use glob to list its files`);
  }
  return new FileToolError(`File not found: ${shown}`);
}

/**
 * A file too large to load (`bash` made it; WorkspaceStore.read refuses it): a `write` may still
 * replace it whole, and its guard knows it by its size.
 */
interface Oversize {
  readonly oversizeBytes: number;
}
/** What a call found at its path: the file's text, no file (undefined), or a file too large to load. */
type Current = string | undefined | Oversize;

const shaOf = (content: Current): string | null =>
  content === undefined
    ? null
    : typeof content === "string"
      ? contentSha256(content)
      : `oversize:${content.oversizeBytes}`;

/**
 * For a guarded call that an earlier attempt already started: the result it recorded if the file is
 * as that attempt left it (nothing to do again), undefined if the file is still as it was before
 * (the change was never applied: go on), a conflict if it is neither.
 */
async function replayed(at: Located, current: Current, tool: string): Promise<string | undefined> {
  const intent = await at.intents?.recorded();
  if (!intent) return undefined;
  const sha = shaOf(current);
  if (intent.path === at.absolute && sha === intent.after) return intent.result;
  if (intent.path === at.absolute && sha === intent.before) return undefined;
  throw changedSince(at, tool);
}

function changedSince(at: Located, tool: string): FileToolError {
  return new FileToolError(
    `${at.shown(at.key)} changed since this ${tool} call was started (it was interrupted by a restart): ` +
      `the file is neither as it was before the call nor as the call left it, so the ${tool} was not applied. ` +
      "Read the file and redo the change if it is still needed.",
  );
}

/**
 * Applies a call's one change: `current` (what the call read; undefined = no file) becomes `next`.
 * Guarded, the intent is recorded first and the write is conditional on `current` where the store
 * can do that (a memory store); without a guard it is a plain write.
 */
async function applyChange(
  at: Located,
  current: Current,
  next: string,
  result: string,
  tool: string,
): Promise<string> {
  if (!at.intents) {
    await at.store.write(at.id, at.key, next);
    return result;
  }
  const stored = at.store.storedForm ? at.store.storedForm(at.key, next) : next;
  const intent: FileChangeIntent = {
    path: at.absolute,
    before: shaOf(current),
    after: contentSha256(stored),
    result,
  };
  const earlier = await at.intents.record(intent);
  // Recorded meanwhile by another attempt of the same call: it may go on only if it is the same change.
  if (
    earlier &&
    (earlier.path !== intent.path || earlier.before !== intent.before || earlier.after !== intent.after)
  )
    throw changedSince(at, tool);
  if (at.store.writeIfUnchanged) await at.store.writeIfUnchanged(at.id, at.key, next, intent.before);
  else await at.store.write(at.id, at.key, next);
  return earlier?.result ?? result;
}

function checkSize(content: string, shown: string): void {
  const bytes = utf8Bytes(content);
  if (bytes > FILE_TOOL_LIMITS.maxFileBytes) {
    throw new FileToolError(
      `Refusing to write ${shown}: ${bytes} bytes exceeds the ${FILE_TOOL_LIMITS.maxFileBytes}-byte file limit`,
    );
  }
}

/**
 * `read`: the file's lines numbered like `cat -n`. `view_range` is `[start, end]`, 1-indexed and
 * inclusive; an end of 0 or less (or a missing end) means the end of the file.
 */
export async function readFile(
  store: WorkspaceStore,
  workspaceId: string,
  input: ReadInput,
  mounts: readonly MountedStore[] = [],
): Promise<string> {
  const at = locate(store, workspaceId, mounts, input.file_path);
  const shown = at.shown(at.key);
  const lines = splitLines(await readExisting(at));
  let start = 1;
  let end = lines.length;
  if (input.view_range && input.view_range.length > 0) {
    const [from, to] = input.view_range;
    if (from === undefined || !Number.isInteger(from) || from < 1) {
      throw new FileToolError(`view_range start must be an integer ≥ 1, got ${String(from)}`);
    }
    if (to !== undefined && !Number.isInteger(to)) {
      throw new FileToolError(`view_range end must be an integer, got ${String(to)}`);
    }
    if (lines.length === 0) return `${shown} is empty`;
    if (from > lines.length) {
      throw new FileToolError(`view_range start ${from} is past the end of ${shown} (${lines.length} lines)`);
    }
    if (to !== undefined && to > 0 && to < from) {
      throw new FileToolError(`view_range end ${to} is before its start ${from}`);
    }
    start = from;
    end = to === undefined || to <= 0 ? lines.length : Math.min(to, lines.length);
  }
  if (lines.length === 0) return `${shown} is empty`;
  const output = new CappedOutput();
  let last = start - 1;
  for (let n = start; n <= end; n++) {
    if (!output.add(`${String(n).padStart(6)}\t${clipLine(lines[n - 1] ?? "")}`)) break;
    last = n;
  }
  let text = output.rows.join("\n");
  if (output.truncated) {
    text += `\n… truncated: showed lines ${start}–${last} of ${lines.length}; read further with view_range [${last + 1}, ${end}]`;
  }
  return text;
}

/** `write`: stores the whole content, replacing any existing file. */
export async function writeFile(
  store: WorkspaceStore,
  workspaceId: string,
  input: WriteInput,
  mounts: readonly MountedStore[] = [],
): Promise<string> {
  const at = locate(store, workspaceId, mounts, input.file_path);
  const shown = at.shown(at.key);
  assertWritable(at);
  checkSize(input.content, shown);
  const result = `Wrote ${splitLines(input.content).length} lines (${utf8Bytes(input.content)} bytes) to ${shown}`;
  // Only a guarded write needs to know what it replaces.
  const current = at.intents ? await replacedBy(at) : undefined;
  const done = await replayed(at, current, "write");
  if (done !== undefined) return done;
  return applyChange(at, current, input.content, result, "write");
}

/** What a guarded write replaces: the file, or one too large to load, known by its size. */
async function replacedBy(at: Located): Promise<Current> {
  try {
    return await at.store.read(at.id, at.key);
  } catch (error) {
    if (error instanceof WorkspaceFileTooLargeError) return { oversizeBytes: error.size };
    throw error;
  }
}

function countOccurrences(haystack: string, needle: string): number {
  let count = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length))
    count++;
  return count;
}

/** `edit`: replaces `old_string` — which must occur exactly once unless `replace_all` — by `new_string`. */
export async function editFile(
  store: WorkspaceStore,
  workspaceId: string,
  input: EditInput,
  mounts: readonly MountedStore[] = [],
): Promise<string> {
  const at = locate(store, workspaceId, mounts, input.file_path);
  const shown = at.shown(at.key);
  assertWritable(at);
  if (input.old_string === "") throw new FileToolError("old_string must not be empty");
  if (input.old_string === input.new_string) {
    throw new FileToolError("old_string and new_string are identical; nothing to change");
  }
  const current = await at.store.read(at.id, at.key);
  // Before any check of the content: a re-run finds `old_string` gone, or still there after an
  // append-style edit, and must neither fail nor apply the edit twice.
  const done = await replayed(at, current, "edit");
  if (done !== undefined) return done;
  if (current === undefined) throw await notAFile(at);
  const content = current;
  const count = countOccurrences(content, input.old_string);
  if (count === 0) throw new FileToolError(`old_string was not found in ${shown} (0 occurrences)`);
  if (count > 1 && !input.replace_all) {
    throw new FileToolError(
      `old_string occurs ${count} times in ${shown}; include more surrounding context to make it unique, or set replace_all to replace every occurrence`,
    );
  }
  // split/join rather than String.replace: `$&`-style patterns in new_string must stay literal.
  const updated = content.split(input.old_string).join(input.new_string);
  checkSize(updated, shown);
  return applyChange(
    at,
    content,
    updated,
    `Replaced ${count} occurrence${count === 1 ? "" : "s"} in ${shown}`,
    "edit",
  );
}

let matchContext: { context: Context; call: Script } | undefined;

/**
 * Runs `work` (a loop of pattern matches) for at most `budget.leftMs`, and takes the time it took
 * from the budget. A model's regular expression (`grep`) or glob (which picomatch compiles into one)
 * can backtrack for hours on a single line — `(a+)+$`, `*a*a*a*a*a*a*a*b` — and JavaScript cannot
 * interrupt a RegExp; the step (and, on one machine, the whole stack with it) would stall. V8 can end
 * a `vm` script at its timeout, together with whatever it is calling, so the loop runs in one.
 *
 * @throws MatchTimeoutError when the budget runs out.
 */
function matchWithin<T>(budget: { leftMs: number; pattern: string }, work: () => T): T {
  // Taken on first use: processes that never match a pattern never load it (no ES module facade).
  const vm = process.getBuiltinModule("node:vm");
  matchContext ??= { context: vm.createContext({}), call: new vm.Script("work()") };
  const { context, call } = matchContext;
  const started = performance.now();
  context.work = work;
  try {
    return call.runInContext(context, { timeout: Math.max(1, Math.ceil(budget.leftMs)) }) as T;
  } catch (error) {
    if ((error as { code?: unknown }).code !== "ERR_SCRIPT_EXECUTION_TIMEOUT") throw error;
    throw matchTimeout(budget.pattern);
  } finally {
    context.work = undefined;
    budget.leftMs -= performance.now() - started;
  }
}

function matchTimeout(pattern: string): MatchTimeoutError {
  return new MatchTimeoutError(
    `the pattern ${JSON.stringify(pattern)} took more than ${FILE_TOOL_LIMITS.maxMatchMs} ms to match ` +
      "and was given up (it backtracks too much — nested or adjacent repetitions such as (a+)+ or *a*a*a — " +
      "or there is too much text under the path): simplify it or narrow the path",
  );
}

/** The files under a directory argument (`""` = the whole workspace), or the one file it names. */
function filesUnder(files: WorkspaceFile[], rootKey: string): { files: WorkspaceFile[]; isFile: boolean } {
  if (rootKey === "") return { files, isFile: false };
  const exact = files.find((file) => file.path === rootKey);
  if (exact) return { files: [exact], isFile: true };
  return { files: files.filter((file) => file.path.startsWith(`${rootKey}/`)), isFile: false };
}

function newestFirst(a: WorkspaceFile, b: WorkspaceFile): number {
  return b.modifiedAt - a.modifiedAt || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/** `glob`: files matching a doublestar pattern under `path` (default `/workspace`), newest first. */
export async function globFiles(
  store: WorkspaceStore,
  workspaceId: string,
  input: GlobInput,
  mounts: readonly MountedStore[] = [],
): Promise<string> {
  const root = locate(store, workspaceId, mounts, input.path ?? ".", true);
  let pattern = input.pattern.trim();
  if (pattern === "") throw new FileToolError("pattern must not be empty");
  if (pattern.startsWith("/")) {
    if (!pattern.startsWith(`${root.absolute}/`)) {
      throw new FileToolError(`absolute pattern ${JSON.stringify(pattern)} must lie under ${root.absolute}`);
    }
    pattern = pattern.slice(root.absolute.length + 1);
  }
  pattern = pattern.replace(/^(\.\/)+/, "");
  let isMatch: (path: string) => boolean;
  try {
    isMatch = picomatch(pattern, { dot: true });
  } catch (error) {
    throw new FileToolError(
      `invalid glob pattern ${JSON.stringify(input.pattern)}: ${(error as Error).message}`,
    );
  }
  const prefix = root.key === "" ? "" : `${root.key}/`;
  const candidates = (await root.store.list(root.id)).filter((file) => file.path.startsWith(prefix));
  const budget = { leftMs: FILE_TOOL_LIMITS.maxMatchMs, pattern: input.pattern };
  const matches = matchWithin(budget, () =>
    candidates.filter((file) => isMatch(file.path.slice(prefix.length))),
  ).sort(newestFirst);
  if (matches.length === 0) return `No files matched ${JSON.stringify(input.pattern)} under ${root.absolute}`;
  const output = new CappedOutput();
  for (const file of matches) {
    if (!output.add(root.shown(file.path))) break;
  }
  let text = output.rows.join("\n");
  if (output.truncated) {
    text += `\n… truncated: showed ${output.rows.length} of ${matches.length} files; narrow the pattern or path`;
  }
  return text;
}

function compileRegex(pattern: string): RegExp {
  // Go-style `(?i)` prefix (the reference runner's regex dialect) maps onto JavaScript's `i` flag.
  const caseInsensitive = pattern.startsWith("(?i)");
  const source = caseInsensitive ? pattern.slice(4) : pattern;
  try {
    return new RegExp(source, caseInsensitive ? "i" : "");
  } catch (error) {
    throw new FileToolError(
      `invalid regular expression ${JSON.stringify(pattern)}: ${(error as Error).message}`,
    );
  }
}

const GREP_READ_CONCURRENCY = 8;
/** How many batches' worth of matching time (`maxMatchMs` each) one grep call may spend. */
const GREP_BATCHES_TIMED = 5;

/** `grep`: lines matching a JavaScript regular expression, as `path:line:text`, files in path order. */
export async function grepFiles(
  store: WorkspaceStore,
  workspaceId: string,
  input: GrepInput,
  mounts: readonly MountedStore[] = [],
): Promise<string> {
  if (input.pattern === "") throw new FileToolError("pattern must not be empty");
  const regex = compileRegex(input.pattern);
  const root = locate(store, workspaceId, mounts, input.path ?? ".", true);
  const scope = filesUnder(await root.store.list(root.id), root.key);
  if (root.key !== "" && scope.files.length === 0) {
    throw new FileToolError(`No such file or directory: ${root.absolute}`);
  }
  const files = scope.files
    .filter((file) => file.size <= FILE_TOOL_LIMITS.maxFileBytes)
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const output = new CappedOutput();
  // Each batch its own time (a large tree is not taken for a backtracking pattern), the call a cap.
  let totalLeftMs = FILE_TOOL_LIMITS.maxMatchMs * GREP_BATCHES_TIMED;
  let matchCount = 0;
  /** The first file not wholly searched when time ran out. */
  let unsearched: string | undefined;
  for (let i = 0; i < files.length && !output.truncated; i += GREP_READ_CONCURRENCY) {
    const batch = files.slice(i, i + GREP_READ_CONCURRENCY);
    if (totalLeftMs <= 0) {
      unsearched = batch[0]?.path;
      break;
    }
    const contents = await Promise.all(batch.map((file) => root.store.read(root.id, file.path)));
    const budget = { leftMs: Math.min(FILE_TOOL_LIMITS.maxMatchMs, totalLeftMs), pattern: input.pattern };
    const granted = budget.leftMs;
    try {
      matchWithin(budget, () =>
        batch.forEach((file, index) => {
          const content = contents[index];
          // Binary files (a NUL byte) have no meaningful lines to show.
          if (content === undefined || content.includes("\u0000")) return;
          const lines = splitLines(content);
          for (let n = 0; n < lines.length; n++) {
            const line = lines[n] ?? "";
            if (!regex.test(line)) continue;
            matchCount++;
            output.add(`${root.shown(file.path)}:${n + 1}:${clipLine(line)}`);
          }
        }),
      );
    } catch (error) {
      if (!(error instanceof MatchTimeoutError)) throw error;
      // Out of time with no match found: the pattern (or the tree) is the problem, said so.
      if (matchCount === 0) throw error;
      unsearched = batch[0]?.path;
      break;
    } finally {
      totalLeftMs -= granted - budget.leftMs;
    }
  }
  if (unsearched !== undefined && matchCount === 0) throw matchTimeout(input.pattern);
  if (matchCount === 0) return `No matches for ${JSON.stringify(input.pattern)} under ${root.absolute}`;
  let text = output.rows.join("\n");
  if (output.truncated) {
    text += `\n… truncated: showed the first ${output.rows.length} matching lines; narrow the pattern or path`;
  } else if (unsearched !== undefined) {
    text += `\n… stopped: matching took too long, so the files from ${root.shown(unsearched)} on were searched in part or not at all; narrow the path`;
  }
  return text;
}
