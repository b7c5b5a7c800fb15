import { beforeEach, describe, expect, it } from "vitest";
import { WorkspaceFileTooLargeError } from "../../shared/core/ports.js";
import {
  editFile,
  FILE_TOOL_LIMITS,
  type FileChangeIntent,
  FileToolError,
  globFiles,
  grepFiles,
  readFile,
  type WriteIntentLog,
  withWriteIntents,
  writeFile,
} from "../../shared/core/tools/file-tools.js";
import { WorkspacePathError } from "../../shared/core/tools/workspace-paths.js";
import { MemoryWorkspaceStore } from "../fixtures/memory-workspace-store.js";

const WS = "ws_1";
let store: MemoryWorkspaceStore;

beforeEach(() => {
  store = new MemoryWorkspaceStore();
});

describe("readFile", () => {
  beforeEach(async () => {
    await store.seed(WS, { "notes.txt": "alpha\nbeta\ngamma\ndelta\n" });
  });

  it("numbers lines like cat -n", async () => {
    const text = await readFile(store, WS, { file_path: "notes.txt" });
    expect(text).toBe("     1\talpha\n     2\tbeta\n     3\tgamma\n     4\tdelta");
  });

  it("accepts /workspace absolute paths", async () => {
    expect(await readFile(store, WS, { file_path: "/workspace/notes.txt" })).toContain("alpha");
  });

  it("reads a 1-indexed inclusive view_range", async () => {
    expect(await readFile(store, WS, { file_path: "notes.txt", view_range: [2, 3] })).toBe(
      "     2\tbeta\n     3\tgamma",
    );
  });

  it("treats an end of 0 or less as end of file", async () => {
    expect(await readFile(store, WS, { file_path: "notes.txt", view_range: [3, 0] })).toBe(
      "     3\tgamma\n     4\tdelta",
    );
    expect(await readFile(store, WS, { file_path: "notes.txt", view_range: [4, -1] })).toBe("     4\tdelta");
    expect(await readFile(store, WS, { file_path: "notes.txt", view_range: [4] })).toBe("     4\tdelta");
  });

  it("clamps an end past the file", async () => {
    expect(await readFile(store, WS, { file_path: "notes.txt", view_range: [4, 99] })).toBe("     4\tdelta");
  });

  it("rejects impossible ranges", async () => {
    await expect(readFile(store, WS, { file_path: "notes.txt", view_range: [0, 2] })).rejects.toThrow(
      FileToolError,
    );
    await expect(readFile(store, WS, { file_path: "notes.txt", view_range: [9, 10] })).rejects.toThrow(
      /past the end .* \(4 lines\)/,
    );
    await expect(readFile(store, WS, { file_path: "notes.txt", view_range: [3, 2] })).rejects.toThrow(
      /before/,
    );
  });

  it("reports a missing file", async () => {
    await expect(readFile(store, WS, { file_path: "nope.txt" })).rejects.toThrow(
      "File not found: /workspace/nope.txt",
    );
  });

  it("says when the path is a directory", async () => {
    await store.write(WS, "src/a.ts", "x");
    await expect(readFile(store, WS, { file_path: "src" })).rejects.toThrow(/is a directory/);
  });

  it("refuses paths outside the workspace", async () => {
    await expect(readFile(store, WS, { file_path: "../etc/passwd" })).rejects.toThrow(WorkspacePathError);
    await expect(readFile(store, WS, { file_path: "/etc/passwd" })).rejects.toThrow(WorkspacePathError);
  });

  it("says a file is empty", async () => {
    await store.write(WS, "empty.txt", "");
    expect(await readFile(store, WS, { file_path: "empty.txt" })).toBe("/workspace/empty.txt is empty");
  });

  it("caps long files with a note on how to read on", async () => {
    const lines = Array.from({ length: 2_500 }, (_, i) => `line ${i + 1}`);
    await store.write(WS, "big.txt", lines.join("\n"));
    const text = await readFile(store, WS, { file_path: "big.txt" });
    const rows = text.split("\n");
    expect(rows).toHaveLength(FILE_TOOL_LIMITS.maxOutputLines + 1);
    expect(rows.at(-1)).toMatch(
      /truncated: showed lines 1–2000 of 2500; read further with view_range \[2001, 2500\]/,
    );
  });

  it("caps output bytes", async () => {
    await store.write(WS, "wide.txt", Array.from({ length: 200 }, () => "x".repeat(1_500)).join("\n"));
    const text = await readFile(store, WS, { file_path: "wide.txt" });
    expect(new TextEncoder().encode(text).length).toBeLessThan(FILE_TOOL_LIMITS.maxOutputBytes + 200);
    expect(text).toMatch(/truncated/);
  });
});

