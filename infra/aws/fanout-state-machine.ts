/**
 * The multiagent fan-out on Step Functions: a Standard state machine whose definition is the ASL
 * object in shared/infra-spec (the same object the embedded stack executes), with logging ALL,
 * X-Ray tracing, and a role that may only send to the agent-steps queue.
 */
import { RemovalPolicy, Validations } from "aws-cdk-lib";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import * as sfn from "aws-cdk-lib/aws-stepfunctions";
import { Construct } from "constructs";
import { fanoutStateMachineDefinition } from "../../shared/infra-spec/fanout-state-machine.js";

export interface FanoutStateMachineProps {
  /** agent-steps: where thread dispatches and the coordinator's resume go. */
  readonly queue: sqs.IQueue;
  /** Functions that start fan-outs and answer their tasks (the agent step). */
  readonly callers: lambda.Function[];
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

export class FanoutStateMachine extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: FanoutStateMachineProps) {
    super(scope, id);
    const logGroup = new logs.LogGroup(this, "ExecutionLogs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.stateMachine = new sfn.StateMachine(this, "StateMachine", {
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromString(JSON.stringify(fanoutStateMachineDefinition)),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    props.queue.grantSendMessages(this.stateMachine);
    for (const fn of props.callers) {
      this.stateMachine.grantStartExecution(fn);
      this.stateMachine.grantTaskResponse(fn);
      fn.addEnvironment("REVERIE_FANOUT_STATE_MACHINE_ARN", this.stateMachine.stateMachineArn);
    }
    const role = this.stateMachine.role as iam.Role;
    if (props.queue.encryptionMasterKey) {
      for (const action of ["kms:GenerateDataKey*", "kms:ReEncrypt*"]) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason:
            "CDK's grant to send to the queue encrypted with the customer-managed key, scoped to that key.",
        });
      }
    }
    Validations.of(role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "CloudWatch Logs vended delivery and X-Ray trace segments take no resource-level permissions (CDK's standard state machine logging/tracing policy).",
    });
  }
}
