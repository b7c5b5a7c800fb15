/**
 * Lambda entry: the target of every deployment's EventBridge Scheduler schedule. One firing → at
 * most one run (a session from the deployment) per scheduled time; a duplicate delivery finds the
 * same run, and a retry of a run a crash cut short finishes it without a second session. Also the
 * target of the recovery rule (`{ kind: "sweep" }`, on the sweeper's cadence), which only finishes
 * the runs a dead worker left pending.
 */
import {
  deploymentFiringSchema,
  deploymentSweepSchema,
} from "../shared/core/deployments/deployment-trigger.js";
import { withDeployments } from "../shared/runtime/aws-deployment-ports.js";
import { awsServices } from "../shared/runtime/aws-services.js";
import { deploymentsOf } from "../shared/runtime/deployment-wiring.js";
import { buildSkills } from "../shared/runtime/skills-wiring.js";

export const handler = async (event: unknown, context?: { invokedFunctionArn?: string }) => {
  const sweep = deploymentSweepSchema.safeParse(event).success;
  const firing = sweep ? undefined : deploymentFiringSchema.parse(event);
  // Its own ARN (the target it re-writes when a run auto-pauses a deployment) comes from the
  // invocation: CloudFormation cannot put a function's ARN into its own environment.
  // A run starts a session like the API does, so it needs the skills wiring to pin its agent's skills.
  const services = await awsServices((config) => ({
    ...withDeployments({
      ...config,
      REVERIE_DEPLOYMENT_RUNNER_FUNCTION_ARN:
        config.REVERIE_DEPLOYMENT_RUNNER_FUNCTION_ARN ?? context?.invokedFunctionArn,
    }),
    skilling: buildSkills,
  }));
  const { runner } = deploymentsOf(services);
  if (!firing) {
    const recovered = await runner.sweep();
    services.logger.info("deployment runs swept", { recovered });
    return { kind: "swept", recovered };
  }
  const outcome = await runner.fire(firing);
  // Then any run a crash left unfinished past its lease (a run-now whose API call died, a firing
  // whose retries ran out): rare, and finished here rather than by a function that can reach less.
  const recovered = await runner.sweep();
  services.logger.info("deployment fired", {
    deploymentId: firing.deploymentId,
    scheduledTime: firing.scheduledTime,
    outcome: outcome.kind,
    runId: "run" in outcome ? outcome.run.id : "runId" in outcome ? outcome.runId : undefined,
    recovered,
  });
  return { kind: outcome.kind, recovered };
};
