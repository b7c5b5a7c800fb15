/**
 * Workflow runs on AWS Step Functions: each run's compiled plan becomes its own Standard state
 * machine (`<prefix>-<run>`, the workflow role, logging ALL to the workflows' log group, X-Ray)
 * and one execution of it. Duplicates are harmless: CreateStateMachine with the same name,
 * definition and role returns the existing machine, a second StartExecution of the same name is
 * ExecutionAlreadyExists, and stopping an ended or deleted run changes nothing. When a run ends its
 * state machine is deleted (its execution history stays in CloudWatch Logs).
 */
import type { SFNClient } from "@aws-sdk/client-sfn";
import type { WorkflowOrchestrator } from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

type Sfn = typeof import("@aws-sdk/client-sfn");

/** Errors that mean "already done or no longer wanted" — never worth a retry. */
const settled = new Set([
  "ExecutionAlreadyExists",
  "ExecutionDoesNotExist",
  "StateMachineDoesNotExist",
  "StateMachineDeleting",
  "TaskDoesNotExist",
  "TaskTimedOut",
  "InvalidToken",
]);

async function unlessSettled<T>(call: Promise<T>): Promise<T | undefined> {
  try {
    return await call;
  } catch (error) {
    if (!settled.has((error as Error).name)) throw error;
    return undefined;
  }
}

export interface SfnWorkflowOrchestratorOptions {
  client: SdkClient<SFNClient>;
  /** The role every workflow state machine runs as (sends to the agent-steps queue, logs, traces). */
  roleArn: string;
  /** The CloudWatch Logs group of workflow executions (its ARN, ending in `:*`). */
  logGroupArn: string;
  /** `arn:<partition>:states:<region>:<account>:stateMachine:` — where the run's machines live. */
  stateMachineArnPrefix: string;
  /** Names of workflow state machines start with `<namePrefix>-` (the IAM grants name it). */
  namePrefix: string;
}

/** Step Functions names: 1–80 of A-Z a-z 0-9 - _. */
const sfnName = (name: string) => name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 80);

export class SfnWorkflowOrchestrator implements WorkflowOrchestrator {
  private readonly client: () => Promise<SFNClient>;

  constructor(private readonly options: SfnWorkflowOrchestratorOptions) {
    this.client = sdkClientGetter(options.client);
  }

  private async send<T>(call: (sfn: Sfn, client: SFNClient) => Promise<T>): Promise<T | undefined> {
    const [sfn, client] = await Promise.all([import("@aws-sdk/client-sfn"), this.client()]);
    return unlessSettled(call(sfn, client));
  }

  /** The state machine of run `name`. */
  machineName(name: string): string {
    return sfnName(`${this.options.namePrefix}-${name}`);
  }

  private machineArn(name: string): string {
    return `${this.options.stateMachineArnPrefix}${this.machineName(name)}`;
  }

  private executionArn(name: string): string {
    return `${this.machineArn(name).replace(":stateMachine:", ":execution:")}:${sfnName(name)}`;
  }

  async start(name: string, definition: object, input: unknown): Promise<void> {
    await this.send((sfn, client) =>
      client.send(
        new sfn.CreateStateMachineCommand({
          name: this.machineName(name),
          definition: JSON.stringify(definition),
          roleArn: this.options.roleArn,
          type: "STANDARD",
          loggingConfiguration: {
            level: "ALL",
            includeExecutionData: true,
            destinations: [{ cloudWatchLogsLogGroup: { logGroupArn: this.options.logGroupArn } }],
          },
          tracingConfiguration: { enabled: true },
        }),
      ),
    );
    await this.send((sfn, client) =>
      client.send(
        new sfn.StartExecutionCommand({
          stateMachineArn: this.machineArn(name),
          name: sfnName(name),
          input: JSON.stringify(input),
        }),
      ),
    );
  }

  async stop(name: string): Promise<void> {
    await this.send((sfn, client) =>
      client.send(
        new sfn.StopExecutionCommand({
          executionArn: this.executionArn(name),
          error: "WorkflowRunStopped",
          cause: "the run ended",
        }),
      ),
    );
    await this.send((sfn, client) =>
      client.send(new sfn.DeleteStateMachineCommand({ stateMachineArn: this.machineArn(name) })),
    );
  }

  async sendTaskSuccess(taskToken: string, output: unknown): Promise<void> {
    await this.send((sfn, client) =>
      client.send(new sfn.SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
    );
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    await this.send((sfn, client) =>
      client.send(
        new sfn.SendTaskFailureCommand({
          taskToken,
          error: error.slice(0, 256),
          cause: cause.slice(0, 32_768),
        }),
      ),
    );
  }

  async sendTaskHeartbeat(taskToken: string): Promise<void> {
    await this.send((sfn, client) => client.send(new sfn.SendTaskHeartbeatCommand({ taskToken })));
  }
}
