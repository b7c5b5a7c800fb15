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
      const vaultCondition = {
        "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["credential", "vault", "workspace"] },
        Null: { "kms:EncryptionContextKeys": "false" },
      };
      const onKey = statementsOf(template, fn).filter(
        (s) => JSON.stringify(s.Resource) === JSON.stringify(keyArn()),
      );
      const vault = onKey.filter(
        (s) =>
          JSON.stringify((s as unknown as { Condition: unknown }).Condition) ===
          JSON.stringify(vaultCondition),
      );
      expect(vault.flatMap(actionsOf).sort()).toEqual(["kms:Decrypt", "kms:GenerateDataKey"]);
      // Anything else on the key is the webhook secrets' own grant (the test below).
      for (const statement of onKey.filter((s) => !vault.includes(s)))
        expect(JSON.stringify((statement as unknown as { Condition: unknown }).Condition)).toContain(
          "kms:EncryptionContext:webhook_endpoint",
        );
      template.hasResourceProperties("AWS::Lambda::Function", {
        FunctionName: Match.absent(),
        Environment: { Variables: Match.objectLike({ REVERIE_SECRETS_KMS_KEY_ID: keyArn() }) },
        Description: Match.anyValue(),
        Role: { "Fn::GetAtt": [logicalIdOf(fn.role as never), "Arn"] },
      });
    }
  });

  it("lets api-workspace seal and webhook-deliver open the endpoints' signing secrets, under their context only", () => {
    const webhookCondition = {
      "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": ["webhook_endpoint", "workspace"] },
      Null: { "kms:EncryptionContext:webhook_endpoint": "false" },
    };
    const onKey = (fn: Parameters<typeof statementsOf>[1]) =>
      statementsOf(template, fn).filter((s) => JSON.stringify(s.Resource) === JSON.stringify(keyArn()));
    const deliver = onKey(stack.runtime.outcomes.functions["webhook-deliver"]);
    // Decrypt only, and never under a vault credential's context (it reads the whole resources table).
    expect(deliver.flatMap(actionsOf)).toEqual(["kms:Decrypt"]);
    expect((deliver[0] as unknown as { Condition: unknown }).Condition).toEqual(webhookCondition);
    const sealing = onKey(stack.runtime.functions["api-workspace"]).filter(
      (s) =>
        JSON.stringify((s as unknown as { Condition: unknown }).Condition) ===
        JSON.stringify(webhookCondition),
    );
    expect(sealing.flatMap(actionsOf)).toEqual(["kms:GenerateDataKey"]);
    // agent-step opens vault credentials only.
    for (const statement of onKey(stack.runtime.functions["agent-step"]))
      expect(JSON.stringify((statement as unknown as { Condition: unknown }).Condition)).not.toContain(
        "webhook_endpoint",
      );
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
