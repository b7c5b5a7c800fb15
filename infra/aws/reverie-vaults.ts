/**
 * Secrets at rest on AWS — vault credentials and webhook signing secrets: a customer-managed KMS key
 * (yearly rotation) that seals them by envelope encryption (shared/adapters/aws/kms-secret-sealer.ts).
 * Least privilege: only the functions that write secrets may generate data keys, only those that use
 * them may decrypt, and both only with Reverie's encryption context: a vault credential's (workspace,
 * vault, credential) or a webhook endpoint's ({@link ReverieVaults.grantWebhookSecrets}: workspace,
 * webhook_endpoint) — so webhook-deliver, which may open the latter only, opens no vault credential.
 */
import { type RemovalPolicy, Stack } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import * as kms from "aws-cdk-lib/aws-kms";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";

/** The encryption context keys every vault credential's seal carries (vault-records.ts `sealContext`). */
export const SECRET_CONTEXT_KEYS = ["credential", "vault", "workspace"] as const;

/** The encryption context keys of a webhook endpoint's signing secret (webhook-records.ts). */
export const WEBHOOK_SECRET_CONTEXT_KEYS = ["webhook_endpoint", "workspace"] as const;

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
    // Vault credentials: a context present, of exactly the vault keys.
    const vault = {
      "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": [...SECRET_CONTEXT_KEYS] },
      Null: { "kms:EncryptionContextKeys": "false" },
    };
    for (const fn of props.writers) this.grant(fn, "kms:GenerateDataKey", vault);
    for (const fn of props.readers) this.grant(fn, "kms:Decrypt", vault);
  }

  /**
   * Webhook signing secrets: `sealers` seal them (the API's webhooks routes), `openers` open them (the
   * deliverer) — each only under the webhook context (its endpoint named), so a vault credential's
   * envelope never opens for a function granted only this.
   */
  grantWebhookSecrets({
    sealers,
    openers,
  }: {
    sealers: lambda.Function[];
    openers: lambda.Function[];
  }): void {
    const webhook = {
      "ForAllValues:StringEquals": { "kms:EncryptionContextKeys": [...WEBHOOK_SECRET_CONTEXT_KEYS] },
      Null: { "kms:EncryptionContext:webhook_endpoint": "false" },
    };
    for (const fn of sealers) this.grant(fn, "kms:GenerateDataKey", webhook);
    for (const fn of openers) this.grant(fn, "kms:Decrypt", webhook);
  }

  private grant(fn: lambda.Function, action: string, conditions: Record<string, unknown>): void {
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: [action], resources: [this.key.keyArn], conditions }),
    );
    fn.addEnvironment("REVERIE_SECRETS_KMS_KEY_ID", this.key.keyArn);
  }
}