describe("writeFile", () => {
  it("creates and overwrites files", async () => {
    expect(await writeFile(store, WS, { file_path: "a/b.txt", content: "one\ntwo\n" })).toBe(
      "Wrote 2 lines (8 bytes) to /workspace/a/b.txt",
    );
    await writeFile(store, WS, { file_path: "/workspace/a/b.txt", content: "three" });
    expect(await store.read(WS, "a/b.txt")).toBe("three");
  });

  it("refuses files over 10 MB", async () => {
    const content = "x".repeat(FILE_TOOL_LIMITS.maxFileBytes + 1);
    await expect(writeFile(store, WS, { file_path: "huge.txt", content })).rejects.toThrow(/file limit/);
    expect(await store.read(WS, "huge.txt")).toBeUndefined();
  });

  it("refuses escapes without writing", async () => {
    await expect(writeFile(store, WS, { file_path: "../../x", content: "x" })).rejects.toThrow(
      WorkspacePathError,
    );
    expect(store.writes).toHaveLength(0);
  });

  it("replaces a file too large to load (guarded: known by its size), once across a re-run", async () => {
    // Prepare: bash made out.log larger than a file tool loads; the call's writes are guarded.
    const read = store.read.bind(store);
    store.read = async (id, key) => {
      const text = await read(id, key);
      if (key === "out.log" && text === "huge") throw new WorkspaceFileTooLargeError(100 * 1024 * 1024);
      return text;
    };
    await store.write(WS, "out.log", "huge");
    let recorded: FileChangeIntent | undefined;
    const intents: WriteIntentLog = {
      recorded: async () => recorded,
      record: async (intent) => {
        const earlier = recorded;
        recorded ??= intent;
        return earlier;
      },
    };
    const guarded = withWriteIntents(store, intents);
    // Act: the write, then a re-run of the same call (its result lost to a crash)
    const first = await writeFile(guarded, WS, { file_path: "out.log", content: "reset" });
    const again = await writeFile(guarded, WS, { file_path: "out.log", content: "reset" });
    // Assess
    expect(first).toBe("Wrote 1 lines (5 bytes) to /workspace/out.log");
    expect(again).toBe(first);
    expect(await store.read(WS, "out.log")).toBe("reset");
    expect(recorded?.before).toBe(`oversize:${100 * 1024 * 1024}`);
  });
});

describe("editFile", () => {
  beforeEach(async () => {
    await store.seed(WS, { "code.ts": "const a = 1;\nconst b = 2;\nconst a2 = 1;\n" });
  });

  it("replaces a unique occurrence", async () => {
    expect(
      await editFile(store, WS, { file_path: "code.ts", old_string: "b = 2", new_string: "b = 3" }),
    ).toBe("Replaced 1 occurrence in /workspace/code.ts");
    expect(await store.read(WS, "code.ts")).toBe("const a = 1;\nconst b = 3;\nconst a2 = 1;\n");
  });

  it("refuses an ambiguous edit and says how many matches", async () => {
    await expect(
      editFile(store, WS, { file_path: "code.ts", old_string: "= 1", new_string: "= 9" }),
    ).rejects.toThrow(/occurs 2 times/);
    expect(store.writes).toHaveLength(0);
  });

  it("replaces every occurrence with replace_all", async () => {
    expect(
      await editFile(store, WS, {
        file_path: "code.ts",
        old_string: "= 1",
        new_string: "= 9",
        replace_all: true,
      }),
    ).toBe("Replaced 2 occurrences in /workspace/code.ts");
    expect(await store.read(WS, "code.ts")).toBe("const a = 9;\nconst b = 2;\nconst a2 = 9;\n");
  });

  it("says when old_string is missing", async () => {
    await expect(
      editFile(store, WS, { file_path: "code.ts", old_string: "zzz", new_string: "y" }),
    ).rejects.toThrow(/not found .*\(0 occurrences\)/);
  });

  it("keeps $ patterns in new_string literal", async () => {
    await editFile(store, WS, { file_path: "code.ts", old_string: "b = 2", new_string: "b = $&$1" });
    expect(await store.read(WS, "code.ts")).toContain("const b = $&$1;");
  });

  it("refuses empty or no-op edits and missing files", async () => {
    await expect(
      editFile(store, WS, { file_path: "code.ts", old_string: "", new_string: "x" }),
    ).rejects.toThrow(/must not be empty/);
    await expect(
      editFile(store, WS, { file_path: "code.ts", old_string: "a", new_string: "a" }),
    ).rejects.toThrow(/identical/);
    await expect(
      editFile(store, WS, { file_path: "nope.ts", old_string: "a", new_string: "b" }),
    ).rejects.toThrow(/File not found/);
  });
});

