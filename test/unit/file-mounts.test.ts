import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../shared/contract/errors.js";
import type { Session } from "../../shared/contract/sdk-types.js";
import {
  fileMountTarget,
  sessionFileMounts,
  sessionFilesStoreId,
} from "../../shared/core/files/file-mounts.js";
import { MemoryWorkspaceStore } from "../fixtures/memory-workspace-store.js";

const file = (id: string, mount_path: string) => ({
  id: `sesrsc_${id}`,
  type: "file" as const,
  file_id: id,
  mount_path,
  created_at: "2026-01-01T00:00:00.000Z",
  updated_at: "2026-01-01T00:00:00.000Z",
});

describe("file mount targets", () => {
  it("defaults to /mnt/session/uploads/<file_id>, in the session's files store", () => {
    const t = fileMountTarget("file_1", undefined);
    expect(t.mountPath).toBe("/mnt/session/uploads/file_1");
    expect(t.key).toBe("uploads/file_1");
    expect(t.storeId("sesn_1")).toBe(sessionFilesStoreId("sesn_1"));
  });

  it("puts /workspace paths (and relative ones) into the workspace itself, normalised", () => {
    for (const input of ["/workspace/a/b.csv", "a/b.csv", "/workspace/./a/x/../b.csv"]) {
      const t = fileMountTarget("file_1", input);
      expect(t.mountPath).toBe("/workspace/a/b.csv");
      expect(t.key).toBe("a/b.csv");
      expect(t.storeId("sesn_1")).toBe("sesn_1");
    }
  });

  it("refuses paths outside /workspace and /mnt/session, and the roots themselves", () => {
    for (const input of [
      "/etc/passwd",
      "/mnt/memory/x/a.md",
      "/mnt/sessionx/a",
      "/workspace",
      "/mnt/session",
      "../x",
    ])
      expect(() => fileMountTarget("file_1", input), input).toThrow(InvalidRequestError);
  });
});

describe("the /mnt/session mount", () => {
  it("shows only the files the session's resources still mount, and refuses writes", async () => {
    const store = new MemoryWorkspaceStore();
    const id = sessionFilesStoreId("sesn_1");
    await store.write(id, "uploads/file_a", "A");
    await store.write(id, "uploads/file_b", "B");
    const resources = [file("file_a", "/mnt/session/uploads/file_a"), file("file_w", "/workspace/w.txt")];
    const [mount] = sessionFileMounts(store, "sesn_1", resources as Session["resources"]);
    expect(mount?.mount).toMatchObject({ root: "/mnt/session", readOnly: true });
    expect(mount?.id).toBe(id);
    expect(await mount?.store.read(id, "uploads/file_a")).toBe("A");
    expect(await mount?.store.read(id, "uploads/file_b")).toBeUndefined();
    expect((await mount?.store.list(id))?.map((f) => f.path)).toEqual(["uploads/file_a"]);
    await expect(mount?.store.write(id, "uploads/file_a", "x")).rejects.toThrow(/read-only/);
  });

  it("is not mounted when no file lies under it", () => {
    const resources = [file("file_w", "/workspace/w.txt")];
    expect(
      sessionFileMounts(new MemoryWorkspaceStore(), "sesn_1", resources as Session["resources"]),
    ).toEqual([]);
  });
});
