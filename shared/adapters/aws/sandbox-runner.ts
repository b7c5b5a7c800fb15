/**
 * The sandbox function's work for one call (docs/sandbox-on-aws.md): clean the execution environment,
 * download the workspace through presigned GETs, lay out the mounts, run the command in bash with a
 * scrubbed environment and the session's saved shell state, then upload what changed in /workspace
 * through a presigned PUT, report mount changes, and clean again.
 *
 * It imports no AWS SDK and reads no Reverie configuration: it only knows the request. A Lambda
 * execution environment is reused by later calls, possibly of other sessions, so nothing a command
 * leaves behind may survive: every call starts and ends by killing stray processes and wiping the
 * scratch directory ({@link SandboxDirtyError} when that fails; the entry then exits so Lambda
 * discards the environment).
 *
 * Lambda's filesystem is read-only outside /tmp, so `/workspace` and the mount paths live under
 * `<scratch>/sbx/fs`; the command's literal mentions of those paths are rewritten to their real
 * location and the output is rewritten back.
 */
import { spawn } from "node:child_process";
import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { chmod, lstat, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Transform, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { gzipSync } from "node:zlib";
import {
  downloadUrl,
  encodeWorkspaceChanges,
  isSafeRelativePath,
  SANDBOX_PROTOCOL_VERSION,
  type SandboxInvocation,
  type SandboxInvocationResult,
  type SandboxMountChangeWire,
  WORKSPACE_ROOT,
  type WorkspaceChanges,
} from "./sandbox-protocol.js";

/** The environment could not be cleaned: it must not serve another call. */
export class SandboxDirtyError extends Error {
  override name = "SandboxDirtyError";
}

/** Kills what a command left behind; resolves to how many processes survived. */
export type ProcessSweeper = () => Promise<number>;

export interface SandboxRunnerOptions {
  /** Writable scratch directory (`/tmp` on Lambda). */
  scratchDir: string;
  /** Also remove every other entry of `scratchDir` before and after a call (Lambda: all of /tmp is ours). */
  wipeWholeScratchDir?: boolean;
  /** @default "/bin/bash" */
  bashPath?: string;
  /** PATH of the command. @default "/usr/local/bin:/usr/bin:/bin" */
  path?: string;
  /** Milliseconds left before the function times out. */
  remainingMs: () => number;
  /** Kept back from the command's time for uploading changes and cleaning up. @default 30 s */
  reserveMs?: number;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Kills stray processes; the default kills this run's marked processes only (see {@link markerSweeper}). */
  sweeper?: (marker: string) => ProcessSweeper;
  /** Parallel downloads. @default 32 */
  downloadConcurrency?: number;
}

/** The environment variable every process of a run inherits (unless it scrubs its own environment). */
export const RUN_MARKER_VARIABLE = "__RV_SANDBOX_RUN";

export async function runSandboxCall(
  request: SandboxInvocation,
  options: SandboxRunnerOptions,
): Promise<SandboxInvocationResult> {
  const layout = layoutOf(options.scratchDir);
  const marker = randomUUID();
  const sweep = (options.sweeper ?? markerSweeper)(marker);
  await clean(layout, options, sweep);
  try {
    return await run(request, options, layout, marker, sweep);
  } finally {
    await clean(layout, options, sweep);
  }
}

interface Layout {
  base: string;
  /** The sandbox's `/`: `/workspace` is `<fs>/workspace`, a mount at `/mnt/x` is `<fs>/mnt/x`. */
  fs: string;
  workspace: string;
  home: string;
  tmp: string;
  ctl: string;
}

function layoutOf(scratchDir: string): Layout {
  const base = join(scratchDir, "sbx");
  const fs = join(base, "fs");
  return {
    base,
    fs,
    workspace: join(fs, WORKSPACE_ROOT.slice(1)),
    home: join(base, "home"),
    tmp: join(base, "tmp"),
    ctl: join(base, "ctl"),
  };
}

async function clean(layout: Layout, options: SandboxRunnerOptions, sweep: ProcessSweeper): Promise<void> {
  const survivors = await sweep();
  if (survivors > 0) throw new SandboxDirtyError(`${survivors} process(es) survived the sweep`);
  try {
    const targets = options.wipeWholeScratchDir
      ? (await readdir(options.scratchDir)).map((name) => join(options.scratchDir, name))
      : [layout.base];
    for (const target of targets) await forceRemove(target);
  } catch (error) {
    throw new SandboxDirtyError(`could not wipe ${options.scratchDir}: ${(error as Error).message}`);
  }
}

/** `rm -rf` that also gets through directories a command made unwritable (chmod a-w). */
async function forceRemove(path: string): Promise<void> {
  try {
    await rm(path, { recursive: true, force: true });
  } catch {
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}

async function makeWritable(path: string): Promise<void> {
  const stat = await lstat(path).catch(() => undefined);
  if (!stat?.isDirectory()) return;
  await chmod(path, 0o700);
  for (const entry of await readdir(path)) await makeWritable(join(path, entry));
}

async function run(
  request: SandboxInvocation,
  options: SandboxRunnerOptions,
  layout: Layout,
  marker: string,
  sweep: ProcessSweeper,
): Promise<SandboxInvocationResult> {
  if (request.command === undefined) {
    return {
      v: SANDBOX_PROTOCOL_VERSION,
      output: "",
      exitCode: 0,
      timedOut: false,
      changesUploaded: false,
      mountChanges: [],
    };
  }
  for (const dir of [layout.workspace, layout.home, layout.tmp, layout.ctl])
    await mkdir(dir, { recursive: true });
  const notes: string[] = [];
  const downloaded = await downloadWorkspace(request, layout, options, notes);
  const mountsBefore = await layOutMounts(request, layout);
  const budget = options.remainingMs() - (options.reserveMs ?? 30_000);
  if (budget < 1_000) throw new Error("not enough time left in the sandbox function to run the command");
  const timeoutMs = Math.min(request.timeoutMs, budget);

  const virtualRoots = [WORKSPACE_ROOT, ...request.mounts.map((m) => m.path)];
  await writeFile(join(layout.ctl, "cmd.sh"), rewriteCommand(request.command, virtualRoots, layout.fs));
  if (request.shellState !== undefined && !request.restart) {
    await writeFile(join(layout.ctl, "state.in"), request.shellState);
  }
  const ran = await runBash(layout, options, marker, timeoutMs, request.limits.outputBytes);
  // Background jobs and anything the command spawned end with the call.
  const survivors = await sweep();
  if (survivors > 0) throw new SandboxDirtyError(`${survivors} process(es) survived the sweep`);

  const shellState = await readShellState(layout, request.limits.shellStateBytes, notes);
  const changesUploaded = await uploadChanges(request, layout, downloaded, options, notes);
  const mountChanges = await diffMounts(request, layout, mountsBefore, notes);
  const output =
    unrewriteOutput(ran.output.split(`${join(layout.ctl, "cmd.sh")}: `).join("bash: "), layout.fs) +
    notes.map((n) => `\n[reverie: ${n}]`).join("");
  return {
    v: SANDBOX_PROTOCOL_VERSION,
    output,
    exitCode: ran.exitCode,
    timedOut: ran.timedOut,
    ...(shellState === undefined ? {} : { shellState }),
    changesUploaded,
    mountChanges,
  };
}

// ------------------------------------------------------------------ paths

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Rewrites literal mentions of the sandbox's virtual roots (`/workspace`, mount paths) to where they
 * really are: `cat /workspace/a` → `cat <fs>/workspace/a`. A root counts only as a whole path at a
 * word boundary, so `/workspaces` or `x/workspace` are left alone.
 */
export function rewriteCommand(command: string, virtualRoots: readonly string[], fsRoot: string): string {
  let out = command;
  for (const root of [...virtualRoots].sort((a, b) => b.length - a.length)) {
    const pattern = new RegExp(`(^|[\\s'"=:(\`;|&<>{,])${escapeRegExp(root)}(?=$|[/\\s'"\`;|&)<>:},])`, "g");
    out = out.replace(pattern, (_m, before: string) => `${before}${fsRoot}${root}`);
  }
  return out;
}

/** The reverse of {@link rewriteCommand} on the output: `<fs>/workspace/a` → `/workspace/a`. */
export function unrewriteOutput(output: string, fsRoot: string): string {
  return output.split(`${fsRoot}/`).join("/");
}

function physical(layout: Layout, virtualPath: string): string {
  return join(layout.fs, virtualPath.slice(1));
}

// ------------------------------------------------------------------ workspace in

type Digests = Map<string, string>;

async function downloadWorkspace(
  request: SandboxInvocation,
  layout: Layout,
  options: SandboxRunnerOptions,
  notes: string[],
): Promise<Digests> {
  const doFetch = options.fetch ?? fetch;
  const digests: Digests = new Map();
  // S3 keys can hold both `a` and `a/b` (a `write` to each), a filesystem cannot: the folder wins and
  // the file is left out (kept in S3, untouched), rather than fail every call of the session.
  const folders = new Set(
    request.workspace.files.flatMap((f) =>
      f.path
        .split("/")
        .slice(0, -1)
        .map((_, i, parts) => parts.slice(0, i + 1).join("/")),
    ),
  );
  const files = request.workspace.files.filter((f) => {
    if (!folders.has(f.path)) return true;
    notes.push(
      `${WORKSPACE_ROOT}/${f.path} is both a file and a folder in the stored workspace; the file was left out of this call (rename or remove the folder to get it back)`,
    );
    return false;
  });
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      if (!file) break;
      const target = join(layout.workspace, file.path);
      await mkdir(dirname(target), { recursive: true });
      const response = await doFetch(downloadUrl(file, request.workspace.sharedQuery), {
        signal: AbortSignal.timeout(120_000),
      });
      if (!response.ok || !response.body) {
        throw new Error(`downloading workspace file ${file.path} failed: HTTP ${response.status}`);
      }
      const hash = createHash("sha256");
      await pipeline(
        Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
        hashing(hash),
        createWriteStream(target),
      );
      digests.set(file.path, hash.digest("hex"));
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(options.downloadConcurrency ?? 32, files.length) }, worker),
  );
  return digests;
}

