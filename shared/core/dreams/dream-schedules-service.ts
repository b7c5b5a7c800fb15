/**
 * Scheduled dreaming (Reverie extension, `/v1/dream_schedules`): a schedule dreams over one memory
 * store on a cron or rate expression. Each firing takes the sessions that mounted the store since
 * the schedule's watermark (in creation order, at most 100, stopping at the first still running),
 * and creates one dream over them; a window with no new sessions creates nothing and calls no model.
 *
 * Stored in `resources`:
 *
 * | pk                     | sk            | holds                                              |
 * |------------------------|---------------|----------------------------------------------------|
 * | `ws#<ws>#dreamsched`   | schedule id   | the schedule (rev-checked)                         |
 * | `dreamsched#all`       | `<ws>#<id>`   | every schedule, for the local scheduler at start   |
 * | `dreamfire#<schedule>` | scheduled time| one firing's plan (ifNotExists: a firing runs once) |
 */
import * as z from "zod";
import type {
  DreamSchedule,
  DreamScheduleCreateBody,
  DreamScheduleListQuery,
  DreamScheduleUpdateBody,
} from "../../contract/dream-schedules.js";
import { isTerminalDreamStatus } from "../../contract/dreams.js";
import { NotFoundError } from "../../contract/errors.js";
import { lazySchema } from "../../contract/lazy-schema.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import { ConditionFailedError, type StoredItem } from "../ports.js";
import { sessionKey } from "../sessions/session-record.js";
import type { DreamDeps } from "./dream-deps.js";
import { type DreamCaller, type DreamsService, dreamIdPrefix } from "./dreams-service.js";
import { parseScheduleExpression } from "./schedule-expression.js";

export const dreamScheduleIdPrefix = "drmsched";
export const scheduleKey = (ws: string) => `ws#${ws}#dreamsched`;
export const allSchedulesKey = "dreamsched#all";
const fireKey = (scheduleId: string) => `dreamfire#${scheduleId}`;

/** The most sessions one dream reads (the Dreams API's limit). */
export const MAX_SESSIONS_PER_DREAM = 100;

/** The trigger behind a schedule: an EventBridge Scheduler schedule on AWS, a timer locally. */
export interface DreamScheduleTrigger {
  /** Creates or replaces the trigger (`enabled: false` keeps it but stops it firing). */
  put(trigger: ScheduleTriggerSpec): Promise<void>;
  delete(workspaceId: string, scheduleId: string): Promise<void>;
}

export interface ScheduleTriggerSpec {
  workspaceId: string;
  scheduleId: string;
  expression: string;
  timezone: string;
  enabled: boolean;
  /** When the schedule was created (rates count from it), epoch ms. */
  anchorMs: number;
}

/** What a trigger delivers: the schedule and the time it was due (EventBridge's scheduled-time). */
export const scheduleFiringSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    workspaceId: z.string().min(1),
    scheduleId: z.string().min(1),
    scheduledTime: z.string().min(1),
  }),
);
export type ScheduleFiring = z.infer<typeof scheduleFiringSchema>;

const storedScheduleSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    schedule: z.custom<DreamSchedule>(),
    createdByKey: z.string().nullable(),
  }),
);
type StoredSchedule = z.infer<typeof storedScheduleSchema> & { rev: number };

const firePlanSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    dreamId: z.string().nullable(),
    sessionIds: z.array(z.string()),
    /** The newest session this firing considered (mounted or not). */
    watermark: z.string().nullable(),
  }),
);

export type FiringOutcome =
  | { kind: "dreamed"; dreamId: string; sessionIds: string[] }
  | { kind: "no_new_sessions" }
  | { kind: "skipped"; reason: string };

export class DreamSchedulesService {
  constructor(
    private readonly deps: DreamDeps,
    private readonly dreams: DreamsService,
    private readonly trigger: DreamScheduleTrigger,
  ) {}

  private now(): string {
    return new Date(this.deps.clock.now()).toISOString();
  }

  async create(caller: DreamCaller, body: DreamScheduleCreateBody): Promise<DreamSchedule> {
    const timezone = body.timezone ?? "UTC";
    parseScheduleExpression(body.schedule_expression, { allowSeconds: this.deps.options.allowSecondRates });
    const store = await this.deps.memory.describe(caller.workspaceId, body.memory_store_id);
    if (!store) throw new NotFoundError("memory store", body.memory_store_id);
    const now = this.now();
    const schedule: DreamSchedule = {
      type: "dream_schedule",
      id: this.deps.ids.next(dreamScheduleIdPrefix),
      memory_store_id: store.id,
      schedule_expression: body.schedule_expression,
      timezone,
      model: { id: typeof body.model === "string" ? body.model : body.model.id },
      instructions: body.instructions ?? null,
      mode: body.mode,
      status: "active",
      watermark_session_id: null,
      last_fired_at: null,
      last_dream_id: null,
      metadata: body.metadata ?? {},
      created_at: now,
      updated_at: now,
    };
    await this.deps.store.put(
      "resources",
      {
        pk: scheduleKey(caller.workspaceId),
        sk: schedule.id,
        rev: 1,
        schemaVersion: 1,
        schedule,
        createdByKey: caller.apiKeyId,
      },
      { expectedRev: 0 },
    );
    await this.deps.store.put("resources", {
      pk: allSchedulesKey,
      sk: `${caller.workspaceId}#${schedule.id}`,
    });
    await this.trigger.put(specOf(caller.workspaceId, schedule));
    return schedule;
  }

