/**
 * What each Lambda function loads at cold start beyond its own bundle: the packages its bundle
 * imports statically (esbuild hoists the static imports of every bundled module, lazily loaded ones
 * included, to the top of the file). No AWS SDK client may be there: DynamoDB and SQS, which nearly
 * every invocation uses, go over signed HTTP (shared/adapters/aws/aws-json-client.ts), and every
 * other client is imported by its adapter on first use (DynamoDB's marshalling is the store's own,
 * shared/adapters/aws/dynamodb-wire.ts). A package Lambda's runtime does not ship (Bedrock's SDK) must never be there: the
 * function would fail to start. The bundles are built as CDK builds them (test/moto/lambda-bundles.ts).
 */
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLambdaBundles, type LambdaBundles, lambdaFunctionNames } from "../moto/lambda-bundles.js";

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

describe("what a Lambda function loads at cold start", () => {
  it.each(lambdaFunctionNames)("%s: no package outside its bundle, the AWS SDK's included", (name) => {
    // (the SDK's clients come only as a fallback without environment credentials, on first request)
    expect(staticImports(bundles.functions[name])).toEqual([]);
  });
});
