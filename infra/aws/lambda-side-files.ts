/**
 * Modules a Lambda function loads only on first use, built as files of their own beside its bundle
 * (`index.mjs`) instead of inside it. CDK's NodejsFunction bundles one file (`--outfile`, no esbuild
 * code splitting), and a module a bundle imports with `import()` is still in that file: V8 compiles
 * every byte of it at each cold start (~57 µs per KiB), whether or not the module is ever loaded.
 *
 * Each side file has a constant its importer tests (`typeof __REVERIE_MCP_CLIENT_FILE__`): the
 * function's bundle gets it through esbuild's `define`, so the importer loads the file beside the
 * bundle and esbuild drops the bundled branch; everywhere else (the embedded stack, tests) the
 * constant is undefined and the module is imported as usual. The stack builds the side files in
 * `commandHooks.afterBundling` (reverie-runtime.ts, running this file), the AWS-on-moto harness with
 * {@link buildSideFiles}.
 *
 * A side file is bundled with its own copy of what it imports: what crosses from it into the bundle
 * must not depend on module identity (McpServerError's `instanceof` recognises either copy).
 */
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BuildOptions, build } from "esbuild";
import { bundleAliases, LAMBDA_ESBUILD_OPTIONS } from "./lambda-bundling.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface SideFile {
  /** The constant its importer tests, defined as the file's path relative to the bundle. */
  define: string;
  /** Its name beside the bundle. */
  file: string;
  /** The module it is built from (relative to the repository). */
  entry: string;
  functions: readonly string[];
}

export const SIDE_FILES: readonly SideFile[] = [
  {
    // The MCP SDK and its zod schemas: ~90 KiB of agent-step's bundle, loaded by a session's first
    // MCP connection (shared/runtime/mcp-ports.ts).
    define: "__REVERIE_MCP_CLIENT_FILE__",
    file: "mcp-client.mjs",
    entry: "shared/adapters/http/mcp-sdk-connector.ts",
    functions: ["agent-step"],
  },
  {
    // fflate and js-yaml (~59 KiB): a skill upload packs its canonical zip and reads SKILL.md's
    // front matter with them (shared/core/skills/skill-bundle.ts); reading a stored skill does not
    // (upload-zip.ts). deployment-runner reaches the same module, so without the side file its
    // bundle would carry both although it only reads skills.
    define: "__REVERIE_SKILL_CODECS_FILE__",
    file: "skill-codecs.mjs",
    entry: "shared/core/skills/skill-codecs.ts",
    functions: ["api", "api-workspace", "deployment-runner"],
  },
];

export function sideFilesOf(functionName: string): SideFile[] {
  return SIDE_FILES.filter((s) => s.functions.includes(functionName));
}

/** esbuild `define`s of a function's bundle: each of its side files' constants. */
export function sideFileDefines(functionName: string): Record<string, string> {
  return Object.fromEntries(sideFilesOf(functionName).map((s) => [s.define, JSON.stringify(`./${s.file}`)]));
}

/**
 * Builds a function's side files into `outdir` with the bundle's own options (reverie-runtime.ts's
 * `bundling`: ESM, node24, minified, external source maps without sources, the `require` banner,
 * the function's aliases, the AWS SDK external unless the stack bundles it).
 */
export async function buildSideFiles(
  functionName: string,
  outdir: string,
  options: { modelProvider?: string; bundleAwsSdk?: boolean } = {},
): Promise<string[]> {
  const files = sideFilesOf(functionName);
  await Promise.all(
    files.map((side) =>
      build({
        ...sideFileBuildOptions(functionName, options),
        entryPoints: [join(repoRoot, side.entry)],
        outfile: join(outdir, side.file),
      }),
    ),
  );
  return files.map((side) => join(outdir, side.file));
}

function sideFileBuildOptions(
  functionName: string,
  options: { modelProvider?: string; bundleAwsSdk?: boolean },
): BuildOptions {
  return {
    ...LAMBDA_ESBUILD_OPTIONS,
    mainFields: [...LAMBDA_ESBUILD_OPTIONS.mainFields],
    external: options.bundleAwsSdk ? [] : ["@aws-sdk/*", "@smithy/*"],
    alias: bundleAliases(functionName, options.modelProvider),
    tsconfig: join(repoRoot, "tsconfig.json"),
    logLevel: "error",
  };
}

/** `tsx lambda-side-files.ts <function> <outdir> [modelProvider] [bundleAwsSdk]`: the stack's hook. */
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [functionName, outdir, modelProvider, bundleAwsSdk] = process.argv.slice(2);
  if (!functionName || !outdir)
    throw new Error("usage: lambda-side-files.ts <function> <outdir> [modelProvider] [bundleAwsSdk]");
  await buildSideFiles(functionName, outdir, {
    modelProvider: modelProvider || undefined,
    bundleAwsSdk: bundleAwsSdk === "true",
  });
}