function hashing(hash: ReturnType<typeof createHash>): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      callback(null, chunk);
    },
  });
}

async function digestOf(path: string): Promise<string> {
  const hash = createHash("sha256");
  await pipeline(
    createReadStream(path),
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback();
      },
    }),
  );
  return hash.digest("hex");
}

// ------------------------------------------------------------------ mounts

type MountContents = Map<string, Map<string, string>>;

async function layOutMounts(request: SandboxInvocation, layout: Layout): Promise<MountContents> {
  const before: MountContents = new Map();
  for (const mount of request.mounts) {
    const root = physical(layout, mount.path);
    await mkdir(root, { recursive: true });
    const files = new Map<string, string>();
    for (const file of mount.files) {
      const target = join(root, file.path);
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, file.content);
      files.set(file.path, file.content);
    }
    before.set(mount.path, files);
    if (mount.readOnly) await makeReadOnly(root);
  }
  return before;
}

/** Advisory (a command can chmod it back): what enforces read-only is that its changes are never reported. */
async function makeReadOnly(path: string): Promise<void> {
  const stat = await lstat(path);
  if (stat.isDirectory()) {
    for (const entry of await readdir(path)) await makeReadOnly(join(path, entry));
    await chmod(path, 0o555);
  } else if (stat.isFile()) {
    await chmod(path, 0o444);
  }
}

