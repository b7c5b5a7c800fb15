/**
 * CDK app entry (cdk.json: `npx tsx infra/aws/app.ts`). Environment-agnostic: no account or region
 * lookups, so `cdk synth` works offline. cdk-nag v3 runs as a policy-validation plugin
 * (`Validations.of(app).addPlugins`): any unacknowledged AwsSolutions or Serverless finding fails
 * synthesis. Acknowledgements, each with its reason, sit next to the resource they concern
 * (infra/aws/reverie-runtime.ts).
 *
 * Context (`-c key=value`): stackName, modelProvider (anthropic|bedrock|simulated), anthropicSecretArn
 * (an existing secret's complete ARN), alarmTopicArn, removalPolicy (retain|destroy), stageName.
 */
import { App, RemovalPolicy, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import type { ModelProviderName } from "./reverie-runtime.js";
import { ReverieStack } from "./reverie-stack.js";

const app = new App();
const context = (key: string): string | undefined => {
  const value: unknown = app.node.tryGetContext(key);
  return typeof value === "string" && value !== "" ? value : undefined;
};

const modelProvider = context("modelProvider");
if (modelProvider !== undefined && !["anthropic", "bedrock", "simulated"].includes(modelProvider)) {
  throw new Error(`context modelProvider must be anthropic, bedrock or simulated, got "${modelProvider}"`);
}
const removal = context("removalPolicy");
if (removal !== undefined && removal !== "retain" && removal !== "destroy") {
  throw new Error(`context removalPolicy must be retain or destroy, got "${removal}"`);
}

new ReverieStack(app, context("stackName") ?? "Reverie", {
  description: "Reverie: self-hosted, API-compatible Claude Managed Agents",
  anthropicSecretArn: context("anthropicSecretArn"),
  alarmTopicArn: context("alarmTopicArn"),
  runtime: {
    modelProvider: modelProvider as ModelProviderName | undefined,
    removalPolicy: removal === "destroy" ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    deletionProtection: removal !== "destroy",
    stageName: context("stageName"),
  },
});

// writeSuppressionsToCloudFormation copies each acknowledgement (id + reason) into the template's
// Metadata (`cdk_nag.rules_to_suppress`), so the audit trail ships with what gets deployed.
Validations.of(app).addPlugins(
  new AwsSolutionsChecks(app, { writeSuppressionsToCloudFormation: true }),
  new ServerlessChecks(app),
);
