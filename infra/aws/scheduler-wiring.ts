/**
 * An EventBridge Scheduler group whose schedules invoke one Lambda, as Reverie creates them at run
 * time (dream schedules, deployments): the group, the role Scheduler assumes (this account only,
 * invoke that function only), and the grants that let the managing functions create, update and
 * delete schedules in that group alone and hand Scheduler that role alone.
 */
import { Stack, Validations } from "aws-cdk-lib";
import * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import * as scheduler from "aws-cdk-lib/aws-scheduler";
import type { Construct } from "constructs";

export interface ScheduledTargetProps {
  /** Construct ids of the group and of the role. */
  readonly groupId: string;
  readonly roleId: string;
  /** The group's name suffix: `<stack>-<suffix>`. */
  readonly groupSuffix: string;
  /** The function every schedule in the group invokes. */
  readonly target: lambda.Function;
  /** The functions that create, update and delete the schedules. */
  readonly managers: readonly lambda.Function[];
  /** The target's name and what the schedules are, for the acknowledgements' reasons. */
  readonly targetName: string;
  readonly what: string;
  /** The role's description. */
  readonly roleDescription: string;
}

export interface ScheduledTarget {
  readonly group: scheduler.CfnScheduleGroup;
  /** The role EventBridge Scheduler assumes to invoke the target. */
  readonly role: iam.Role;
}

export function scheduledTarget(scope: Construct, props: ScheduledTargetProps): ScheduledTarget {
  const stack = Stack.of(scope);
  const group = new scheduler.CfnScheduleGroup(scope, props.groupId, {
    name: `${stack.stackName}-${props.groupSuffix}`.slice(0, 64),
  });
  const role = new iam.Role(scope, props.roleId, {
    assumedBy: new iam.ServicePrincipal("scheduler.amazonaws.com", {
      conditions: { StringEquals: { "aws:SourceAccount": stack.account } },
    }),
    description: props.roleDescription,
  });
  props.target.grantInvoke(role);
  Validations.of(role).acknowledge({
    id: `AwsSolutions-IAM5[Resource::<${stack.getLogicalId(props.target.node.defaultChild as lambda.CfnFunction)}.Arn>:*]`,
    reason: `grantInvoke on the ${props.targetName} function covers its versions and aliases (…:*); no other function.`,
  });
  const schedulesArn = stack.formatArn({
    service: "scheduler",
    resource: "schedule",
    resourceName: `${group.name}/*`,
  });
  for (const fn of props.managers) {
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ["scheduler:CreateSchedule", "scheduler:UpdateSchedule", "scheduler:DeleteSchedule"],
        resources: [schedulesArn],
      }),
    );
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ["iam:PassRole"], resources: [role.roleArn] }));
    Validations.of(fn.role as iam.Role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:schedule/${group.name}/*]`,
      reason: `${props.what} are created at run time, inside Reverie's own schedule group only.`,
    });
  }
  return { group, role };
}
