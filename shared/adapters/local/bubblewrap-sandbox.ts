/**
 * The embedded stack's {@link ShellSandbox}: one persistent bash per session inside bubblewrap, with
 * the network routed through `@anthropic-ai/sandbox-runtime`'s filtering proxy.
 *
 * What the shell sees. A fresh root (bubblewrap's tmpfs, remounted read-only) holding `/usr` and a
 * short list of `/etc` entries read-only (no shadow files, no ssh or TLS private keys, no npmrc or
 * pip.conf), the session's workspace directory read-write at `/workspace` (its cwd), a private `/tmp`
 * (also `$HOME`, as `/tmp/home`), and each {@link SandboxMount} materialised into a per-session host
 * directory and bound at its `path` — read-only mounts with a read-only bind, so the kernel refuses
 * writes. Nothing else of the host exists in it: not the stack's data dir, not `/root`, `/home`,
 * `/var` or the repository. `hiddenPaths` are masked as well wherever they fall under something that
 * is bound. Its environment is a fixed minimal one, never the host process's.
 *
 * Processes. bubblewrap unshares the user, pid, ipc, uts, cgroup and network namespaces, drops every
 * capability, refuses nested user namespaces (`--disable-userns`) and dies with its parent. The pid
 * namespace ends with its init, so killing the bwrap process kills every process the shell started.
 * The number of tasks is capped by a pids cgroup (v2 when delegated, else the v1 `pids` hierarchy)
 * or, when the stack is not root, by RLIMIT_NPROC, which then counts only the sandbox's own user
 * namespace; root with no writable pids cgroup has no bound that holds, and the sandbox says it is
 * unavailable rather than let a fork bomb take the host.
 *
 * Network. The sandbox has its own network namespace (its loopback is not the host's). Two socat
 * listeners inside it (3128, 1080) lead to the proxy's Unix socket, and the usual proxy variables
 * point at them. The proxy is sandbox-runtime's, hosted in a child process per policy (its
 * SandboxManager is a process-wide singleton that also installs SIGINT/SIGTERM handlers, which the
 * stack's own process should not get): `limited` sessions register their allowed hosts as a
 * per-shell allow list under an unguessable id carried in the proxy username; `unrestricted`
 * sessions ask this process, which refuses loopback, private and link-local IP literals and
 * `localhost` (the proxy's resolved-address check refuses names that resolve to them).
 *
 * Writable mounts are read and written from inside the sandbox (a helper script run under `env -i`,
 * its output on a descriptor of its own), never by following paths the sandbox can change from the
 * host side: a symlink planted in a writable mount cannot make this process read or write a host file.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import {
  accessSync,
  existsSync,
  constants as fsConstants,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
} from "node:fs";
import { chmod, mkdir, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { isIP } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import {
  encodeSandboxedCommand,
  generateProxyEnvVars,
} from "@anthropic-ai/sandbox-runtime/dist/sandbox/sandbox-utils.js";
import type {
  SandboxExecRequest,
  SandboxExecResult,
  SandboxMount,
  SandboxMountChange,
  ShellSandbox,
} from "../../core/ports.js";
import { effectiveTimeoutMs } from "../../core/tools/bash-tool.js";
import { isPublicAddress } from "../http/guarded-fetcher.js";

export interface BubblewrapSandboxOptions {
  /** The host directory of a workspace (the DirectoryWorkspaceStore's `<root>/<workspaceId>`). */
  workspaceDir: (workspaceId: string) => string;
  /** Host paths the sandbox must never see (the stack's data dir); masked wherever they are bound. */
  hiddenPaths?: readonly string[];
  /** Host directory for per-session scratch (private `/tmp`, materialised mounts). Default: under the OS tmp dir. */
  scratchDir?: string;
  /** A shell unused for this long is closed (ms). Default 15 minutes. */
  idleMs?: number;
  /** Tasks (processes and threads) one sandbox may have at once. Default 256. */
  maxProcesses?: number;
  /** Output kept per command, in characters (the tail is kept). Default 100 KiB. */
  maxOutputChars?: number;
  /** A file in a writable mount larger than this is not reported back. Default 1 MiB. */
  maxMountFileBytes?: number;
  /** Host paths bound read-only at the same path (toolchains under /opt, …). */
  extraReadOnlyPaths?: readonly string[];
}

const INSTALL_HINT = "apt-get install bubblewrap socat ripgrep";
const DEFAULT_IDLE_MS = 15 * 60_000;
const DEFAULT_MAX_PROCESSES = 256;
const DEFAULT_MAX_OUTPUT_CHARS = 100 * 1024;
const DEFAULT_MAX_MOUNT_FILE_BYTES = 1024 * 1024;
/** What a mount listing may add up to on its descriptor before it is given up. */
const MAX_MOUNT_REPORT_CHARS = 64 * 1024 * 1024;
/** How long after the sentinel the mount listing may still be on its way. */
const MOUNT_REPORT_GRACE_MS = 5_000;
const PROXY_START_TIMEOUT_MS = 30_000;
const SHELL_PATH = "/usr/bin/bash";
const HELPER_DIR = "/.reverie";
const PROXY_SOCKET = "/run/reverie/proxy.sock";
const HTTP_PROXY_PORT = 3128;
const SOCKS_PROXY_PORT = 1080;

/** `/etc` entries the shell may read: enough for libc, TLS, locales and the usual interpreters. */
const ETC_ALLOWED = [
  /^(alternatives|ca-certificates|ca-certificates\.conf|ssl|fonts|terminfo|ld\.so\.cache|ld\.so\.conf|ld\.so\.conf\.d)$/,
  /^(passwd|group|hosts|hostname|host\.conf|nsswitch\.conf|gai\.conf|resolv\.conf|protocols|services|networks|rpc)$/,
  /^(localtime|timezone|locale\.alias|locale\.gen|mime\.types|magic|magic\.mime|inputrc|bash\.bashrc|profile|shells)$/,
  /^(os-release|debian_version|lsb-release|issue|xdg|perl|python3(\.\d+)?|java-\d+-openjdk|wgetrc|vim|mtab)$/,
];
/** Inside allowed `/etc` entries, what stays hidden. */
const ETC_MASKED = ["/etc/ssl/private"];

/** Hosts `allowPackageManagers` adds: the registries of apt, cargo, gem, go, npm and pip. */
export const PACKAGE_MANAGER_HOSTS: readonly string[] = [
  "deb.debian.org",
  "security.debian.org",
  "archive.ubuntu.com",
  "security.ubuntu.com",
  "crates.io",
  "index.crates.io",
  "static.crates.io",
  "rubygems.org",
  "index.rubygems.org",
  "proxy.golang.org",
  "sum.golang.org",
  "registry.npmjs.org",
  "registry.yarnpkg.com",
  "pypi.org",
  "files.pythonhosted.org",
];

/** Resolved addresses an `unrestricted` sandbox may not reach (the LAN; loopback and link-local are refused anyway). */
const PRIVATE_RANGES = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"];

