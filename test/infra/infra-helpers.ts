/** Shared helpers of the infra tests: the app context of cdk.json, nag runs, IAM statement lookup. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Stack, Validations } from "aws-cdk-lib";
import type { Template } from "aws-cdk-lib/assertions";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { AwsSolutionsChecks, ServerlessChecks } from "cdk-nag";
import type { IConstruct } from "constructs";

const repoRoot = join(import.meta.dirname, "..", "..");

/** The context `cdk synth` runs with (feature flags from cdk.json), so tests synthesize the same thing. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(repoRoot, "cdk.json"), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return { ...cdkJson.context };
}

/** Every unacknowledged AwsSolutions and Serverless finding (errors and warnings) under `scope`. */
export function nagFindings(scope: IConstruct): string[] {
  return [new AwsSolutionsChecks(), new ServerlessChecks()].flatMap((pack) =>
    pack
      .validateScope(scope)
      .violations.flatMap((v) =>
        v.violatingResources.map((r) => `${v.severity} ${v.ruleName} at ${r.constructPath}`),
      ),
  );
}

/** Every acknowledgement recorded under `scope`: rule id → reason. */
export function acknowledgements(scope: IConstruct): Array<{ id: string; reason: string; path: string }> {
  const found: Array<{ id: string; reason: string; path: string }> = [];
  for (const node of scope.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.push({ id: id.replace(/^annotation::/i, ""), reason, path: node.node.path });
      }
    }
  }
  return found;
}

export interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

export const actionsOf = (s: Statement): string[] => (Array.isArray(s.Action) ? s.Action : [s.Action]);

/** The identity-policy statements attached to a function's execution role. */
export function statementsOf(template: Template, fn: lambda.IFunction): Statement[] {
  const role = fn.role as iam.Role;
  const roleId = Stack.of(role).getLogicalId(role.node.defaultChild as iam.CfnRole);
  const policies = template.findResources("AWS::IAM::Policy");
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as Array<{ Ref?: string }>).some((r) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

/** The CloudFormation logical id of an L2 construct's default child. */
export function logicalIdOf(construct: IConstruct): string {
  const cfn = construct.node.defaultChild as import("aws-cdk-lib").CfnElement;
  return Stack.of(construct).getLogicalId(cfn);
}
