/**
 * Workflow runs on Step Functions: every run's plan is compiled to its own ASL (shared/infra-spec/
 * workflow-state-machine.ts) and created at run time as a Standard state machine named
 * `<prefix>-<run>` (shared/adapters/aws/sfn-workflow-orchestrator.ts). What is deployed here is
 * what those machines share: the role they run as (it may only send to the agent-steps queue, and
 * deliver logs and traces), their log group, and the callers' rights — create, start, stop and delete
 * machines and executions under the prefix only, pass exactly this role to Step Functions only, and
 * answer their tasks.
 */
import { ArnFormat, RemovalPolicy, Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";

export interface WorkflowRunsProps {
  /** agent-steps: where workflow tasks, phase markers and run ends go. */
  readonly queue: sqs.IQueue;
  /** Functions that start, stop and answer workflow runs (the agent step; the sweeper answers tasks). */
  readonly callers: lambda.Function[];
  /** State machine names start with `<namePrefix>-`; default: the stack name, then `-wf`. */
  readonly namePrefix?: string;
  readonly logRetention?: logs.RetentionDays;
  readonly removalPolicy?: RemovalPolicy;
}

export class WorkflowRuns extends Construct {
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly namePrefix: string;

  constructor(scope: Construct, id: string, props: WorkflowRunsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.namePrefix = props.namePrefix ?? `${stack.stackName}-wf`.slice(0, 40);
    this.logGroup = new logs.LogGroup(this, "ExecutionLogs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    this.role = new iam.Role(this, "StateMachineRole", {
      assumedBy: new iam.ServicePrincipal("states.amazonaws.com"),
      description: "The role every workflow run's state machine runs as",
    });
    props.queue.grantSendMessages(this.role);
    // Step Functions' vended log delivery and X-Ray (as CDK grants a state machine with logging and tracing).
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          "logs:CreateLogDelivery",
          "logs:GetLogDelivery",
          "logs:UpdateLogDelivery",
          "logs:DeleteLogDelivery",
          "logs:ListLogDeliveries",
          "logs:PutResourcePolicy",
          "logs:DescribeResourcePolicies",
          "logs:DescribeLogGroups",
          "xray:PutTraceSegments",
          "xray:PutTelemetryRecords",
          "xray:GetSamplingRules",
          "xray:GetSamplingTargets",
        ],
        resources: ["*"],
      }),
    );
    const machines = stack.formatArn({
      service: "states",
      resource: "stateMachine",
      resourceName: `${this.namePrefix}-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const executions = stack.formatArn({
      service: "states",
      resource: "execution",
      resourceName: `${this.namePrefix}-*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const stateMachineArnPrefix = stack.formatArn({
      service: "states",
      resource: "stateMachine",
      resourceName: "",
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    for (const fn of props.callers) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: [
            "states:CreateStateMachine",
            "states:DeleteStateMachine",
            "states:StartExecution",
            "states:SendTaskSuccess",
            "states:SendTaskFailure",
            "states:SendTaskHeartbeat",
          ],
          resources: [machines],
        }),
      );
      fn.addToRolePolicy(
        new iam.PolicyStatement({ actions: ["states:StopExecution"], resources: [`${executions}:*`] }),
      );
      this.role.grantPassRole(fn.grantPrincipal);
      fn.addEnvironment("REVERIE_WORKFLOW_ROLE_ARN", this.role.roleArn);
      fn.addEnvironment("REVERIE_WORKFLOW_LOG_GROUP_ARN", this.logGroup.logGroupArn);
      fn.addEnvironment("REVERIE_WORKFLOW_STATE_MACHINE_ARN_PREFIX", stateMachineArnPrefix);
      fn.addEnvironment("REVERIE_WORKFLOW_NAME_PREFIX", this.namePrefix);
      // cdk-nag names a resource with its pseudo parameters written as <AWS::…>.
      const nagArn = (type: string) =>
        `arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:${type}:${this.namePrefix}-*`;
      for (const resource of [`Resource::${nagArn("stateMachine")}`, `Resource::${nagArn("execution")}:*`])
        Validations.of(fn.role as iam.Role).acknowledge({
          id: `AwsSolutions-IAM5[${resource}]`,
          reason:
            "Workflow runs are state machines created at run time, one per plan; the grant is limited to the names under this deployment's workflow prefix.",
        });
    }
    if (props.queue.encryptionMasterKey) {
      for (const action of ["kms:GenerateDataKey*", "kms:ReEncrypt*"]) {
        Validations.of(this.role).acknowledge({
          id: `AwsSolutions-IAM5[Action::${action}]`,
          reason:
            "CDK's grant to send to the queue encrypted with the customer-managed key, scoped to that key.",
        });
      }
    }
    Validations.of(this.role).acknowledge({
      id: "AwsSolutions-IAM5[Resource::*]",
      reason:
        "CloudWatch Logs vended delivery and X-Ray trace segments take no resource-level permissions (the same policy CDK gives a state machine with logging and tracing).",
    });
  }
}