/** Mount paths that would overlap what the sandbox is built from. */
const RESERVED_PATHS = [
  "/workspace",
  "/tmp",
  "/usr",
  "/etc",
  "/proc",
  "/dev",
  "/bin",
  "/sbin",
  "/lib",
  "/lib64",
  "/run",
  HELPER_DIR,
];

// ---- small helpers ------------------------------------------------------------------------------

const ANSI = new RegExp(`${String.fromCharCode(0x1b)}\\[[0-9;?]*[ -/]*[@-~]`, "g");

function isUnder(child: string, parent: string): boolean {
  return child === parent || parent === "/" || child.startsWith(`${parent}/`);
}

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(":"), "/usr/bin", "/bin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, fsConstants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** `text` as a bash ANSI-C quoted word (`$'…'`), byte-exact for any input. */
function ansiCQuote(text: string): string {
  let out = "$'";
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (ch === "\\" || ch === "'") out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return `${out}'`;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

function runProcess(
  file: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: options.env ?? {}, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr || error.message });
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

// ---- process bound --------------------------------------------------------------------------------

/** How the number of tasks in one sandbox is capped. */
type ProcessBound = { kind: "cgroup"; version: 1 | 2; root: string } | { kind: "rlimit" };

interface MountInfo {
  mountPoint: string;
  fsType: string;
  superOptions: string;
}

function readMountInfo(): MountInfo[] {
  const lines = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  const mounts: MountInfo[] = [];
  for (const line of lines) {
    const [left, right] = line.split(" - ");
    if (!left || !right) continue;
    const mountPoint = left.split(" ")[4];
    const [fsType, , superOptions] = right.split(" ");
    if (mountPoint && fsType) mounts.push({ mountPoint, fsType, superOptions: superOptions ?? "" });
  }
  return mounts;
}

const CGROUP_PREFIX = "reverie-sandbox-";

/** Removes the cgroups a crashed process (its pid is gone) left behind under `dir`. */
async function removeStaleCgroups(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const pid = Number(/^reverie-sandbox-(\d+)-/.exec(entry.name)?.[1]);
    if (!entry.isDirectory() || !pid || existsSync(`/proc/${pid}`)) continue;
    await removeCgroup(path.join(dir, entry.name));
  }
}

/** Makes `<dir>/reverie-sandbox-<pid>-<random>` a cgroup whose children get `pids.max`, or answers why not. */
async function tryCgroupRoot(dir: string, version: 1 | 2): Promise<string | undefined> {
  await removeStaleCgroups(dir);
  const root = path.join(dir, `${CGROUP_PREFIX}${process.pid}-${randomBytes(4).toString("hex")}`);
  try {
    await mkdir(root, { recursive: true });
    if (version === 2) {
      // Children of `root` need the pids controller enabled in `dir` and in `root`.
      const subtree = (file: string) => readFile(path.join(file, "cgroup.subtree_control"), "utf8");
      if (!(await subtree(dir)).split(/\s+/).includes("pids"))
        await writeFile(path.join(dir, "cgroup.subtree_control"), "+pids");
      await writeFile(path.join(root, "cgroup.subtree_control"), "+pids");
    }
    const probe = path.join(root, "probe");
    await mkdir(probe, { recursive: true });
    await writeFile(path.join(probe, "pids.max"), "8");
    await rmdir(probe);
    return root;
  } catch {
    await rmdir(root).catch(() => undefined);
    return undefined;
  }
}

async function detectProcessBound(): Promise<ProcessBound | undefined> {
  if (process.platform === "linux") {
    const mounts = readMountInfo();
    const memberships = readFileSync("/proc/self/cgroup", "utf8").split("\n");
    const v2 = mounts.find((m) => m.fsType === "cgroup2");
    const v2Path = memberships.find((l) => l.startsWith("0::"))?.slice(3);
    if (v2 && v2Path !== undefined) {
      const dir = path.join(v2.mountPoint, v2Path);
      const controllers = await readFile(path.join(dir, "cgroup.controllers"), "utf8").catch(() => "");
      if (controllers.split(/\s+/).includes("pids")) {
        const root = await tryCgroupRoot(dir, 2);
        if (root) return { kind: "cgroup", version: 2, root };
      }
    }
    const v1 = mounts.find((m) => m.fsType === "cgroup" && m.superOptions.split(",").includes("pids"));
    const v1Path = memberships
      .map((l) => l.split(":"))
      .find((parts) => parts[1]?.split(",").includes("pids"))?.[2];
    if (v1 && v1Path !== undefined) {
      const root = await tryCgroupRoot(path.join(v1.mountPoint, v1Path), 1);
      if (root) return { kind: "cgroup", version: 1, root };
    }
  }
  // RLIMIT_NPROC is ignored for uid 0 (and counts every process of a non-root user outside a user
  // namespace; inside the sandbox's own namespace it counts only the sandbox's processes).
  if (process.getuid?.() !== 0) return { kind: "rlimit" };
  return undefined;
}

// ---- the network proxies ----------------------------------------------------------------------------

/**
 * The child process hosting one sandbox-runtime proxy. Plain JavaScript, run by this Node binary:
 * argv = [module URL, mode, deniedResolvedAddresses JSON]. It answers `ready` with the proxy's Unix
 * socket and token, registers and removes per-shell allow lists, and forwards the ask callback
 * (`unrestricted` only) to this process. It ends when this process goes (the IPC channel closes).
 */
const PROXY_HOST_SCRIPT = `
const [url, mode, denied] = process.argv.slice(1);
const { SandboxManager } = await import(url);
const asks = new Map();
let nextAsk = 0;
const ask = mode === "unrestricted"
  ? ({ host, port }) => new Promise((resolve) => {
      const seq = ++nextAsk;
      asks.set(seq, resolve);
      process.send({ type: "ask", seq, host, port });
    })
  : undefined;
process.on("message", (m) => {
  if (m.type === "answer") { asks.get(m.seq)?.(m.allow === true); asks.delete(m.seq); }
  else if (m.type === "register") {
    const probe = "probe-" + m.id;
    const accepted = [];
    const dropped = [];
    for (const host of m.hosts) {
      try { SandboxManager.registerCommandNetworkLists(probe, { allowedDomains: [host] }); accepted.push(host); }
      catch { dropped.push(host); }
    }
    SandboxManager.unregisterCommandNetworkLists(probe);
    SandboxManager.registerCommandNetworkLists(m.id, { allowedDomains: accepted });
    process.send({ type: "registered", seq: m.seq, dropped });
  } else if (m.type === "unregister") SandboxManager.unregisterCommandNetworkLists(m.id);
});
process.on("disconnect", () => { SandboxManager.reset().finally(() => process.exit(0)); });
try {
  await SandboxManager.initialize({
    network: { allowedDomains: [], deniedDomains: [], deniedResolvedAddresses: JSON.parse(denied) },
    filesystem: { denyRead: [], allowWrite: [], denyWrite: [] },
  }, ask);
  if (!(await SandboxManager.waitForNetworkInitialization())) throw new Error("the proxy did not start");
  process.send({ type: "ready", socketPath: SandboxManager.getLinuxHttpSocketPath(), token: SandboxManager.getProxyAuthToken() });
} catch (error) {
  process.send({ type: "failed", message: String(error && error.message ? error.message : error) });
  process.exit(1);
}
`;

