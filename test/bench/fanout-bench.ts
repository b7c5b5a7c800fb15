/**
 * `npm run bench` (second part): the fan-out engine's overhead. A coordinator dispatches 25 threads
 * in one turn; every thread's upstream model call takes 2 s. Measured: from the coordinator's
 * dispatching answer to its resume request (every result in), as a ratio to the slowest thread's
 * upstream call. Target ≤ 1.1: the Map, the queue round trips and the callbacks add little beside
 * the threads' own work, because the threads run side by side (MaxConcurrency 25).
 *
 * The embedded stack runs with its default step concurrency (32, as Lambda would scale the
 * agent-step function); data in memory. The upstream (the mock Messages server) runs on a worker
 * thread, as a real model runs elsewhere (fanout-upstream.ts says why it matters). Knobs (env):
 * FANOUT_THREADS (25), FANOUT_THREAD_MS (2000), FANOUT_ROUNDS (5, after FANOUT_WARMUP=1 uncounted),
 * FANOUT_UPSTREAM=in-process.
 */
import { loadavg } from "node:os";
import { Worker } from "node:worker_threads";
import { AnthropicModel } from "../../shared/adapters/model/anthropic-model.js";
import { startHarness } from "../fixtures/reverie-harness.js";
import { fanoutModel, type UpstreamOptions, type UpstreamReport } from "./fanout-model.js";

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const THREADS = envInt("FANOUT_THREADS", 25);
const THREAD_MS = envInt("FANOUT_THREAD_MS", 2000);
const ROUNDS = envInt("FANOUT_ROUNDS", 5);
/** Rounds run first and not counted: the first fan-out of a process compiles its code paths. */
const WARMUP = Number(process.env.FANOUT_WARMUP ?? 1);
/** FANOUT_UPSTREAM=in-process runs the mock upstream on the stack's own thread (the bench before). */
const IN_PROCESS = process.env.FANOUT_UPSTREAM === "in-process";
const TARGET = 1.1;
const log = (line = "") => process.stderr.write(`${line}\n`);
/** What the upstream saw in one round. */
interface Observed {
  dispatchedAt: number;
  resumedAt: number;
  threadCalls: number[];
}

/** Starts fanout-upstream.ts on a worker thread (tsx's loader registered there too). */
async function startWorkerUpstream(onReport: (report: UpstreamReport) => void) {
  const boot = `
    const { register } = await import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))});
    register();
    await import(${JSON.stringify(new URL("./fanout-upstream.ts", import.meta.url).href)});`;
  const options: UpstreamOptions = { threads: THREADS, threadMs: THREAD_MS };
  const worker = new Worker(new URL(`data:text/javascript,${encodeURIComponent(boot)}`), {
    workerData: options,
  });
  const url = await new Promise<string>((resolve, reject) => {
    worker.once("error", reject);
    worker.on("message", (report: UpstreamReport) => {
      if (report.type === "ready") resolve(report.url);
      else onReport(report);
    });
  });
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        worker.once("exit", () => resolve());
        worker.postMessage("close");
      }),
  };
}

async function main() {
  const observed: Observed = { dispatchedAt: 0, resumedAt: 0, threadCalls: [] };
  let resumed: () => void = () => {};
  const onReport = (report: UpstreamReport) => {
    if (report.type === "dispatched") observed.dispatchedAt = report.at;
    else if (report.type === "thread_call") observed.threadCalls.push(report.at);
    else if (report.type === "resumed") {
      observed.resumedAt = report.at;
      resumed();
    }
  };
  const upstream = IN_PROCESS ? undefined : await startWorkerUpstream(onReport);
  const h = await startHarness({
    env: { REVERIE_MODEL_TIMEOUT_SECONDS: "60" },
    ...(upstream
      ? {
          model: new AnthropicModel({ apiKey: "sk-upstream-test", baseURL: upstream.url, timeoutMs: 60_000 }),
        }
      : {}),
  });
  if (!upstream) h.upstream.fallback = fanoutModel({ threads: THREADS, threadMs: THREAD_MS }, onReport);
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
    const cpus: number[] = [];
    const load = () => (loadavg()[0] ?? 0).toFixed(1);
    log(
      `fan-out: ${THREADS} threads × ${THREAD_MS} ms upstream (${upstream ? "on a worker thread" : "in process"}), ${WARMUP} warm-up + ${ROUNDS} rounds; load average ${load()}`,
    );
    for (let round = 1 - WARMUP; round <= ROUNDS; round++) {
      observed.threadCalls.length = 0;
      const session = await h.client.beta.sessions.create({
        agent: coordinator.id,
        environment_id: environment.id,
      });
      // The resume is awaited through the mock upstream, not by polling the session: a poll every
      // 20 ms (waitIdle) is a client's work on the same two cores, charged to the fan-out it measures.
      const resumeSeen = new Promise<void>((resolve) => {
        resumed = resolve;
      });
      // The stack's thread CPU over the round: the yardstick that load on the machine does not
      // change much (the ratio is wall time, and on a shared box it is mostly the CPU share we got).
      const cpuBefore = process.threadCpuUsage();
      await h.client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: "fan out" }] }],
      });
      await resumeSeen;
      const cpu = process.threadCpuUsage(cpuBefore);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      if (round > 0) cpus.push(cpuMs);
      await h.waitIdle(session.id, 120_000);
      const { dispatchedAt, resumedAt, threadCalls } = observed;
      const spread = Math.max(...threadCalls) - Math.min(...threadCalls);
      // The slowest thread: its upstream call, the scripted THREAD_MS (each call is answered after it).
      const slowest = THREAD_MS;
      const elapsed = resumedAt - dispatchedAt;
      const ratio = elapsed / slowest;
      if (round > 0) ratios.push(ratio);
      const toFirst = Math.min(...threadCalls) - dispatchedAt;
      const afterLast = resumedAt - (Math.max(...threadCalls) + THREAD_MS);
      log(
        `  ${round > 0 ? `round ${round}` : "warm-up"}: dispatch → resume ${elapsed.toFixed(0)} ms; slowest thread ${slowest} ms; ratio ${ratio.toFixed(3)}; dispatch → first thread call ${toFirst.toFixed(0)} ms, thread calls start over ${spread.toFixed(0)} ms, last answer → resume ${afterLast.toFixed(0)} ms; stack thread CPU ${cpuMs.toFixed(0)} ms`,
      );
    }
    const sorted = [...ratios].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] as number;
    log(
      `fan-out ratio (median of ${ROUNDS}; ${(sorted[0] as number).toFixed(3)}–${(sorted.at(-1) as number).toFixed(3)}; load average ${load()}): ${median.toFixed(3)} (target ≤ ${TARGET}) ${median <= TARGET ? "✓" : "✗"}`,
    );
    const cpuMedian = [...cpus].sort((x, y) => x - y)[Math.floor(cpus.length / 2)] as number;
    log(`  stack thread CPU per fan-out (median): ${cpuMedian.toFixed(0)} ms`);
  } finally {
    await h.close();
    await upstream?.close();
  }
}

await main();
