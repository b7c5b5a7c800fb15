/**
 * `ReverieStack`: one deployable stack around {@link ReverieRuntime}, with the outputs a team needs to
 * point the official SDK at it (`new Anthropic({ baseURL: ApiUrl })`) and to operate it.
 */
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import * as sns from "aws-cdk-lib/aws-sns";
import type { Construct } from "constructs";
import { ReverieConsole } from "./reverie-console.js";
import { ReverieRuntime, type ReverieRuntimeProps } from "./reverie-runtime.js";

export interface ReverieStackProps extends StackProps {
  /** Passed through to the runtime construct. */
  readonly runtime?: ReverieRuntimeProps;
  /** Complete ARN of an existing Anthropic key secret (instead of `runtime.anthropicSecret`). */
  readonly anthropicSecretArn?: string;
  /** ARN of an existing SNS topic for alarms (instead of `runtime.alarmTopic`). */
  readonly alarmTopicArn?: string;
  /** Serve the web console at `<ApiUrl>console/` (default true). */
  readonly webConsole?: boolean;
}

export class ReverieStack extends Stack {
  readonly runtime: ReverieRuntime;
  /** The web console on the API (issue 14), unless turned off with `webConsole: false`. */
  readonly webConsole?: ReverieConsole;

  constructor(scope: Construct, id: string, props: ReverieStackProps = {}) {
    super(scope, id, props);
    const runtimeProps: ReverieRuntimeProps = { ...props.runtime };
    const anthropicSecret = props.anthropicSecretArn
      ? secretsmanager.Secret.fromSecretCompleteArn(this, "ImportedAnthropicSecret", props.anthropicSecretArn)
      : runtimeProps.anthropicSecret;
    const alarmTopic = props.alarmTopicArn
      ? sns.Topic.fromTopicArn(this, "ImportedAlarmTopic", props.alarmTopicArn)
      : runtimeProps.alarmTopic;
    this.runtime = new ReverieRuntime(this, "Runtime", { ...runtimeProps, anthropicSecret, alarmTopic });

    const r = this.runtime;
    new CfnOutput(this, "ApiUrl", {
      value: r.api.url,
      description: "Base URL for the SDK: new Anthropic({ baseURL: ApiUrl, apiKey })",
    });
    if (props.webConsole ?? true) {
      this.webConsole = new ReverieConsole(this, "Console", {
        api: r.api,
        logRetention: runtimeProps.logRetention,
        removalPolicy: runtimeProps.removalPolicy,
      });
      new CfnOutput(this, "ConsoleUrl", {
        value: `${r.api.url}${this.webConsole.path}`,
        description: "The web console: sign in with an API key",
      });
    }
    new CfnOutput(this, "ResourcesTableName", { value: r.tables.resources.tableName });
    new CfnOutput(this, "EventsTableName", { value: r.tables.events.tableName });
    new CfnOutput(this, "AgentStepsQueueUrl", { value: r.agentStepsQueue.queueUrl });
    new CfnOutput(this, "AgentStepsDeadLetterQueueUrl", { value: r.agentStepsDeadLetterQueue.queueUrl });
    new CfnOutput(this, "WorkspaceBucketName", { value: r.workspaceBucket.bucketName });
    new CfnOutput(this, "OutcomesTopicArn", { value: r.outcomes.outcomesTopic.topicArn });
    new CfnOutput(this, "EventBusName", { value: r.outcomes.eventBus.eventBusName });
    if (r.anthropicSecret) {
      new CfnOutput(this, "AnthropicSecretName", {
        value: r.anthropicSecret.secretName,
        description: "Put the Anthropic API key here: aws secretsmanager put-secret-value --secret-id <name>",
      });
    }
  }
}