type ProxyMode = "limited" | "unrestricted";

/** Whether an `unrestricted` sandbox may reach `host` (names are checked again once resolved, by the proxy). */
export function unrestrictedHostAllowed(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (bare === "localhost" || bare.endsWith(".localhost")) return false;
  if (isIP(bare)) return isPublicAddress(bare);
  // Numeric spellings the resolver reads as addresses (`127.1`, `0x7f.1`, `2130706433`).
  if (/^[0-9a-fx.]+$/.test(bare) && !/[g-wyz]/.test(bare) && /^[0-9]/.test(bare)) return false;
  return true;
}

class ProxyHost {
  private child?: ChildProcess;
  private ready?: Promise<{ socketPath: string; token: string }>;
  private seq = 0;
  private readonly pending = new Map<number, (dropped: string[]) => void>();

  constructor(private readonly mode: ProxyMode) {}

  start(): Promise<{ socketPath: string; token: string }> {
    this.ready ??= this.launch();
    return this.ready;
  }

  private launch(): Promise<{ socketPath: string; token: string }> {
    const moduleUrl = pathToFileURL(
      createRequire(import.meta.url).resolve("@anthropic-ai/sandbox-runtime"),
    ).href;
    const denied = this.mode === "unrestricted" ? PRIVATE_RANGES : [];
    const child = spawn(
      process.execPath,
      ["--input-type=module", "-e", PROXY_HOST_SCRIPT, moduleUrl, this.mode, JSON.stringify(denied)],
      {
        // The proxy host needs bwrap, socat and rg on PATH, and nothing else of this process's env.
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir() },
        stdio: ["ignore", "ignore", "pipe", "ipc"],
      },
    );
    this.child = child;
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`the ${this.mode} network proxy did not start in time`));
        child.kill("SIGKILL");
      }, PROXY_START_TIMEOUT_MS);
      child.on("message", (raw) => {
        const m = raw as Record<string, unknown>;
        if (m.type === "ready") {
          clearTimeout(timer);
          resolve({ socketPath: String(m.socketPath), token: String(m.token) });
        } else if (m.type === "failed") {
          clearTimeout(timer);
          reject(new Error(`the ${this.mode} network proxy failed to start: ${String(m.message)}`));
        } else if (m.type === "ask") {
          const allow = unrestrictedHostAllowed(String(m.host));
          if (child.connected) child.send({ type: "answer", seq: m.seq, allow });
        } else if (m.type === "registered") {
          this.pending.get(Number(m.seq))?.((m.dropped as string[]) ?? []);
          this.pending.delete(Number(m.seq));
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        this.ready = undefined;
        this.child = undefined;
        for (const done of this.pending.values()) done([]);
        this.pending.clear();
        reject(new Error(`the ${this.mode} network proxy exited (${code}): ${stderr.trim()}`));
      });
    });
  }

  /** Registers a shell's allow list; answers the entries the proxy refused as malformed. */
  async register(id: string, hosts: readonly string[]): Promise<string[]> {
    await this.start();
    const child = this.child;
    if (!child?.connected) throw new Error("the network proxy is not running");
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(seq, resolve);
      child.send({ type: "register", seq, id, hosts });
    });
  }

  unregister(id: string): void {
    if (this.child?.connected) this.child.send({ type: "unregister", id });
  }

  stop(): void {
    const child = this.child;
    this.child = undefined;
    this.ready = undefined;
    if (child?.connected) child.disconnect();
    setTimeout(() => child?.kill("SIGKILL"), 3_000).unref();
  }
}

// ---- mounts ---------------------------------------------------------------------------------------

/**
 * Runs inside the sandbox as `env -i bash --noprofile --norc /.reverie/mounts.sh MODE …`, so no
 * function, alias or variable of the session's shell applies to it.
 *   write ROOT B64PATH     stdin is the file's content in base64; written via a temporary name
 *   delete ROOT B64PATH
 *   diff STATE MAX NONCE ROOT…  to stdout, NUL-separated: BEGIN NONCE, then F PATH for every
 *                          regular file, C PATH BASE64 for one whose size or mtime differs from the
 *                          listing kept in STATE by the previous diff (all of them the first time),
 *                          B PATH SIZE for one of those larger than MAX bytes, then END NONCE; STATE
 *                          then keeps this listing. The host compares contents, so a file reported
 *                          again unchanged (one it synced, say) is no change.
 */
const MOUNT_HELPER = `set -u
export LC_ALL=C PATH=/usr/bin:/bin
mode=\${1-}
case "$mode" in
write)
  rel=$(printf '%s' "$3" | base64 -d) || exit 1
  dest="$2/$rel"
  mkdir -p -- "\${dest%/*}" && base64 -d > "$dest.reverie-part" && mv -f -- "$dest.reverie-part" "$dest"
  ;;
delete)
  rel=$(printf '%s' "$3" | base64 -d) || exit 1
  rm -f -- "$2/$rel"
  ;;
diff)
  state=$2 max=$3 nonce=$4
  shift 4
  declare -A before=()
  if [ -f "$state" ]; then
    while IFS= read -r -d '' line; do
      rest=\${line#* }
      before["\${rest#* }"]="\${line%% *} \${rest%% *}"
    done < "$state"
  fi
  find "$@" -type f -printf '%s %T@ %p\\0' > "$state" 2>/dev/null
  printf 'BEGIN\\0%s\\0' "$nonce"
  while IFS= read -r -d '' line; do
    size=\${line%% *}
    rest=\${line#* }
    mtime=\${rest%% *}
    p=\${rest#* }
    printf 'F\\0%s\\0' "$p"
    if [ "\${before[$p]-}" != "$size $mtime" ]; then
      if [ "$size" -gt "$max" ]; then printf 'B\\0%s\\0%s\\0' "$p" "$size"
      else printf 'C\\0%s\\0' "$p"; base64 -w0 -- "$p"; printf '\\0'; fi
    fi
  done < "$state"
  printf 'END\\0%s\\0' "$nonce"
  ;;
esac
`;

interface MaterialisedMount {
  path: string;
  readOnly: boolean;
  hostDir: string;
}

function validateMounts(mounts: readonly SandboxMount[]): void {
  const seen: string[] = [];
  for (const mount of mounts) {
    const p = mount.path;
    if (!p.startsWith("/") || path.posix.normalize(p) !== p || p.endsWith("/") || p.includes("\0"))
      throw new Error(`invalid sandbox mount path ${JSON.stringify(p)}`);
    for (const reserved of RESERVED_PATHS) {
      if (isUnder(p, reserved) || isUnder(reserved, p))
        throw new Error(`sandbox mount ${p} overlaps ${reserved}`);
    }
    for (const other of seen) {
      if (isUnder(p, other) || isUnder(other, p)) throw new Error(`sandbox mounts ${other} and ${p} overlap`);
    }
    seen.push(p);
    for (const file of mount.files) {
      const segments = file.path.split("/");
      if (file.path.includes("\0") || segments.some((s) => s === "" || s === "." || s === ".."))
        throw new Error(`invalid file path ${JSON.stringify(file.path)} in sandbox mount ${p}`);
    }
  }
}

