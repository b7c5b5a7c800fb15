/**
 * What agent-step ({@link LambdaShellSandbox}) and the sandbox function (`functions/sandbox.ts`) say to
 * each other: one JSON request, one JSON answer, and a gzipped "changes" object the sandbox PUTs
 * through a presigned URL. No credential travels here: the request carries the command and presigned
 * URLs, each good for one object and one verb until it expires (docs/sandbox-on-aws.md).
 *
 * The answer and the changes object come from a place where a model's command ran: the adapter
 * re-validates both with the parsers below before anything reaches the workspace or a memory store.
 * Pure module: no AWS SDK, no Node built-ins, imported by both sides.
 */

export const SANDBOX_PROTOCOL_VERSION = 1;

/** Virtual root of the writable workspace inside the sandbox (the ShellSandbox contract). */
export const WORKSPACE_ROOT = "/workspace";

export interface SandboxLimits {
  /** Output kept (head and tail) before a truncation marker, bytes. */
  outputBytes: number;
  /** Largest total size of files written to /workspace by one call, bytes (else nothing is saved). */
  changedBytes: number;
  /** Most files written or deleted in /workspace by one call (else nothing is saved). */
  changedFiles: number;
  /** Largest total size of reported mount changes, bytes (else none are reported). */
  mountChangeBytes: number;
  /** Largest saved shell state (cwd, variables, functions, aliases), bytes (else the old one stays). */
  shellStateBytes: number;
}

export const defaultSandboxLimits: SandboxLimits = {
  outputBytes: 100 * 1024,
  changedBytes: 256 * 1024 * 1024,
  changedFiles: 20_000,
  mountChangeBytes: 2 * 1024 * 1024,
  shellStateBytes: 256 * 1024,
};

export interface SandboxInvocationFile {
  /** Path relative to /workspace. */
  path: string;
  size: number;
  /** Presigned GET; when `sharedQuery` is set, append it (`&` or `?`) to get the full URL. */
  url: string;
}

export interface SandboxInvocationMount {
  /** Absolute path inside the sandbox, outside /workspace. */
  path: string;
  readOnly: boolean;
  files: Array<{ path: string; content: string }>;
}

/** agent-step → sandbox function. */
export interface SandboxInvocation {
  v: typeof SANDBOX_PROTOCOL_VERSION;
  /** Absent with `restart`: only reset the shell. */
  command?: string;
  restart: boolean;
  timeoutMs: number;
  /** Bash source the previous call saved (cwd, variables, functions, aliases); absent: a fresh shell. */
  shellState?: string;
  workspace: {
    /**
     * The query parameters every presigned GET shares (algorithm, credential scope, date, expiry,
     * security token), sent once instead of once per file so large workspaces fit in 6 MB.
     */
    sharedQuery?: string;
    files: SandboxInvocationFile[];
  };
  /** Presigned PUT for the changes object (see {@link encodeWorkspaceChanges}). */
  changesUrl: string;
  mounts: SandboxInvocationMount[];
  limits: SandboxLimits;
}

export interface SandboxMountChangeWire {
  mountPath: string;
  path: string;
  content: string | null;
}

/** sandbox function → agent-step. Untrusted: see {@link parseSandboxResult}. */
export interface SandboxInvocationResult {
  v: typeof SANDBOX_PROTOCOL_VERSION;
  output: string;
  exitCode: number | null;
  timedOut: boolean;
  /** The shell state to keep for the next call; absent: keep the previous one. */
  shellState?: string;
  /** Whether the changes object was uploaded (something in /workspace was written or deleted). */
  changesUploaded: boolean;
  mountChanges: SandboxMountChangeWire[];
}

/** What one call changed in /workspace. */
export interface WorkspaceChanges {
  written: Array<{ path: string; data: Uint8Array }>;
  deleted: string[];
}

/** A malformed request, answer or changes object. */
export class SandboxProtocolError extends Error {
  override name = "SandboxProtocolError";
}

/**
 * A path relative to a root, as the workspace store keys it: `/`-separated, no empty, `.` or `..`
 * segment, no NUL, at most 1024 bytes (an S3 key's limit).
 */
export function isSafeRelativePath(path: string): boolean {
  if (path === "" || path.startsWith("/") || path.includes("\0")) return false;
  if (new TextEncoder().encode(path).length > 1024) return false;
  return path.split("/").every((segment) => segment !== "" && segment !== "." && segment !== "..");
}

