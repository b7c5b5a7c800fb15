/**
 * The WorkspaceStore of the embedded stack: one directory per workspace under the data dir. Writes go
 * to a temporary file first and are renamed into place, so a reader (or a `kill -9`) never sees half a
 * file. `bash` can plant symbolic links in a workspace, so every path is resolved to where it really
 * leads and must stay inside its workspace: a link to `/` is not a way out for the file tools. Only a
 * regular file is read: a named pipe bash made is refused, never waited on.
 *
 * A read or a write is a dozen small calls on a local disk (resolve, check, open, write, rename),
 * made synchronously: each takes microseconds, where its asynchronous form waits for a thread-pool
 * thread and then for a turn of the event loop — under load, most of a `write` tool call (8 ms of a
 * 19 ms benchmark turn at load average 8). Listing a workspace, which may be large, stays asynchronous.
 */
import { randomUUID } from "node:crypto";
import type { Dirent } from "node:fs";
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { readdir, stat } from "node:fs/promises";
import path from "node:path";
import {
  MAX_WORKSPACE_READ_BYTES,
  type WorkspaceFile,
  WorkspaceFileTooLargeError,
  type WorkspaceStore,
} from "../../core/ports.js";

/** A workspace id or file path that cannot be mapped onto the directory safely. */
export class InvalidWorkspacePathError extends Error {
  override name = "InvalidWorkspacePathError";
}

/** Where temporary files live until renamed; on the same filesystem, outside every workspace. */
const TMP_DIR = ".tmp";

/** The operating system's realpath(3), as `fs.promises.realpath` resolves. */
const realpath = (target: string) => realpathSync.native(target);

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * What opening a folder on the way to a file met: a file where a folder was expected (`ENOTDIR`), or
 * a link to nowhere (`ENOENT` after the name was found taken), is the caller's bad path; anything
 * else is passed on.
 */
function notAFolder(error: unknown): unknown {
  const code = errorCode(error);
  if (code === "ENOTDIR") return new InvalidWorkspacePathError("a folder on this path is a file");
  if (code === "ENOENT" || code === "ELOOP")
    return new InvalidWorkspacePathError("a folder on this path is a symbolic link that leads nowhere");
  return error;
}

/** `real` (a resolved path) if it lies inside the workspace folder `realDir` (resolved), else an error. */
function contained(realDir: string, real: string): string {
  if (real !== realDir && !real.startsWith(`${realDir}${path.sep}`))
    throw new InvalidWorkspacePathError("this path leads outside the workspace through a symbolic link");
  return real;
}

export class DirectoryWorkspaceStore implements WorkspaceStore {
  /** @param root the directory holding one folder per workspace, e.g. `<data dir>/workspaces`. */
  constructor(private readonly root: string) {}

