/**
 * What each Lambda function loads at cold start beyond its own bundle: the packages its bundle
 * imports statically (esbuild hoists the static imports of every bundled module, lazily loaded ones
 * included, to the top of the file). No AWS SDK client may be there: DynamoDB and SQS, which nearly
 * every invocation uses, go over signed HTTP (shared/adapters/aws/aws-json-client.ts), and every
 * other client is imported by its adapter on first use (DynamoDB's marshalling is the store's own,
 * shared/adapters/aws/dynamodb-wire.ts). A package Lambda's runtime does not ship (Bedrock's SDK) must never be there: the
 * function would fail to start. The bundles are built as CDK builds them (test/moto/lambda-bundles.ts).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleAliases } from "../../infra/aws/lambda-bundling.js";
import { SIDE_FILES, sideFileDefines } from "../../infra/aws/lambda-side-files.js";
import {
  buildLambdaBundles,
  cdkBuildOptions,
  type LambdaBundles,
  lambdaFunctionNames,
} from "../moto/lambda-bundles.js";

let bundles: LambdaBundles;

beforeAll(async () => {
  bundles = await buildLambdaBundles();
}, 120_000);

afterAll(() => bundles?.remove());

/** The bare specifiers a bundle imports statically (`import … from "x"`, `import "x"`), node: built-ins aside. */
function staticImports(file: string): string[] {
  const code = readFileSync(file, "utf8");
  const found = new Set<string>();
  for (const match of code.matchAll(/(?:^|[;\n}])\s*import(?:[\w$\s{},*]+from)?\s*["']([^"']+)["']/g)) {
    const specifier = match[1] as string;
    if (!specifier.startsWith("node:") && specifier !== "module") found.add(specifier);
  }
  return [...found].sort();
}

