/**
 * `ReverieRuntime`'s optional configurations (customer KMS key, Bedrock, imported secret, WAF, alarm
 * topic, execution logging off) stay cdk-nag clean and wire what they promise. Bundling is skipped here
 * (`aws:cdk:bundling-stacks: []`): reverie-stack.test.ts measures the real bundles.
 */
import { App, Duration, RemovalPolicy, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import * as kms from "aws-cdk-lib/aws-kms";
import * as sns from "aws-cdk-lib/aws-sns";
import { beforeAll, describe, expect, it } from "vitest";
import { ReverieRuntime } from "../../infra/aws/reverie-runtime.js";
import { ReverieStack } from "../../infra/aws/reverie-stack.js";
import { actionsOf, cdkJsonContext, logicalIdOf, nagFindings, statementsOf } from "./infra-helpers.js";

const importedSecretArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:reverie/anthropic-AbCdEf";
const webAclArn = "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/reverie/0000-1111";

let bedrockStack: Stack;
let bedrock: ReverieRuntime;
let bedrockTemplate: Template;
let alarmTopic: sns.Topic;
let importedStack: ReverieStack;
let importedTemplate: Template;

beforeAll(() => {
  const app = new App({ context: { ...cdkJsonContext(), "aws:cdk:bundling-stacks": [] } });
  bedrockStack = new Stack(app, "BedrockKms");
  const key = new kms.Key(bedrockStack, "Key", { enableKeyRotation: true });
  alarmTopic = new sns.Topic(bedrockStack, "Alarms", { enforceSSL: true, masterKey: key });
  bedrock = new ReverieRuntime(bedrockStack, "Reverie", {
    modelProvider: "bedrock",
    encryptionKey: key,
    alarmTopic,
    webAclArn,
    apiExecutionLogging: false,
    removalPolicy: RemovalPolicy.DESTROY,
    deletionProtection: false,
    stageName: "live",
    authorizerCacheTtl: Duration.seconds(60),
    reservedConcurrency: { sweeper: 1 },
  });
  importedStack = new ReverieStack(app, "Imported", {
    anthropicSecretArn: importedSecretArn,
    runtime: { modelProvider: "anthropic" },
  });
  bedrockTemplate = Template.fromStack(bedrockStack);
  importedTemplate = Template.fromStack(importedStack);
}, 120_000);

describe("customer KMS key, Bedrock, WAF, alarm topic", () => {
  it("stays cdk-nag clean", () => {
    expect(nagFindings(bedrock)).toEqual([]);
  });

  it("encrypts tables, agent-steps queues and the workspace bucket with the key", () => {
    const keyArn = { "Fn::GetAtt": [Match.stringLikeRegexp("^Key"), "Arn"] };
    bedrockTemplate.hasResourceProperties("AWS::DynamoDB::Table", {
      SSESpecification: { SSEEnabled: true, SSEType: "KMS", KMSMasterKeyId: keyArn },
    });
    bedrockTemplate.hasResourceProperties("AWS::SQS::Queue", {
      KmsMasterKeyId: keyArn,
      RedrivePolicy: Match.anyValue(),
    });
    bedrockTemplate.hasResourceProperties("AWS::S3::Bucket", {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            ServerSideEncryptionByDefault: { SSEAlgorithm: "aws:kms", KMSMasterKeyID: keyArn },
          }),
        ],
      },
    });
  });

  it("creates no Anthropic secret and lets the model callers invoke Anthropic models on Bedrock only", () => {
    bedrockTemplate.resourceCountIs("AWS::SecretsManager::Secret", 0);
    expect(bedrock.anthropicSecret).toBeUndefined();
    for (const fn of [
      bedrock.functions["agent-step"],
      bedrock.functions["dream-worker"],
      bedrock.outcomes.functions.grader,
    ]) {
      const invoke = statementsOf(bedrockTemplate, fn).find((s) =>
        actionsOf(s).includes("bedrock:InvokeModel"),
      );
      expect(JSON.stringify(invoke?.Resource)).toContain("foundation-model/anthropic.");
    }
    for (const name of ["api", "api-stream", "authorizer", "sweeper", "dream-scheduler"] as const) {
      const actions = statementsOf(bedrockTemplate, bedrock.functions[name]).flatMap(actionsOf);
      expect(
        actions.some((a) => a.startsWith("bedrock:")),
        name,
      ).toBe(false);
    }
    const env =
      bedrockTemplate.findResources("AWS::Lambda::Function")[logicalIdOf(bedrock.functions["agent-step"])]
        ?.Properties.Environment.Variables;
    expect(env.REVERIE_MODEL_PROVIDER).toBe("bedrock");
    expect(env.REVERIE_ANTHROPIC_SECRET_ARN).toBeUndefined();
  });

  it("associates the web ACL with the stage and sends alarms to the topic", () => {
    bedrockTemplate.hasResourceProperties("AWS::WAFv2::WebACLAssociation", { WebACLArn: webAclArn });
    const alarms = Object.values(bedrockTemplate.findResources("AWS::CloudWatch::Alarm"));
    // + the dream-jobs DLQ alarm and the deployments' failed-firings alarm
    expect(alarms.length).toBe(3 + bedrock.outcomes.alarms.length + 1 + bedrock.deployments.alarms.length);
    for (const alarm of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: logicalIdOf(alarmTopic) }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: logicalIdOf(alarmTopic) }]);
    }
  });

  it("honours stage name, authorizer TTL, reserved concurrency, and no execution logging", () => {
    bedrockTemplate.hasResourceProperties("AWS::ApiGateway::Stage", { StageName: "live" });
    bedrockTemplate.hasResourceProperties("AWS::ApiGateway::Authorizer", {
      AuthorizerResultTtlInSeconds: 60,
    });
    bedrockTemplate.resourceCountIs("AWS::ApiGateway::Account", 0);
    bedrockTemplate.hasResourceProperties("AWS::Lambda::Function", { ReservedConcurrentExecutions: 1 });
    bedrockTemplate.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Delete" });
  });
});

describe("imported Anthropic secret", () => {
  it("stays cdk-nag clean and creates no secret of its own", () => {
    expect(nagFindings(importedStack)).toEqual([]);
    importedTemplate.resourceCountIs("AWS::SecretsManager::Secret", 0);
  });

  it("grants agent-step read on exactly that secret and passes its ARN", () => {
    const step = importedStack.runtime.functions["agent-step"];
    const read = statementsOf(importedTemplate, step).find((s) =>
      actionsOf(s).includes("secretsmanager:GetSecretValue"),
    );
    expect(read?.Resource).toBe(importedSecretArn);
    const env =
      importedTemplate.findResources("AWS::Lambda::Function")[logicalIdOf(step)]?.Properties.Environment
        .Variables;
    expect(env.REVERIE_ANTHROPIC_SECRET_ARN).toBe(importedSecretArn);
    expect(env.REVERIE_MODEL_PROVIDER).toBe("anthropic");
    importedTemplate.hasOutput("AnthropicSecretName", Match.anyValue());
  });
});
