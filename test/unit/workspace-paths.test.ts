import { describe, expect, it } from "vitest";
import {
  type PathMount,
  resolveToolPath,
  WORKSPACE_MOUNT,
  WorkspacePathError,
  workspaceDisplayPath,
  workspaceKey,
} from "../../shared/core/tools/workspace-paths.js";

describe("resolveToolPath", () => {
  it("resolves relative paths against /workspace", () => {
    expect(workspaceKey("a/b/c.txt")).toBe("a/b/c.txt");
    expect(workspaceKey("./notes.md")).toBe("notes.md");
    expect(workspaceKey("a//b/./c.txt")).toBe("a/b/c.txt");
  });

  it("accepts /workspace absolute paths", () => {
    expect(workspaceKey("/workspace/a/b.txt")).toBe("a/b.txt");
    expect(resolveToolPath("/workspace/x.txt")).toEqual({
      mount: WORKSPACE_MOUNT,
      key: "x.txt",
      absolute: "/workspace/x.txt",
    });
  });

  it("normalises .. that stays inside the workspace", () => {
    expect(workspaceKey("a/../b.txt")).toBe("b.txt");
    expect(workspaceKey("/workspace/a/b/../../c.txt")).toBe("c.txt");
    expect(workspaceKey("dir/")).toBe("dir");
  });

  it("rejects .. escapes", () => {
    expect(() => workspaceKey("../etc/passwd")).toThrow(WorkspacePathError);
    expect(() => workspaceKey("a/../../x")).toThrow(WorkspacePathError);
    expect(() => workspaceKey("/workspace/../etc/passwd")).toThrow(/outside \/workspace/);
    expect(() => workspaceKey("/../../../x")).toThrow(WorkspacePathError);
  });

  it("rejects other absolute paths, including look-alike prefixes", () => {
    expect(() => workspaceKey("/etc/passwd")).toThrow(WorkspacePathError);
    expect(() => workspaceKey("/workspace2/x")).toThrow(WorkspacePathError);
    expect(() => workspaceKey("/mnt/memory/notes/x.md")).toThrow(WorkspacePathError);
  });

  it("rejects empty paths, control characters and the bare root for files", () => {
    expect(() => workspaceKey("")).toThrow(/non-empty/);
    expect(() => workspaceKey("   ")).toThrow(WorkspacePathError);
    expect(() => workspaceKey("a\u0000b")).toThrow(/control characters/);
    expect(() => workspaceKey("/workspace")).toThrow(/is a directory/);
    expect(() => workspaceKey(".")).toThrow(WorkspacePathError);
  });

  it("accepts the root for directory arguments", () => {
    expect(resolveToolPath(".", { allowRoot: true }).key).toBe("");
    expect(resolveToolPath("/workspace/", { allowRoot: true }).absolute).toBe("/workspace");
  });

  it("is named like an error and carries the offending path", () => {
    const error = (() => {
      try {
        workspaceKey("../x");
      } catch (caught) {
        return caught as WorkspacePathError;
      }
    })();
    expect(error?.name).toBe("WorkspacePathError");
    expect(error?.path).toBe("../x");
  });

  it("resolves into further mounts when they are given", () => {
    const memory = {
      kind: "workspace",
      root: "/mnt/memory/notes",
      readOnly: true,
    } as const satisfies PathMount;
    const resolved = resolveToolPath("/mnt/memory/notes/a.md", { mounts: [WORKSPACE_MOUNT, memory] });
    expect(resolved.mount).toBe(memory);
    expect(resolved.key).toBe("a.md");
    expect(resolveToolPath("x.md", { mounts: [WORKSPACE_MOUNT, memory] }).mount).toBe(WORKSPACE_MOUNT);
    expect(() => resolveToolPath("/mnt/memory/other/a.md", { mounts: [WORKSPACE_MOUNT, memory] })).toThrow(
      WorkspacePathError,
    );
  });
});

describe("workspaceDisplayPath", () => {
  it("shows keys as absolute workspace paths", () => {
    expect(workspaceDisplayPath("a/b.txt")).toBe("/workspace/a/b.txt");
    expect(workspaceDisplayPath("")).toBe("/workspace");
  });
});
