/**
 * Secrets at rest on AWS — vault credentials and webhook signing secrets: a customer-managed KMS key
 * (yearly rotation) that seals them by envelope encryption (shared/adapters/aws/kms-secret-sealer.ts).
 * Least privilege: only the functions that write secrets may generate data keys, only those that use
 * them may decrypt (webhook-deliver: {@link ReverieVaults.grantOpen}), and both only with Reverie's
 * encryption context (workspace, vault, credential; a webhook endpoint's secret: workspace and the
 * endpoint's id as its credential).
 */
import { type RemovalPolicy, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";

/** The encryption context keys every seal carries (vault-records.ts `sealContext`). */
export const SECRET_CONTEXT_KEYS = ["credential", "vault", "workspace"] as const;

export interface ReverieVaultsProps {
  /** Functions that seal credentials (create, update, a refreshed token): kms:GenerateDataKey. */
  writers: lambda.Function[];
  /** Functions that open credentials at the moment of use: kms:Decrypt. */
  readers: lambda.Function[];
  removalPolicy: RemovalPolicy;
}

export class ReverieVaults extends Construct {
  /**
   * Seals vault credentials and webhook signing secrets; its id goes to the functions as
   * REVERIE_SECRETS_KMS_KEY_ID.
   */
  readonly key: kms.Key;

  constructor(scope: Construct, id: string, props: ReverieVaultsProps) {
    super(scope, id);
    this.key = new kms.Key(this, "SecretsKey", {
      description: `Reverie secrets: vault credentials, webhook signing secrets (${Stack.of(this).stackName})`,
      enableKeyRotation: true,
      removalPolicy: props.removalPolicy,
    });
    for (const fn of props.writers) this.grant(fn, "kms:GenerateDataKey");
    for (const fn of props.readers) this.grantOpen(fn);
  }

  /** Lets a function open sealed secrets (KMS Decrypt under the context's conditions). */
  grantOpen(fn: lambda.Function): void {
    this.grant(fn, "kms:Decrypt");
  }

  private grant(fn: lambda.Function, action: string): void {
    // Only data keys bound to a secret: the context must be present and name exactly our keys.
    const conditions = {
      "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": [...SECRET_CONTEXT_KEYS] },
      Null: { "kms:EncryptionContextKeys": "false" },
    };
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: [action], resources: [this.key.keyArn], conditions }),
    );
    fn.addEnvironment("REVERIE_SECRETS_KMS_KEY_ID", this.key.keyArn);
  }
}
