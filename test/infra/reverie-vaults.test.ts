/**
 * `ReverieVaults`: the KMS key vault credentials and webhook signing secrets are sealed under —
 * rotation on, granted only to the API and agent steps (GenerateDataKey to seal, Decrypt to open) and
 * to webhook-deliver (Decrypt only), only with Reverie's encryption context, its id in their
 * environment and nobody else's — cdk-nag clean. Bundling is skipped.
 */
import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { ReverieStack } from "../../infra/aws/reverie-stack.js";
import { actionsOf, cdkJsonContext, logicalIdOf, nagFindings, statementsOf } from "./infra-helpers.js";

let stack: ReverieStack;
let template: Template;

beforeAll(() => {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  stack = new ReverieStack(app, "Vaults");
  template = Template.fromStack(stack);
}, 120_000);

const keyArn = () => ({ "Fn::GetAtt": [logicalIdOf(stack.runtime.vaults.key), "Arn"] });

describe("ReverieVaults", () => {
  it("stays cdk-nag clean", () => {
    expect(nagFindings(stack.runtime.vaults)).toEqual([]);
  });

  it("creates a customer-managed key with yearly rotation", () => {
    template.hasResourceProperties("AWS::KMS::Key", {
      EnableKeyRotation: true,
      Description: Match.stringLikeRegexp("vault credentials, webhook signing secrets"),
    });
  });

  it("lets the API's vaults routes (api-workspace) and agent steps seal and open with Reverie's encryption context only", () => {
    for (const name of ["api-workspace", "agent-step"] as const) {
      const fn = stack.runtime.functions[name];
      const onKey = statementsOf(template, fn).filter(
        (s) => JSON.stringify(s.Resource) === JSON.stringify(keyArn()),
      );
      expect(onKey.flatMap(actionsOf).sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
      for (const statement of onKey)
        expect((statement as unknown as { Condition: unknown }).Condition).toEqual({
          "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["credential", "vault", "workspace"] },
          Null: { "kms:EncryptionContextKeys": "false" },
        });
      template.hasResourceProperties("AWS::Lambda::Function", {
        FunctionName: Match.absent(),
        Environment: { Variables: Match.objectLike({ REVERIE_SECRETS_KMS_KEY_ID: keyArn() }) },
        Description: Match.anyValue(),
        Role: { "Fn::GetAtt": [logicalIdOf(fn.role as never), "Arn"] },
      });
    }
  });

  it("lets webhook-deliver open the endpoints' signing secrets, and only open them", () => {
    const fn = stack.runtime.outcomes.functions["webhook-deliver"];
    const onKey = statementsOf(template, fn).filter(
      (s) => JSON.stringify(s.Resource) === JSON.stringify(keyArn()),
    );
    expect(onKey.flatMap(actionsOf)).toEqual(["kms:Decrypt"]);
    expect((onKey[0] as unknown as { Condition: unknown }).Condition).toEqual({
      "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["credential", "vault", "workspace"] },
      Null: { "kms:EncryptionContextKeys": "false" },
    });
  });

  it("gives no other function the key or its id", () => {
    for (const [name, fn] of Object.entries(stack.runtime.functions)) {
      if (name === "api-workspace" || name === "agent-step") continue;
      const onKey = statementsOf(template, fn).filter((s) =>
        JSON.stringify(s.Resource).includes(logicalIdOf(stack.runtime.vaults.key)),
      );
      expect(onKey, name).toEqual([]);
    }
    const functions = template.findResources("AWS::Lambda::Function");
    const withKey = Object.values(functions).filter(
      (f) => f.Properties.Environment?.Variables?.REVERIE_SECRETS_KMS_KEY_ID !== undefined,
    );
    expect(withKey).toHaveLength(3);
  });
});
