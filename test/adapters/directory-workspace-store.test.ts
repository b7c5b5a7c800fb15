import { execFileSync, spawn } from "node:child_process";
import {
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  symlink,
  truncate,
  utimes,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DirectoryWorkspaceStore,
  InvalidWorkspacePathError,
} from "../../shared/adapters/local/directory-workspace-store.js";
import { MAX_WORKSPACE_READ_BYTES, WorkspaceFileTooLargeError } from "../../shared/core/ports.js";

describe("DirectoryWorkspaceStore", () => {
  let root: string;
  let store: DirectoryWorkspaceStore;

  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), "reverie-ws-"));
    store = new DirectoryWorkspaceStore(root);
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes, reads and overwrites files in nested folders", async () => {
    await store.write("ws_1", "a/b/c.txt", "one");
    expect(await store.read("ws_1", "a/b/c.txt")).toBe("one");
    await store.write("ws_1", "a/b/c.txt", "two ✓");
    expect(await store.read("ws_1", "a/b/c.txt")).toBe("two ✓");
  });

  it("never follows a symbolic link out of the workspace (bash can plant one)", async () => {
    const outside = await mkdtemp(path.join(tmpdir(), "reverie-outside-"));
    try {
      await writeFile(path.join(outside, "secret.txt"), "host secret");
      await store.write("ws_1", "keep.txt", "inside");
      await symlink(outside, path.join(root, "ws_1", "hostdir"));
      await symlink(path.join(outside, "secret.txt"), path.join(root, "ws_1", "link.txt"));
      await expect(store.read("ws_1", "hostdir/secret.txt")).rejects.toBeInstanceOf(
        InvalidWorkspacePathError,
      );
      await expect(store.read("ws_1", "link.txt")).rejects.toBeInstanceOf(InvalidWorkspacePathError);
      await expect(store.write("ws_1", "hostdir/planted.txt", "x")).rejects.toBeInstanceOf(
        InvalidWorkspacePathError,
      );
      await expect(store.write("ws_1", "hostdir/new/deeper.txt", "x")).rejects.toBeInstanceOf(
        InvalidWorkspacePathError,
      );
      expect(await readdir(outside)).toEqual(["secret.txt"]);
      // Writing over a link replaces the link; the file it pointed to is untouched.
      await store.write("ws_1", "link.txt", "replaced");
      expect(await readFile(path.join(outside, "secret.txt"), "utf8")).toBe("host secret");
      expect(await store.read("ws_1", "link.txt")).toBe("replaced");
      // A link that stays inside the workspace still works.
      await mkdir(path.join(root, "ws_1", "real"), { recursive: true });
      await writeFile(path.join(root, "ws_1", "real", "f.txt"), "ok");
      await symlink(path.join(root, "ws_1", "real"), path.join(root, "ws_1", "alias"));
      expect(await store.read("ws_1", "alias/f.txt")).toBe("ok");
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("keeps one folder per workspace", async () => {
    await store.write("ws_1", "x.txt", "1");
    await store.write("ws_2", "x.txt", "2");
    expect(await store.read("ws_1", "x.txt")).toBe("1");
    expect(await store.read("ws_2", "x.txt")).toBe("2");
    expect((await readdir(root)).filter((name) => !name.startsWith(".")).sort()).toEqual(["ws_1", "ws_2"]);
  });

  it("returns undefined for missing files, directories and workspaces", async () => {
    await store.write("ws_1", "dir/f.txt", "x");
    expect(await store.read("ws_1", "nope.txt")).toBeUndefined();
    expect(await store.read("ws_1", "dir")).toBeUndefined();
    expect(await store.read("ws_1", "dir/f.txt/deeper")).toBeUndefined();
    expect(await store.read("ws_none", "x")).toBeUndefined();
  });

  it("refuses a named pipe bash made, at once, instead of blocking the process until a writer comes", async () => {
    await store.write("ws_1", "keep.txt", "x");
    const fifo = path.join(root, "ws_1", "pipe");
    execFileSync("mkfifo", [fifo]);
    // A writer that comes a second later: before the fix, the (synchronous) open waited for it, and
    // with no writer at all it stalled the whole stack for good.
    const writer = spawn("sh", ["-c", `sleep 1; echo planted > '${fifo}'`], { stdio: "ignore" });
    try {
      const started = Date.now();
      await expect(store.read("ws_1", "pipe")).rejects.toThrow(/not a regular file/);
      expect(Date.now() - started).toBeLessThan(500);
    } finally {
      writer.kill("SIGKILL");
    }
  });

  it("refuses to load a file larger than MAX_WORKSPACE_READ_BYTES (bash can make one of any size)", async () => {
    await store.write("ws_1", "big.log", "");
    // Sparse: no disk used; before the fix, the whole of it was read into one string.
    await truncate(path.join(root, "ws_1", "big.log"), MAX_WORKSPACE_READ_BYTES + 1);
    // Not `rejects`: a failure would print the 64 MiB it read.
    const outcome = await store.read("ws_1", "big.log").then(
      (content) => `read ${content?.length} characters`,
      (error: unknown) => (error instanceof WorkspaceFileTooLargeError ? "refused" : String(error)),
    );
    expect(outcome).toBe("refused");
    await truncate(path.join(root, "ws_1", "big.log"), 3);
    expect(await store.read("ws_1", "big.log")).toBe("\0\0\0");
  });

  it("lists files with size and mtime, newest first", async () => {
    await store.write("ws_1", "old.txt", "12345");
    await store.write("ws_1", "sub/new.txt", "ab");
    await utimes(path.join(root, "ws_1", "old.txt"), new Date(1_000_000), new Date(1_000_000));
    await utimes(path.join(root, "ws_1", "sub", "new.txt"), new Date(2_000_000), new Date(2_000_000));
    expect(await store.list("ws_1")).toEqual([
      { path: "sub/new.txt", size: 2, modifiedAt: 2_000_000 },
      { path: "old.txt", size: 5, modifiedAt: 1_000_000 },
    ]);
    expect(await store.list("ws_empty")).toEqual([]);
  });

  it("leaves no temporary files behind", async () => {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.write("ws_1", "same.txt", `v${i}`)));
    expect((await store.list("ws_1")).map((file) => file.path)).toEqual(["same.txt"]);
    expect(await readdir(path.join(root, ".tmp"))).toEqual([]);
    expect(await store.read("ws_1", "same.txt")).toMatch(/^v\d+$/);
  });

  it("refuses keys and workspace ids that would escape its folders", async () => {
    await expect(store.write("ws_1", "../escape.txt", "x")).rejects.toThrow(InvalidWorkspacePathError);
    await expect(store.write("ws_1", "/abs.txt", "x")).rejects.toThrow(InvalidWorkspacePathError);
    await expect(store.write("ws_1", "a//b", "x")).rejects.toThrow(InvalidWorkspacePathError);
    await expect(store.write("..", "x.txt", "x")).rejects.toThrow(InvalidWorkspacePathError);
    await expect(store.write("a/b", "x.txt", "x")).rejects.toThrow(InvalidWorkspacePathError);
    await expect(store.read(".tmp", "x")).rejects.toThrow(InvalidWorkspacePathError);
    expect(await readdir(root)).not.toContain("escape.txt");
  });
});