async function diffMounts(
  request: SandboxInvocation,
  layout: Layout,
  before: MountContents,
  notes: string[],
): Promise<SandboxMountChangeWire[]> {
  const changes: SandboxMountChangeWire[] = [];
  let bytes = 0;
  for (const mount of request.mounts) {
    if (mount.readOnly) continue;
    const original = before.get(mount.path) ?? new Map<string, string>();
    const now = await regularFiles(physical(layout, mount.path));
    for (const [path, absolute] of now) {
      const content = await readFile(absolute, "utf8");
      if (original.get(path) === content) continue;
      bytes += Buffer.byteLength(content);
      changes.push({ mountPath: mount.path, path, content });
    }
    for (const path of original.keys()) {
      if (!now.has(path)) changes.push({ mountPath: mount.path, path, content: null });
    }
  }
  if (bytes > request.limits.mountChangeBytes) {
    notes.push(
      `changes to mounted memory stores were not saved: ${bytes} bytes is over the limit of ${request.limits.mountChangeBytes}`,
    );
    return [];
  }
  return changes;
}

/** Regular files under `root` by `/`-separated relative path; symlinks and special files are skipped. */
async function regularFiles(root: string): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const walk = async (dir: string, prefix: string) => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const absolute = join(dir, entry.name);
      const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory()) await walk(absolute, relative);
      else if (entry.isFile()) found.set(relative, absolute);
    }
  };
  await walk(root, "");
  return found;
}

