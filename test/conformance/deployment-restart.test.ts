/**
 * Scheduled deployments survive a restart of the embedded stack: the timers are armed again from
 * the stored deployments (paused ones stay quiet), and a run the last process claimed but did not
 * finish is finished at start without a second session.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { deploymentsOf } from "../../shared/runtime/deployment-wiring.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

const dataDir = mkdtempSync(join(tmpdir(), "reverie-deploy-restart-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("deployments across a restart", () => {
  it("re-arms scheduled deployments and finishes a claimed run at start", async () => {
    let h: Harness = await startHarness({ dataDir });
    const { agentId, environmentId } = await h.setup();
    const base = {
      agent: agentId,
      environment_id: environmentId,
      initial_events: [{ type: "user.message" as const, content: [{ type: "text" as const, text: "hi" }] }],
      schedule: { type: "cron" as const, expression: "0 6 * * *", timezone: "Europe/Berlin" },
    };
    const active = await h.client.beta.deployments.create({ ...base, name: "active" });
    const paused = await h.client.beta.deployments.create({ ...base, name: "paused" });
    await h.client.beta.deployments.pause(paused.id);
    const manual = await h.client.beta.deployments.create({ ...base, name: "manual", schedule: null });
    // A run claimed by a process that died before it went further (the runner's first write).
    const { runner } = deploymentsOf(h.stack.services);
    const claimed = await (
      runner as unknown as {
        newClaim(ws: string, id: string, key: string, t: unknown): Promise<{ runId: string }>;
      }
    ).newClaim("wrkspc_local", active.id, "2031-01-01T05:00:00.000Z", {
      type: "schedule",
      scheduled_at: "2031-01-01T05:00:00.000Z",
    });
    await h.close();

    h = await startHarness({ dataDir });
    try {
      const scheduler = h.stack.deploymentScheduler;
      expect(scheduler.armed("wrkspc_local", active.id)).toBe(true);
      expect(scheduler.armed("wrkspc_local", paused.id)).toBe(false);
      expect(scheduler.armed("wrkspc_local", manual.id)).toBe(false);
      const run = await h.client.beta.deploymentRuns.retrieve(claimed.runId);
      expect(run).toMatchObject({
        deployment_id: active.id,
        error: null,
        trigger_context: { type: "schedule", scheduled_at: "2031-01-01T05:00:00.000Z" },
      });
      const sessions = await h.client.beta.sessions.list({ deployment_id: active.id });
      expect(sessions.data.map((s) => s.id)).toEqual([run.session_id]);
    } finally {
      await h.close();
    }
  });
});
