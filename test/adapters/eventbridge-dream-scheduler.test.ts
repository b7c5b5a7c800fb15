import {
  ConflictException,
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
  UpdateScheduleCommand,
  ValidationException,
} from "@aws-sdk/client-scheduler";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { EventBridgeDreamScheduler } from "../../shared/adapters/aws/eventbridge-dream-scheduler.js";

const scheduler = mockClient(SchedulerClient);
const adapter = new EventBridgeDreamScheduler({
  client: new SchedulerClient({}),
  groupName: "reverie-dreams",
  targetArn: "arn:aws:lambda:eu-west-1:123456789012:function:dream-scheduler",
  roleArn: "arn:aws:iam::123456789012:role/scheduler",
});
const spec = {
  workspaceId: "wrkspc_1",
  scheduleId: "drmsched_1",
  expression: "rate(1 hour)",
  timezone: "UTC",
  enabled: true,
  anchorMs: 0,
};

beforeEach(() => scheduler.reset());

describe("EventBridgeDreamScheduler", () => {
  it("creates a schedule targeting the dream-scheduler Lambda with the scheduled time in its input", async () => {
    scheduler.on(CreateScheduleCommand).resolves({});
    await adapter.put(spec);
    const input = scheduler.commandCalls(CreateScheduleCommand)[0]?.args[0].input;
    expect(input).toMatchObject({
      Name: "reverie-drmsched_1",
      GroupName: "reverie-dreams",
      ScheduleExpression: "rate(1 hour)",
      State: "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: expect.stringContaining("dream-scheduler"),
        RoleArn: expect.stringContaining("role/scheduler"),
      },
    });
    expect(JSON.parse(input?.Target?.Input as string)).toEqual({
      schemaVersion: 1,
      workspaceId: "wrkspc_1",
      scheduleId: "drmsched_1",
      scheduledTime: "<aws.scheduler.scheduled-time>",
    });
  });

  it("updates an existing schedule (pause disables it)", async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: "exists", Message: "exists", $metadata: {} }))
      .on(UpdateScheduleCommand)
      .resolves({});
    await adapter.put({ ...spec, enabled: false });
    expect(scheduler.commandCalls(UpdateScheduleCommand)[0]?.args[0].input.State).toBe("DISABLED");
  });

  it("turns EventBridge's refusal of an expression into a 400", async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(
        new ValidationException({ message: "Invalid Schedule Expression", Message: "x", $metadata: {} }),
      );
    await expect(adapter.put({ ...spec, expression: "cron(99 * * * ? *)" })).rejects.toMatchObject({
      status: 400,
      type: "invalid_request_error",
    });
  });

  it("deletes, treating a missing schedule as deleted", async () => {
    scheduler
      .on(DeleteScheduleCommand)
      .rejects(new ResourceNotFoundException({ message: "gone", Message: "gone", $metadata: {} }));
    await expect(adapter.delete("wrkspc_1", "drmsched_1")).resolves.toBeUndefined();
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]?.args[0].input).toEqual({
      Name: "reverie-drmsched_1",
      GroupName: "reverie-dreams",
    });
  });
});
