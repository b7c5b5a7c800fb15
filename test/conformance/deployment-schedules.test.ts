/**
 * Scheduled deployments on the embedded stack. The local scheduler reads due times against a
 * skewed clock (the stack's `scheduleClock`), so a cron minute is a second or two away instead of up
 * to sixty; everything else runs on the real clock, through the real SDK, against the scripted
 * upstream model.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalBusEvent } from "../../shared/adapters/local/local-bus.js";
import { deploymentsOf } from "../../shared/runtime/deployment-wiring.js";
import { mockText } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

type Run = Anthropic.Beta.DeploymentRuns.BetaManagedAgentsDeploymentRun;

let h: Harness;
let skew = 0;
let agentId: string;
let environmentId: string;
const bus: LocalBusEvent[] = [];

beforeAll(async () => {
  h = await startHarness({ scheduleClock: () => Date.now() + skew });
  h.stack.eventBus.subscribe((event) => bus.push(event));
  ({ agentId, environmentId } = await h.setup());
});
afterAll(async () => h.close());

const MINUTE = 60_000;

/**
 * Skews the scheduler's clock so that the minute after the last one used is `leadMs` away, and
 * returns that minute (epoch ms). Minutes only move forward from test to test.
 */
let lastMinute = Math.ceil(Date.now() / MINUTE) * MINUTE + 10 * MINUTE;
function nextMinuteIn(leadMs: number): number {
  lastMinute += 2 * MINUTE;
  skew = lastMinute - leadMs - Date.now();
  return lastMinute;
}

/** The cron fields naming one minute in a time zone (minute hour day month *). */
function cronFor(at: number, timezone: string): string {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      minute: "numeric",
      hour: "numeric",
      day: "numeric",
      month: "numeric",
      hourCycle: "h23",
    })
      .formatToParts(new Date(at))
      .map((p) => [p.type, p.value]),
  );
  return `${Number(parts.minute)} ${Number(parts.hour)} ${Number(parts.day)} ${Number(parts.month)} *`;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function runsOf(deploymentId: string): Promise<Run[]> {
  return (await h.client.beta.deploymentRuns.list({ deployment_id: deploymentId })).data;
}

