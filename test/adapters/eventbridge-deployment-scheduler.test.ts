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
import { EventBridgeDeploymentScheduler } from "../../shared/adapters/aws/eventbridge-deployment-scheduler.js";
import type { DeploymentTriggerSpec } from "../../shared/core/deployments/deployment-trigger.js";

const scheduler = mockClient(SchedulerClient);
const adapter = new EventBridgeDeploymentScheduler({
  client: new SchedulerClient({}),
  groupName: "reverie-deployments",
  targetArn: "arn:aws:lambda:eu-west-1:123456789012:function:deployment-runner",
  roleArn: "arn:aws:iam::123456789012:role/deployment-scheduler",
});
const spec: DeploymentTriggerSpec = {
  workspaceId: "wrkspc_1",
  deploymentId: "depl_011CZkZcDH3vPqd7xnEfwTai",
  expression: "0 9 * * 1-5",
  timezone: "America/Los_Angeles",
  enabled: true,
  scheduleRev: 3,
};
const notFound = () => new ResourceNotFoundException({ message: "gone", Message: "gone", $metadata: {} });

beforeEach(() => scheduler.reset());

describe("EventBridgeDeploymentScheduler", () => {
  it("creates one schedule in the deployment's time zone, flexible window off, targeting deployment-runner", async () => {
    scheduler.on(CreateScheduleCommand).resolves({}).on(DeleteScheduleCommand).rejects(notFound());
    await adapter.put(spec);
    const calls = scheduler.commandCalls(CreateScheduleCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0]?.args[0].input;
    expect(input).toMatchObject({
      Name: "reverie-depl_011CZkZcDH3vPqd7xnEfwTai",
      GroupName: "reverie-deployments",
      ScheduleExpression: "cron(0 9 ? * MON-FRI *)",
      ScheduleExpressionTimezone: "America/Los_Angeles",
      State: "ENABLED",
      FlexibleTimeWindow: { Mode: "OFF" },
      Target: {
        Arn: expect.stringContaining("function:deployment-runner"),
        RoleArn: expect.stringContaining("role/deployment-scheduler"),
        RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 3600 },
      },
    });
    expect(JSON.parse(input?.Target?.Input as string)).toEqual({
      schemaVersion: 1,
      workspaceId: "wrkspc_1",
      deploymentId: spec.deploymentId,
      scheduledTime: "<aws.scheduler.scheduled-time>",
      scheduleRev: 3,
    });
    // The weekday half of an earlier either-day schedule is removed (absent is fine).
    expect(scheduler.commandCalls(DeleteScheduleCommand)[0]?.args[0].input).toEqual({
      Name: "reverie-depl_011CZkZcDH3vPqd7xnEfwTai-or",
      GroupName: "reverie-deployments",
    });
  });

  it("splits a cron with both day fields restricted into a by-date and a by-weekday schedule", async () => {
    scheduler.on(CreateScheduleCommand).resolves({});
    await adapter.put({ ...spec, expression: "0 12 13 * 5" });
    const created = scheduler.commandCalls(CreateScheduleCommand).map((c) => c.args[0].input);
    expect(created.map((i) => [i.Name, i.ScheduleExpression])).toEqual([
      ["reverie-depl_011CZkZcDH3vPqd7xnEfwTai", "cron(0 12 13 * ? *)"],
      ["reverie-depl_011CZkZcDH3vPqd7xnEfwTai-or", "cron(0 12 ? * FRI *)"],
    ]);
    // Both carry the same input: an instant both match is one scheduled time, so one run.
    expect(new Set(created.map((i) => i.Target?.Input)).size).toBe(1);
    expect(scheduler.commandCalls(DeleteScheduleCommand)).toHaveLength(0);
  });

  it("updates an existing schedule; a paused deployment's schedule is disabled, not deleted", async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ConflictException({ message: "exists", Message: "exists", $metadata: {} }))
      .on(UpdateScheduleCommand)
      .resolves({})
      .on(DeleteScheduleCommand)
      .resolves({});
    await adapter.put({ ...spec, enabled: false });
    const update = scheduler.commandCalls(UpdateScheduleCommand)[0]?.args[0].input;
    expect(update).toMatchObject({ State: "DISABLED", ScheduleExpression: "cron(0 9 ? * MON-FRI *)" });
  });

  it("turns Scheduler's refusal into a 400 on `schedule`", async () => {
    scheduler
      .on(CreateScheduleCommand)
      .rejects(new ValidationException({ message: "Invalid timezone", Message: "x", $metadata: {} }));
    await expect(adapter.put(spec)).rejects.toMatchObject({
      status: 400,
      type: "invalid_request_error",
      message: expect.stringMatching(/^schedule: /),
    });
  });

  it("refuses an expression it cannot read before calling Scheduler", async () => {
    await expect(adapter.put({ ...spec, expression: "0 9 L * *" })).rejects.toMatchObject({ status: 400 });
    expect(scheduler.calls()).toHaveLength(0);
  });

  it("deletes both schedules, treating missing ones as deleted", async () => {
    scheduler.on(DeleteScheduleCommand).rejects(notFound());
    await expect(adapter.delete("wrkspc_1", spec.deploymentId)).resolves.toBeUndefined();
    expect(scheduler.commandCalls(DeleteScheduleCommand).map((c) => c.args[0].input.Name)).toEqual([
      "reverie-depl_011CZkZcDH3vPqd7xnEfwTai",
      "reverie-depl_011CZkZcDH3vPqd7xnEfwTai-or",
    ]);
  });
});