/** An absolute mount path: `/` plus a safe relative path, not /workspace nor inside it. */
export function isSafeMountPath(path: string): boolean {
  if (!path.startsWith("/") || !isSafeRelativePath(path.slice(1))) return false;
  return path !== WORKSPACE_ROOT && !path.startsWith(`${WORKSPACE_ROOT}/`);
}

/** The full download URL of a file of the request. */
export function downloadUrl(file: SandboxInvocationFile, sharedQuery: string | undefined): string {
  if (!sharedQuery) return file.url;
  return `${file.url}${file.url.includes("?") ? "&" : "?"}${sharedQuery}`;
}

/**
 * Splits presigned URLs into the query parameters they all share (kept byte for byte, in order) and
 * what is left of each. SigV4 sorts query parameters before verifying, so the order of the rejoined
 * URL does not matter. URLs without a query, or with nothing in common, come back whole.
 */
export function factorSharedQuery(urls: readonly string[]): { sharedQuery?: string; urls: string[] } {
  const split = urls.map((url) => {
    const at = url.indexOf("?");
    return at < 0
      ? { base: url, params: [] as string[] }
      : { base: url.slice(0, at), params: url.slice(at + 1).split("&") };
  });
  const first = split[0];
  if (!first || first.params.length === 0) return { urls: [...urls] };
  const shared = first.params.filter((p) => split.every((s) => s.params.includes(p)));
  if (shared.length === 0) return { urls: [...urls] };
  const sharedSet = new Set(shared);
  return {
    sharedQuery: shared.join("&"),
    urls: split.map(({ base, params }) => {
      const own = params.filter((p) => !sharedSet.has(p));
      return own.length > 0 ? `${base}?${own.join("&")}` : base;
    }),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;

/** Parses the sandbox function's answer; throws {@link SandboxProtocolError} on anything unexpected. */
export function parseSandboxResult(value: unknown): SandboxInvocationResult {
  if (!isObject(value) || value.v !== SANDBOX_PROTOCOL_VERSION) {
    throw new SandboxProtocolError("the sandbox answered in an unknown format");
  }
  const { output, exitCode, timedOut, shellState, changesUploaded, mountChanges } = value;
  if (typeof output !== "string") throw new SandboxProtocolError("sandbox answer: output is not a string");
  if (exitCode !== null && !(typeof exitCode === "number" && Number.isInteger(exitCode))) {
    throw new SandboxProtocolError("sandbox answer: exitCode is not an integer or null");
  }
  if (typeof timedOut !== "boolean" || typeof changesUploaded !== "boolean") {
    throw new SandboxProtocolError("sandbox answer: timedOut/changesUploaded are not booleans");
  }
  if (shellState !== undefined && typeof shellState !== "string") {
    throw new SandboxProtocolError("sandbox answer: shellState is not a string");
  }
  if (!Array.isArray(mountChanges))
    throw new SandboxProtocolError("sandbox answer: mountChanges is not a list");
  const changes = mountChanges.map((c): SandboxMountChangeWire => {
    if (
      !isObject(c) ||
      typeof c.mountPath !== "string" ||
      typeof c.path !== "string" ||
      !(typeof c.content === "string" || c.content === null)
    ) {
      throw new SandboxProtocolError("sandbox answer: malformed mount change");
    }
    return { mountPath: c.mountPath, path: c.path, content: c.content };
  });
  return {
    v: SANDBOX_PROTOCOL_VERSION,
    output,
    exitCode,
    timedOut,
    ...(shellState === undefined ? {} : { shellState }),
    changesUploaded,
    mountChanges: changes,
  };
}

/** Parses a request (the sandbox function's input); throws {@link SandboxProtocolError}. */
export function parseSandboxInvocation(value: unknown): SandboxInvocation {
  if (!isObject(value) || value.v !== SANDBOX_PROTOCOL_VERSION) {
    throw new SandboxProtocolError("unknown sandbox request format");
  }
  const { command, restart, timeoutMs, shellState, workspace, changesUrl, mounts, limits } = value;
  if (command !== undefined && typeof command !== "string") throw new SandboxProtocolError("command");
  if (typeof restart !== "boolean") throw new SandboxProtocolError("restart");
  if (typeof timeoutMs !== "number" || !(timeoutMs > 0)) throw new SandboxProtocolError("timeoutMs");
  if (shellState !== undefined && typeof shellState !== "string")
    throw new SandboxProtocolError("shellState");
  if (typeof changesUrl !== "string") throw new SandboxProtocolError("changesUrl");
  if (!isObject(workspace) || !Array.isArray(workspace.files)) throw new SandboxProtocolError("workspace");
  if (workspace.sharedQuery !== undefined && typeof workspace.sharedQuery !== "string") {
    throw new SandboxProtocolError("workspace.sharedQuery");
  }
  const files = workspace.files.map((f): SandboxInvocationFile => {
    if (!isObject(f) || typeof f.path !== "string" || !isSafeRelativePath(f.path)) {
      throw new SandboxProtocolError("workspace file path");
    }
    if (typeof f.url !== "string" || typeof f.size !== "number")
      throw new SandboxProtocolError("workspace file");
    return { path: f.path, size: f.size, url: f.url };
  });
  if (!Array.isArray(mounts)) throw new SandboxProtocolError("mounts");
  const parsedMounts = mounts.map((m): SandboxInvocationMount => {
    if (!isObject(m) || typeof m.path !== "string" || !isSafeMountPath(m.path)) {
      throw new SandboxProtocolError("mount path");
    }
    if (typeof m.readOnly !== "boolean" || !Array.isArray(m.files)) throw new SandboxProtocolError("mount");
    return {
      path: m.path,
      readOnly: m.readOnly,
      files: m.files.map((f) => {
        if (
          !isObject(f) ||
          typeof f.path !== "string" ||
          !isSafeRelativePath(f.path) ||
          typeof f.content !== "string"
        ) {
          throw new SandboxProtocolError("mount file");
        }
        return { path: f.path, content: f.content };
      }),
    };
  });
  if (!isObject(limits)) throw new SandboxProtocolError("limits");
  const parsedLimits = { ...defaultSandboxLimits };
  for (const key of Object.keys(defaultSandboxLimits) as Array<keyof SandboxLimits>) {
    const n = limits[key];
    if (typeof n !== "number" || !(n >= 0)) throw new SandboxProtocolError(`limits.${key}`);
    parsedLimits[key] = n;
  }
  return {
    v: SANDBOX_PROTOCOL_VERSION,
    ...(command === undefined ? {} : { command }),
    restart,
    timeoutMs,
    ...(shellState === undefined ? {} : { shellState }),
    workspace: {
      ...(workspace.sharedQuery === undefined ? {} : { sharedQuery: workspace.sharedQuery }),
      files,
    },
    changesUrl,
    mounts: parsedMounts,
    limits: parsedLimits,
  };
}

/**
 * The changes object, before gzip: one JSON header line (`{"written":[{"path","size"}],"deleted":[…]}`)
 * followed by the written files' bytes, back to back in header order. Binary-safe, no base64.
 */
export function encodeWorkspaceChanges(changes: WorkspaceChanges): Uint8Array {
  const header = new TextEncoder().encode(
    `${JSON.stringify({
      written: changes.written.map((w) => ({ path: w.path, size: w.data.byteLength })),
      deleted: changes.deleted,
    })}\n`,
  );
  const total = header.byteLength + changes.written.reduce((n, w) => n + w.data.byteLength, 0);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let at = header.byteLength;
  for (const w of changes.written) {
    out.set(w.data, at);
    at += w.data.byteLength;
  }
  return out;
}

/** Parses a changes object (after gunzip); throws {@link SandboxProtocolError} when malformed. */
export function decodeWorkspaceChanges(bytes: Uint8Array): WorkspaceChanges {
  const newline = bytes.indexOf(0x0a);
  if (newline < 0) throw new SandboxProtocolError("changes object: no header");
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, newline)));
  } catch {
    throw new SandboxProtocolError("changes object: header is not JSON");
  }
  if (!isObject(header) || !Array.isArray(header.written) || !Array.isArray(header.deleted)) {
    throw new SandboxProtocolError("changes object: malformed header");
  }
  let at = newline + 1;
  const written = header.written.map((w) => {
    if (!isObject(w) || typeof w.path !== "string" || !isSafeRelativePath(w.path)) {
      throw new SandboxProtocolError("changes object: unsafe path");
    }
    const size = w.size;
    if (typeof size !== "number" || !Number.isInteger(size) || size < 0 || at + size > bytes.byteLength) {
      throw new SandboxProtocolError("changes object: bad size");
    }
    const data = bytes.subarray(at, at + size);
    at += size;
    return { path: w.path, data };
  });
  if (at !== bytes.byteLength) throw new SandboxProtocolError("changes object: trailing bytes");
  const deleted = header.deleted.map((p) => {
    if (typeof p !== "string" || !isSafeRelativePath(p)) {
      throw new SandboxProtocolError("changes object: unsafe deleted path");
    }
    return p;
  });
  return { written, deleted };
}
