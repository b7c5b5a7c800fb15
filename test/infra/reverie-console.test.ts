/**
 * The console on AWS: `ReverieConsole` on a REST API — two public GET methods, a small function of
 * its own whose asset holds the handler and the built console (never the api function's bundle),
 * clean under cdk-nag; the synthesized handler itself serves the page, files and redirect.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as apigw from "aws-cdk-lib/aws-apigateway";
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReverieConsole } from "../../infra/aws/reverie-console.js";
import { cdkJsonContext, logicalIdOf, nagFindings } from "./infra-helpers.js";

let outdir: string;
let stack: Stack;
let console_: ReverieConsole;
let template: Template;
let assetDir: string;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), "reverie-console-cdk-"));
  const app = new App({ outdir, context: cdkJsonContext() });
  stack = new Stack(app, "ConsoleTest");
  const api = new apigw.RestApi(stack, "Api", { deploy: false });
  console_ = new ReverieConsole(stack, "Console", { api });
  template = Template.fromStack(stack);
  app.synth();
  const fn = template.findResources("AWS::Lambda::Function")[logicalIdOf(console_.function)];
  const key = String(fn?.Properties?.Code?.S3Key);
  assetDir = join(outdir, `asset.${key.replace(/\.zip$/, "")}`);
}, 60_000);
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe("ReverieConsole", () => {
  it("adds GET /console and GET /console/{proxy+} without an authorizer", () => {
    const methods = Object.values(template.findResources("AWS::ApiGateway::Method"));
    expect(methods).toHaveLength(2);
    for (const method of methods)
      expect(method.Properties).toMatchObject({ HttpMethod: "GET", AuthorizationType: "NONE" });
    template.hasResourceProperties("AWS::ApiGateway::Resource", { PathPart: "console" });
    template.hasResourceProperties("AWS::ApiGateway::Resource", { PathPart: "{proxy+}" });
  });

  it("runs on its own role, with JSON logs and tracing, and a small asset: the handler and the built console", () => {
    template.hasResourceProperties(
      "AWS::Lambda::Function",
      Match.objectLike({
        Handler: "index.handler",
        Runtime: "nodejs24.x",
        TracingConfig: { Mode: "Active" },
      }),
    );
    const sizes = Object.fromEntries(readdirSync(assetDir).map((f) => [f, statSync(join(assetDir, f)).size]));
    expect(Object.keys(sizes).sort()).toEqual(["console-assets.json", "index.mjs"]);
    expect(sizes["index.mjs"]).toBeLessThan(8 * 1024);
    expect(sizes["console-assets.json"]).toBeLessThan(200 * 1024);
  });

  it("is clean under cdk-nag (every acknowledgement with a reason)", () => {
    expect(nagFindings(console_)).toEqual([]);
  });

  it("its synthesized handler serves the page, the files and the redirect, with a strict CSP", async () => {
    const { handler } = (await import(pathToFileURL(join(assetDir, "index.mjs")).href)) as {
      handler: (event: Partial<APIGatewayProxyEvent>) => Promise<APIGatewayProxyResult>;
    };
    const get = (path: string, headers: Record<string, string> = {}) =>
      handler({ httpMethod: "GET", path, headers });
    const page = await get("/console/");
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<div id="app">');
    expect(page.headers?.["content-security-policy"]).toContain("connect-src 'self'");
    const script = await get("/console/app.js");
    expect(script.headers?.["content-type"]).toContain("javascript");
    expect(script.body.length).toBeGreaterThan(10_000);
    expect((await get("/console/app.js", { "If-None-Match": String(script.headers?.etag) })).statusCode).toBe(
      304,
    );
    const redirect = await get("/console");
    expect([redirect.statusCode, redirect.headers?.location]).toEqual([308, "console/"]);
    expect((await handler({ httpMethod: "POST", path: "/console/", headers: {} })).statusCode).toBe(405);
  });
});
