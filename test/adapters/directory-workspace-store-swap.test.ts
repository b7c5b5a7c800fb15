/**
 * A folder swapped for a link while a file tool writes: a process in the sandbox (a background job,
 * a sibling thread's command) can rename a workspace folder aside and put a link to the host in its
 * place between the store's check of the path and its write. Here the swap is made at the worst
 * moment, right before the write's rename; the file must land in the workspace, never on the host.
 * (Its own file: it replaces `node:fs`'s renameSync for the store under test.)
 */
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

/** Each runs once, just before the store's next rename or its next mkdir of a path (set by a test). */
const beforeRename: { swap?: () => void } = {};
const beforeMkdir: { path?: RegExp; swap?: () => void } = {};

vi.mock("node:fs", async (importOriginal) => {
  const fs = await importOriginal<typeof import("node:fs")>();
  return {
    ...fs,
    renameSync: (from: string, to: string) => {
      const swap = beforeRename.swap;
      beforeRename.swap = undefined;
      swap?.();
      fs.renameSync(from, to);
    },
    mkdirSync: (target: string, options?: import("node:fs").MakeDirectoryOptions) => {
      if (beforeMkdir.path?.test(target)) {
        const swap = beforeMkdir.swap;
        beforeMkdir.path = beforeMkdir.swap = undefined;
        swap?.();
      }
      return fs.mkdirSync(target, options);
    },
  };
});

const { DirectoryWorkspaceStore } = await import("../../shared/adapters/local/directory-workspace-store.js");
const fs = await vi.importActual<typeof import("node:fs")>("node:fs");

describe.runIf(process.platform === "linux")(
  "DirectoryWorkspaceStore, a folder swapped during a write",
  () => {
    let root: string;
    let outside: string;

    beforeEach(async () => {
      root = await mkdtemp(path.join(tmpdir(), "reverie-ws-"));
      outside = await mkdtemp(path.join(tmpdir(), "reverie-host-"));
    });

    afterEach(async () => {
      await rm(root, { recursive: true, force: true });
      await rm(outside, { recursive: true, force: true });
    });

    it("writes into the folder it checked, not through the link swapped in after the check", async () => {
      // Prepare
      const store = new DirectoryWorkspaceStore(root);
      const folder = path.join(root, "ws_1", "d");
      await mkdir(folder, { recursive: true });
      beforeRename.swap = () => {
        fs.renameSync(folder, `${folder}.aside`);
        fs.symlinkSync(outside, folder);
      };
      // Act
      await store.write("ws_1", "d/pwned.txt", "written by a file tool");
      // Assess
      expect(beforeRename.swap).toBeUndefined();
      expect(await readdir(outside)).toEqual([]);
      expect(await readFile(path.join(root, "ws_1", "d.aside", "pwned.txt"), "utf8")).toBe(
        "written by a file tool",
      );
    });

    it("makes no folder on the host when a missing folder's name is taken by a link before it is made", async () => {
      // Prepare
      const store = new DirectoryWorkspaceStore(root);
      await mkdir(path.join(root, "ws_1"), { recursive: true });
      beforeMkdir.path = /\/new(\/|$)/;
      beforeMkdir.swap = () => fs.symlinkSync(outside, path.join(root, "ws_1", "new"));
      // Act
      const writing = store.write("ws_1", "new/deeper/file.txt", "x");
      // Assess
      await expect(writing).rejects.toThrow("outside the workspace");
      expect(beforeMkdir.swap).toBeUndefined();
      expect(await readdir(outside)).toEqual([]);
    });
  },
);