function b64(text: string): string {
  return Buffer.from(text, "utf8").toString("base64");
}

// ---- the shell process -------------------------------------------------------------------------

interface RunOutcome {
  output: string;
  exitCode: number | null;
  timedOut: boolean;
  died: boolean;
  /** The mount listing (NUL-separated tokens between BEGIN and END), when one was asked for and came. */
  report?: string[];
}

/** One bwrap'd `bash` reading commands from its stdin, with the mount listing on fd 3. */
class ShellProcess {
  readonly child: ChildProcess;
  dead = false;
  private out = "";
  private truncated = false;
  private side = "";
  private sideOverflow = false;
  /** Where in `side` the end marker can first be (what was searched already cannot hold it). */
  private sideScanned = 0;
  private wake?: () => void;
  readonly exited: Promise<void>;

  constructor(
    file: string,
    args: readonly string[],
    env: Record<string, string>,
    private readonly maxOutputChars: number,
  ) {
    this.child = spawn(file, args, { env, stdio: ["pipe", "pipe", "pipe", "pipe"], detached: true });
    const onData = (d: string) => {
      this.out += d;
      if (this.out.length > this.maxOutputChars + 200) {
        this.out = this.out.slice(this.out.length - this.maxOutputChars - 200);
        this.truncated = true;
      }
      this.wake?.();
    };
    this.child.stdout?.setEncoding("utf8");
    this.child.stderr?.setEncoding("utf8");
    this.child.stdout?.on("data", onData);
    this.child.stderr?.on("data", onData);
    const side = this.child.stdio[3] as NodeJS.ReadableStream | null;
    side?.setEncoding("utf8");
    side?.on("data", (d: string) => {
      if (this.sideOverflow) return;
      this.side += d;
      if (this.side.length > MAX_MOUNT_REPORT_CHARS) {
        this.side = "";
        this.sideOverflow = true;
      }
      this.wake?.();
    });
    this.child.stdin?.on("error", () => undefined);
    this.exited = new Promise((resolve) => {
      this.child.once("close", () => {
        this.dead = true;
        this.wake?.();
        resolve();
      });
      this.child.once("error", () => {
        this.dead = true;
        this.wake?.();
        resolve();
      });
    });
  }

  /** Sends `script` and waits for `sentinel` (and, with `reportNonce`, the mount listing). */
  async run(script: string, sentinel: string, timeoutMs: number, reportNonce?: string): Promise<RunOutcome> {
    this.out = "";
    this.truncated = false;
    this.side = "";
    this.sideOverflow = false;
    this.sideScanned = 0;
    const deadline = Date.now() + timeoutMs;
    this.child.stdin?.write(script);
    const reportEnd = reportNonce ? `END\0${reportNonce}\0` : undefined;
    let timedOut = false;
    while (!this.dead && !this.out.includes(sentinel)) {
      if (!(await this.waitUntil(deadline))) {
        timedOut = true;
        break;
      }
    }
    let report: string[] | undefined;
    if (reportEnd && !timedOut && !this.dead) {
      const reportDeadline = Math.min(deadline, Date.now() + MOUNT_REPORT_GRACE_MS);
      let end = -1;
      while (!this.dead && !this.sideOverflow) {
        end = this.side.indexOf(reportEnd, this.sideScanned);
        if (end >= 0) break;
        this.sideScanned = Math.max(0, this.side.length - reportEnd.length);
        if (!(await this.waitUntil(reportDeadline))) break;
      }
      const begin = this.side.indexOf(`BEGIN\0${reportNonce}\0`);
      if (begin >= 0 && end > begin)
        report = this.side
          .slice(begin + `BEGIN\0${reportNonce}\0`.length, end)
          .split("\0")
          .slice(0, -1);
    }
    const at = this.out.indexOf(sentinel);
    let exitCode: number | null = null;
    let output = this.out;
    if (at >= 0) {
      const match = /^(-?\d+)/.exec(this.out.slice(at + sentinel.length));
      exitCode = match ? Number(match[1]) : null;
      output = this.out.slice(0, at);
    }
    output = output.replace(ANSI, "");
    let keep = output.length;
    while (keep > 0 && output[keep - 1] === "\n") keep--;
    output = output.slice(0, keep);
    if (output.length > this.maxOutputChars) {
      output = output.slice(output.length - this.maxOutputChars);
      this.truncated = true;
    }
    if (this.truncated) output = `[output truncated]\n${output}`;
    return { output, exitCode, timedOut, died: at < 0 && !timedOut, report };
  }

  /** Resolves true when woken, false at the deadline. */
  private waitUntil(deadline: number): Promise<boolean> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = undefined;
        resolve(false);
      }, left);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve(true);
      };
    });
  }

  /** Kills bwrap's process group: its pid namespace, and every process in it, goes with it. */
  kill(): void {
    this.dead = true;
    const pid = this.child.pid;
    if (pid !== undefined) {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        this.child.kill("SIGKILL");
      }
    }
    this.child.stdin?.destroy();
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    (this.child.stdio[3] as (NodeJS.ReadableStream & { destroy?: () => void }) | null)?.destroy?.();
  }
}

// ---- sessions -------------------------------------------------------------------------------------

interface Session {
  id: string;
  shell: ShellProcess;
  /** What the shell was started with: a different one needs a new shell. */
  signature: string;
  scratch: string;
  cgroup?: string;
  /**
   * Without a cgroup (the rlimit bound, a non-root stack): the host pid of the sandbox's init (bwrap's
   * child, pid 1 of its pid namespace), whose descendants are the session's processes — orphans are
   * reparented to it, and a nested namespace's processes are its descendants too.
   */
  init?: number;
  /**
   * The session's processes once the shell is up (its init, proxy listeners and the shell itself),
   * host pids: the cgroup's, or the init's and its descendants.
   */
  baseline?: Set<string>;
  network: { mode: ProxyMode; id?: string };
  mounts: MaterialisedMount[];
  /** For each writable mount, what is on disk by path → sha256 (as last listed). */
  onDisk: Map<string, Map<string, string>>;
  lastUsed: number;
  busy: boolean;
}

function signatureOf(workspaceDir: string, request: SandboxExecRequest): string {
  return JSON.stringify({
    workspaceDir,
    mounts: request.mounts.map((m) => [m.path, m.readOnly]),
    network:
      request.network.type === "limited"
        ? ["limited", [...request.network.allowedHosts].sort(), request.network.allowPackageManagers]
        : ["unrestricted"],
  });
}

function unavailable(reason: string): { available: false; reason: string } {
  return { available: false, reason };
}

