/**
 * How Reverie's Lambda functions are bundled, beyond CDK's esbuild defaults: read by the stack
 * (reverie-runtime.ts) and by the AWS-on-moto harness (test/moto/lambda-bundles.ts), so the two
 * build the same code.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Some CommonJS dependencies call require() for Node built-ins; the ESM bundle gets one. */
export const REQUIRE_BANNER =
  "import{createRequire as __reverieCreateRequire}from'module';const require=__reverieCreateRequire(import.meta.url);";

/**
 * The esbuild options of reverie-runtime.ts's NodejsFunction `bundling` (ESM, node24, minified,
 * external source maps without sources, the `require` banner), for what is built outside CDK the
 * same way: the side files (lambda-side-files.ts) and the AWS-on-moto harness's bundles.
 */
export const LAMBDA_ESBUILD_OPTIONS = {
  bundle: true,
  format: "esm",
  target: "node24",
  platform: "node",
  mainFields: ["module", "main"],
  minify: true,
  sourcemap: "external",
  sourcesContent: false,
  banner: { js: REQUIRE_BANNER },
} as const;

/** The module that stands in for a package a bundle leaves out (see absent-module.ts). */
export const ABSENT_MODULE = join(dirname(fileURLToPath(import.meta.url)), "absent-module.ts");

/** The functions that call the model (createModel in shared/runtime/model-provider.ts). */
const MODEL_CALLERS = new Set(["agent-step", "grader", "dream-worker"]);

/**
 * Packages a function imports but never uses, left out of its bundle:
 * - the MCP client imports Ajv (~130 KB with its helpers) only for its tool output-schema check,
 *   which Reverie turns off (mcp-sdk-connector.ts passes its own validator);
 * - the model callers import `@anthropic-ai/bedrock-sdk` (bedrock-model.ts), used only when the
 *   provider is `bedrock`. Lambda's runtime does not ship it, and esbuild hoists an external import
 *   out of a lazily loaded module into the bundle's top: left external, it would be loaded at every
 *   cold start (with `@aws-sdk/client-bedrock-runtime`) — and fail it, the package being absent.
 */
export function absentPackages(functionName: string, modelProvider?: string): string[] {
  return [
    ...(functionName === "agent-step" ? ["ajv", "ajv-formats"] : []),
    ...(MODEL_CALLERS.has(functionName) && modelProvider !== "bedrock" ? ["@anthropic-ai/bedrock-sdk"] : []),
  ];
}

/**
 * esbuild aliases replacing a function's absent packages by {@link ABSENT_MODULE}. `modelProvider`
 * is the stack's (`REVERIE_MODEL_PROVIDER`; unset means the Anthropic API).
 */
export function absentAliases(functionName: string, modelProvider?: string): Record<string, string> {
  return Object.fromEntries(absentPackages(functionName, modelProvider).map((name) => [name, ABSENT_MODULE]));
}

/**
 * One entry for one package: `zod/v4` (what the MCP SDK imports) is `zod`'s own API under another
 * path (both re-export `zod/v4/classic/external.js`), and `zod/v4-mini` (the MCP SDK's server helpers)
 * is `zod/mini` (both re-export `zod/v4/mini/external.js`). A module a bundle imports with `import()`
 * is evaluated on first use (esbuild wraps it and everything it reaches in a lazy initialiser), and
 * when the eagerly and the lazily evaluated code reach zod through different entries, esbuild drops
 * the call that initialises zod's wrapped modules for one of them (zod is `sideEffects: false`, so
 * its re-exporting entries vanish): `ZodLiteral is not a constructor` at load (`zod/v4`), or
 * `ZodMiniEnum`'s (`zod/v4-mini`, once the configuration used `zod/mini`). With one entry each the
 * MCP client can be loaded on first use (shared/runtime/mcp-ports.ts).
 */
export const SAME_PACKAGE_ALIASES: Readonly<Record<string, string>> = {
  "zod/v4": "zod",
  "zod/v4-mini": "zod/mini",
};

/**
 * The Node built-ins a bundle takes through `process.getBuiltinModule` rather than as ES modules
 * (see {@link builtinAliases}): those the bundled code imports, and their neighbours.
 */
export const SHIMMED_BUILTINS = [
  "async_hooks",
  "buffer",
  "child_process",
  "console",
  "crypto",
  "dns",
  "dns/promises",
  "events",
  "fs",
  "fs/promises",
  "http",
  "https",
  "net",
  "os",
  "path",
  "perf_hooks",
  "readline",
  "stream",
  "stream/promises",
  "stream/web",
  "string_decoder",
  "timers",
  "timers/promises",
  "tls",
  "url",
  "util",
  "worker_threads",
  "zlib",
] as const;

/** Where the built-ins' stand-ins are written (generated, one small CommonJS file each). */
const BUILTIN_SHIM_DIR = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../node_modules/.cache/reverie-node-builtins",
);

/**
 * esbuild aliases that hand each of {@link SHIMMED_BUILTINS} (`node:fs` and `fs`) to a CommonJS
 * stand-in, `module.exports = process.getBuiltinModule("node:fs")`. An ESM bundle's
 * `import { x } from "node:fs"` makes Node build the built-in's ES module facade when the bundle
 * loads — every export read, lazy getters included (`fs.promises`, `crypto.webcrypto`); through the
 * stand-in, esbuild reads each export where the code uses it. The model callers, whose Anthropic SDK
 * and middy import a dozen built-ins, load 5–10 ms faster for it (docs/performance.md).
 */
export function builtinAliases(): Record<string, string> {
  if (writtenAliases) return writtenAliases;
  const aliases: Record<string, string> = {};
  for (const name of SHIMMED_BUILTINS) {
    const file = join(BUILTIN_SHIM_DIR, `${name.replace("/", "__")}.cjs`);
    writeIfChanged(file, `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${name}`)});\n`);
    aliases[`node:${name}`] = file;
    aliases[name] = file;
  }
  writtenAliases = aliases;
  return aliases;
}

/** The stand-ins are written once per process (the stack bundles a dozen functions). */
let writtenAliases: Record<string, string> | undefined;

/** Writes `content` unless the file holds it already; atomically, as builds may run side by side. */
function writeIfChanged(file: string, content: string): void {
  if (existsSync(file) && readFileSync(file, "utf8") === content) return;
  mkdirSync(dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, content);
  renameSync(temp, file);
}

/**
 * Every esbuild alias of a function's bundle: {@link SAME_PACKAGE_ALIASES}, the built-ins' stand-ins
 * ({@link builtinAliases}) and its absent packages.
 */
export function bundleAliases(functionName: string, modelProvider?: string): Record<string, string> {
  return { ...SAME_PACKAGE_ALIASES, ...builtinAliases(), ...absentAliases(functionName, modelProvider) };
}
