/**
 * Scheduled dreaming on the embedded stack: a short-rate schedule fires on the wall clock, dreams
 * over exactly the sessions that mounted its store since the last firing, and a firing with no new
 * sessions calls no model.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isDreamerRequest } from "../../shared/adapters/model/simulated-dreamer.js";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import type { DreamSchedule } from "../../shared/contract/dream-schedules.js";
import { CountingModel } from "../fixtures/dream-runtime.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
const model = new CountingModel(new SimulatedModel());
const dreamCalls = () => model.requests.filter(isDreamerRequest).length;

beforeAll(async () => {
  h = await startHarness({ model, env: { REVERIE_DREAM_ALLOW_SECOND_RATES: "1" } });
});
afterAll(async () => h.close());

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("dream schedules on the embedded stack", () => {
  it("fires on a short rate over exactly the new sessions; an empty window makes no model call", async () => {
    const store = await h.client.beta.memoryStores.create({ name: "scheduled" });
    await h.client.beta.memoryStores.memories.create(store.id, { path: "/a.md", content: "Alpha.\n" });
    const { agentId, environmentId } = await h.setup();
    const mounted: string[] = [];
    for (const n of [1, 2, 3]) {
      const session = await h.client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
        // Session 2 does not mount the store, so the schedule must leave it out.
        resources: n === 2 ? [] : [{ type: "memory_store", memory_store_id: store.id }],
      });
      await h.client.beta.sessions.events.send(session.id, {
        events: [
          { type: "user.message", content: [{ type: "text", text: `read missing${n}.md then list files` }] },
        ],
      });
      await h.waitIdle(session.id);
      if (n !== 2) mounted.push(session.id);
    }

    const schedule = (await h.client.post("/v1/dream_schedules", {
      body: {
        memory_store_id: store.id,
        schedule_expression: "rate(2 seconds)",
        model: "claude-sonnet-4-6",
        mode: "auto",
      },
    })) as DreamSchedule;
    expect(schedule).toMatchObject({ type: "dream_schedule", status: "active" });

    const fired = await until("the first dream", async () => {
      const s = (await h.client.get(`/v1/dream_schedules/${schedule.id}`)) as DreamSchedule;
      return s.last_dream_id ? s : undefined;
    });
    const dream = await until("the dream to finish", async () => {
      const d = await h.client.beta.dreams.retrieve(fired.last_dream_id as string);
      return d.status === "completed" || d.status === "failed" ? d : undefined;
    });
    expect(dream.status).toBe("completed");
    const sessions = dream.inputs.find((i) => i.type === "sessions");
    expect(sessions && "session_ids" in sessions ? sessions.session_ids : []).toEqual([...mounted].sort());
    // The dreamer is an agent: one dream is several model calls (its steps).
    const calls = dreamCalls();
    expect(calls).toBeGreaterThan(1);

    // The next firing finds no new sessions: it records the firing and calls no model.
    const firstFiredAt = fired.last_fired_at;
    const later = await until("a later firing", async () => {
      const s = (await h.client.get(`/v1/dream_schedules/${schedule.id}`)) as DreamSchedule;
      return s.last_fired_at !== firstFiredAt ? s : undefined;
    });
    expect(later.last_dream_id).toBe(dream.id);
    expect(dreamCalls()).toBe(calls);

    const paused = (await h.client.post(`/v1/dream_schedules/${schedule.id}/pause`)) as DreamSchedule;
    expect(paused.status).toBe("paused");
    const deleted = await h.client.delete(`/v1/dream_schedules/${schedule.id}`);
    expect(deleted).toEqual({ id: schedule.id, type: "dream_schedule_deleted" });
  });
});