export class BubblewrapSandbox implements ShellSandbox {
  private readonly hiddenPaths: string[];
  private readonly scratchRoot: string;
  private readonly idleMs: number;
  private readonly maxProcesses: number;
  private readonly maxOutputChars: number;
  private readonly maxMountFileBytes: number;
  private readonly extraReadOnlyPaths: string[];
  private readonly sessions = new Map<string, Session>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly proxies = new Map<ProxyMode, ProxyHost>();
  private availabilityAnswer?: Promise<{ available: true } | { available: false; reason: string }>;
  private bound?: ProcessBound;
  private bwrap?: string;
  private disableUserns = false;
  private setpriv?: string;
  private helperDir?: string;
  private readonly sweeper: NodeJS.Timeout;
  private shellCount = 0;
  private disposed = false;

  constructor(private readonly options: BubblewrapSandboxOptions) {
    this.hiddenPaths = (options.hiddenPaths ?? []).map((p) => path.resolve(p));
    this.scratchRoot = path.resolve(
      options.scratchDir ?? path.join(os.tmpdir(), `reverie-sandbox-${process.pid}`),
    );
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.maxProcesses = options.maxProcesses ?? DEFAULT_MAX_PROCESSES;
    this.maxOutputChars = options.maxOutputChars ?? DEFAULT_MAX_OUTPUT_CHARS;
    this.maxMountFileBytes = options.maxMountFileBytes ?? DEFAULT_MAX_MOUNT_FILE_BYTES;
    this.extraReadOnlyPaths = (options.extraReadOnlyPaths ?? []).map((p) => path.resolve(p));
    for (const extra of this.extraReadOnlyPaths) {
      const hidden = this.hiddenPaths.find((h) => isUnder(extra, h));
      if (hidden) throw new Error(`extraReadOnlyPaths ${extra} is inside the hidden path ${hidden}`);
      const reserved = RESERVED_PATHS.find((r) => isUnder(r, extra) || (isUnder(extra, r) && r !== "/tmp"));
      if (reserved) throw new Error(`extraReadOnlyPaths ${extra} overlaps ${reserved}`);
    }
    this.sweeper = setInterval(
      () => void this.evictIdle(),
      Math.max(1_000, Math.min(60_000, this.idleMs / 4)),
    );
    this.sweeper.unref();
  }

  /** Whether bwrap (and socat) can start a sandbox here with a bound on its processes; answered once. */
  availability(): Promise<{ available: true } | { available: false; reason: string }> {
    this.availabilityAnswer ??= this.probe().catch((error: unknown) =>
      unavailable(`the sandbox could not be checked: ${(error as Error).message}`),
    );
    return this.availabilityAnswer;
  }

  private async probe(): Promise<{ available: true } | { available: false; reason: string }> {
    if (process.platform !== "linux") return unavailable("the bubblewrap sandbox needs Linux");
    const missing = (["bwrap", "socat", "rg"] as const).filter((name) => !findExecutable(name));
    if (missing.length > 0) {
      const names = missing.map((n) => ({ bwrap: "bubblewrap", socat: "socat", rg: "ripgrep" })[n]);
      return unavailable(
        `${names.join(", ")} ${names.length > 1 ? "are" : "is"} not installed: ${INSTALL_HINT}`,
      );
    }
    if (!existsSync(SHELL_PATH)) return unavailable(`${SHELL_PATH} is missing`);
    this.bwrap = findExecutable("bwrap") as string;
    const { SandboxManager } = await import("@anthropic-ai/sandbox-runtime");
    const dependencies = await SandboxManager.checkDependenciesAsync();
    if (dependencies.errors.length > 0)
      return unavailable(`sandbox-runtime cannot run here: ${dependencies.errors.join("; ")}`);
    const setpriv = findExecutable("setpriv");
    if (
      setpriv &&
      (await runProcess(setpriv, ["--help"], { timeoutMs: 10_000 })).stdout.includes("--pdeathsig")
    )
      this.setpriv = setpriv;
    const help = await runProcess(this.bwrap, ["--help"], { timeoutMs: 10_000 });
    this.disableUserns = help.stdout.includes("--disable-userns");
    this.bound = await detectProcessBound();
    if (!this.bound)
      return unavailable(
        "cannot cap the sandbox's processes: running as root without a writable pids cgroup (run the stack as a non-root user, or give it a delegated cgroup)",
      );
    await this.ensureHelperDir();
    const trialTmp = path.join(this.scratchRoot, "probe");
    await mkdir(trialTmp, { recursive: true });
    const args = [
      ...this.baseArgs({ workspace: trialTmp, tmp: trialTmp, mounts: [], proxySocket: undefined }),
    ];
    const trial = await runProcess(
      this.bwrap,
      [...args, "--", SHELL_PATH, "--noprofile", "--norc", "-c", "echo ok"],
      {
        env: { PATH: "/usr/bin:/bin" },
        timeoutMs: 20_000,
      },
    );
    await rm(trialTmp, { recursive: true, force: true });
    if (trial.code !== 0 || trial.stdout.trim() !== "ok") {
      const why = (trial.stderr.trim().split("\n")[0] ?? "") || `exit ${trial.code}`;
      return unavailable(`bubblewrap cannot start a sandbox here: ${why}`);
    }
    return { available: true };
  }

  private async ensureHelperDir(): Promise<string> {
    if (this.helperDir) return this.helperDir;
    const dir = path.join(this.scratchRoot, "helper");
    await mkdir(path.join(dir, "empty"), { recursive: true });
    await writeFile(path.join(dir, "mounts.sh"), MOUNT_HELPER, { mode: 0o555 });
    await chmod(path.join(dir, "mounts.sh"), 0o555);
    this.helperDir = dir;
    return dir;
  }

