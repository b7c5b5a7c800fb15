import {
  ExecutionAlreadyExists,
  InvalidToken,
  SendTaskFailureCommand,
  SendTaskHeartbeatCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  TaskTimedOut,
} from "@aws-sdk/client-sfn";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { SfnFanoutOrchestrator } from "../../shared/adapters/aws/sfn-fanout-orchestrator.js";

const stateMachineArn = "arn:aws:states:us-east-1:123456789012:stateMachine:fanout";
const sfn = mockClient(SFNClient);
const orchestrator = () => new SfnFanoutOrchestrator({ client: new SFNClient({}), stateMachineArn });

afterEach(() => {
  sfn.reset();
});

describe("SfnFanoutOrchestrator", () => {
  it("starts an execution named after the coordinator step, with the input as JSON", async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: "arn:x", startDate: new Date() });
    await orchestrator().start("sesn_01abc-4", { threads: [] });
    expect(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn, name: "sesn_01abc-4", input: '{"threads":[]}' },
    ]);
  });

  it("treats a second start of the same execution as done", async () => {
    sfn.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: "exists", $metadata: {} }));
    await expect(orchestrator().start("sesn_01abc-4", {})).resolves.toBeUndefined();
  });

  it("answers tasks, and drops answers to tasks that are answered, timed out or unknown", async () => {
    sfn
      .on(SendTaskSuccessCommand)
      .resolvesOnce({})
      .rejects(new TaskTimedOut({ message: "answered", $metadata: {} }));
    sfn.on(SendTaskFailureCommand).rejects(new InvalidToken({ message: "bad", $metadata: {} }));
    sfn.on(SendTaskHeartbeatCommand).resolves({});
    const o = orchestrator();
    await o.sendTaskSuccess("tok", { reply: "hi" });
    await o.sendTaskSuccess("tok", { reply: "hi" });
    await o.sendTaskFailure("tok", "ThreadFailed", "boom");
    await o.sendTaskHeartbeat("tok");
    expect(sfn.commandCalls(SendTaskSuccessCommand)[0]?.args[0].input).toEqual({
      taskToken: "tok",
      output: '{"reply":"hi"}',
    });
    expect(sfn.commandCalls(SendTaskFailureCommand)[0]?.args[0].input).toEqual({
      taskToken: "tok",
      error: "ThreadFailed",
      cause: "boom",
    });
    expect(sfn.commandCalls(SendTaskHeartbeatCommand)).toHaveLength(1);
  });

  it("surfaces other errors (throttling, access) for the caller to retry", async () => {
    const throttled = Object.assign(new Error("slow down"), { name: "ThrottlingException" });
    sfn.on(SendTaskSuccessCommand).rejects(throttled);
    await expect(orchestrator().sendTaskSuccess("tok", {})).rejects.toThrow("slow down");
  });
});
