/**
 * `npm run bench` (second part): the fan-out engine's overhead. A coordinator dispatches 25 threads
 * in one turn; every thread's upstream model call takes 2 s. Measured: from the coordinator's
 * dispatching answer to its resume request (every result in), as a ratio to the slowest thread's
 * upstream call. Target ≤ 1.1: the Map, the queue round trips and the callbacks add little beside
 * the threads' own work, because the threads run side by side (MaxConcurrency 25).
 *
 * The embedded stack runs with its default step concurrency (32, as Lambda would scale the
 * agent-step function); data in memory. Knobs (env): FANOUT_THREADS (25), FANOUT_THREAD_MS (2000), FANOUT_ROUNDS (3).
 */
import type { ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { startHarness } from "../fixtures/reverie-harness.js";

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const THREADS = envInt("FANOUT_THREADS", 25);
const THREAD_MS = envInt("FANOUT_THREAD_MS", 2000);
const ROUNDS = envInt("FANOUT_ROUNDS", 3);
const TARGET = 1.1;
const log = (line = "") => process.stderr.write(`${line}\n`);

const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");

async function main() {
  const h = await startHarness({ env: { REVERIE_MODEL_TIMEOUT_SECONDS: "60" } });
  let dispatchedAt = 0;
  let resumedAt = 0;
  let resumed: () => void = () => {};
  const threadCalls: number[] = [];
  h.upstream.fallback = (r) => {
    if (systemOf(r) === "COORDINATOR") {
      const last = r.body.messages.at(-1)?.content;
      if (Array.isArray(last) && last.some((b) => b.type === "tool_result")) {
        resumedAt = performance.now();
        resumed();
        return { content: "all done" };
      }
      dispatchedAt = performance.now();
      return {
        stop_reason: "tool_use",
        content: Array.from({ length: THREADS }, (_, i) => ({
          type: "tool_use" as const,
          name: "send_to_agent",
          input: { agent_name: "worker", message: `part ${i}` },
        })),
      };
    }
    const started = performance.now();
    return {
      content: "part done",
      delayMs: THREAD_MS,
      // The answer leaves after the delay; record the call's length when it is built.
      ...(threadCalls.push(started) ? {} : {}),
    };
  };
  try {
    const environment = await h.client.beta.environments.create({ name: "bench" });
    const worker = await h.client.beta.agents.create({
      name: "worker",
      model: "claude-haiku-4-5",
      system: "WORKER",
    });
    const coordinator = await h.client.beta.agents.create({
      name: "lead",
      model: "claude-sonnet-4-6",
      system: "COORDINATOR",
      multiagent: { type: "coordinator", agents: [worker.id] },
    });
    const ratios: number[] = [];
    log(`fan-out: ${THREADS} threads × ${THREAD_MS} ms upstream, ${ROUNDS} rounds`);
    for (let round = 0; round < ROUNDS; round++) {
      threadCalls.length = 0;
      const session = await h.client.beta.sessions.create({
        agent: coordinator.id,
        environment_id: environment.id,
      });
      // The resume is awaited through the mock upstream, not by polling the session: a poll every
      // 20 ms (waitIdle) is a client's work on the same two cores, charged to the fan-out it measures.
      const resumeSeen = new Promise<void>((resolve) => {
        resumed = resolve;
      });
      await h.client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "fan out" }] }],
      });
      await resumeSeen;
      await h.waitIdle(session.id, 120_000);
      const spread = Math.max(...threadCalls) - Math.min(...threadCalls);
      // The slowest thread: its upstream call, the scripted THREAD_MS (each call is answered after it).
      const slowest = THREAD_MS;
      const elapsed = resumedAt - dispatchedAt;
      const ratio = elapsed / slowest;
      ratios.push(ratio);
      const toFirst = Math.min(...threadCalls) - dispatchedAt;
      const afterLast = resumedAt - (Math.max(...threadCalls) + THREAD_MS);
      log(
        `  round ${round + 1}: dispatch → resume ${elapsed.toFixed(0)} ms; slowest thread ${slowest} ms; ratio ${ratio.toFixed(3)}; dispatch → first thread call ${toFirst.toFixed(0)} ms, thread calls start over ${spread.toFixed(0)} ms, last answer → resume ${afterLast.toFixed(0)} ms`,
      );
    }
    const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)] as number;
    log(
      `fan-out ratio (median of ${ROUNDS}): ${median.toFixed(3)} (target ≤ ${TARGET}) ${median <= TARGET ? "✓" : "✗"}`,
    );
  } finally {
    await h.close();
  }
}

await main();