  /** bubblewrap's arguments up to (not including) `--`. */
  private baseArgs(input: {
    workspace: string;
    tmp: string;
    mounts: readonly MaterialisedMount[];
    proxySocket: string | undefined;
  }): string[] {
    const helper = this.helperDir as string;
    const emptyDir = path.join(helper, "empty");
    const args = [
      "--new-session",
      "--die-with-parent",
      "--unshare-user",
      "--unshare-pid",
      "--unshare-ipc",
      "--unshare-uts",
      "--unshare-cgroup-try",
      "--unshare-net",
      "--hostname",
      "sandbox",
      "--ro-bind",
      "/usr",
      "/usr",
    ];
    // Where the root's /bin, /lib… are symlinks into /usr (merged /usr), the same symlinks; else binds.
    const bound: Array<{ source: string; dest: string }> = [{ source: "/usr", dest: "/usr" }];
    for (const name of ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]) {
      const full = `/${name}`;
      const info = lstatSync(full, { throwIfNoEntry: false });
      if (!info) continue;
      if (info.isSymbolicLink()) args.push("--symlink", readlinkSync(full), full);
      else if (info.isDirectory()) {
        args.push("--ro-bind", full, full);
        bound.push({ source: full, dest: full });
      }
    }
    args.push("--dir", "/etc");
    const etcEntries = existsSync("/etc") ? readdirSync("/etc") : [];
    for (const name of etcEntries.filter((n) => ETC_ALLOWED.some((re) => re.test(n))).sort()) {
      const full = `/etc/${name}`;
      if (name === "mtab") {
        args.push("--symlink", "../proc/self/mounts", full);
        continue;
      }
      args.push("--ro-bind", full, full);
      bound.push({ source: full, dest: full });
    }
    for (const masked of ETC_MASKED) {
      if (existsSync(masked) && bound.some((b) => isUnder(masked, b.source)))
        args.push("--ro-bind", emptyDir, masked);
    }
    args.push("--proc", "/proc", "--dev", "/dev");
    args.push("--bind", input.tmp, "/tmp");
    args.push("--bind", input.workspace, "/workspace");
    bound.push({ source: input.workspace, dest: "/workspace" });
    for (const extra of this.extraReadOnlyPaths) {
      if (!existsSync(extra)) continue;
      args.push("--ro-bind", extra, extra);
      bound.push({ source: extra, dest: extra });
    }
    for (const mount of input.mounts)
      args.push(mount.readOnly ? "--ro-bind" : "--bind", mount.hostDir, mount.path);
    args.push("--ro-bind", helper, HELPER_DIR);
    if (input.proxySocket) args.push("--bind", input.proxySocket, PROXY_SOCKET);
    // Hidden paths that fall under something bound are masked where they appear in the sandbox.
    for (const hidden of this.hiddenPaths) {
      for (const b of bound) {
        if (!isUnder(hidden, b.source) || hidden === b.source) continue;
        const dest = path.posix.join(b.dest, path.relative(b.source, hidden));
        let isDir = true;
        try {
          isDir = statSync(hidden).isDirectory();
        } catch {
          continue;
        }
        args.push("--ro-bind", isDir ? emptyDir : "/dev/null", dest);
      }
    }
    if (this.disableUserns) args.push("--disable-userns");
    args.push("--cap-drop", "ALL", "--remount-ro", "/", "--chdir", "/workspace");
    return args;
  }

  exec(request: SandboxExecRequest): Promise<SandboxExecResult> {
    const previous = this.queues.get(request.sessionId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.execNow(request));
    const tail = next.catch(() => undefined);
    this.queues.set(request.sessionId, tail);
    void tail.then(() => {
      if (this.queues.get(request.sessionId) === tail) this.queues.delete(request.sessionId);
    });
    return next;
  }

  private async execNow(request: SandboxExecRequest): Promise<SandboxExecResult> {
    if (this.disposed) throw new Error("the sandbox is shut down");
    const availability = await this.availability();
    if (!availability.available) throw new Error(`bash is not available here: ${availability.reason}`);
    validateMounts(request.mounts);
    const timeoutMs = effectiveTimeoutMs(request.timeoutMs);
    const workspace = path.resolve(this.options.workspaceDir(request.workspaceId));

    let session = this.sessions.get(request.sessionId);
    const notes: string[] = [];
    const signature = signatureOf(workspace, request);
    if (session && (request.restart || session.shell.dead || session.signature !== signature)) {
      if (!request.restart && !session.shell.dead)
        notes.push("[the shell was restarted: the session's mounts or network changed]");
      await this.endSession(session);
      session = undefined;
    }
    if (request.command === undefined || request.command === "")
      return { output: "", exitCode: 0, timedOut: false, mountChanges: [] };

    if (!session) {
      session = await this.startSession(request, workspace, signature, notes);
      this.sessions.set(request.sessionId, session);
    }
    session.busy = true;
    session.lastUsed = Date.now();
    try {
      await this.takeBaseline(session);
      return await this.runCommand(session, request, request.command, timeoutMs, notes);
    } finally {
      // Nothing a command started outlives it: a background job could otherwise race the file
      // tools (which run outside the sandbox) by swapping symlinks in the workspace.
      await this.killStrays(session);
      session.busy = false;
      session.lastUsed = Date.now();
    }
  }

  /** Records what runs in the session's sandbox once its shell is up, before any command. */
  private async takeBaseline(session: Session): Promise<void> {
    if (session.baseline) return;
    const nonce = randomUUID().replace(/-/g, "");
    const sentinel = `__REVERIE_${nonce}_UP__`;
    const split = `${sentinel.slice(0, 10)}''${sentinel.slice(10)}`;
    await session.shell.run(`printf '\\n${split}0\\n'\n`, sentinel, 30_000);
    if (!session.cgroup) {
      session.init = sandboxInit(session.shell.child.pid);
      if (session.init === undefined) return;
    }
    session.baseline = new Set(sessionPids(session));
  }

  /**
   * Kills every process of the session's sandbox that was not there before its first command: in
   * its cgroup, or (the rlimit bound) under its init, which nothing in the sandbox can leave. A job
   * that outruns the passes (one that keeps forking a new process and exiting) ends the session: the
   * whole sandbox goes with it, and the next call gets a fresh shell.
   */
  private async killStrays(session: Session): Promise<void> {
    if (!session.baseline || session.shell.dead) return;
    for (let pass = 0; pass < 5; pass++) {
      const strays = sessionPids(session).filter((pid) => !session.baseline?.has(pid));
      if (strays.length === 0) return;
      for (const pid of strays) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    if (sessionPids(session).some((pid) => !session.baseline?.has(pid))) await this.endSession(session);
  }

  private async startSession(
    request: SandboxExecRequest,
    workspace: string,
    signature: string,
    notes: string[],
  ): Promise<Session> {
    const bwrap = this.bwrap as string;
    const bound = this.bound as ProcessBound;
    const key = `s${++this.shellCount}-${randomUUID().slice(0, 8)}`;
    const scratch = path.join(this.scratchRoot, "sessions", key);
    await rm(scratch, { recursive: true, force: true });
    const tmp = path.join(scratch, "tmp");
    await mkdir(path.join(tmp, "home"), { recursive: true });
    await mkdir(workspace, { recursive: true });

    // Mounts: fresh directories, written before anything runs in them.
    const mounts: MaterialisedMount[] = [];
    const onDisk = new Map<string, Map<string, string>>();
    for (const [index, mount] of request.mounts.entries()) {
      const hostDir = path.join(scratch, "mounts", String(index));
      await mkdir(hostDir, { recursive: true });
      const hashes = new Map<string, string>();
      for (const file of mount.files) {
        const target = path.join(hostDir, ...file.path.split("/"));
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, file.content, "utf8");
        hashes.set(file.path, sha256(file.content));
      }
      mounts.push({ path: mount.path, readOnly: mount.readOnly, hostDir });
      if (!mount.readOnly) onDisk.set(mount.path, hashes);
    }

    // Network: the policy's proxy, and for `limited` this shell's own allow list.
    const mode: ProxyMode = request.network.type;
    const proxy = this.proxyFor(mode);
    const { socketPath, token } = await proxy.start();
    let networkId: string | undefined;
    if (request.network.type === "limited") {
      networkId = randomBytes(16).toString("base64url");
      const hosts = [
        ...request.network.allowedHosts,
        ...(request.network.allowPackageManagers ? PACKAGE_MANAGER_HOSTS : []),
      ];
      const safe = hosts.filter((h) => unrestrictedHostAllowed(h));
      const refused = hosts.filter((h) => !unrestrictedHostAllowed(h));
      const dropped = [...refused, ...(await proxy.register(networkId, safe))];
      if (dropped.length > 0)
        notes.push(`[network: these allowed hosts are not usable here: ${dropped.join(", ")}]`);
    }

    const env: Record<string, string> = {
      PATH: "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
      HOME: "/tmp/home",
      TMPDIR: "/tmp",
      LANG: "C.UTF-8",
      TERM: "dumb",
      PS1: "",
      PS2: "",
      PWD: "/workspace",
    };
    for (const entry of generateProxyEnvVars(
      HTTP_PROXY_PORT,
      SOCKS_PROXY_PORT,
      undefined,
      token,
      true,
      networkId ? encodeSandboxedCommand(networkId) : undefined,
    )) {
      const eq = entry.indexOf("=");
      env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }

    // The process bound: bwrap joins the session's pids cgroup before it starts; or the shell's
    // RLIMIT_NPROC is lowered inside the sandbox's user namespace, where it counts only the sandbox's
    // processes (lowered before bwrap, the namespace would also inherit it as the cap on all of this
    // user's processes).
    let cgroup: string | undefined;
    let joinCgroup: string[] = [];
    if (bound.kind === "cgroup") {
      cgroup = path.join(bound.root, key);
      await mkdir(cgroup);
      await writeFile(path.join(cgroup, "pids.max"), String(this.maxProcesses));
      joinCgroup = [
        "-c",
        'printf "%s" "$$" > "$1" || exit 97; shift; exec "$@"',
        "reverie-sandbox",
        path.join(cgroup, "cgroup.procs"),
      ];
    }
    const init = [
      ...(bound.kind === "rlimit" ? [`ulimit -u ${this.maxProcesses} || exit 97`] : []),
      // The proxy listeners, reparented to the namespace's init so the shell does not wait on them.
      `( for port in ${HTTP_PROXY_PORT} ${SOCKS_PROXY_PORT}; do`,
      `  { socat TCP6-LISTEN:$port,ipv6only=0,fork,reuseaddr UNIX-CONNECT:${PROXY_SOCKET} 2>/dev/null ||`,
      `    exec socat TCP4-LISTEN:$port,fork,reuseaddr UNIX-CONNECT:${PROXY_SOCKET}; } </dev/null >/dev/null 2>&1 3>&- &`,
      "  done ) 3>&-",
      "for i in $(seq 300); do",
      `  n=$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | grep -cE ':(0C38|0438) [0-9A-F:]+ 0A ')`,
      '  [ "$n" -ge 2 ] && break',
      "  sleep 0.01",
      "done",
      `exec ${SHELL_PATH} --noprofile --norc`,
    ].join("\n");
    const args = [
      ...(joinCgroup.length > 0 ? joinCgroup : ["-c", 'exec "$@"', "reverie-sandbox"]),
      // bwrap dies with this process even while a command runs (its own child dies with it in turn).
      ...(this.setpriv ? [this.setpriv, "--pdeathsig", "KILL", "--"] : []),
      bwrap,
      ...this.baseArgs({ workspace, tmp, mounts, proxySocket: socketPath }),
      "--",
      SHELL_PATH,
      "--noprofile",
      "--norc",
      "-c",
      init,
    ];
    const shell = new ShellProcess(SHELL_PATH, args, env, this.maxOutputChars);
    return {
      id: request.sessionId,
      shell,
      signature,
      scratch,
      cgroup,
      network: { mode, id: networkId },
      mounts,
      onDisk,
      lastUsed: Date.now(),
      busy: false,
    };
  }

  private proxyFor(mode: ProxyMode): ProxyHost {
    let proxy = this.proxies.get(mode);
    if (!proxy) {
      proxy = new ProxyHost(mode);
      this.proxies.set(mode, proxy);
    }
    return proxy;
  }

  private async runCommand(
    session: Session,
    request: SandboxExecRequest,
    command: string,
    timeoutMs: number,
    notes: string[],
  ): Promise<SandboxExecResult> {
    const nonce = randomUUID().replace(/-/g, "");
    const sentinel = `__REVERIE_${nonce}_DONE__`;
    // Split so the sentinel's literal never appears in what the shell reads.
    const sentinelSplit = `${sentinel.slice(0, 10)}''${sentinel.slice(10)}`;
    const helper = `/usr/bin/env -i ${SHELL_PATH} --noprofile --norc ${HELPER_DIR}/mounts.sh`;
    const writable = session.mounts.filter((m) => !m.readOnly);
    const lines: string[] = [];

    // Bring mounts up to date with the stores: read-only ones from here (the sandbox cannot change
    // them), writable ones from inside the sandbox.
    for (const mount of request.mounts) {
      const materialised = session.mounts.find((m) => m.path === mount.path) as MaterialisedMount;
      if (mount.readOnly) await this.syncReadOnly(materialised, mount);
      else lines.push(...this.syncWritable(session, materialised, mount, helper, nonce));
    }
    const roots = writable.map((m) => ansiCQuote(m.path)).join(" ");
    const state = "/tmp/.reverie-mounts.state";
    lines.push(`{ eval ${ansiCQuote(command)}`, `} </dev/null 2>&1 3>&-`, `__reverie_rc=$?`);
    if (writable.length > 0)
      lines.push(
        `${helper} diff ${state} ${this.maxMountFileBytes} ${nonce} ${roots} </dev/null 2>/dev/null >&3`,
      );
    lines.push(`printf '\\n${sentinelSplit}%d\\n' "$__reverie_rc"`, "");

    const result = await session.shell.run(
      lines.join("\n"),
      sentinel,
      timeoutMs,
      writable.length > 0 ? nonce : undefined,
    );

    let mountChanges: SandboxMountChange[] = [];
    if (writable.length > 0) {
      if (result.report) mountChanges = this.readReport(session, writable, result.report, notes);
      else if (!result.timedOut && !result.died)
        notes.push("[the writable mounts' changes could not be read]");
    }
    if (result.timedOut || result.died) {
      if (result.died) notes.push("[the shell exited; the next command starts a new one]");
      if (writable.length > 0) notes.push("[changes to writable mounts made by this command were not kept]");
      await this.endSession(session);
    }
    const output = [result.output, ...notes].filter((s) => s !== "").join("\n");
    return { output, exitCode: result.exitCode, timedOut: result.timedOut, mountChanges };
  }

  private async syncReadOnly(materialised: MaterialisedMount, mount: SandboxMount): Promise<void> {
    const wanted = new Map(mount.files.map((f) => [f.path, f.content]));
    const present = await listFiles(materialised.hostDir);
    for (const rel of present) {
      if (!wanted.has(rel)) await rm(path.join(materialised.hostDir, ...rel.split("/")), { force: true });
    }
    for (const [rel, content] of wanted) {
      const target = path.join(materialised.hostDir, ...rel.split("/"));
      const current = await readFile(target, "utf8").catch(() => undefined);
      if (current === content) continue;
      await mkdir(path.dirname(target), { recursive: true });
      await writeFile(target, content, "utf8");
    }
  }

  /** Shell lines that make a writable mount match the store, for the files that differ from what is on disk. */
  private syncWritable(
    session: Session,
    materialised: MaterialisedMount,
    mount: SandboxMount,
    helper: string,
    nonce: string,
  ): string[] {
    const onDisk = session.onDisk.get(mount.path) ?? new Map<string, string>();
    const lines: string[] = [];
    const root = ansiCQuote(materialised.path);
    const wanted = new Set<string>();
    for (const file of mount.files) {
      wanted.add(file.path);
      const hash = sha256(file.content);
      if (onDisk.get(file.path) === hash) continue;
      const body = (
        Buffer.from(file.content, "utf8")
          .toString("base64")
          .match(/.{1,76}/g) ?? []
      ).join("\n");
      lines.push(
        `${helper} write ${root} '${b64(file.path)}' 3>&- <<'__REVERIE_${nonce}'`,
        body,
        `__REVERIE_${nonce}`,
      );
      onDisk.set(file.path, hash);
    }
    for (const rel of [...onDisk.keys()]) {
      if (wanted.has(rel)) continue;
      lines.push(`${helper} delete ${root} '${b64(rel)}' </dev/null 3>&-`);
      onDisk.delete(rel);
    }
    session.onDisk.set(mount.path, onDisk);
    return lines;
  }

  /** Turns the listing of the writable mounts into changes against what was on disk before. */
  private readReport(
    session: Session,
    writable: readonly MaterialisedMount[],
    tokens: readonly string[],
    notes: string[],
  ): SandboxMountChange[] {
    const changes: SandboxMountChange[] = [];
    const seen = new Map<string, Set<string>>(writable.map((m) => [m.path, new Set<string>()]));
    const locate = (absolute: string): { mount: string; rel: string } | undefined => {
      const mount = writable.find((m) => absolute.startsWith(`${m.path}/`));
      return mount ? { mount: mount.path, rel: absolute.slice(mount.path.length + 1) } : undefined;
    };
    for (let i = 0; i < tokens.length; ) {
      const kind = tokens[i];
      const where = locate(tokens[i + 1] ?? "");
      if (kind === "F") {
        if (where) seen.get(where.mount)?.add(where.rel);
        i += 2;
      } else if (kind === "C") {
        const content = Buffer.from(tokens[i + 2] ?? "", "base64").toString("utf8");
        if (where) {
          const onDisk = session.onDisk.get(where.mount) as Map<string, string>;
          const hash = sha256(content);
          if (onDisk.get(where.rel) !== hash) {
            changes.push({ mountPath: where.mount, path: where.rel, content });
            onDisk.set(where.rel, hash);
          }
        }
        i += 3;
      } else if (kind === "B") {
        if (where)
          notes.push(
            `[${where.mount}/${where.rel} is ${tokens[i + 2]} bytes, over the ${this.maxMountFileBytes}-byte limit for a mounted store: not saved]`,
          );
        i += 3;
      } else break;
    }
    for (const [mount, present] of seen) {
      const onDisk = session.onDisk.get(mount) as Map<string, string>;
      for (const rel of [...onDisk.keys()]) {
        if (present.has(rel)) continue;
        changes.push({ mountPath: mount, path: rel, content: null });
        onDisk.delete(rel);
      }
    }
    return changes;
  }

  /** Ends a session's shell (idle, session deleted); the workspace stays. */
  async close(sessionId: string): Promise<void> {
    const session = this.sessions.get(sessionId);
    if (session) await this.endSession(session);
  }

  private async endSession(session: Session): Promise<void> {
    if (this.sessions.get(session.id) === session) this.sessions.delete(session.id);
    session.shell.kill();
    if (session.network.id) this.proxies.get(session.network.mode)?.unregister(session.network.id);
    await Promise.race([session.shell.exited, new Promise((r) => setTimeout(r, 2_000))]);
    if (session.cgroup) await removeCgroup(session.cgroup);
    await rm(session.scratch, { recursive: true, force: true }).catch(() => undefined);
  }

  private async evictIdle(): Promise<void> {
    const now = Date.now();
    for (const session of [...this.sessions.values()]) {
      if (!session.busy && now - session.lastUsed >= this.idleMs) await this.endSession(session);
    }
  }

  /** Kills every shell and proxy, and removes this instance's scratch and cgroups (the stack's shutdown). */
  async dispose(): Promise<void> {
    this.disposed = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((s) => this.endSession(s)));
    for (const proxy of this.proxies.values()) proxy.stop();
    this.proxies.clear();
    if (this.bound?.kind === "cgroup") await removeCgroup(this.bound.root);
    await rm(this.scratchRoot, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Regular files under `dir` (paths relative to it, `/`-separated); used only on read-only mounts. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join("/"));
}

