import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { lazySchema } from "../../shared/contract/lazy-schema.js";

const eager = () =>
  z.strictObject({
    type: z.literal("agent"),
    name: z.string().min(1).max(8),
    tags: z.array(z.enum(["a", "b"])).optional(),
  });

describe("lazySchema", () => {
  it("builds the schema on first use, once", () => {
    let builds = 0;
    const schema = lazySchema(() => {
      builds++;
      return eager();
    });
    expect(builds).toBe(0);
    schema.parse({ type: "agent", name: "x" });
    schema.safeParse({});
    expect(builds).toBe(1);
  });

  it("parses as the schema does: same data, same issues", () => {
    const schema = lazySchema(eager);
    for (const input of [
      { type: "agent", name: "x", tags: ["a"] },
      { type: "agent", name: "", tags: ["c"], extra: 1 },
      { type: "self" },
      null,
      "agent",
    ]) {
      const a = eager().safeParse(input, { reportInput: true });
      const b = schema.safeParse(input, { reportInput: true });
      expect(b.success).toBe(a.success);
      expect(b.success ? b.data : b.error.issues).toEqual(a.success ? a.data : a.error.issues);
    }
  });

  it("works inside other schemas, as a union's option and with the schema's own methods", () => {
    const agent = lazySchema(eager);
    const self = lazySchema(() => z.strictObject({ type: z.literal("self") }));
    const entry = z.discriminatedUnion("type", [agent, self]);
    expect(entry.parse({ type: "self" })).toEqual({ type: "self" });
    expect(entry.safeParse({ type: "other" }).success).toBe(false);
    expect(z.array(agent.nullish()).parse([null, { type: "agent", name: "y" }])).toHaveLength(2);
    const extended = agent.extend({ id: z.string() });
    expect(extended.parse({ type: "agent", name: "y", id: "1" })).toEqual({
      type: "agent",
      name: "y",
      id: "1",
    });
    expect(Object.keys(agent.shape)).toEqual(["type", "name", "tags"]);
    expect(agent).toBeInstanceOf(z.ZodObject);
  });

  it("converts to the schema's JSON Schema, nested and recursive ones included", () => {
    const inner = lazySchema(eager);
    const outer = () => z.object({ first: inner, rest: z.array(inner).optional() });
    expect(z.toJSONSchema(lazySchema(outer), { io: "input" })).toEqual(
      z.toJSONSchema(z.object({ first: eager(), rest: z.array(eager()).optional() }), { io: "input" }),
    );
    type Node = { name: string; children: Node[] };
    const node: z.ZodType<Node> = lazySchema(() =>
      z.object({
        name: z.string(),
        get children() {
          return z.array(node);
        },
      }),
    );
    const json = z.toJSONSchema(node) as { $defs?: unknown };
    expect(JSON.stringify(json)).toContain('"$ref"');
    expect(node.parse({ name: "a", children: [{ name: "b", children: [] }] })).toBeTruthy();
  });
});

/**
 * Schemas a module builds when it is evaluated: what every process that bundles it pays at start.
 * These are used by every process that loads them, on its first call: the configuration (parsed
 * once per process) and the session record (nearly every function reads sessions).
 */
const BUILT_AT_LOAD = new Set([
  "shared/runtime/config.ts",
  "shared/runtime/dream-config.ts",
  "shared/core/sessions/session-record.ts",
]);

/** Top-level declarations of `file` that call zod (or a schema's method) outside any function. */
function schemasBuiltAtLoad(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ES2022, true);
  const found: string[] = [];
  const deferred = (node: ts.Node) =>
    ts.isArrowFunction(node) ||
    ts.isFunctionExpression(node) ||
    ts.isFunctionDeclaration(node) ||
    ts.isMethodDeclaration(node) ||
    ts.isGetAccessor(node) ||
    ts.isClassDeclaration(node) ||
    ts.isClassExpression(node);
  const visit = (node: ts.Node, name: string): void => {
    if (deferred(node)) return;
    if (ts.isCallExpression(node)) {
      const callee = node.expression.getText(source);
      if (callee === "lazySchema") return;
      if (callee.startsWith("z.") && callee !== "z.lazy") {
        found.push(`${name} (${callee.split("\n")[0]})`);
        return;
      }
    }
    ts.forEachChild(node, (child) => visit(child, name));
  };
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement))
      for (const declaration of statement.declarationList.declarations)
        visit(declaration, declaration.name.getText(source));
    else if (ts.isExpressionStatement(statement)) visit(statement, "(statement)");
  }
  return found;
}

describe("schemas built on first use", () => {
  const root = join(import.meta.dirname, "..", "..");
  const files = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return files(path);
      return name.endsWith(".ts") && !name.endsWith(".d.ts") ? [path] : [];
    });

  it("no module in shared/ builds a zod schema when it is evaluated, but the configuration and the step kernel's records", () => {
    // A request or record schema built at load is paid by every Lambda cold start that bundles it,
    // whether or not the function uses it: wrap it in lazySchema(() => …).
    const eager = files(join(root, "shared"))
      .filter((file) => /from "zod(\/mini)?"/.test(readFileSync(file, "utf8")))
      .map((file) => relative(root, file))
      .filter((file) => !BUILT_AT_LOAD.has(file))
      .flatMap((file) => schemasBuiltAtLoad(join(root, file)).map((what) => `${file}: ${what}`));
    expect(eager).toEqual([]);
  });
});
