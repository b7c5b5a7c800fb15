/**
 * Files mounted into a session (`type: "file"` session resources). A mount path is either
 *
 * - under `/workspace`: the file is copied into the session's workspace as an ordinary file the agent
 *   may edit (its copy; the uploaded file never changes), and it stays there when the resource is
 *   detached — like a file copied into a container; or
 * - under `/mnt/session` (the default, `/mnt/session/uploads/<file_id>`): the file is copied into a
 *   store of its own beside the workspace and shown on a read-only mount. Only the files of the
 *   session's current resources are visible there, so a detached file disappears from the next tool
 *   call on.
 *
 * Any other path (`/mnt/memory/…`, `/etc/…`) is a 400. Copies are taken when the resource is added,
 * so deleting the uploaded file later does not change what the session sees.
 */
import { InvalidRequestError } from "../../contract/errors.js";
import type { Session } from "../../contract/sdk-types.js";
import type { WorkspaceFile, WorkspaceStore } from "../ports.js";
import { FileToolError, type MountedStore } from "../tools/file-tools.js";
import {
  type PathMount,
  resolveToolPath,
  WORKSPACE_MOUNT,
  WorkspacePathError,
} from "../tools/workspace-paths.js";

/** Root of the read-only mount of a session's uploaded files. */
export const SESSION_FILES_ROOT = "/mnt/session";

export { MAX_SESSION_FILES as MAX_FILES_PER_SESSION } from "../../contract/session-resources.js";

const SESSION_FILES_MOUNT: PathMount = { kind: "session_files", root: SESSION_FILES_ROOT, readOnly: true };

/** Where a file is mounted when the params name no `mount_path`. */
export const defaultFileMountPath = (fileId: string): string => `${SESSION_FILES_ROOT}/uploads/${fileId}`;

/**
 * The store id of a session's `/mnt/session` copies: a sibling of its workspace (`<session>.mnt-session`),
 * never inside it, so the workspace's `glob` does not list them.
 */
export const sessionFilesStoreId = (sessionId: string): string => `${sessionId}.mnt-session`;

/** A file resource as stored: the SDK's `BetaManagedAgentsFileResource`. */
export interface StoredFileResource {
  id: string;
  type: "file";
  file_id: string;
  mount_path: string;
  created_at: string;
  updated_at: string;
}

/** Where a file resource's copy lives: which store id and which key in it. */
export interface FileMountTarget {
  /** Normalised absolute path, as returned in `mount_path`. */
  mountPath: string;
  /** Store id for the copy, given the session whose workspace it belongs to. */
  storeId: (sessionId: string) => string;
  key: string;
}

/**
 * Validates and normalises a `mount_path` (relative paths resolve against `/workspace`, like the
 * file tools); `undefined`/`null` gives the default under `/mnt/session/uploads/`.
 *
 * @throws InvalidRequestError when the path lies outside `/workspace` and `/mnt/session` or names a
 *   directory root.
 */
export function fileMountTarget(fileId: string, mountPath: string | null | undefined): FileMountTarget {
  const input = mountPath ?? defaultFileMountPath(fileId);
  try {
    const resolved = resolveToolPath(input, { mounts: [WORKSPACE_MOUNT, SESSION_FILES_MOUNT] });
    return {
      mountPath: resolved.absolute,
      storeId: resolved.mount === WORKSPACE_MOUNT ? (sid) => sid : sessionFilesStoreId,
      key: resolved.key,
    };
  } catch (error) {
    if (!(error instanceof WorkspacePathError)) throw error;
    throw new InvalidRequestError(
      `mount_path: ${error.message}; files mount under /workspace (a writable copy in the workspace) or ${SESSION_FILES_ROOT} (read-only)`,
    );
  }
}

/** The file resources of a session. */
export function fileResources(resources: Session["resources"]): StoredFileResource[] {
  return resources.filter((r): r is StoredFileResource => r.type === "file");
}

/**
 * A session's `/mnt/session` copies seen through its current resources: reads and listings only see
 * files a resource still mounts. Writes never reach it (the mount is read-only).
 */
class SessionFilesView implements WorkspaceStore {
  constructor(
    private readonly inner: WorkspaceStore,
    private readonly visible: ReadonlySet<string>,
  ) {}

  async read(id: string, key: string): Promise<string | undefined> {
    return this.visible.has(key) ? this.inner.read(id, key) : undefined;
  }

  async list(id: string): Promise<WorkspaceFile[]> {
    return (await this.inner.list(id)).filter((f) => this.visible.has(f.path));
  }

  async write(): Promise<void> {
    throw new FileToolError(`${SESSION_FILES_ROOT} is read-only; write a copy under /workspace instead`);
  }
}

/** The `/mnt/session` mount of a session's file resources, or none when it has no file there. */
export function sessionFileMounts(
  workspace: WorkspaceStore,
  sessionId: string,
  resources: Session["resources"],
): MountedStore[] {
  const prefix = `${SESSION_FILES_ROOT}/`;
  const keys = fileResources(resources)
    .filter((r) => r.mount_path.startsWith(prefix))
    .map((r) => r.mount_path.slice(prefix.length));
  if (keys.length === 0) return [];
  return [
    {
      mount: SESSION_FILES_MOUNT,
      store: new SessionFilesView(workspace, new Set(keys)),
      id: sessionFilesStoreId(sessionId),
    },
  ];
}