  async read(workspaceId: string, filePath: string): Promise<string | undefined> {
    const file = this.fileOf(workspaceId, filePath);
    try {
      // Nothing there (a file about to be created, the common case): no error to build and catch.
      if (lstatSync(file, { throwIfNoEntry: false }) === undefined) return undefined;
      const realDir = realpath(this.dirOf(workspaceId));
      const real = contained(realDir, realpath(file));
      // O_NOFOLLOW: the file checked is the file opened, even if a link is swapped in meanwhile.
      // O_NONBLOCK: a named pipe (`mkfifo` in bash) opens at once instead of blocking this process
      // until a writer comes — forever, for the whole stack, as the open is synchronous.
      const fd = openSync(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      try {
        // What was opened, not what the name led to a moment before (a folder swapped for a link).
        if (process.platform === "linux") contained(realDir, realpath(`/proc/self/fd/${fd}`));
        const info = fstatSync(fd);
        if (info.isDirectory()) return undefined;
        if (!info.isFile())
          throw new InvalidWorkspacePathError(
            "this path is a named pipe, socket or device, not a regular file",
          );
        if (info.size > MAX_WORKSPACE_READ_BYTES) throw new WorkspaceFileTooLargeError(info.size);
        return readFileSync(fd, "utf8");
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      const code = errorCode(error);
      if (code === "ENOENT" || code === "EISDIR" || code === "ENOTDIR" || code === "ELOOP") return undefined;
      throw error;
    }
  }

  async write(workspaceId: string, filePath: string, content: string): Promise<void> {
    const target = this.fileOf(workspaceId, filePath);
    const tmpDir = path.join(this.root, TMP_DIR);
    const tmp = path.join(tmpDir, `${randomUUID()}.tmp`);
    mkdirSync(tmpDir, { recursive: true });
    if (process.platform !== "linux") {
      // No sandbox runs beside the file tools here (bubblewrap needs Linux): a link checked stays put.
      this.containedParent(workspaceId, target);
      mkdirSync(path.dirname(target), { recursive: true });
      this.writeThenRename(tmp, content, target);
      return;
    }
    const folder = this.openParentInside(workspaceId, filePath);
    try {
      // Renamed into the folder opened, whatever its name leads to by now; a link at the file's own
      // name is replaced, never followed.
      this.writeThenRename(tmp, content, `/proc/self/fd/${folder}/${path.basename(target)}`);
    } finally {
      closeSync(folder);
    }
  }

  private writeThenRename(tmp: string, content: string, target: string): void {
    try {
      writeFileSync(tmp, content, "utf8");
      renameSync(tmp, target);
    } catch (error) {
      rmSync(tmp, { force: true });
      throw error;
    }
  }

  /**
   * Opens the folder that holds `filePath`, making the missing ones, one name at a time: each name is
   * opened within the folder opened before it (`/proc/self/fd/<fd>/<name>`, as openat(2) would), and
   * where it really leads (the folder opened, read back from `/proc/self/fd`) must lie inside the
   * workspace. Checking a path and then writing through it is not enough: a process in the sandbox
   * (a background job, a sibling thread's command) can swap a folder for a link to anywhere on the
   * host between the check and the write. The folder returned is the one checked, whatever is renamed
   * meanwhile; a link that stays inside the workspace is still followed.
   */
  private openParentInside(workspaceId: string, filePath: string): number {
    const root = this.dirOf(workspaceId);
    mkdirSync(root, { recursive: true });
    const realRoot = realpath(root);
    const flags = constants.O_RDONLY | constants.O_DIRECTORY;
    let folder = openSync(realRoot, flags);
    try {
      for (const name of filePath.split("/").slice(0, -1)) {
        const next = `/proc/self/fd/${folder}/${name}`;
        let opened: number;
        try {
          opened = openSync(next, flags);
        } catch (error) {
          if (errorCode(error) !== "ENOENT") throw error;
          // mkdir makes the name itself: a link there (even a dangling one) is EEXIST, never followed.
          try {
            mkdirSync(next);
          } catch (made) {
            if (errorCode(made) !== "EEXIST") throw made;
          }
          opened = openSync(next, flags);
        }
        closeSync(folder);
        folder = opened;
        contained(realRoot, realpath(`/proc/self/fd/${folder}`));
      }
      return folder;
    } catch (error) {
      closeSync(folder);
      throw notAFolder(error);
    }
  }

  async list(workspaceId: string): Promise<WorkspaceFile[]> {
    const dir = this.dirOf(workspaceId);
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (error) {
      if (errorCode(error) === "ENOENT") return [];
      throw error;
    }
    const files = await Promise.all(
      entries
        .filter((entry) => entry.isFile())
        .map(async (entry): Promise<WorkspaceFile | undefined> => {
          const absolute = path.join(entry.parentPath, entry.name);
          try {
            const info = await stat(absolute);
            return {
              path: path.relative(dir, absolute).split(path.sep).join("/"),
              size: info.size,
              modifiedAt: info.mtimeMs,
            };
          } catch (error) {
            // Deleted between readdir and stat: it is simply not there any more.
            if (errorCode(error) === "ENOENT") return undefined;
            throw error;
          }
        }),
    );
    return files
      .filter((file): file is WorkspaceFile => file !== undefined)
      .sort((a, b) => b.modifiedAt - a.modifiedAt || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /**
   * Checks that the deepest existing folder on the way to `target` resolves inside the workspace
   * (so `mkdir` and the rename cannot follow a planted link out of it); a link at `target` itself is
   * replaced by the rename, never followed.
   */
  private containedParent(workspaceId: string, target: string): void {
    // The workspace folder exists, so the walk up stops at it at the latest.
    const root = this.dirOf(workspaceId);
    mkdirSync(root, { recursive: true });
    let dir = path.dirname(target);
    for (;;) {
      const info = lstatSync(dir, { throwIfNoEntry: false });
      if (info === undefined) {
        dir = path.dirname(dir);
        continue;
      }
      if (info.isSymbolicLink() || info.isDirectory()) {
        // The folder exists: `dir` resolved inside it, or is it (made above; resolved once).
        const realRoot = realpath(root);
        contained(realRoot, dir === root ? realRoot : realpath(dir));
        return;
      }
      throw new InvalidWorkspacePathError(`${path.basename(dir)} is a file, not a folder`);
    }
  }

  private dirOf(workspaceId: string): string {
    if (!/^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/.test(workspaceId) || workspaceId.length > 200) {
      throw new InvalidWorkspacePathError(`invalid workspace id ${JSON.stringify(workspaceId)}`);
    }
    return path.join(this.root, workspaceId);
  }

  /** Maps a workspace key onto a file, refusing anything that would land outside the workspace folder. */
  private fileOf(workspaceId: string, filePath: string): string {
    const segments = filePath.split("/");
    if (
      filePath === "" ||
      filePath.includes("\0") ||
      (path.sep === "\\" && filePath.includes("\\")) ||
      segments.some((segment) => segment === "" || segment === "." || segment === "..")
    ) {
      throw new InvalidWorkspacePathError(`invalid workspace path ${JSON.stringify(filePath)}`);
    }
    return path.join(this.dirOf(workspaceId), ...segments);
  }
}
