/**
 * The IAM check's pieces without moto: what a request asks IAM for (aws-request-actions.ts) and the
 * evaluator's rules (iam-evaluator.ts). The check itself runs last in aws-on-moto.test.ts.
 */
import { describe, expect, it } from "vitest";
import { type AwsRequest, actionsOfRequest } from "./aws-request-actions.js";
import { deniedCalls, evaluate, resourceMatches, UnsupportedConditionError } from "./iam-evaluator.js";
import type { PolicyStatement } from "./iam-policies.js";

const auth = (service: string) =>
  `AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=x`;
const request = (service: string, init: Partial<AwsRequest> & { json?: unknown }): AwsRequest => ({
  method: init.method ?? "POST",
  url: init.url ?? "/",
  headers: { host: "127.0.0.1:4566", authorization: auth(service), ...init.headers },
  body: init.body ?? Buffer.from(init.json === undefined ? "" : JSON.stringify(init.json)),
});

describe("actionsOfRequest", () => {
  it("names a DynamoDB call's table, or its index for an index query", () => {
    const target = (op: string) => ({ "x-amz-target": `DynamoDB_20120810.${op}` });
    expect(
      actionsOfRequest(request("dynamodb", { headers: target("PutItem"), json: { TableName: "t" } })),
    ).toEqual([{ action: "dynamodb:PutItem", resource: "arn:aws:dynamodb:us-east-1:123456789012:table/t" }]);
    expect(
      actionsOfRequest(
        request("dynamodb", { headers: target("Query"), json: { TableName: "t", IndexName: "gsi1" } }),
      ),
    ).toEqual([
      { action: "dynamodb:Query", resource: "arn:aws:dynamodb:us-east-1:123456789012:table/t/index/gsi1" },
    ]);
  });

  it("reads S3 path-style: objects, copies, multi-object deletes", () => {
    expect(actionsOfRequest(request("s3", { method: "PUT", url: "/b/files/w/x%20y" }))).toEqual([
      { action: "s3:PutObject", resource: "arn:aws:s3:::b/files/w/x y" },
    ]);
    expect(
      actionsOfRequest(
        request("s3", { method: "PUT", url: "/b/new", headers: { "x-amz-copy-source": "/b/old" } }),
      ),
    ).toEqual([
      { action: "s3:PutObject", resource: "arn:aws:s3:::b/new" },
      { action: "s3:GetObject", resource: "arn:aws:s3:::b/old" },
    ]);
    const body = Buffer.from(
      "<Delete><Object><Key>a/1</Key></Object><Object><Key>a/2</Key></Object></Delete>",
    );
    expect(actionsOfRequest(request("s3", { url: "/b?delete", body })).map((a) => a.resource)).toEqual([
      "arn:aws:s3:::b/a/1",
      "arn:aws:s3:::b/a/2",
    ]);
    // A presigned URL carries its credential in the query.
    expect(
      actionsOfRequest({
        method: "GET",
        url: "/b/k?X-Amz-Credential=testing%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
        headers: { host: "127.0.0.1:1" },
        body: Buffer.alloc(0),
      }),
    ).toEqual([{ action: "s3:GetObject", resource: "arn:aws:s3:::b/k" }]);
  });

  it("adds the iam:PassRole a schedule's target role implies; an unknown service is named so nothing allows it", () => {
    expect(
      actionsOfRequest(
        request("scheduler", {
          url: "/schedules/s1",
          json: { GroupName: "g", Target: { RoleArn: "arn:aws:iam::1:role/r" } },
        }),
      ),
    ).toEqual([
      {
        action: "scheduler:CreateSchedule",
        resource: "arn:aws:scheduler:us-east-1:123456789012:schedule/g/s1",
      },
      { action: "iam:PassRole", resource: "arn:aws:iam::1:role/r" },
    ]);
    expect(actionsOfRequest(request("athena", { url: "/x" }))[0]?.action).toMatch(/^unknown:athena/);
  });
});