/** The Node built-ins a bundle imports as ES modules (statically or with `import()`), the banner's `module` aside. */
function builtinModuleImports(file: string): string[] {
  const code = readFileSync(file, "utf8");
  const found = new Set<string>();
  // (`import(` after a quote is text: the Anthropic SDK's error message names `import('node:buffer')`)
  for (const match of code.matchAll(/(?:from|[^"'`\w]import\()\s*["'](node:[^"']+)["']/g))
    if (match[1] !== "node:module") found.add(match[1] as string);
  return [...found].sort();
}

describe("what a Lambda function loads at cold start", () => {
  it.each(lambdaFunctionNames)("%s: no package outside its bundle, the AWS SDK's included", (name) => {
    // (the SDK's clients come only as a fallback without environment credentials, on first request)
    expect(staticImports(bundles.functions[name])).toEqual([]);
  });

  it.each(lambdaFunctionNames)(
    "%s: Node's built-ins through process.getBuiltinModule, no ES module facade",
    (name) => {
      // builtinAliases (lambda-bundling.ts): a facade reads every export of its built-in at load
      expect(builtinModuleImports(bundles.functions[name])).toEqual([]);
    },
  );
});

describe("what a Lambda function loads on first use", () => {
  it.each(SIDE_FILES.flatMap((side) => side.functions.map((name) => [name, side.file] as const)))(
    "%s's %s, built beside its bundle: no package outside it, no built-in as an ES module",
    (_name, file) => {
      const path = join(bundles.dir, file);
      expect(staticImports(path)).toEqual([]);
      expect(builtinModuleImports(path)).toEqual([]);
    },
  );

  it("the skill codecs, loaded on first use from the file beside the bundle, read and pack a skill", async () => {
    const entry = join(bundles.dir, "skills-on-first-use.ts");
    writeFileSync(
      entry,
      `export * from ${JSON.stringify(join(import.meta.dirname, "../../shared/core/skills/skill-bundle.js"))};`,
    );
    await build({
      ...cdkBuildOptions(bundles.dir),
      entryPoints: { "skills-on-first-use": entry },
      alias: bundleAliases("api-workspace"),
      define: sideFileDefines("api-workspace"),
    });
    const file = join(bundles.dir, "skills-on-first-use.mjs");
    expect(readFileSync(file, "utf8")).not.toContain("YAMLException");
    const skills = await import(pathToFileURL(file).href);
    const md = "---\nname: hello\ndescription: Says hello.\n---\nSay hello.\n";
    const bundle = await skills.readSkillBundle([
      { path: "hello/SKILL.md", bytes: new TextEncoder().encode(md) },
    ]);
    expect(bundle).toMatchObject({ name: "hello", description: "Says hello." });
    const archive = await skills.skillArchive(
      "hello",
      [{ path: "SKILL.md", bytes: new TextEncoder().encode(md) }],
      0,
    );
    const files = await skills.unpackSkillArchive("hello", archive);
    expect(files.map((f: { path: string }) => f.path)).toEqual(["SKILL.md"]);
  }, 60_000);

  it("agent-step's bundle does not carry the MCP client, its side file does", () => {
    const code = readFileSync(bundles.functions["agent-step"], "utf8");
    expect(code).not.toContain("StreamableHTTPClientTransport");
    expect(code).toContain("mcp-client.mjs");
    expect(readFileSync(join(bundles.dir, "mcp-client.mjs"), "utf8")).toContain("mcp-session-id");
  });

  it("agent-step's MCP client, loaded by its first connection, works in a bundle built as CDK builds it", async () => {
    // As in agent-step's asset, the client is the side file beside the bundle (lambda-side-files.ts),
    // with its own copy of McpServerError, which the step's code still recognises. Without the
    // define, the client is bundled and lazily evaluated: its modules reach zod through `zod/v4` and
    // `zod/v4-mini`, Reverie's through `zod` and `zod/mini` (the configuration), and without one
    // entry for each (SAME_PACKAGE_ALIASES) the lazily evaluated zod modules are never initialised.
    const entry = join(bundles.dir, "mcp-on-first-use.ts");
    writeFileSync(
      entry,
      [
        `import * as z from "zod";`,
        `import * as zm from "zod/mini";`,
        `import { withMcp } from ${JSON.stringify(join(import.meta.dirname, "../../shared/runtime/mcp-ports.js"))};`,
        `export const schema = z.strictObject({ type: z.literal("x") });`,
        `export const miniSchema = zm.object({ type: zm.enum(["x"]) });`,
        `export { McpServerError } from ${JSON.stringify(join(import.meta.dirname, "../../shared/core/ports.js"))};`,
        `export const connect = (url) => withMcp({ REVERIE_WEB_FETCH_ALLOW_PRIVATE: false }).mcp.connect(url, { headers: {}, timeoutMs: 2000 });`,
      ].join("\n"),
    );
    for (const [name, define] of [
      ["mcp-on-first-use", sideFileDefines("agent-step")],
      ["mcp-bundled-on-first-use", {}],
    ] as const) {
      await build({
        ...cdkBuildOptions(bundles.dir),
        entryPoints: { [name]: entry },
        alias: bundleAliases("agent-step"),
        define,
      });
      const bundle = await import(pathToFileURL(join(bundles.dir, `${name}.mjs`)).href);
      expect(bundle.schema.parse({ type: "x" })).toEqual({ type: "x" });
      expect(bundle.miniSchema.parse({ type: "x" })).toEqual({ type: "x" });
      // The SSRF guard refuses loopback: the client was loaded and ran as far as its first request.
      const error = await bundle.connect("http://127.0.0.1:9/mcp").catch((e: unknown) => e);
      expect(error).toMatchObject({ name: "McpServerError", kind: "refused" });
      expect(error).toBeInstanceOf(bundle.McpServerError);
    }
    expect(readFileSync(join(bundles.dir, "mcp-on-first-use.mjs"), "utf8")).not.toContain(
      "StreamableHTTPClientTransport",
    );
  }, 60_000);
});