  private async load(workspaceId: string, id: string): Promise<StoredSchedule> {
    const item = await this.deps.store.get("resources", scheduleKey(workspaceId), id);
    if (!item) throw new NotFoundError("dream schedule", id);
    return { ...storedScheduleSchema.parse(item), rev: Number(item.rev) };
  }

  async retrieve(workspaceId: string, id: string): Promise<DreamSchedule> {
    return (await this.load(workspaceId, id)).schedule;
  }

  /** Rev-checked change of a schedule; `change` returns undefined to leave it as it is. */
  private async change(
    workspaceId: string,
    id: string,
    change: (schedule: DreamSchedule) => DreamSchedule | undefined,
  ): Promise<{ schedule: DreamSchedule; changed: boolean }> {
    for (;;) {
      const current = await this.load(workspaceId, id);
      const next = change(structuredClone(current.schedule));
      if (!next) return { schedule: current.schedule, changed: false };
      const item: StoredItem = {
        pk: scheduleKey(workspaceId),
        sk: id,
        rev: current.rev + 1,
        schemaVersion: 1,
        schedule: next,
        createdByKey: current.createdByKey,
      };
      try {
        await this.deps.store.put("resources", item, { expectedRev: current.rev });
        return { schedule: next, changed: true };
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
  }

  async update(workspaceId: string, id: string, body: DreamScheduleUpdateBody): Promise<DreamSchedule> {
    const current = await this.retrieve(workspaceId, id);
    const timezone = body.timezone ?? current.timezone;
    parseScheduleExpression(body.schedule_expression ?? current.schedule_expression, {
      allowSeconds: this.deps.options.allowSecondRates,
    });
    const { schedule } = await this.change(workspaceId, id, (s) => ({
      ...s,
      schedule_expression: body.schedule_expression ?? s.schedule_expression,
      timezone,
      model:
        body.model === undefined
          ? s.model
          : { id: typeof body.model === "string" ? body.model : body.model.id },
      instructions: body.instructions === undefined ? s.instructions : body.instructions,
      mode: body.mode ?? s.mode,
      updated_at: this.now(),
    }));
    await this.trigger.put(specOf(workspaceId, schedule));
    return schedule;
  }

  async setStatus(workspaceId: string, id: string, status: "active" | "paused"): Promise<DreamSchedule> {
    const { schedule } = await this.change(workspaceId, id, (s) =>
      s.status === status ? undefined : { ...s, status, updated_at: this.now() },
    );
    await this.trigger.put(specOf(workspaceId, schedule));
    return schedule;
  }

  async delete(workspaceId: string, id: string): Promise<{ id: string; type: "dream_schedule_deleted" }> {
    await this.retrieve(workspaceId, id);
    // Trigger first: a schedule item without a trigger is harmless, a trigger without an item fires into a 404.
    await this.trigger.delete(workspaceId, id);
    await this.deps.store.delete("resources", scheduleKey(workspaceId), id);
    await this.deps.store.delete("resources", allSchedulesKey, `${workspaceId}#${id}`);
    return { id, type: "dream_schedule_deleted" };
  }

  async list(workspaceId: string, query: DreamScheduleListQuery): Promise<PageCursorBody<DreamSchedule>> {
    return collectPage({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: async (after, batch) =>
        this.deps.store.query("resources", scheduleKey(workspaceId), {
          before: after as string | undefined,
          order: "desc",
          limit: batch,
        }),
      keyOf: (item) => String(item.sk),
      keep: () => true,
      map: (item) => storedScheduleSchema.parse(item).schedule,
    });
  }

  /** Every schedule of every workspace (the local scheduler arms them at start). */
  async all(): Promise<ScheduleTriggerSpec[]> {
    const out: ScheduleTriggerSpec[] = [];
    for (const entry of await this.deps.store.query("resources", allSchedulesKey)) {
      const [workspaceId, id] = String(entry.sk).split("#") as [string, string];
      const item = await this.deps.store.get("resources", scheduleKey(workspaceId), id);
      if (item) out.push(specOf(workspaceId, storedScheduleSchema.parse(item).schedule));
    }
    return out;
  }

  /**
   * One firing, exactly once per scheduled time: the plan (dream id and sessions) is written first
   * with ifNotExists, so a duplicate or retried delivery carries out the same plan and no other.
   */
  async fire(firing: ScheduleFiring): Promise<FiringOutcome> {
    const { workspaceId, scheduleId } = firing;
    const item = await this.deps.store.get("resources", scheduleKey(workspaceId), scheduleId);
    if (!item) return { kind: "skipped", reason: "schedule deleted" };
    const stored = storedScheduleSchema.parse(item);
    const schedule = stored.schedule;
    if (schedule.status !== "active") return { kind: "skipped", reason: "schedule paused" };

    let plan = await this.plan(scheduleId, firing.scheduledTime);
    if (!plan) {
      if (schedule.last_dream_id) {
        const last = await this.deps.dreams.get(workspaceId, schedule.last_dream_id);
        if (last && !isTerminalDreamStatus(last.dream.status)) {
          return { kind: "skipped", reason: `dream ${last.dream.id} is still ${last.dream.status}` };
        }
      }
      const { sessionIds, watermark } = await this.newSessions(workspaceId, schedule);
      const proposed = {
        schemaVersion: 1 as const,
        dreamId: sessionIds.length ? this.deps.ids.next(dreamIdPrefix) : null,
        sessionIds,
        watermark,
      };
      try {
        await this.deps.store.put(
          "resources",
          { pk: fireKey(scheduleId), sk: firing.scheduledTime, plan: proposed },
          { ifNotExists: true },
        );
        plan = proposed;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
        plan = (await this.plan(scheduleId, firing.scheduledTime)) as z.infer<typeof firePlanSchema>;
      }
    }

    const advance = (s: DreamSchedule, watermark: string | null) =>
      watermark && (s.watermark_session_id === null || watermark > s.watermark_session_id)
        ? watermark
        : s.watermark_session_id;
    const planned = plan;
    if (planned.dreamId === null) {
      await this.change(workspaceId, scheduleId, (s) => ({
        ...s,
        last_fired_at: firing.scheduledTime,
        watermark_session_id: advance(s, planned.watermark),
      }));
      return { kind: "no_new_sessions" };
    }
    const caller: DreamCaller = { workspaceId, apiKeyId: stored.createdByKey };
    const dream = await this.dreams.create(
      caller,
      {
        inputs: [
          { type: "memory_store", memory_store_id: schedule.memory_store_id },
          { type: "sessions", session_ids: planned.sessionIds },
        ],
        model: schedule.model.id,
        instructions: schedule.instructions,
        output_behavior: { type: "update_existing", memory_store_id: schedule.memory_store_id },
      },
      { mode: schedule.mode, scheduleId, dreamId: planned.dreamId },
    );
    await this.change(workspaceId, scheduleId, (s) => ({
      ...s,
      last_fired_at: firing.scheduledTime,
      last_dream_id: dream.id,
      watermark_session_id: advance(s, planned.watermark),
    }));
    return { kind: "dreamed", dreamId: dream.id, sessionIds: planned.sessionIds };
  }

  private async plan(scheduleId: string, scheduledTime: string) {
    const item = await this.deps.store.get("resources", fireKey(scheduleId), scheduledTime);
    return item ? firePlanSchema.parse(item.plan) : undefined;
  }

  /**
   * Sessions created after the watermark that mounted the store, oldest first, at most 100. Reads
   * only sessions newer than the watermark (ids sort by creation), so the cost is the window's, not
   * the history's. Stops at the first session still working: the watermark never passes a session
   * whose transcript may still grow.
   */
  async newSessions(
    workspaceId: string,
    schedule: DreamSchedule,
  ): Promise<{ sessionIds: string[]; watermark: string | null }> {
    const sessionIds: string[] = [];
    let watermark = schedule.watermark_session_id;
    for (;;) {
      const batch = await this.deps.store.query("resources", sessionKey(workspaceId), {
        after: watermark ?? undefined,
        order: "asc",
        limit: 200,
      });
      for (const item of batch) {
        const session = item.session as {
          id: string;
          status: string;
          resources?: unknown[];
          metadata?: Record<string, string>;
        };
        const mounted =
          !session.metadata?.reverie_dream_id && // never a dream's own session
          (session.resources ?? []).some(
            (r) => (r as { memory_store_id?: string }).memory_store_id === schedule.memory_store_id,
          );
        if (mounted && (session.status === "running" || session.status === "rescheduling")) {
          return { sessionIds, watermark };
        }
        if (mounted) sessionIds.push(session.id);
        watermark = session.id;
        if (sessionIds.length === MAX_SESSIONS_PER_DREAM) return { sessionIds, watermark };
      }
      if (batch.length < 200) return { sessionIds, watermark };
    }
  }
}

function specOf(workspaceId: string, schedule: DreamSchedule): ScheduleTriggerSpec {
  return {
    workspaceId,
    scheduleId: schedule.id,
    expression: schedule.schedule_expression,
    timezone: schedule.timezone,
    enabled: schedule.status === "active",
    anchorMs: Date.parse(schedule.created_at),
  };
}
