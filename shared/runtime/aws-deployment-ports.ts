/**
 * The deployments context on AWS, for the entries that serve deployments or start their runs
 * (`awsServices(withDeployments)`): its wiring and EventBridge Scheduler, when configured.
 */
import { EventBridgeDeploymentScheduler } from "../adapters/aws/eventbridge-deployment-scheduler.js";
import { awsClients } from "./aws-clients.js";
import type { Config } from "./config.js";
import type { Ports } from "./container.js";
import { buildDeployments } from "./deployment-wiring.js";

/** `awsServices(withDeployments)`: the services with the deployments context wired. */
export const withDeployments = (config: Config): Partial<Ports> => {
  const group = config.REVERIE_DEPLOYMENT_SCHEDULE_GROUP;
  const target = config.REVERIE_DEPLOYMENT_RUNNER_FUNCTION_ARN;
  const role = config.REVERIE_DEPLOYMENT_SCHEDULER_ROLE_ARN;
  return {
    deploying: buildDeployments,
    deploymentTrigger:
      group && target && role
        ? new EventBridgeDeploymentScheduler({
            client: awsClients().scheduler,
            groupName: group,
            targetArn: target,
            roleArn: role,
          })
        : undefined,
  };
};