describe("globFiles", () => {
  beforeEach(async () => {
    await store.seed(WS, {
      "README.md": "readme",
      "src/index.ts": "index",
      "src/lib/util.ts": "util",
      "src/lib/util.test.ts": "test",
      ".github/ci.yml": "ci",
      "docs/guide.md": "guide",
    });
  });

  it("matches doublestar patterns, newest first", async () => {
    expect((await globFiles(store, WS, { pattern: "**/*.ts" })).split("\n")).toEqual([
      "/workspace/src/lib/util.test.ts",
      "/workspace/src/lib/util.ts",
      "/workspace/src/index.ts",
    ]);
  });

  it("matches only the top level without **", async () => {
    expect(await globFiles(store, WS, { pattern: "*.md" })).toBe("/workspace/README.md");
  });

  it("searches under path", async () => {
    expect((await globFiles(store, WS, { pattern: "*.ts", path: "src/lib" })).split("\n")).toEqual([
      "/workspace/src/lib/util.test.ts",
      "/workspace/src/lib/util.ts",
    ]);
    expect(await globFiles(store, WS, { pattern: "**/*.md", path: "/workspace/docs" })).toBe(
      "/workspace/docs/guide.md",
    );
  });

  it("includes dotfiles and supports braces", async () => {
    expect(await globFiles(store, WS, { pattern: "**/*.yml" })).toBe("/workspace/.github/ci.yml");
    expect((await globFiles(store, WS, { pattern: "**/*.{md,yml}" })).split("\n")).toHaveLength(3);
  });

  it("accepts absolute patterns under the root only", async () => {
    expect(await globFiles(store, WS, { pattern: "/workspace/src/*.ts" })).toBe("/workspace/src/index.ts");
    await expect(globFiles(store, WS, { pattern: "/etc/**" })).rejects.toThrow(FileToolError);
  });

  it("says when nothing matched", async () => {
    expect(await globFiles(store, WS, { pattern: "**/*.rs" })).toMatch(/No files matched/);
  });

  it("refuses a path outside the workspace", async () => {
    await expect(globFiles(store, WS, { pattern: "*", path: "/etc" })).rejects.toThrow(WorkspacePathError);
  });

  it("gives up on a pattern that backtracks without end, within its time budget (the step goes on)", async () => {
    // picomatch turns each * into a lazy [^/]*?: on a 50-character name this takes seconds unbounded, minutes at 56.
    await store.seed(WS, { ["a".repeat(50)]: "" });
    const started = Date.now();
    await expect(globFiles(store, WS, { pattern: `${"*a".repeat(8)}*b` })).rejects.toThrow(
      /took more than \d+ ms to match/,
    );
    expect(Date.now() - started).toBeLessThan(FILE_TOOL_LIMITS.maxMatchMs + 1_000);
    // The next call works.
    expect(await globFiles(store, WS, { pattern: "*.md" })).toBe("/workspace/README.md");
  });

  it("caps the number of results", async () => {
    const many: Record<string, string> = {};
    for (let i = 0; i < 2_100; i++) many[`gen/f${i}.txt`] = "";
    await store.seed(WS, many);
    const rows = (await globFiles(store, WS, { pattern: "gen/*.txt" })).split("\n");
    expect(rows).toHaveLength(FILE_TOOL_LIMITS.maxOutputLines + 1);
    expect(rows.at(-1)).toMatch(/truncated: showed 2000 of 2100 files/);
  });
});

