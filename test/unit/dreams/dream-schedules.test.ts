import { describe, expect, it } from "vitest";
import { nextFireTime } from "../../../shared/adapters/local/local-dream-scheduler.js";
import type { Session } from "../../../shared/contract/sdk-types.js";
import { activeDreamsKey } from "../../../shared/core/dreams/dream-record.js";
import {
  DreamSchedulesService,
  type DreamScheduleTrigger,
  type ScheduleTriggerSpec,
} from "../../../shared/core/dreams/dream-schedules-service.js";
import { parseScheduleExpression } from "../../../shared/core/dreams/schedule-expression.js";
import { newRunState } from "../../../shared/core/sessions/session-record.js";
import { dreamRuntime, WS } from "../../fixtures/dream-runtime.js";
import { typicalSession } from "../../fixtures/dream-transcripts.js";

class RecordingTrigger implements DreamScheduleTrigger {
  readonly specs = new Map<string, ScheduleTriggerSpec>();
  async put(spec: ScheduleTriggerSpec) {
    this.specs.set(spec.scheduleId, spec);
  }
  async delete(_ws: string, id: string) {
    this.specs.delete(id);
  }
}

const caller = { workspaceId: WS, apiKeyId: "apikey_a" };

async function setup() {
  const rt = dreamRuntime({ dreamOptions: { allowSecondRates: true } });
  await rt.memory.seed("memstore_s", { "/a.md": "Alpha.\n" });
  const trigger = new RecordingTrigger();
  const schedules = new DreamSchedulesService(rt.deps, rt.service, trigger);
  let n = 0;
  /** Sessions created through the repository, mounting the store unless told otherwise. */
  async function session(options: { mounted?: boolean; status?: Session["status"] } = {}) {
    rt.advance(1000);
    const id = rt.deps.ids.next("sesn");
    const t = typicalSession(id, n++);
    await rt.deps.sessions.create({
      workspaceId: WS,
      session: {
        id,
        status: options.status ?? "idle",
        resources:
          options.mounted === false
            ? []
            : [{ type: "memory_store", memory_store_id: "memstore_s", access: "read_write" }],
        metadata: {},
      } as unknown as Session,
      run: newRunState(),
    });
    await rt.deps.events.append(id, [...t.events]);
    return id;
  }
  const create = () =>
    schedules.create(caller, {
      memory_store_id: "memstore_s",
      schedule_expression: "rate(5 minutes)",
      model: "claude-sonnet-4-6",
      mode: "auto",
    });
  const fire = (scheduleId: string, at: string) =>
    schedules.fire({ schemaVersion: 1, workspaceId: WS, scheduleId, scheduledTime: at });
  return { rt, trigger, schedules, session, create, fire };
}

describe("dream schedules: expressions", () => {
  it("parses rates and EventBridge crons and finds the next firing", () => {
    const anchor = Date.parse("2026-11-23T00:00:00Z");
    const at = (expression: string, after: number) =>
      nextFireTime({ expression, timezone: "UTC", anchorMs: anchor }, after);
    expect(at("rate(5 minutes)", anchor + 60_000)).toBe(anchor + 300_000);
    expect(new Date(at("cron(0 3 * * ? *)", anchor)).toISOString()).toBe("2026-11-23T03:00:00.000Z");
    expect(() => parseScheduleExpression("cron(0 3 * * ?)")).toThrow(/6 fields/);
    expect(() => at("cron(99 3 * * ? *)", anchor)).toThrow(/schedule_expression/);
    expect(() => parseScheduleExpression("rate(5 seconds)", { allowSeconds: false })).toThrow(/locally/);
  });
});

