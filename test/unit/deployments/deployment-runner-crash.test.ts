/**
 * A deployment run over an in-memory store that "crashes" (throws before a chosen write, and every
 * write after it, until restarted): whichever write a run dies before, the next delivery of the
 * same firing — or the sweeper — finishes it with one session, one run record, and each initial
 * event in the session's log exactly once.
 */
import { describe, expect, it } from "vitest";
import { InProcessNotifier } from "../../../shared/adapters/local/in-process-notifier.js";
import { MemoryDocumentStore } from "../../../shared/adapters/local/memory-document-store.js";
import type { DeploymentRunner } from "../../../shared/core/deployments/deployment-runner.js";
import type { DomainEvent, PutOptions, StoredItem, TableName } from "../../../shared/core/ports.js";
import { loadConfig } from "../../../shared/runtime/config.js";
import { buildServices } from "../../../shared/runtime/container.js";
import { buildDeployments, deploymentsOf } from "../../../shared/runtime/deployment-wiring.js";
import { RecordingQueue } from "../../fixtures/in-memory-runtime.js";
import { MemoryWorkspaceStore } from "../../fixtures/memory-workspace-store.js";

class CrashError extends Error {}

type CrashPoint = (table: TableName, item: StoredItem) => boolean;

class CrashingStore extends MemoryDocumentStore {
  crashWhen: CrashPoint | undefined;
  private dead = false;
  restart() {
    this.dead = false;
  }
  override async put(table: TableName, item: StoredItem, options?: PutOptions) {
    if (this.crashWhen?.(table, item)) {
      this.crashWhen = undefined;
      this.dead = true;
    }
    if (this.dead) throw new CrashError(`crashed before put ${table} ${item.pk}`);
    return super.put(table, item, options);
  }
  override async putMany(table: TableName, items: StoredItem[]) {
    if (this.dead) throw new CrashError("crashed before putMany");
    return super.putMany(table, items);
  }
  override async delete(table: TableName, pk: string, sk: string | number) {
    if (this.dead) throw new CrashError(`crashed before delete ${pk}`);
    return super.delete(table, pk, sk);
  }
  override async increment(table: TableName, pk: string, sk: string | number, attribute: string, by: number) {
    if (this.dead) throw new CrashError(`crashed before increment ${pk}`);
    return super.increment(table, pk, sk, attribute, by);
  }
}

const WS = "wrkspc_test";