// ------------------------------------------------------------------ bash

/**
 * The shell around the command: stderr joins stdout, the saved state is restored, the command is
 * sourced (so `cd`, `export`, functions and aliases take effect in this shell), and an EXIT trap writes
 * the state back — cwd, variables (minus bash's own), functions and aliases — as bash source.
 */
function wrapperScript(layout: Layout): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `exec 2>&1
__rv_ctl=${q(layout.ctl)}
__rv_ws=${q(layout.workspace)}
__rv_fs=${q(layout.fs)}
__rv_save() {
  local __rv_status=$? __rv_n IFS=$' \\t\\n'
  set +eu
  {
    case $PWD in
      "$__rv_fs"/*) printf '__rv_cwd=%q\\n' "\${PWD#"$__rv_fs"}" ;;
      *) printf '__rv_cwd_abs=%q\\n' "$PWD" ;;
    esac
    for __rv_n in $(compgen -v); do
      case $__rv_n in
        __rv_*|__RV_*|HOME|TMPDIR|WORKSPACE|BASH|BASH_*|BASHOPTS|BASHPID|EUID|UID|PPID|SHELLOPTS|SHLVL|PWD|OLDPWD|_|RANDOM|SRANDOM|SECONDS|LINENO|FUNCNAME|GROUPS|DIRSTACK|PIPESTATUS|EPOCHREALTIME|EPOCHSECONDS|HOSTNAME|HOSTTYPE|MACHTYPE|OSTYPE|OPTERR|OPTIND|IFS|PS4|COMP_WORDBREAKS|HISTCMD) continue ;;
      esac
      declare -p -- "$__rv_n" 2>/dev/null
    done
    for __rv_n in $(compgen -A function); do
      case $__rv_n in __rv_*) continue ;; esac
      declare -f -- "$__rv_n"
    done
    alias -p
  } > "$__rv_ctl/state.out" 2>/dev/null
  exit "$__rv_status"
}
trap __rv_save EXIT
shopt -s expand_aliases
cd -- "$__rv_ws"
if [ -f "$__rv_ctl/state.in" ]; then . "$__rv_ctl/state.in" 2>/dev/null; fi
if [ -n "\${__rv_cwd-}" ]; then cd -- "$__rv_fs$__rv_cwd" 2>/dev/null
elif [ -n "\${__rv_cwd_abs-}" ]; then cd -- "$__rv_cwd_abs" 2>/dev/null; fi
unset __rv_cwd __rv_cwd_abs
. "$__rv_ctl/cmd.sh"
`;
}

interface BashRun {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
}

function runBash(
  layout: Layout,
  options: SandboxRunnerOptions,
  marker: string,
  timeoutMs: number,
  outputLimit: number,
): Promise<BashRun> {
  return new Promise((resolve, reject) => {
    // A scrubbed environment: nothing of the function's own (AWS_*, the runtime API address) is passed on.
    const child = spawn(
      options.bashPath ?? "/bin/bash",
      ["--noprofile", "--norc", "-c", wrapperScript(layout)],
      {
        cwd: layout.workspace,
        detached: true,
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          PATH: options.path ?? "/usr/local/bin:/usr/bin:/bin",
          HOME: layout.home,
          TMPDIR: layout.tmp,
          LANG: "C.UTF-8",
          TERM: "dumb",
          WORKSPACE: layout.workspace,
          [RUN_MARKER_VARIABLE]: marker,
        },
      },
    );
    const output = new OutputCollector(outputLimit);
    child.stdout.on("data", (chunk: Buffer) => output.push(chunk));
    child.stderr.on("data", (chunk: Buffer) => output.push(chunk));
    let timedOut = false;
    const killGroup = () => {
      try {
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup();
    }, timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    let exited = false;
    let exitCode: number | null = null;
    let open = 2;
    let done = false;
    let grace: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done || !exited) return;
      done = true;
      clearTimeout(grace);
      resolve({ output: output.text(), exitCode: timedOut ? null : exitCode, timedOut });
    };
    const closed = () => {
      if (--open === 0) finish();
    };
    child.stdout.once("close", closed);
    child.stderr.once("close", closed);
    child.on("exit", (code) => {
      clearTimeout(timer);
      exited = true;
      exitCode = code;
      // Background jobs share the group and may hold the pipes open: end them, then drain briefly.
      killGroup();
      if (open === 0) return finish();
      grace = setTimeout(() => {
        child.stdout.destroy();
        child.stderr.destroy();
        finish();
      }, 500);
    });
  });
}