const firstRun = (deploymentId: string) => until("a run", async () => (await runsOf(deploymentId))[0]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("scheduled deployments on the embedded stack", () => {
  it("fires within the minute its cron names, in its time zone, and runs the initial events", async () => {
    h.upstream.script(mockText("Scheduled report written."));
    const timezone = "Asia/Kolkata"; // a half-hour offset: the minute must be read in the zone
    const due = nextMinuteIn(1500);
    const d = await h.client.beta.deployments.create({
      agent: agentId,
      environment_id: environmentId,
      name: "scheduled",
      initial_events: [
        { type: "user.message", content: [{ type: "text", text: "Write the scheduled report." }] },
      ],
      schedule: { type: "cron", expression: cronFor(due, timezone), timezone },
    });
    // The API reads the schedule on the real clock: that minute (ahead of it) is the next firing.
    expect(d.schedule?.upcoming_runs_at?.[0]).toBe(new Date(due).toISOString());
    const run = await firstRun(d.id);
    expect(run).toMatchObject({
      deployment_id: d.id,
      error: null,
      trigger_context: { type: "schedule", scheduled_at: new Date(due).toISOString() },
      agent: d.agent,
    });
    const session = await h.waitIdle(run.session_id as string);
    expect(session.deployment_id).toBe(d.id);
    const events = await h.allEvents(session.id);
    expect(events.filter((e) => e.type === "user.message")).toHaveLength(1);
    expect(events.map((e) => e.type)).toContain("agent.message");
    expect(JSON.stringify(h.upstream.requests.at(-1)?.messages)).toContain("Write the scheduled report.");
    const after = await h.client.beta.deployments.retrieve(d.id);
    expect(after.schedule?.last_run_at).toBe(run.created_at);
    const types = bus.filter((e) => e.detail.id === run.id).map((e) => e.detailType);
    expect(types).toEqual(["deployment_run.started", "deployment_run.succeeded"]);
  });

  it("starts one run for a firing delivered twice (at once and again later)", async () => {
    const d = await h.client.beta.deployments.create({
      agent: agentId,
      environment_id: environmentId,
      name: "duplicates",
      initial_events: [{ type: "user.message", content: [{ type: "text", text: "once" }] }],
      schedule: { type: "cron", expression: "0 3 * * *", timezone: "UTC" },
    });
    const { runner } = deploymentsOf(h.stack.services);
    const firing = {
      schemaVersion: 1 as const,
      workspaceId: "wrkspc_local",
      deploymentId: d.id,
      scheduledTime: "2030-01-01T03:00:00.000Z",
      scheduleRev: 1,
    };
    const outcomes = await Promise.all([runner.fire(firing), runner.fire(firing), runner.fire(firing)]);
    const again = await runner.fire(firing);
    const runIds = new Set(
      [...outcomes, again].map((o) =>
        o.kind === "in_progress" ? o.runId : o.kind === "started" ? o.run.id : o.kind,
      ),
    );
    expect(runIds.size).toBe(1);
    expect(again.kind).toBe("started");
    const runs = await runsOf(d.id);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.trigger_context).toEqual({ type: "schedule", scheduled_at: "2030-01-01T03:00:00.000Z" });
    const sessions = await h.client.beta.sessions.list({ deployment_id: d.id });
    expect(sessions.data.map((s) => s.id)).toEqual([runs[0]?.session_id]);
    await h.waitIdle(runs[0]?.session_id as string);
    const sent = (await h.allEvents(runs[0]?.session_id as string)).filter((e) => e.type === "user.message");
    expect(sent).toHaveLength(1);
    // A firing of a schedule that has since been replaced starts nothing.
    await h.client.beta.deployments.update(d.id, {
      schedule: { type: "cron", expression: "0 4 * * *", timezone: "UTC" },
    });
    const stale = await runner.fire({ ...firing, scheduledTime: "2030-01-02T03:00:00.000Z" });
    expect(stale).toMatchObject({ kind: "skipped", reason: expect.stringMatching(/replaced/) });
    expect(await runsOf(d.id)).toHaveLength(1);
  });

  it("stops firing while paused and fires again once unpaused", async () => {
    // Every minute: armed now, the next one 2.5 s away; paused at once, so that firing must not run.
    nextMinuteIn(2500);
    const d = await h.client.beta.deployments.create({
      agent: agentId,
      environment_id: environmentId,
      name: "pausable",
      initial_events: [{ type: "user.message", content: [{ type: "text", text: "tick" }] }],
      schedule: { type: "cron", expression: "* * * * *", timezone: "UTC" },
    });
    expect(h.stack.deploymentScheduler.armed("wrkspc_local", d.id)).toBe(true);
    await h.client.beta.deployments.pause(d.id);
    expect(h.stack.deploymentScheduler.armed("wrkspc_local", d.id)).toBe(false);
    await sleep(3500);
    expect(await runsOf(d.id)).toEqual([]);

    const due = nextMinuteIn(1500);
    await h.client.beta.deployments.unpause(d.id);
    const run = await firstRun(d.id);
    expect(run.trigger_context).toEqual({ type: "schedule", scheduled_at: new Date(due).toISOString() });
    await h.client.beta.deployments.pause(d.id);
    await h.waitIdle(run.session_id as string);
    expect(await runsOf(d.id)).toHaveLength(1);
  });

  it("pauses itself with the run's error when a scheduled run hits an archived agent", async () => {
    const agent = await h.client.beta.agents.create({ name: "retiring", model: "claude-sonnet-4-6" });
    const due = nextMinuteIn(1500);
    const d = await h.client.beta.deployments.create({
      agent: agent.id,
      environment_id: environmentId,
      name: "doomed",
      initial_events: [{ type: "user.message", content: [{ type: "text", text: "never sent" }] }],
      schedule: { type: "cron", expression: cronFor(due, "UTC"), timezone: "UTC" },
    });
    await h.client.beta.agents.archive(agent.id);
    const run = await firstRun(d.id);
    expect(run).toMatchObject({
      session_id: null,
      error: { type: "agent_archived_error", message: expect.stringContaining(agent.id) },
      trigger_context: { type: "schedule", scheduled_at: new Date(due).toISOString() },
    });
    const paused = await until("the auto-pause", async () => {
      const current = await h.client.beta.deployments.retrieve(d.id);
      return current.status === "paused" ? current : undefined;
    });
    expect(paused.paused_reason).toEqual({ type: "error", error: { type: "agent_archived_error" } });
    expect(paused.schedule?.upcoming_runs_at).toHaveLength(5);
    expect(h.stack.deploymentScheduler.armed("wrkspc_local", d.id)).toBe(false);
    expect((await h.client.beta.sessions.list({ deployment_id: d.id })).data).toEqual([]);
    const types = bus.filter((e) => e.detail.id === run.id || e.detail.id === d.id).map((e) => e.detailType);
    expect(types).toEqual(
      expect.arrayContaining(["deployment.created", "deployment.paused", "deployment_run.failed"]),
    );
    // Unpausing clears the reason; the cause must be fixed for the next run to succeed.
    expect(await h.client.beta.deployments.unpause(d.id)).toMatchObject({
      status: "active",
      paused_reason: null,
    });
  });
});