describe("dream schedules: CRUD", () => {
  it("creates, updates, pauses, resumes and deletes, keeping the trigger in step", async () => {
    const { schedules, trigger, create } = await setup();
    const s = await create();
    expect(s).toMatchObject({
      type: "dream_schedule",
      status: "active",
      mode: "auto",
      watermark_session_id: null,
    });
    expect(trigger.specs.get(s.id)).toMatchObject({ expression: "rate(5 minutes)", enabled: true });
    await schedules.update(WS, s.id, { schedule_expression: "cron(0 3 * * ? *)", mode: "review" });
    expect(trigger.specs.get(s.id)?.expression).toBe("cron(0 3 * * ? *)");
    expect((await schedules.setStatus(WS, s.id, "paused")).status).toBe("paused");
    expect(trigger.specs.get(s.id)?.enabled).toBe(false);
    await schedules.setStatus(WS, s.id, "active");
    expect((await schedules.list(WS, { limit: 20 })).data.map((x) => x.id)).toEqual([s.id]);
    await schedules.delete(WS, s.id);
    expect(trigger.specs.has(s.id)).toBe(false);
    await expect(schedules.retrieve(WS, s.id)).rejects.toMatchObject({ status: 404 });
  });

  it("refuses a bad expression and an unknown store", async () => {
    const { schedules } = await setup();
    const base = { memory_store_id: "memstore_s", model: "m", mode: "auto" as const };
    await expect(
      schedules.create(caller, { ...base, schedule_expression: "cron(bad)" }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      schedules.create(caller, {
        ...base,
        memory_store_id: "memstore_x",
        schedule_expression: "rate(1 day)",
      }),
    ).rejects.toMatchObject({ status: 404 });
  });
});

describe("dream schedules: firing", () => {
  it("dreams over exactly the sessions that mounted the store since the watermark; an empty window costs nothing", async () => {
    const { rt, create, fire, session, schedules } = await setup();
    const old = await session();
    const s = await create();
    // The first firing takes everything not yet dreamt over, including sessions from before the schedule.
    const a = await session();
    await session({ mounted: false });
    const b = await session();
    const first = await fire(s.id, "2026-11-23T12:05:00Z");
    expect(first).toMatchObject({ kind: "dreamed", sessionIds: [old, a, b] });
    await rt.drain();
    const afterFirst = rt.model.requests.length;
    expect(afterFirst).toBeGreaterThan(1); // the dreamer works in steps

    const c = await session();
    const second = await fire(s.id, "2026-11-23T12:10:00Z");
    expect(second).toMatchObject({ kind: "dreamed", sessionIds: [c] });
    await rt.drain();
    const afterSecond = rt.model.requests.length;
    expect(afterSecond).toBeGreaterThan(afterFirst);

    expect(await fire(s.id, "2026-11-23T12:15:00Z")).toEqual({ kind: "no_new_sessions" });
    await rt.drain();
    expect(rt.model.requests).toHaveLength(afterSecond); // no model call for an empty window
    expect((await schedules.retrieve(WS, s.id)).last_fired_at).toBe("2026-11-23T12:15:00Z");
  });

  it("carries out a firing once however often it is delivered", async () => {
    const { rt, create, fire, session } = await setup();
    const s = await create();
    await session();
    const first = await fire(s.id, "2026-11-23T12:05:00Z");
    const again = await fire(s.id, "2026-11-23T12:05:00Z");
    expect(again).toEqual(first);
    expect((await rt.service.list(WS, { limit: 20, include_archived: true })).data).toHaveLength(1);
  });

  it("a firing that died before its dream's marker finishes that dream when redelivered", async () => {
    // Prepare: the first delivery dies on the put of the sweeper's marker.
    const { rt, create, fire, session } = await setup();
    const s = await create();
    await session();
    const put = rt.store.put.bind(rt.store);
    let died = false;
    rt.store.put = async (table, item, options) => {
      if (!died && item.pk === activeDreamsKey) {
        died = true;
        throw new Error("process died");
      }
      return put(table, item, options);
    };
    await expect(fire(s.id, "2026-11-23T12:05:00Z")).rejects.toThrow("process died");

    // Act: the scheduler delivers the firing again.
    const again = await fire(s.id, "2026-11-23T12:05:00Z");
    if (again.kind !== "dreamed") throw new Error("expected a dream");
    const marked = await rt.store.get("resources", activeDreamsKey, `${WS}#${again.dreamId}`);
    await rt.drain();

    // Assess: the dream the plan chose is marked for the sweeper, ran, and frees the next firing.
    expect(marked).toBeDefined();
    expect((await rt.service.retrieve(WS, again.dreamId)).status).toBe("completed");
    await session();
    expect((await fire(s.id, "2026-11-23T12:10:00Z")).kind).toBe("dreamed");
  });

  it("a firing that died before sending its dream's job sends it when redelivered", async () => {
    // Prepare: the first delivery writes the dream and its marker, then dies before the job.
    const { rt, create, fire, session } = await setup();
    const s = await create();
    await session();
    const send = rt.jobs.send.bind(rt.jobs);
    rt.jobs.send = async () => {
      rt.jobs.send = send;
      throw new Error("process died");
    };
    await expect(fire(s.id, "2026-11-23T12:05:00Z")).rejects.toThrow("process died");
    expect(rt.jobs.sent).toHaveLength(0);

    // Act
    const again = await fire(s.id, "2026-11-23T12:05:00Z");
    if (again.kind !== "dreamed") throw new Error("expected a dream");
    const marked = await rt.store.get("resources", activeDreamsKey, `${WS}#${again.dreamId}`);
    await rt.drain();

    // Assess: no sweep was needed; the store is free for a manual dream.
    expect(marked).toBeDefined();
    expect((await rt.service.retrieve(WS, again.dreamId)).status).toBe("completed");
    const sessionIds = (await rt.service.retrieve(WS, again.dreamId)).inputs.flatMap((i) =>
      i.type === "sessions" ? i.session_ids : [],
    );
    await expect(
      rt.service.create(caller, {
        inputs: [
          { type: "memory_store", memory_store_id: "memstore_s" },
          { type: "sessions", session_ids: sessionIds },
        ],
        model: "claude-sonnet-4-6",
        output_behavior: { type: "update_existing", memory_store_id: "memstore_s" },
      }),
    ).resolves.toMatchObject({ status: "pending" });
  });

  it("never moves the watermark past a session that is still running", async () => {
    const { create, fire, session, schedules } = await setup();
    const s = await create();
    const a = await session();
    await session({ status: "running" });
    await session();
    expect(await fire(s.id, "t1")).toMatchObject({ sessionIds: [a] });
    expect((await schedules.retrieve(WS, s.id)).watermark_session_id).toBe(a);
  });

  it("does nothing while paused, and skips a firing while its previous dream is unfinished", async () => {
    const { create, fire, session, schedules } = await setup();
    const s = await create();
    await session();
    await schedules.setStatus(WS, s.id, "paused");
    expect(await fire(s.id, "t1")).toEqual({ kind: "skipped", reason: "schedule paused" });
    await schedules.setStatus(WS, s.id, "active");
    expect((await fire(s.id, "t2")).kind).toBe("dreamed");
    await session();
    expect((await fire(s.id, "t3")).kind).toBe("skipped");
  });

  it("creates review-mode dreams that land nothing until applied", async () => {
    const { rt, fire, session, schedules } = await setup();
    const s = await schedules.create(caller, {
      memory_store_id: "memstore_s",
      schedule_expression: "rate(1 hour)",
      model: "m",
      mode: "review",
    });
    await session();
    await session();
    const before = await rt.memory.contents("memstore_s");
    const fired = await fire(s.id, "t1");
    await rt.drain();
    expect(await rt.memory.contents("memstore_s")).toEqual(before);
    if (fired.kind !== "dreamed") throw new Error("expected a dream");
    const review = await rt.service.changes(WS, fired.dreamId);
    expect(review.review).toMatchObject({ state: "pending", mode: "review" });
    expect(review.data.length).toBeGreaterThan(0);
  });
});