describe("evaluate", () => {
  const allow = (
    Action: string | string[],
    Resource: string | string[],
    extra: Partial<PolicyStatement> = {},
  ) => ({ Effect: "Allow", Action, Resource, ...extra }) as PolicyStatement;

  it("matches actions case-insensitively with wildcards, resources per ARN segment", () => {
    const s = [allow("s3:GetObject*", "arn:aws:s3:::b/files/*")];
    expect(evaluate(s, { action: "s3:getobjectversion", resource: "arn:aws:s3:::b/files/a/b" })).toBe(
      "allowed",
    );
    expect(evaluate(s, { action: "s3:GetObject", resource: "arn:aws:s3:::b/skills/a" })).toBe(
      "implicitly denied",
    );
    expect(
      resourceMatches("arn:aws:states:*:1:stateMachine:p-*", "arn:aws:states:us-east-1:1:stateMachine:p-x"),
    ).toBe(true);
    // A wildcard stays in its segment.
    expect(resourceMatches("arn:aws:sqs:*:1:q", "arn:aws:sqs:us-east-1:1:q")).toBe(true);
    expect(resourceMatches("arn:aws:sqs:*:1:q", "arn:aws:sqs:us-east-1:2:q")).toBe(false);
    expect(resourceMatches("arn:aws:sqs:us-east-1:1:q*", "arn:aws:sqs:us-east-1:1:queue")).toBe(true);
    expect(resourceMatches("arn:aws:sqs:us-?ast-1:1:q?", "arn:aws:sqs:us-east-1:1:q1")).toBe(true);
  });

  it("lets an explicit Deny win, and honours NotAction", () => {
    const s: PolicyStatement[] = [
      allow("sqs:*", "*"),
      { Effect: "Deny", NotAction: "sqs:SendMessage", Resource: "arn:aws:sqs:us-east-1:1:q" },
    ];
    expect(evaluate(s, { action: "sqs:SendMessage", resource: "arn:aws:sqs:us-east-1:1:q" })).toBe("allowed");
    expect(evaluate(s, { action: "sqs:DeleteMessage", resource: "arn:aws:sqs:us-east-1:1:q" })).toBe(
      "explicitly denied",
    );
  });

  it("evaluates the KMS encryption-context conditions and refuses any other condition", () => {
    const vault = allow("kms:Decrypt", "arn:aws:kms:us-east-1:1:key/k", {
      Condition: {
        "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["credential", "vault", "workspace"] },
        Null: { "kms:EncryptionContextKeys": "false" },
      },
    });
    const call = (encryptionContext: Record<string, string>) => ({
      action: "kms:Decrypt",
      resource: "arn:aws:kms:us-east-1:1:key/k",
      context: { encryptionContext },
    });
    expect(evaluate([vault], call({ credential: "c", vault: "v", workspace: "w" }))).toBe("allowed");
    expect(evaluate([vault], call({ webhook_endpoint: "e", workspace: "w" }))).toBe("implicitly denied");
    expect(evaluate([vault], call({}))).toBe("implicitly denied");
    const other = allow("s3:GetObject", "*", { Condition: { Bool: { "aws:SecureTransport": "true" } } });
    expect(() => evaluate([other], { action: "s3:GetObject", resource: "arn:aws:s3:::b/k" })).toThrow(
      UnsupportedConditionError,
    );
  });

  it("reports each denied (function, action, resource) once, counted", () => {
    const calls = [
      { fn: "api", action: "s3:PutObject", resource: "arn:aws:s3:::b/skills/1" },
      { fn: "api", action: "s3:PutObject", resource: "arn:aws:s3:::b/skills/1" },
      { fn: "api", action: "s3:PutObject", resource: "arn:aws:s3:::b/files/1" },
    ];
    expect(deniedCalls(calls, () => [allow("s3:PutObject", "arn:aws:s3:::b/files/*")])).toEqual([
      {
        fn: "api",
        action: "s3:PutObject",
        resource: "arn:aws:s3:::b/skills/1",
        verdict: "implicitly denied",
        count: 2,
      },
    ]);
  });
});
