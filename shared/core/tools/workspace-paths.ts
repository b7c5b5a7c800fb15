/**
 * Resolves the path argument of a file tool (`read`, `write`, `edit`, `glob`, `grep`) against the
 * session's filesystem as the model sees it: a working directory `/workspace` backed by the session's
 * WorkspaceStore. Resolution is purely lexical — the stores hold flat keys, so there are no symlinks to
 * follow — and every result is a normalised, mount-relative key such as `a/b/c.txt`.
 *
 * The resolver works over a list of mounts so that memory stores (`/mnt/memory/<name>/`) can be added
 * later as further roots; today only the workspace mount exists.
 */

/** The model's working directory; relative tool paths resolve here. */
export const WORKSPACE_ROOT = "/workspace";

/** A directory of the model's filesystem that is backed by a store. */
export interface PathMount {
  /**
   * What backs the mount: the session's WorkspaceStore, a memory store (`/mnt/memory/<name>`), the
   * session's uploaded files (`/mnt/session`) or its skills (`/mnt/skills`).
   */
  readonly kind: "workspace" | "memory_store" | "session_files" | "skills";
  /** Absolute, normalised, without a trailing slash, e.g. `/workspace`. */
  readonly root: string;
  /** Writes under a read-only mount are refused by the tool layer (not by prompt). */
  readonly readOnly?: boolean;
}

/** The mounts a session has today: its workspace. */
export const WORKSPACE_MOUNT: PathMount = { kind: "workspace", root: WORKSPACE_ROOT };

export interface ResolvePathOptions {
  /** The mounts paths may land in; defaults to the workspace alone. */
  readonly mounts?: readonly PathMount[];
  /** Where relative paths resolve; defaults to `/workspace`. */
  readonly cwd?: string;
  /** Whether the mount root itself (key `""`) is acceptable — true for directory arguments. */
  readonly allowRoot?: boolean;
}

/** A path that resolved inside a mount. */
export interface ResolvedPath {
  readonly mount: PathMount;
  /** Mount-relative, `/`-separated, no leading or trailing slash; `""` is the mount root. */
  readonly key: string;
  /** The absolute path as the model would write it, e.g. `/workspace/a/b.txt`. */
  readonly absolute: string;
}

/** A tool path that is empty, malformed, escapes its mount or lies outside every mount. */
export class WorkspacePathError extends Error {
  override name = "WorkspacePathError";
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const MAX_PATH_LENGTH = 4096;

/**
 * Resolves `input` to a key inside one of the mounts.
 *
 * @throws WorkspacePathError when the path is empty, contains control characters, climbs above `/`
 *   with `..`, or does not lie under any mount (e.g. `/etc/passwd`, `../x`).
 */
export function resolveToolPath(input: string, options: ResolvePathOptions = {}): ResolvedPath {
  const mounts = options.mounts ?? [WORKSPACE_MOUNT];
  const cwd = options.cwd ?? WORKSPACE_ROOT;
  if (typeof input !== "string" || input.trim() === "") {
    throw new WorkspacePathError(String(input), "path must be a non-empty string");
  }
  if (input.length > MAX_PATH_LENGTH) {
    throw new WorkspacePathError(input, `path is longer than ${MAX_PATH_LENGTH} characters`);
  }
  // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(input)) {
    throw new WorkspacePathError(input, "path contains control characters");
  }
  const joined = input.startsWith("/") ? input : `${cwd}/${input}`;
  const segments: string[] = [];
  for (const segment of joined.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (segments.length === 0) throw outside(input, mounts);
      segments.pop();
      continue;
    }
    segments.push(segment);
  }
  const absolute = `/${segments.join("/")}`;
  for (const mount of mounts) {
    if (absolute === mount.root || absolute.startsWith(`${mount.root}/`)) {
      const key = absolute.slice(mount.root.length + 1);
      if (key === "" && !options.allowRoot) {
        throw new WorkspacePathError(input, `${mount.root} is a directory, not a file`);
      }
      return { mount, key, absolute };
    }
  }
  throw outside(input, mounts);
}

/** Shorthand for a file path in the workspace: the workspace-relative key, e.g. `a/b/c.txt`. */
export function workspaceKey(input: string): string {
  return resolveToolPath(input).key;
}

/** The absolute path the model sees for a key of a mount. */
export function mountDisplayPath(mount: PathMount, key: string): string {
  return key === "" ? mount.root : `${mount.root}/${key}`;
}

/** The absolute path the model sees for a workspace key. */
export function workspaceDisplayPath(key: string): string {
  return key === "" ? WORKSPACE_ROOT : `${WORKSPACE_ROOT}/${key}`;
}

function outside(input: string, mounts: readonly PathMount[]): WorkspacePathError {
  const roots = mounts.map((mount) => mount.root).join(", ");
  return new WorkspacePathError(input, `path ${JSON.stringify(input)} is outside ${roots}`);
}