/** The session's processes (host pids): its cgroup's, or its init's and that init's descendants. */
function sessionPids(session: Session): string[] {
  if (session.cgroup) return cgroupPids(session.cgroup);
  return session.init === undefined ? [] : descendants(session.init);
}

/**
 * The host pid of the sandbox's init: bwrap's child, pid 1 of the pid namespace bwrap made
 * (`--unshare-pid`). Undefined if it cannot be read (a kernel without /proc's `children` lists).
 */
function sandboxInit(bwrapPid: number | undefined): number | undefined {
  if (bwrapPid === undefined) return undefined;
  const [init] = childrenOf(bwrapPid);
  return init === undefined ? undefined : Number(init);
}

/** `pid` and every process below it, host pids: a walk of /proc's `children` lists (the sandbox's size, not the host's). */
function descendants(pid: number): string[] {
  const found: string[] = [];
  const queue = [String(pid)];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    if (!existsSync(`/proc/${next}`)) continue;
    found.push(next);
    queue.push(...childrenOf(Number(next)));
  }
  return found;
}

/** The children of every thread of a process (none once it is gone). */
function childrenOf(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((task) => {
      try {
        return readFileSync(`/proc/${pid}/task/${task}/children`, "utf8").split(" ").filter(Boolean);
      } catch {
        return [];
      }
    });
  } catch {
    return [];
  }
}

/** The pids in a cgroup (host pid namespace). */
function cgroupPids(dir: string): string[] {
  try {
    return readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

/** Kills what is left in a cgroup and removes it (retrying while its tasks exit). */
async function removeCgroup(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 40; attempt++) {
    const procs = await readFile(path.join(dir, "cgroup.procs"), "utf8").catch(() => "");
    for (const pid of procs.split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        // already gone
      }
    }
    for (const child of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (child.isDirectory()) await removeCgroup(path.join(dir, child.name));
    }
    try {
      await rmdir(dir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
