/**
 * The fan-out on AWS Step Functions. Duplicates are harmless by construction: an execution name is
 * unique per coordinator step (a second start of the same name is ExecutionAlreadyExists), and an
 * answer to a task that was answered, timed out or belongs to an ended execution is dropped.
 */
import type { SFNClient } from "@aws-sdk/client-sfn";
import type { FanoutOrchestrator } from "../../core/ports.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

type Sfn = typeof import("@aws-sdk/client-sfn");

/** Errors that mean "already done or no longer wanted" — never worth a retry. */
const settled = new Set(["ExecutionAlreadyExists", "TaskDoesNotExist", "TaskTimedOut", "InvalidToken"]);

async function unlessSettled(call: Promise<unknown>): Promise<void> {
  try {
    await call;
  } catch (error) {
    if (!settled.has((error as Error).name)) throw error;
  }
}

export class SfnFanoutOrchestrator implements FanoutOrchestrator {
  private readonly client: () => Promise<SFNClient>;

  constructor(private readonly options: { client: SdkClient<SFNClient>; stateMachineArn: string }) {
    this.client = sdkClientGetter(options.client);
  }

  /** Makes one call with the client and the SDK package, both loaded on first use. */
  private async send(call: (sfn: Sfn, client: SFNClient) => Promise<unknown>): Promise<void> {
    const [sfn, client] = await Promise.all([import("@aws-sdk/client-sfn"), this.client()]);
    await unlessSettled(call(sfn, client));
  }

  start(name: string, input: unknown): Promise<void> {
    return this.send((sfn, client) =>
      client.send(
        new sfn.StartExecutionCommand({
          stateMachineArn: this.options.stateMachineArn,
          name: name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 80),
          input: JSON.stringify(input),
        }),
      ),
    );
  }

  sendTaskSuccess(taskToken: string, output: unknown): Promise<void> {
    return this.send((sfn, client) =>
      client.send(new sfn.SendTaskSuccessCommand({ taskToken, output: JSON.stringify(output) })),
    );
  }

  sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    return this.send((sfn, client) =>
      client.send(
        new sfn.SendTaskFailureCommand({
          taskToken,
          error: error.slice(0, 256),
          cause: cause.slice(0, 32_768),
        }),
      ),
    );
  }

  sendTaskHeartbeat(taskToken: string): Promise<void> {
    return this.send((sfn, client) => client.send(new sfn.SendTaskHeartbeatCommand({ taskToken })));
  }
}