async function setup(initialTexts = ["first", "second"]) {
  let now = Date.parse("2026-11-30T08:00:00Z");
  const store = new CrashingStore();
  const steps = new RecordingQueue();
  const published: DomainEvent[] = [];
  const services = buildServices(loadConfig({}), {
    store,
    steps,
    workspace: new MemoryWorkspaceStore(),
    notifier: new InProcessNotifier(),
    clock: { now: () => now },
    logger: { info() {}, warn() {}, error() {} },
    domainEvents: { publish: async (event) => void published.push(event) },
    deploying: buildDeployments,
  });
  const { deployments, runner } = deploymentsOf(services);
  const environment = await services.environments.create(WS, {
    name: "env",
    config: { type: "cloud", networking: { type: "unrestricted" } },
  } as never);
  const agent = await services.agents.create(WS, { name: "a", model: "claude-sonnet-4-6" } as never);
  const deployment = await deployments.create(WS, {
    agent: agent.id,
    environment_id: environment.id,
    name: "crashy",
    initial_events: initialTexts.map((text) => ({ type: "user.message", content: [{ type: "text", text }] })),
    schedule: { type: "cron", expression: "0 9 * * *", timezone: "UTC" },
  } as never);
  const firing = {
    schemaVersion: 1 as const,
    workspaceId: WS,
    deploymentId: deployment.id,
    scheduledTime: "2026-12-01T09:00:00Z",
    scheduleRev: 1,
  };
  return {
    store,
    steps,
    published,
    services,
    deployments,
    runner: runner as DeploymentRunner,
    deployment,
    firing,
    /** Lets the crashed run's lease run out. */
    later: (ms = 5 * 60_000) => {
      now += ms;
    },
  };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** Everything the run left behind: its runs, its sessions, each session's user messages. */
async function outcome(s: Setup) {
  const runs = (await s.deployments.listRuns(WS, { limit: 100 } as never)).data;
  const sessions = (
    await s.services.sessions.list(WS, { limit: 100, order: "asc", deployment_id: s.deployment.id } as never)
  ).data;
  const messages = await Promise.all(
    sessions.map(async (session) =>
      (await s.services.deps.events.read(session.id))
        .filter((e) => e.event.type === "user.message")
        .map((e) => (e.event as { content: Array<{ text: string }> }).content[0]?.text),
    ),
  );
  return { runs, sessions, messages };
}

async function expectOneCompleteRun(s: Setup) {
  const { runs, sessions, messages } = await outcome(s);
  expect(runs).toHaveLength(1);
  expect(sessions).toHaveLength(1);
  expect(runs[0]).toMatchObject({ session_id: sessions[0]?.id, error: null });
  expect(messages).toEqual([["first", "second"]]);
  // The session was woken: it is running its first turn, with a step queued for it.
  expect(sessions[0]?.status).toBe("running");
  expect(s.steps.sent.some((m) => m.message.sessionId === sessions[0]?.id)).toBe(true);
  // Each run event was published under one id, however often it was published.
  const ids = s.published.filter((e) => e.type.startsWith("deployment_run.")).map((e) => `${e.type} ${e.id}`);
  expect(new Set(ids)).toEqual(
    new Set([
      `deployment_run.started wevt_${runs[0]?.id.slice(5)}_started`,
      `deployment_run.succeeded wevt_${runs[0]?.id.slice(5)}_succeeded`,
    ]),
  );
}

const isSession = (_t: TableName, item: StoredItem) => /^ws#.*#session$/.test(item.pk);
const isRun = (_t: TableName, item: StoredItem) => /^ws#.*#drun$/.test(item.pk);
const isUserMessage = (text: string) => (table: TableName, item: StoredItem) =>
  table === "events" &&
  (item.event as { type?: string; content?: Array<{ text?: string }> }).type === "user.message" &&
  (item.event as { content: Array<{ text?: string }> }).content[0]?.text === text;

describe("a deployment run that crashes", () => {
  it("before its session is written: the next delivery creates the session under the claimed id", async () => {
    const s = await setup();
    s.store.crashWhen = isSession;
    await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
    s.store.restart();
    expect((await outcome(s)).sessions).toEqual([]);
    // A duplicate arriving while the dead worker's lease still holds leaves the run alone.
    expect(await s.runner.fire(s.firing)).toMatchObject({ kind: "in_progress" });
    s.later();
    expect(await s.runner.fire(s.firing)).toMatchObject({ kind: "started" });
    await expectOneCompleteRun(s);
  });

  it("after its pending entry, before its claim: the sweeper fires it again (no timer fires a missed minute twice)", async () => {
    const s = await setup();
    s.store.crashWhen = (_t, item) => item.pk.startsWith("drunkey#");
    await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
    s.store.restart();
    expect((await outcome(s)).runs).toEqual([]);
    s.later();
    expect(await s.runner.sweep()).toBe(1);
    await expectOneCompleteRun(s);
    expect(await s.runner.sweep()).toBe(0);
  });

  it("after its session, before its run record: the sweeper finishes it without a second session", async () => {
    const s = await setup();
    s.store.crashWhen = isRun;
    await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
    s.store.restart();
    expect((await outcome(s)).sessions).toHaveLength(1);
    expect(await s.runner.sweep()).toBe(0); // the lease is still the dead worker's
    s.later();
    expect(await s.runner.sweep()).toBe(1);
    await expectOneCompleteRun(s);
    expect(await s.runner.sweep()).toBe(0);
  });

  it("between two initial events: the retry sends only the one not yet logged", async () => {
    const s = await setup();
    s.store.crashWhen = isUserMessage("second");
    await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
    s.store.restart();
    expect((await outcome(s)).messages).toEqual([["first"]]);
    s.later();
    expect(await s.runner.fire(s.firing)).toMatchObject({ kind: "started" });
    await expectOneCompleteRun(s);
  });

  it("between logging an initial event and waking the session: the retry wakes it", async () => {
    const s = await setup(["first", "second"]);
    // The wake-up's write: the session record turning `running`.
    s.store.crashWhen = (t, item) =>
      isSession(t, item) && (item.session as { status?: string } | undefined)?.status === "running";
    await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
    s.store.restart();
    const cut = await outcome(s);
    expect(cut.messages).toEqual([["first"]]);
    expect(cut.sessions[0]?.status).toBe("idle");
    s.later();
    expect(await s.runner.fire(s.firing)).toMatchObject({ kind: "started" });
    await expectOneCompleteRun(s);
  });

  it("after its run record but before closing its claim: a retry reports the same run", async () => {
    const s = await setup();
    s.store.crashWhen = (_t, item) => /^drunkey#/.test(item.pk) && item.phase === "done";
    await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
    s.store.restart();
    s.later();
    const again = await s.runner.fire(s.firing);
    expect(again.kind).toBe("started");
    await expectOneCompleteRun(s);
    const runs = (await outcome(s)).runs;
    expect(again.kind === "started" && again.run.id).toBe(runs[0]?.id);
  });
});

describe("a scheduled run that fails to create its session", () => {
  it("and dies after pausing the deployment: its retry does not pause again a deployment unpaused since", async () => {
    const s = await setup();
    await s.services.agents.archive(WS, s.deployment.agent.id);
    // The claim's close: the last write of a failed run, after the pause.
    s.store.crashWhen = (_t, item) => item.pk.startsWith("drunkey#") && item.phase === "done";
    await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
    s.store.restart();
    expect((await s.deployments.retrieve(WS, s.deployment.id)).paused_reason).toEqual({
      type: "error",
      error: { type: "agent_archived_error" },
    });
    s.later(60_000);
    await s.deployments.unpause(WS, s.deployment.id);
    s.later();

    expect(await s.runner.sweep()).toBe(1);

    const after = await s.deployments.retrieve(WS, s.deployment.id);
    expect(after).toMatchObject({ status: "active", paused_reason: null });
    const { runs, sessions } = await outcome(s);
    expect(runs).toHaveLength(1);
    expect(runs[0]?.error?.type).toBe("agent_archived_error");
    expect(sessions).toEqual([]);
  });

  it("pauses the deployment once, however often the failed run is retried", async () => {
    const s = await setup();
    await s.services.agents.archive(WS, s.deployment.agent.id);
    s.store.crashWhen = (_t, item) => item.pk.startsWith("drunkey#") && item.phase === "done";
    await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
    s.store.restart();
    s.later();

    expect(await s.runner.sweep()).toBe(1);

    const after = await s.deployments.retrieve(WS, s.deployment.id);
    expect(after).toMatchObject({
      status: "paused",
      paused_reason: { error: { type: "agent_archived_error" } },
    });
    const paused = s.published.filter((e) => e.type === "deployment.paused").map((e) => e.id);
    expect(new Set(paused).size).toBe(1);
    expect(await s.runner.sweep()).toBe(0);
  });
});

describe("a deployment paused or archived while a firing is in flight", () => {
  it.each(["pause", "archive"] as const)(
    "%s: the claimed run is finished once; a firing not yet claimed starts nothing",
    async (change) => {
      const s = await setup();
      s.store.crashWhen = isSession;
      await expect(s.runner.fire(s.firing)).rejects.toThrow(CrashError);
      s.store.restart();
      await s.deployments[change](WS, s.deployment.id);
      s.later();

      expect(await s.runner.fire(s.firing)).toMatchObject({ kind: "started" });
      const next = { ...s.firing, scheduledTime: "2026-12-02T09:00:00Z" };
      expect(await s.runner.fire(next)).toMatchObject({ kind: "skipped" });

      await expectOneCompleteRun(s);
      expect(await s.runner.sweep()).toBe(0);
    },
  );
});

describe("a run-now retried by the SDK (X-Stainless-Retry-Count ≥ 1)", () => {
  const retry = { retry: true, body: {} };

  it("after a crash between recording it and claiming its run: the retry claims and finishes that run", async () => {
    const s = await setup();
    s.store.crashWhen = (_t, item) => item.pk.startsWith("drunkey#");
    await expect(s.runner.runNow(WS, s.deployment.id, { retry: false, body: {} })).rejects.toThrow(
      CrashError,
    );
    s.store.restart();
    expect((await outcome(s)).runs).toEqual([]);

    const run = await s.runner.runNow(WS, s.deployment.id, retry);
    s.later();
    await s.runner.sweep();

    expect(run).toMatchObject({ trigger_context: { type: "manual" }, error: null });
    await expectOneCompleteRun(s);
  });

  it("after a crash between its claim and its session: the retry after the lease finishes that run, the sweeper none", async () => {
    const s = await setup();
    s.store.crashWhen = isSession;
    await expect(s.runner.runNow(WS, s.deployment.id, { retry: false, body: {} })).rejects.toThrow(
      CrashError,
    );
    s.store.restart();
    s.later();

    const run = await s.runner.runNow(WS, s.deployment.id, retry);
    expect(await s.runner.sweep()).toBe(0);

    expect((await outcome(s)).runs).toEqual([run]);
    await expectOneCompleteRun(s);
  });

  it("after a crash between its session and its run record: no second session, before or after the lease", async () => {
    const s = await setup();
    s.store.crashWhen = isRun;
    await expect(s.runner.runNow(WS, s.deployment.id, { retry: false, body: {} })).rejects.toThrow(
      CrashError,
    );
    s.store.restart();
    // The dead worker's lease still holds: the retry is told to come again, and starts nothing.
    await expect(s.runner.runNow(WS, s.deployment.id, retry)).rejects.toMatchObject({ status: 500 });
    expect((await outcome(s)).sessions).toHaveLength(1);
    s.later();

    const run = await s.runner.runNow(WS, s.deployment.id, retry);

    await s.runner.sweep();
    const { runs, sessions } = await outcome(s);
    expect(runs).toEqual([run]);
    expect(run.session_id).toBe(sessions[0]?.id);
    await expectOneCompleteRun(s);
  });

  it("starts a run of its own when it repeats no recent run-now: past the window, another body, another key", async () => {
    const s = await setup();
    const first = await s.runner.runNow(WS, s.deployment.id, { retry: false, body: {} });
    expect(await s.runner.runNow(WS, s.deployment.id, retry)).toEqual(first);
    const otherBody = await s.runner.runNow(WS, s.deployment.id, { retry: true, body: { note: "x" } });
    expect(otherBody.id).not.toBe(first.id);
    const keyed = await s.runner.runNow(WS, s.deployment.id, { ...retry, idempotencyKey: "k-1" });
    expect(keyed.id).not.toBe(otherBody.id);
    const otherCaller = await s.runner.runNow(WS, s.deployment.id, {
      ...retry,
      idempotencyKey: "k-1",
      caller: "apikey_other",
    });
    expect(otherCaller.id).not.toBe(keyed.id);
    s.later(16 * 60_000);
    const late = await s.runner.runNow(WS, s.deployment.id, {
      ...retry,
      idempotencyKey: "k-1",
      caller: "apikey_other",
    });
    expect(late.id).not.toBe(otherCaller.id);
    expect((await outcome(s)).runs).toHaveLength(5);
  });
});
