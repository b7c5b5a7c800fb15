/**
 * What each Lambda function loads at cold start beyond its own bundle: the packages its bundle
 * imports statically (esbuild hoists the static imports of every bundled module, lazily loaded ones
 * included, to the top of the file). Only the DynamoDB and SQS clients, which nearly every invocation
 * uses, may be there (the authorizer's one read goes over DynamoDB's HTTP API: not even those);
 * every other AWS SDK client is imported by its adapter on first use, and a
 * package Lambda's runtime does not ship (Bedrock's SDK) must never be: the function would fail to
 * start. The bundles are built as CDK builds them (test/moto/lambda-bundles.ts).
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
  it("the authorizer: no AWS SDK client, only its marshaller (it signs its DynamoDB read itself)", () => {
    expect(staticImports(bundles.functions.authorizer)).toEqual(["@aws-sdk/util-dynamodb"]);
  });

  it.each(lambdaFunctionNames.filter((n) => n !== "authorizer"))(
    "%s: the DynamoDB and SQS clients only",
    (name) => {
      // (its document client wrapper, lib-dynamodb, comes with the first store request)
      expect(staticImports(bundles.functions[name])).toEqual([
        "@aws-sdk/client-dynamodb",
        "@aws-sdk/client-sqs",
      ]);
    },
  );
});