/** Keeps the first and last `limit / 2` bytes and counts what falls in between. */
export class OutputCollector {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private tail: Buffer = Buffer.alloc(0);
  private total = 0;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.total += chunk.byteLength;
    const half = Math.floor(this.limit / 2);
    let rest = chunk;
    if (this.headBytes < half) {
      const take = rest.subarray(0, half - this.headBytes);
      this.head.push(take);
      this.headBytes += take.byteLength;
      rest = rest.subarray(take.byteLength);
    }
    if (rest.byteLength > 0) {
      const joined = Buffer.concat([this.tail, rest]);
      this.tail = joined.subarray(Math.max(0, joined.byteLength - (this.limit - half)));
    }
  }

  text(): string {
    const head = Buffer.concat(this.head).toString("utf8");
    const omitted = this.total - this.headBytes - this.tail.byteLength;
    if (omitted <= 0) return head + this.tail.toString("utf8");
    return `${head}\n[... ${omitted} bytes of output omitted ...]\n${this.tail.toString("utf8")}`;
  }
}

async function readShellState(layout: Layout, limit: number, notes: string[]): Promise<string | undefined> {
  const path = join(layout.ctl, "state.out");
  const stat = await lstat(path).catch(() => undefined);
  if (!stat?.isFile()) return undefined;
  if (stat.size > limit) {
    notes.push(
      `the shell's variables and functions (${stat.size} bytes) are over ${limit} bytes and were not kept`,
    );
    return undefined;
  }
  return readFile(path, "utf8");
}

// ------------------------------------------------------------------ workspace out

async function uploadChanges(
  request: SandboxInvocation,
  layout: Layout,
  downloaded: Digests,
  options: SandboxRunnerOptions,
  notes: string[],
): Promise<boolean> {
  const now = await regularFiles(layout.workspace);
  const changes: WorkspaceChanges = { written: [], deleted: [] };
  let bytes = 0;
  for (const [path, absolute] of now) {
    if (downloaded.get(path) === (await digestOf(absolute))) continue;
    if (!isSafeRelativePath(path)) {
      notes.push(
        `${JSON.stringify(path)} cannot be saved in the workspace (path too long or unsafe); it was skipped`,
      );
      continue;
    }
    const stat = await lstat(absolute);
    bytes += stat.size;
    if (bytes > request.limits.changedBytes) {
      notes.push(
        `workspace changes were not saved: more than ${request.limits.changedBytes} bytes were written`,
      );
      return false;
    }
    changes.written.push({ path, data: await readFile(absolute) });
  }
  for (const path of downloaded.keys()) {
    // A file turned into a symlink cannot be saved as such, and is kept; a missing file is a deletion,
    // and so is one turned into a folder (else the stored workspace holds both `a` and `a/b`).
    if (now.has(path)) continue;
    const stat = await lstat(join(layout.workspace, path)).catch(() => undefined);
    if (!stat || stat.isDirectory()) changes.deleted.push(path);
  }
  const count = changes.written.length + changes.deleted.length;
  if (count === 0) return false;
  if (count > request.limits.changedFiles) {
    notes.push(
      `workspace changes were not saved: ${count} files changed, over the limit of ${request.limits.changedFiles}`,
    );
    return false;
  }
  const response = await (options.fetch ?? fetch)(request.changesUrl, {
    method: "PUT",
    body: gzipSync(encodeWorkspaceChanges(changes)),
    signal: AbortSignal.timeout(Math.max(5_000, options.remainingMs() - 5_000)),
  }).catch((error: Error) => ({ ok: false, status: error.message }) as const);
  if (!response.ok) {
    notes.push(`workspace changes could not be uploaded (${response.status}); they were not saved`);
    return false;
  }
  return true;
}

// ------------------------------------------------------------------ process sweeping

export interface ProcInfo {
  pid: number;
  ppid: number;
  uid: number;
  state: string;
}

