/**
 * The embedded stack's deployment scheduler under fake timers: each armed deployment fires at every
 * minute its cron names (in its time zone) with that minute as the scheduled time; disabled and
 * deleted ones stay quiet; a put before start is armed at start.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { LocalDeploymentScheduler } from "../../shared/adapters/local/local-deployment-scheduler.js";
import type {
  DeploymentFiring,
  DeploymentTriggerSpec,
} from "../../shared/core/deployments/deployment-trigger.js";

const spec: DeploymentTriggerSpec = {
  workspaceId: "wrkspc_1",
  deploymentId: "depl_1",
  expression: "*/15 * * * *",
  timezone: "UTC",
  enabled: true,
  scheduleRev: 2,
};

let fired: DeploymentFiring[];
let scheduler: LocalDeploymentScheduler;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(new Date("2027-03-01T10:07:30Z"));
  fired = [];
  scheduler = new LocalDeploymentScheduler();
});
afterEach(() => {
  scheduler.stop();
  vi.useRealTimers();
});

const start = (specs: DeploymentTriggerSpec[] = []) =>
  scheduler.start(async (firing) => void fired.push(firing), specs);

describe("LocalDeploymentScheduler", () => {
  it("fires at each minute the cron names, carrying that minute and the schedule's revision", async () => {
    start([spec]);
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(fired.map((f) => f.scheduledTime)).toEqual([
      "2027-03-01T10:15:00.000Z",
      "2027-03-01T10:30:00.000Z",
      "2027-03-01T10:45:00.000Z",
      "2027-03-01T11:00:00.000Z",
    ]);
    expect(fired[0]).toEqual({
      schemaVersion: 1,
      workspaceId: "wrkspc_1",
      deploymentId: "depl_1",
      scheduledTime: "2027-03-01T10:15:00.000Z",
      scheduleRev: 2,
    });
  });

  it("reads the cron in the deployment's time zone", async () => {
    start();
    await scheduler.put({ ...spec, expression: "0 16 * * *", timezone: "Asia/Kolkata" });
    await vi.advanceTimersByTimeAsync(24 * 60 * 60_000);
    expect(fired.map((f) => f.scheduledTime)).toEqual(["2027-03-01T10:30:00.000Z"]);
  });

  it("keeps a disabled (paused) deployment quiet and forgets a deleted one", async () => {
    start([spec, { ...spec, deploymentId: "depl_2" }]);
    await scheduler.put({ ...spec, enabled: false });
    await scheduler.delete("wrkspc_1", "depl_2");
    expect(scheduler.armed("wrkspc_1", "depl_1")).toBe(false);
    await vi.advanceTimersByTimeAsync(60 * 60_000);
    expect(fired).toEqual([]);
    await scheduler.put(spec);
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    expect(fired.map((f) => f.deploymentId)).toEqual(["depl_1"]);
  });

  it("arms at start what was put before it", async () => {
    await scheduler.put(spec);
    expect(scheduler.armed("wrkspc_1", "depl_1")).toBe(false);
    start();
    expect(scheduler.armed("wrkspc_1", "depl_1")).toBe(true);
    await vi.advanceTimersByTimeAsync(8 * 60_000);
    expect(fired).toHaveLength(1);
  });

  it("refuses an expression it cannot read", async () => {
    start();
    await expect(scheduler.put({ ...spec, expression: "0 9 L * *" })).rejects.toMatchObject({ status: 400 });
  });

  it("keeps firing after a firing fails", async () => {
    let calls = 0;
    const errors: unknown[] = [];
    scheduler = new LocalDeploymentScheduler((error) => errors.push(error));
    scheduler.start(async () => {
      calls++;
      throw new Error("boom");
    }, [spec]);
    await vi.advanceTimersByTimeAsync(30 * 60_000);
    expect(calls).toBe(2);
    expect(errors).toHaveLength(2);
  });
});
