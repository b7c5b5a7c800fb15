/**
 * `npm run bench` (dreams): input tokens of one dream over 10 new sessions, with 10, 100 and 1,000
 * prior sessions already dreamt over, on the in-memory core with the simulated dreamer. A schedule
 * dreams over the history first (100 sessions per dream) so the store holds what those dreams
 * wrote; then 10 new sessions arrive and one more firing dreams over exactly them. The target is a
 * flat input: ≤ 1.1× from 10 to 1,000 prior sessions, because a dream reads only its own sessions
 * (through the capped pre-pass) and the store, never the history.
 *
 * Knobs (env): DREAM_BENCH_HISTORY ("10,100,1000").
 */

import type { Session } from "../../shared/contract/sdk-types.js";
import { DreamSchedulesService } from "../../shared/core/dreams/dream-schedules-service.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { dreamRuntime, WS } from "../fixtures/dream-runtime.js";
import { typicalSession } from "../fixtures/dream-transcripts.js";

const histories = (process.env.DREAM_BENCH_HISTORY ?? "10,100,1000").split(",").map(Number);
const caller = { workspaceId: WS, apiKeyId: "apikey_bench" };

async function measure(history: number) {
  const rt = dreamRuntime();
  await rt.memory.seed("memstore_bench", {
    "/conventions.md": "Use tabs. Run the linter before committing.\n",
    "/people.md": "Ada owns billing. Grace reviews infra.\n",
    "/build.md": "CI runs on Node 24.\n",
  });
  const schedules = new DreamSchedulesService(rt.deps, rt.service, {
    put: async () => {},
    delete: async () => {},
  });
  const schedule = await schedules.create(caller, {
    memory_store_id: "memstore_bench",
    schedule_expression: "rate(1 hour)",
    model: "claude-sonnet-4-6",
    mode: "auto",
  });
  let n = 0;
  const addSessions = async (count: number) => {
    for (let i = 0; i < count; i++) {
      rt.advance(1000);
      const id = rt.deps.ids.next("sesn");
      const t = typicalSession(id, n++);
      await rt.deps.sessions.create({
        workspaceId: WS,
        session: {
          id,
          status: "idle",
          resources: [{ type: "memory_store", memory_store_id: "memstore_bench", access: "read_write" }],
          metadata: {},
        } as unknown as Session,
        run: newRunState(),
      });
      await rt.deps.events.append(id, [...t.events]);
    }
  };
  let firing = 0;
  const fireAll = async () => {
    for (;;) {
      const outcome = await schedules.fire({
        schemaVersion: 1,
        workspaceId: WS,
        scheduleId: schedule.id,
        scheduledTime: `t${firing++}`,
      });
      await rt.drain();
      if (outcome.kind !== "dreamed") return;
    }
  };
  await addSessions(history);
  await fireAll();

  const logsRead = new Set<string>();
  const read = rt.deps.events.read.bind(rt.deps.events);
  rt.deps.events.read = (sessionId, options) => {
    logsRead.add(sessionId);
    return read(sessionId, options);
  };
  await addSessions(10);
  const before = rt.model.requests.length;
  const outcome = await schedules.fire({
    schemaVersion: 1,
    workspaceId: WS,
    scheduleId: schedule.id,
    scheduledTime: "new",
  });
  await rt.drain();
  if (outcome.kind !== "dreamed") throw new Error(`expected a dream, got ${outcome.kind}`);
  const dream = await rt.service.retrieve(WS, outcome.dreamId);
  return {
    history,
    newSessions: outcome.sessionIds.length,
    sessionLogsRead: logsRead.size,
    modelCalls: rt.model.requests.length - before,
    inputTokens: dream.usage.input_tokens,
    storeMemories: Object.keys(await rt.memory.contents("memstore_bench")).length,
  };
}

const rows = [];
for (const history of histories) rows.push(await measure(history));
const base = rows[0]?.inputTokens ?? 1;
console.log("\nDream input tokens for 10 new sessions, by prior history (simulated dreamer, chars/4 tokens)");
console.table(rows.map((r) => ({ ...r, growth: `${(r.inputTokens / base).toFixed(3)}×` })));
const worst = Math.max(...rows.map((r) => r.inputTokens / base));
console.log(
  `growth from ${rows[0]?.history} to ${rows.at(-1)?.history} prior sessions: ${worst.toFixed(3)}× (target ≤ 1.1×)`,
);
if (worst > 1.1) process.exitCode = 1;
