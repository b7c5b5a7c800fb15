/**
 * Workflow runs on Step Functions: one state machine and one execution per run, idempotent starts,
 * stops that delete the machine, and — the point of one compiler — the definition AWS is given is
 * exactly the object the embedded stack executes for the same plan.
 */
import {
  CreateStateMachineCommand,
  DeleteStateMachineCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  SFNClient,
  StartExecutionCommand,
  StopExecutionCommand,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { SfnWorkflowOrchestrator } from "../../shared/adapters/aws/sfn-workflow-orchestrator.js";
import { LocalWorkflowOrchestrator } from "../../shared/adapters/local/local-workflow-orchestrator.js";
import { validateWorkflowPlan } from "../../shared/core/workflows/workflow-plan.js";
import { compileWorkflowStateMachine } from "../../shared/infra-spec/workflow-state-machine.js";
import { planContext, reviewPlan } from "../fixtures/workflow-plans.js";

const sfn = mockClient(SFNClient);
const options = {
  client: new SFNClient({}),
  roleArn: "arn:aws:iam::123456789012:role/wf",
  logGroupArn: "arn:aws:logs:us-east-1:123456789012:log-group:wf:*",
  stateMachineArnPrefix: "arn:aws:states:us-east-1:123456789012:stateMachine:",
  namePrefix: "reverie-wf",
};
const run = "wfrun_01ABC";

afterEach(() => {
  sfn.reset();
});

function compiled() {
  const result = validateWorkflowPlan(reviewPlan, planContext);
  if (!result.ok) throw new Error(result.message);
  return compileWorkflowStateMachine(result.plan.program);
}

describe("SfnWorkflowOrchestrator", () => {
  it("creates the run's Standard state machine (logging ALL, X-Ray, the workflow role), then starts it", async () => {
    sfn.on(CreateStateMachineCommand).resolves({ stateMachineArn: "x", creationDate: new Date() });
    sfn.on(StartExecutionCommand).resolves({ executionArn: "y", startDate: new Date() });
    await new SfnWorkflowOrchestrator(options).start(run, compiled(), { runId: run });
    const create = sfn.commandCalls(CreateStateMachineCommand)[0]?.args[0].input;
    expect(create).toMatchObject({
      name: "reverie-wf-wfrun_01ABC",
      roleArn: options.roleArn,
      type: "STANDARD",
      loggingConfiguration: {
        level: "ALL",
        includeExecutionData: true,
        destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: options.logGroupArn } }],
      },
      tracingConfiguration: { enabled: true },
    });
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: `${options.stateMachineArnPrefix}reverie-wf-wfrun_01ABC`,
      name: run,
      input: JSON.stringify({ runId: run }),
    });
  });

  it("gives AWS exactly the definition the embedded stack executes for the same plan", async () => {
    sfn.on(CreateStateMachineCommand).resolves({ stateMachineArn: "x", creationDate: new Date() });
    sfn.on(StartExecutionCommand).resolves({ executionArn: "y", startDate: new Date() });
    await new SfnWorkflowOrchestrator(options).start(run, compiled(), {});
    const local = new LocalWorkflowOrchestrator({ send: async () => {}, logger: console as never });
    await local.start(run, compiled(), {
      schemaVersion: 1,
      queueUrl: "q",
      workspaceId: "w",
      sessionId: "s",
      runId: run,
      items: {},
      results: {},
    });
    const deployed = JSON.parse(
      sfn.commandCalls(CreateStateMachineCommand)[0]?.args[0].input.definition as string,
    );
    expect(deployed).toEqual(local.definitionOf(run));
    await local.stop(run);
  });

  it("treats a second start as done, and stops an ended run quietly, deleting its machine", async () => {
    sfn.on(CreateStateMachineCommand).resolves({ stateMachineArn: "x", creationDate: new Date() });
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: "exists", $metadata: {} }));
    sfn.on(StopExecutionCommand).rejects(new ExecutionDoesNotExist({ message: "gone", $metadata: {} }));
    sfn.on(DeleteStateMachineCommand).resolves({});
    const o = new SfnWorkflowOrchestrator(options);
    await expect(o.start(run, compiled(), {})).resolves.toBeUndefined();
    await expect(o.stop(run)).resolves.toBeUndefined();
    expect(sfn.commandCalls(StopExecutionCommand)[0]?.args[0].input.executionArn).toBe(
      "arn:aws:states:us-east-1:123456789012:execution:reverie-wf-wfrun_01ABC:wfrun_01ABC",
    );
    expect(sfn.commandCalls(DeleteStateMachineCommand)[0]?.args[0].input.stateMachineArn).toBe(
      `${options.stateMachineArnPrefix}reverie-wf-wfrun_01ABC`,
    );
  });
});