describe("grepFiles", () => {
  beforeEach(async () => {
    await store.seed(WS, {
      "b.txt": "nothing here\nTODO: second\n",
      "a.txt": "TODO: first\nplain\ntodo lower\n",
      "sub/c.txt": "x TODO y\n",
      "bin.dat": "TODO\u0000binary",
    });
  });

  it("prints path:line:text sorted by path", async () => {
    expect((await grepFiles(store, WS, { pattern: "TODO" })).split("\n")).toEqual([
      "/workspace/a.txt:1:TODO: first",
      "/workspace/b.txt:2:TODO: second",
      "/workspace/sub/c.txt:1:x TODO y",
    ]);
  });

  it("uses JavaScript regular expressions, with a (?i) prefix for case-insensitivity", async () => {
    expect(await grepFiles(store, WS, { pattern: "^todo\\s\\w+$" })).toBe("/workspace/a.txt:3:todo lower");
    expect((await grepFiles(store, WS, { pattern: "(?i)^todo", path: "a.txt" })).split("\n")).toHaveLength(2);
  });

  it("searches a directory or a single file", async () => {
    expect(await grepFiles(store, WS, { pattern: "TODO", path: "sub" })).toBe(
      "/workspace/sub/c.txt:1:x TODO y",
    );
    expect(await grepFiles(store, WS, { pattern: "TODO", path: "/workspace/b.txt" })).toBe(
      "/workspace/b.txt:2:TODO: second",
    );
  });

  it("reports an invalid regex", async () => {
    await expect(grepFiles(store, WS, { pattern: "(unclosed" })).rejects.toThrow(
      /invalid regular expression/,
    );
  });

  it("reports no matches and a missing path", async () => {
    expect(await grepFiles(store, WS, { pattern: "absent" })).toMatch(/No matches/);
    await expect(grepFiles(store, WS, { pattern: "x", path: "missing" })).rejects.toThrow(
      /No such file or directory/,
    );
  });

  it("gives up on a catastrophically backtracking regex within its time budget (the step goes on)", async () => {
    // (a+)+$ against 30 a's and a "!" takes over 10 s unbounded, and doubles with each further a.
    await store.write(WS, "redos.txt", `${"a".repeat(30)}!\n`);
    const started = Date.now();
    await expect(grepFiles(store, WS, { pattern: "(a+)+$" })).rejects.toThrow(
      /took more than \d+ ms to match/,
    );
    expect(Date.now() - started).toBeLessThan(FILE_TOOL_LIMITS.maxMatchMs + 1_000);
    expect(await grepFiles(store, WS, { pattern: "TODO", path: "sub" })).toBe(
      "/workspace/sub/c.txt:1:x TODO y",
    );
  });

  it("answers what it found when time runs out after matches, saying where it stopped", async () => {
    // Eight files that match at once (a grep batch), then one that backtracks without end.
    for (let n = 0; n < 8; n++) await store.write(WS, `many/f${n}.txt`, "aaa\n");
    await store.write(WS, "many/z.txt", `${"a".repeat(30)}!\n`);
    const started = Date.now();
    const answer = await grepFiles(store, WS, { pattern: "(a+)+$", path: "many" });
    expect(answer.split("\n").slice(0, 8)).toEqual(
      Array.from({ length: 8 }, (_, n) => `/workspace/many/f${n}.txt:1:aaa`),
    );
    expect(answer).toMatch(/stopped: matching took too long, so the files from \/workspace\/many\/z\.txt on/);
    expect(Date.now() - started).toBeLessThan(FILE_TOOL_LIMITS.maxMatchMs + 1_000);
  });

  it("caps matches with a truncated note", async () => {
    await store.write(WS, "many.txt", Array.from({ length: 3_000 }, (_, i) => `hit ${i}`).join("\n"));
    const rows = (await grepFiles(store, WS, { pattern: "^hit", path: "many.txt" })).split("\n");
    expect(rows).toHaveLength(FILE_TOOL_LIMITS.maxOutputLines + 1);
    expect(rows[0]).toBe("/workspace/many.txt:1:hit 0");
    expect(rows.at(-1)).toMatch(/truncated/);
  });
});
