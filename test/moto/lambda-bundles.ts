/**
 * The Lambda functions' code as CDK deploys it: each `functions/<name>.ts` bundled by esbuild with
 * the options of infra/aws/reverie-runtime.ts's NodejsFunction (ESM, node24, minified, the AWS SDK
 * left external, the `require` banner, the packages a function leaves out replaced by a stub, one
 * entry for zod). The bundles are written under
 * node_modules/.cache, so their external imports resolve to this checkout's node_modules — where
 * Lambda's Node.js runtime would supply its own copy of the AWS SDK.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { type BuildOptions, build } from "esbuild";
import {
  absentAliases,
  builtinAliases,
  bundleAliases,
  LAMBDA_ESBUILD_OPTIONS,
  SAME_PACKAGE_ALIASES,
} from "../../infra/aws/lambda-bundling.js";
import { buildSideFiles, sideFileDefines } from "../../infra/aws/lambda-side-files.js";

const repoRoot = resolve(import.meta.dirname, "../..");

/** The functions a stack runs (functions/*.ts, except the sandbox: see sandbox-stand-in.ts). */
export const lambdaFunctionNames = [
  "api",
  "api-memory",
  "api-workspace",
  "api-stream",
  "authorizer",
  "agent-step",
  "grader",
  "webhook-deliver",
  "dream-worker",
  "dream-scheduler",
  "deployment-runner",
  "sweeper",
] as const;
export type LambdaFunctionName = (typeof lambdaFunctionNames)[number];

export interface LambdaBundles {
  dir: string;
  /** The runtime that hosts a bundle in a child process (lambda-runtime.ts). */
  runtime: string;
  /** The sandbox function's stand-in (sandbox-stand-in.ts). */
  sandbox: string;
  functions: Record<LambdaFunctionName, string>;
  remove(): void;
}

/** infra/aws/reverie-runtime.ts, `make` → bundling (the shared parts come from lambda-bundling.ts). */
export function cdkBuildOptions(outdir: string): BuildOptions {
  return {
    outdir,
    outExtension: { ".js": ".mjs" },
    ...LAMBDA_ESBUILD_OPTIONS,
    mainFields: [...LAMBDA_ESBUILD_OPTIONS.mainFields],
    external: ["@aws-sdk/*", "@smithy/*"],
    tsconfig: join(repoRoot, "tsconfig.json"),
    logLevel: "error",
  };
}

/** Builds every function into a fresh directory; `remove()` deletes it. */
export async function buildLambdaBundles(): Promise<LambdaBundles> {
  const dir = join(repoRoot, "node_modules", ".cache", "reverie-aws-on-moto", `${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const cdkOptions = cdkBuildOptions(dir);
  const entry = (name: LambdaFunctionName): [string, string] => [
    name,
    join(repoRoot, "functions", `${name}.ts`),
  ];
  // Each function with its own stand-ins for the packages it leaves out (lambda-bundling.ts: the
  // MCP client's unused Ajv, Bedrock's SDK in a stack on the Anthropic API): if anything used one,
  // it would throw here as on AWS.
  // Each function with its own defines too: those of the modules it carries as files of their own
  // beside its bundle (lambda-side-files.ts), built here as the stack's afterBundling hook builds them.
  const aliased = lambdaFunctionNames.filter(
    (n) => Object.keys(absentAliases(n)).length > 0 || Object.keys(sideFileDefines(n)).length > 0,
  );
  await Promise.all([
    build({
      ...cdkOptions,
      entryPoints: Object.fromEntries(lambdaFunctionNames.filter((n) => !aliased.includes(n)).map(entry)),
      alias: { ...SAME_PACKAGE_ALIASES, ...builtinAliases() },
    }),
    ...aliased.map((name) =>
      build({
        ...cdkOptions,
        entryPoints: Object.fromEntries([entry(name)]),
        alias: bundleAliases(name),
        define: sideFileDefines(name),
      }),
    ),
    ...lambdaFunctionNames.map((name) => buildSideFiles(name, dir)),
  ]);
  // The test's own pieces: not Reverie's code, so plain bundles.
  await build({
    entryPoints: {
      "lambda-runtime": join(import.meta.dirname, "lambda-runtime.ts"),
      "sandbox-stand-in": join(import.meta.dirname, "sandbox-stand-in.ts"),
    },
    outdir: dir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    format: "esm",
    target: "node24",
    platform: "node",
    packages: "external",
    logLevel: "error",
  });
  return {
    dir,
    runtime: join(dir, "lambda-runtime.mjs"),
    sandbox: join(dir, "sandbox-stand-in.mjs"),
    functions: Object.fromEntries(
      lambdaFunctionNames.map((name) => [name, join(dir, `${name}.mjs`)]),
    ) as Record<LambdaFunctionName, string>,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
