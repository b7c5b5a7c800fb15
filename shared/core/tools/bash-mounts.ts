/**
 * What `bash` sees besides `/workspace`: the session's mounted stores (memory stores at
 * `/mnt/memory/<name>`, session files at `/mnt/session`) laid out as directories in the sandbox, and
 * what a command changed in a writable one written back through the store — so a memory written by
 * `bash` gets the same `session_actor`, provenance and taint as one written by `write`. Read-only
 * mounts are bound read-only by the sandbox (the kernel refuses writes) and never written back.
 */
import type { SandboxMount, SandboxMountChange } from "../ports.js";
import type { MountedStore } from "./file-tools.js";

/** The sandbox mounts of a tool call's mounted stores (the workspace itself is bound separately). */
export async function sandboxMounts(mounts: readonly MountedStore[] | undefined): Promise<SandboxMount[]> {
  const out: SandboxMount[] = [];
  for (const { mount, store, id } of mounts ?? []) {
    if (mount.kind === "workspace") continue;
    const files: Array<{ path: string; content: string }> = [];
    for (const file of await store.list(id)) {
      const content = await store.read(id, file.path);
      if (content !== undefined) files.push({ path: file.path, content });
    }
    out.push({
      path: mount.root,
      readOnly: mount.kind === "session_files" || mount.readOnly === true,
      files,
    });
  }
  return out;
}

/**
 * Writes what a command changed back into the writable mounted stores; returns a line per change
 * that could not be kept (appended to the tool result so the model knows).
 */
export async function writeBackMountChanges(
  mounts: readonly MountedStore[] | undefined,
  changes: readonly SandboxMountChange[] | undefined,
): Promise<string[]> {
  const notes: string[] = [];
  for (const change of changes ?? []) {
    const target = mounts?.find((m) => m.mount.root === change.mountPath);
    const where = `${change.mountPath}/${change.path}`;
    if (!target || target.mount.readOnly || target.mount.kind !== "memory_store") {
      notes.push(`${where}: not saved (the mount is read-only)`);
      continue;
    }
    if (change.content === null) {
      notes.push(`${where}: deleting a memory from bash is not supported; it is kept`);
      continue;
    }
    try {
      await target.store.write(target.id, change.path, change.content);
    } catch (error) {
      notes.push(`${where}: not saved (${(error as Error).message})`);
    }
  }
  return notes;
}