async function procInfo(pid: number): Promise<ProcInfo | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => status.match(new RegExp(`^${name}:\\s+(\\S+)`, "m"))?.[1];
    return {
      pid,
      ppid: Number(field("PPid")),
      uid: Number(field("Uid")),
      state: field("State") ?? "?",
    };
  } catch {
    return undefined;
  }
}

async function pids(): Promise<number[]> {
  const entries = await readdir("/proc").catch(() => [] as string[]);
  return entries.filter((e) => /^\d+$/.test(e)).map(Number);
}

/**
 * Stops then kills every live process `isStray` selects, round after round (a fork loop cannot outrun
 * SIGSTOP), and returns how many are left. Zombies are dead already and do not count.
 */
export async function sweepProcesses(isStray: (info: ProcInfo) => Promise<boolean>): Promise<number> {
  const strays = async () => {
    const found: number[] = [];
    for (const pid of await pids()) {
      const info = await procInfo(pid);
      if (info && info.state !== "Z" && (await isStray(info))) found.push(pid);
    }
    return found;
  };
  for (let round = 0; round < 20; round++) {
    const found = await strays();
    if (found.length === 0) return 0;
    for (const signal of ["SIGSTOP", "SIGKILL"] as const) {
      for (const pid of found) {
        try {
          process.kill(pid, signal);
        } catch {
          // gone, or not ours
        }
      }
    }
    await new Promise((r) => setTimeout(r, 10 * (round + 1)));
  }
  return (await strays()).length;
}

/** A process's environment as /proc shows it (`\0`-separated), or undefined when it cannot be read. */
export type EnvironReader = (pid: number) => Promise<string | undefined>;

const readEnviron: EnvironReader = (pid) => readFile(`/proc/${pid}/environ`, "latin1").catch(() => undefined);

/** How many times an empty environment is read before it is believed (2 ms apart). */
const EMPTY_ENVIRON_READS = 10;

/** PF_KTHREAD, in the flags of /proc/<pid>/stat: a kernel thread, which has no environment. */
const PF_KTHREAD = 0x00200000;

/**
 * Whether a process is a kernel thread, from its flags (field 9 of /proc/<pid>/stat; the command
 * name before them may hold spaces and parentheses). By flag, not by parent: in a PID namespace
 * pid 2 is an ordinary process.
 */
export async function isKernelThread(
  pid: number,
  statOf: (pid: number) => Promise<string | undefined> = (p) =>
    readFile(`/proc/${p}/stat`, "latin1").catch(() => undefined),
): Promise<boolean> {
  const stat = await statOf(pid);
  if (stat === undefined) return false;
  const flags = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[6]);
  return Number.isInteger(flags) && (flags & PF_KTHREAD) !== 0;
}

/**
 * Kills the processes that still carry this run's marker variable (tests, and any shared machine).
 * A process of ours whose environment reads empty may be in the middle of an `exec` (the new image's
 * environment is not laid out yet): it is read again, for up to ~20 ms, before the sweep decides it
 * is not the run's — else a background job caught mid-exec would outlive the call.
 */
export function markerSweeper(marker: string, environOf: EnvironReader = readEnviron): ProcessSweeper {
  const needle = `${RUN_MARKER_VARIABLE}=${marker}`;
  const uid = process.getuid?.();
  return () =>
    sweepProcesses(async ({ pid, uid: owner }) => {
      if (pid === process.pid) return false;
      for (let read = 1; ; read++) {
        const environ = await environOf(pid);
        if (environ === undefined) return false;
        if (environ !== "" || owner !== uid || read === EMPTY_ENVIRON_READS)
          return environ.split("\0").includes(needle);
        if (read === 1 && (await isKernelThread(pid))) return false;
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    });
}

/**
 * Lambda: the execution environment is this function's alone, so every process of our user except
 * this one and its ancestors is a stray — including those that escaped the run's process group
 * (`setsid`, double fork) or scrubbed their environment.
 */
export function sameUserSweeper(): ProcessSweeper {
  return async () => {
    const uid = process.getuid?.() ?? -1;
    const keep = new Set<number>([process.pid, 1]);
    for (let pid = process.ppid; pid > 1 && !keep.has(pid); ) {
      keep.add(pid);
      pid = (await procInfo(pid))?.ppid ?? 0;
    }
    return sweepProcesses(async (info) => info.uid === uid && !keep.has(info.pid));
  };
}
