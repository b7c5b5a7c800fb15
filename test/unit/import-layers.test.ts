/**
 * The import graph of shared/, functions/ and infra/ (type-only and dynamic imports included, read
 * with TypeScript's own pre-parser): no cycles, imports only down the layers, and the run kernel
 * (shared/core/runtime) never imports what plugs into it.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SOURCES = ["shared", "functions", "infra"];

function walk(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (/\.tsx?$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Each project file's imports of other project files (paths relative to the repo root). */
function importGraph(): Map<string, string[]> {
  const files = SOURCES.flatMap((s) => walk(join(ROOT, s)));
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const info = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    const targets: string[] = [];
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const base = resolve(dirname(file), fileName).replace(/\.js$/, "");
      const hit = [`${base}.ts`, `${base}.tsx`, join(base, "index.ts")].find((c) => existsSync(c));
      if (hit) targets.push(relative(ROOT, hit));
    }
    graph.set(relative(ROOT, file), targets);
  }
  return graph;
}

/** Strongly connected components with more than one file (Tarjan). */
function cycles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const stack: string[] = [];
  const onStack = new Set<string>();
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const found: string[][] = [];
  const visit = (v: string) => {
    indexOf.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!indexOf.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, indexOf.get(w) as number));
    }
    if (low.get(v) === indexOf.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!indexOf.has(v)) visit(v);
  return found;
}

/** The layers, lowest first: a file may import its own layer and those below it. */
const LAYERS = [
  "shared/contract/",
  "shared/infra-spec/",
  "shared/core/",
  "shared/adapters/",
  "shared/console/",
  "shared/runtime/",
  "functions/",
  "infra/",
];
const layerOf = (file: string) => LAYERS.findIndex((prefix) => file.startsWith(prefix));

/**
 * What the run kernel may import inside shared/core: the records and logs it runs on, the toolset it
 * runs, and nothing that plugs into it (threads, outcomes, memory, files, skills, dreams, multiagent,
 * workflows come in as RunExtensions).
 */
const KERNEL = "shared/core/runtime/";
const KERNEL_MAY_IMPORT = [
  KERNEL,
  "shared/core/ports.ts",
  "shared/core/paging.ts",
  "shared/core/revisioned-item.ts",
  "shared/core/events/event-log.ts",
  "shared/core/events/emit-once.ts",
  "shared/core/events/event-previews.ts",
  "shared/core/events/lifecycle-publishing.ts",
  "shared/core/events/result-size.ts",
  "shared/core/sessions/session-record.ts",
  "shared/core/tools/",
  "shared/core/mcp/",
  "shared/core/vaults/vault-credentials.ts",
  // The grader queue's settings travel in the step's deps (a type, read only by the outcomes extension).
  "shared/core/outcomes/outcome-settings.ts",
];

describe("import layers", () => {
  const graph = importGraph();

  it("reads the whole tree", () => {
    expect(graph.size).toBeGreaterThan(250);
    expect(graph.get("shared/core/runtime/agent-step.ts")).toContain("shared/core/runtime/step-deps.ts");
  });

  it("has no import cycle", () => {
    expect(cycles(graph)).toEqual([]);
  });

  it("imports only down the layers", () => {
    const upward: string[] = [];
    for (const [file, targets] of graph) {
      const layer = layerOf(file);
      if (layer < 0) continue;
      for (const target of targets) {
        const targetLayer = layerOf(target);
        // infra/local and the console share the stack's composition; both sit above shared/runtime.
        if (targetLayer > layer) upward.push(`${file} -> ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("keeps the run kernel free of what plugs into it", () => {
    const outside: string[] = [];
    for (const [file, targets] of graph) {
      if (!file.startsWith(KERNEL)) continue;
      for (const target of targets)
        if (
          target.startsWith("shared/core/") &&
          !KERNEL_MAY_IMPORT.some((allowed) => target.startsWith(allowed))
        )
          outside.push(`${file} -> ${target}`);
    }
    expect(outside).toEqual([]);
  });

  it("finds a cycle and a kernel import when there is one (the checks can fail)", () => {
    const looped = new Map([
      ["a.ts", ["b.ts"]],
      ["b.ts", ["a.ts"]],
      ["c.ts", []],
    ]);
    expect(cycles(looped)).toEqual([["a.ts", "b.ts"]]);
    expect(
      KERNEL_MAY_IMPORT.some((allowed) => "shared/core/threads/threads-runtime.ts".startsWith(allowed)),
    ).toBe(false);
  });
});
