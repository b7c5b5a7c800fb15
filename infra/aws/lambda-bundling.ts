/**
 * How Reverie's Lambda functions are bundled, beyond CDK's esbuild defaults: read by the stack
 * (reverie-runtime.ts) and by the AWS-on-moto harness (test/moto/lambda-bundles.ts), so the two
 * build the same code.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Some CommonJS dependencies call require() for Node built-ins; the ESM bundle gets one. */
export const REQUIRE_BANNER =
  "import{createRequire as __reverieCreateRequire}from'module';const require=__reverieCreateRequire(import.meta.url);";

/** The module that stands in for a package a bundle leaves out (see absent-module.ts). */
export const ABSENT_MODULE = join(dirname(fileURLToPath(import.meta.url)), "absent-module.ts");

/**
 * Packages a function imports but never uses, left out of its bundle: the MCP client imports Ajv
 * (~130 KB with its helpers) only for its tool output-schema check, which Reverie turns off
 * (mcp-sdk-connector.ts passes its own validator).
 */
export function absentPackages(functionName: string): string[] {
  return functionName === "agent-step" ? ["ajv", "ajv-formats"] : [];
}

/** esbuild aliases replacing a function's absent packages by {@link ABSENT_MODULE}. */
export function absentAliases(functionName: string): Record<string, string> {
  return Object.fromEntries(absentPackages(functionName).map((name) => [name, ABSENT_MODULE]));
}
