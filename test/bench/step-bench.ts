/**
 * `npm run bench`: the cost of one agent step (one model call + its tool) on Reverie's embedded
 * stack, beside two baselines measured in the same run, on the same 0 ms scripted model (one mock
 * Messages server) and the same tool loop:
 *   (a) the official SDK in a plain in-memory loop (no durability);
 *   (b) LangGraph.js `createReactAgent` with a SqliteSaver checkpointer on disk (durable).
 *
 * A session is: user message → tool_use `write` → tool runs → end_turn text; 2 steps, 1 tool.
 * Sequential: warm-up, then R rounds of N sessions one after another (ms per step = ms per session
 * / 2), the systems taking turns session by session, so that whatever else the machine does weighs
 * on all of them alike. The verdict is the median of the rounds' ratios (each round's p50 over
 * LangGraph's p50 in the same round), printed with their range: one round's ratio moves by ±15% on
 * a shared machine. Concurrent: C sessions at once → steps per second (median of a few rounds).
 * Reverie runs twice: without an event stream open, and followed over SSE.
 * Then Reverie alone: a V8 CPU profile summed by code owner (AWS SDK, dynalite, …), and an
 * instrumented pass that counts DynamoDB round trips per step and times the phases of a step, and a
 * timeline of a turn's milestones (session-timeline.ts).
 * Results go to test/bench/results/latest.json; with BENCH_RECORD=1 also to results/<date>.json, a
 * run kept on record.
 *
 * Knobs (env): BENCH_SESSIONS (30 per round), BENCH_ROUNDS (5), BENCH_WARMUP (5), BENCH_CONCURRENCY (50), BENCH_CONCURRENT_ROUNDS (3),
 * BENCH_PROFILE_SESSIONS (20), BENCH_TIMELINE_SESSIONS (50), BENCH_STEP_CONCURRENCY (the stack's default, 8), BENCH_STORE (sqlite | dynalite);
 * BENCH_DEBUG_OWNER=<owner>
 * prints the hottest stacks charged to one owner of the CPU profile.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type CpuShare, profileCpu } from "./cpu-profile.js";
import { type DirectSdkSystem, startDirectSdk } from "./direct-sdk.js";
import { type LangGraphSystem, startLangGraph } from "./langgraph.js";
import { instrument, type ReverieSystem, type StepProfile, startReverie } from "./reverie.js";
import { sessionTimeline, type TimelineMark } from "./session-timeline.js";
import { now, percentile, round, type SystemResult, summariseSequential } from "./stats.js";
import { benchModel, STEPS_PER_SESSION } from "./workload.js";

const nodeMajor = Number(process.versions.node.split(".")[0]);
if (nodeMajor < 22) {
  // better-sqlite3 13 (LangGraph's checkpointer) needs Node ≥ 22; the project runs on Node 24.
  console.error(
    `npm run bench needs the project's Node 24 (found ${process.version}): run it with npm run, which puts node_modules/.bin first on PATH.`,
  );
  process.exit(1);
}

const envInt = (name: string, fallback: number) => {
  const value = Number(process.env[name]);
  return Number.isInteger(value) && value > 0 ? value : fallback;
};
const SESSIONS = envInt("BENCH_SESSIONS", 30);
const ROUNDS = envInt("BENCH_ROUNDS", 5);
const WARMUP = envInt("BENCH_WARMUP", 5);
const CONCURRENT = envInt("BENCH_CONCURRENCY", 50);
const CONCURRENT_ROUNDS = envInt("BENCH_CONCURRENT_ROUNDS", 3);
const PROFILE_SESSIONS = envInt("BENCH_PROFILE_SESSIONS", 20);
const TIMELINE_SESSIONS = envInt("BENCH_TIMELINE_SESSIONS", 50);
const STEP_CONCURRENCY = process.env.BENCH_STEP_CONCURRENCY ? envInt("BENCH_STEP_CONCURRENCY", 8) : undefined;
const TARGET_RATIO = 0.5;

const log = (line = "") => process.stderr.write(`${line}\n`);

interface Runner {
  name: string;
  durable: boolean;
  /** One timed session, sequential mode; returns ms. */
  session(tag: string): Promise<number>;
  /** `count` sessions at once; returns wall ms until all are done. */
  concurrent(count: number, prefix: string): Promise<number>;
  notes: string[];
}

function directRunner(direct: DirectSdkSystem): Runner {
  return {
    name: "direct SDK loop (in memory)",
    durable: false,
    notes: ["official @anthropic-ai/sdk messages.create in a loop; messages in an array; no persistence"],
    async session(tag) {
      const started = now();
      await direct.runSession(tag);
      return now() - started;
    },
    async concurrent(count, prefix) {
      const started = now();
      await Promise.all(Array.from({ length: count }, (_, i) => direct.runSession(`${prefix}${i}`)));
      return now() - started;
    },
  };
}

function langGraphRunner(graph: LangGraphSystem): Runner {
  return {
    name: "LangGraph + SqliteSaver (durable)",
    durable: true,
    notes: [
      "createReactAgent + ChatAnthropic (same mock server) + tool(); SqliteSaver on a file in a temp dir",
      "time per invoke() on a fresh thread_id",
    ],
    async session(tag) {
      const started = now();
      await graph.runSession(tag);
      return now() - started;
    },
    async concurrent(count, prefix) {
      const started = now();
      await Promise.all(Array.from({ length: count }, (_, i) => graph.runSession(`${prefix}${i}`)));
      return now() - started;
    },
  };
}

function reverieUnwatchedRunner(reverie: ReverieSystem): Runner {
  return {
    name: "Reverie, no SSE client",
    durable: true,
    notes: [
      "same stack, no event stream open: timed from events.send until the step queue drained (every write committed)",
    ],
    session: (tag) => reverie.runSessionUnwatched(tag),
    concurrent: (count, prefix) => reverie.concurrentUnwatched(count, prefix),
  };
}

function reverieRunner(reverie: ReverieSystem, idleMs: number[]): Runner {
  return {
    name: "Reverie (SSE client)",
    durable: true,
    notes: [
      `official SDK against the embedded stack: ${process.env.BENCH_STORE === "dynalite" ? "dynalite on LevelDB" : "SQLite"} store + durable SQLite queue, data dir on disk; a turn's steps chained in one consumer (REVERIE_STEP_CHAIN_SECONDS)`,
      "timed from events.send until status_idle was streamed (SSE) AND the step queue drained (every write committed); session create + stream open are not timed",
    ],
    async session(tag) {
      const timing = await reverie.runSession(tag);
      idleMs.push(timing.idleMs);
      return timing.settledMs;
    },
    async concurrent(count, prefix) {
      const prepared = await Promise.all(
        Array.from({ length: count }, (_, i) => reverie.prepare(`${prefix}${i}`)),
      );
      const started = now();
      await Promise.all(prepared.map((p) => reverie.turn(p, started)));
      await reverie.harness.stack.queue.drained();
      return now() - started;
    },
  };
}

/**
 * Measures a group of systems side by side: warm-up, then the sequential sessions round-robin (one
 * session of each system in turn, so that load from outside the bench weighs on all of them alike),
 * then the concurrent rounds, again alternating; the median round is reported.
 */
async function measureGroup(runners: Runner[]): Promise<SystemResult[]> {
  log(
    `· ${runners.map((r) => r.name).join(" | ")}: warm-up ${WARMUP}, ${ROUNDS}× ${SESSIONS} sequential (interleaved), ` +
      `${CONCURRENT_ROUNDS}× ${CONCURRENT} concurrent`,
  );
  for (let i = 0; i < WARMUP; i++) for (const runner of runners) await runner.session(`warm${i}`);
  const sessionMs = runners.map(() => [] as number[]);
  const cpuMicros = runners.map(() => 0);
  for (let i = 0; i < ROUNDS * SESSIONS; i++) {
    for (const [k, runner] of runners.entries()) {
      const cpuBefore = process.cpuUsage();
      (sessionMs[k] as number[]).push(await runner.session(`seq${i}`));
      const cpu = process.cpuUsage(cpuBefore);
      cpuMicros[k] = (cpuMicros[k] as number) + cpu.user + cpu.system;
    }
  }
  const rounds = runners.map(() => [] as number[]);
  for (let round = 0; round < CONCURRENT_ROUNDS; round++) {
    for (const [k, runner] of runners.entries())
      (rounds[k] as number[]).push(await runner.concurrent(CONCURRENT, `conc${round}-`));
  }
  return runners.map((runner, k) => {
    const times = sessionMs[k] as number[];
    const wallMs = percentile(rounds[k] as number[], 50);
    const steps = ROUNDS * SESSIONS * STEPS_PER_SESSION;
    return {
      system: runner.name,
      durable: runner.durable,
      sequential: {
        ...summariseSequential(times, STEPS_PER_SESSION),
        // the whole process (mock model server and bench client included), over the timed sessions
        cpuMsPerStep: round((cpuMicros[k] as number) / 1000 / steps, 3),
        cpuBusyPercent: round((100 * (cpuMicros[k] as number)) / 1000 / times.reduce((a, b) => a + b, 0), 1),
      },
      concurrent: {
        sessions: CONCURRENT,
        rounds: (rounds[k] as number[]).map((ms) => round(ms, 1)),
        wallMs: round(wallMs, 1),
        stepsPerSecond: round((CONCURRENT * STEPS_PER_SESSION * 1000) / wallMs, 1),
      },
      notes: runner.notes,
    };
  });
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function fmt(value: number, digits = 2): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "n/a";
}

function printTable(results: SystemResult[]): void {
  const header = [
    "system",
    "durable",
    "ms/step p50",
    "ms/step p99",
    "ms/session p50",
    "CPU ms/step",
    `steps/s @${CONCURRENT}`,
  ];
  const rows = results.map((r) => [
    r.system,
    r.durable ? "yes" : "no",
    fmt(r.sequential.msPerStepP50),
    fmt(r.sequential.msPerStepP99),
    fmt(r.sequential.msPerSessionP50),
    fmt(r.sequential.cpuMsPerStep ?? Number.NaN),
    fmt(r.concurrent.stepsPerSecond, 1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i] as number, i >= 2)).join("  ");
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}

function printProfile(p: StepProfile): void {
  console.log(
    `\nReverie step profile (${p.steps} steps in ${p.messages} step-queue messages over ${p.sessions} sequential sessions, instrumented run; timers add overhead):`,
  );
  console.log(`  step handler wall        ${fmt(p.handlerMsPerStep)} ms/step`);
  console.log(
    `  document store           ${fmt(p.storeCallsPerStep, 1)} round trips/step, ${fmt(p.storeMsPerStep)} ms/step`,
  );
  console.log(
    `  model call (0 ms mock)   ${fmt(p.modelCallsPerStep, 1)} calls/step, ${fmt(p.modelMsPerStep)} ms/step`,
  );
  console.log(`  tool (workspace write)   ${fmt(p.toolMsPerStep)} ms/step`);
  console.log(
    `  queue send               ${fmt(p.queueSendsPerStep, 1)} sends/step, ${fmt(p.queueSendMsPerStep)} ms/step`,
  );
  console.log(`  everything else (CPU)    ${fmt(p.otherMsPerStep)} ms/step`);
  console.log("  step-side store calls per step, by call:");
  for (const c of p.stepCalls)
    console.log(`    ${fmt(c.perStep, 2).padStart(5)}  ${c.call}  (avg ${fmt(c.avgMs)} ms)`);
  console.log("  step-side store calls per step, by core function:");
  for (const s of p.stepCallSites) console.log(`    ${fmt(s.perStep, 2).padStart(5)}  ${s.site}`);
  console.log("  store calls outside steps, per session (2 steps):");
  for (const a of p.apiCallsPerSession)
    console.log(`    ${fmt(a.perSession, 1).padStart(5)}  ${a.phase}  (avg ${fmt(a.avgMs)} ms)`);
}

/** Lays the JSON out the way `npm run lint` (biome) expects, so a saved run never fails the lint. */
function printTimeline(marks: TimelineMark[]): void {
  console.log(
    `\nReverie: one turn's wall time, milestone by milestone (median of ${TIMELINE_SESSIONS} sequential sessions, SSE client; ` +
      "client, stack and mock model share one thread, so each gap is CPU work, not waiting):",
  );
  let previous = 0;
  for (const { label, msSinceSend } of marks) {
    console.log(`  ${fmt(msSinceSend).padStart(6)} ms  +${fmt(msSinceSend - previous).padEnd(5)}  ${label}`);
    previous = msSinceSend;
  }
}

function formatJson(repoRoot: string, files: string[]): void {
  try {
    execFileSync(join(repoRoot, "node_modules", ".bin", "biome"), ["format", "--write", ...files], {
      cwd: repoRoot,
      stdio: "ignore",
    });
  } catch {
    log("(biome not available: results left as JSON.stringify wrote them)");
  }
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const benchStart = now();
  log(
    `Reverie step bench — node ${process.version}, ${availableParallelism()} CPUs (${cpus()[0]?.model ?? "?"})`,
  );

  const reverie = await startReverie(
    STEP_CONCURRENCY !== undefined ? { stepConcurrency: STEP_CONCURRENCY } : {},
  );
  const upstream = reverie.harness.upstream;
  const clearUpstream = () => {
    upstream.reset(); // drops the recorded requests (and restores the default fallback)
    upstream.fallback = benchModel;
  };
  const direct = await startDirectSdk(upstream.url);
  const graph = await startLangGraph(upstream.url);
  const reverieIdleMs: number[] = [];

  const results: SystemResult[] = [];
  let profile: StepProfile;
  let cpuShares: CpuShare[];
  let cpuProcessMsPerStep: number;
  let checkpointsPerSession: number;
  let timeline: TimelineMark[];
  try {
    const measureAndCheck = async (group: Runner[]) => {
      clearUpstream();
      results.push(...(await measureGroup(group)));
      const expected =
        (WARMUP + ROUNDS * SESSIONS + CONCURRENT * CONCURRENT_ROUNDS) * STEPS_PER_SESSION * group.length;
      if (upstream.received.length !== expected)
        throw new Error(`${upstream.received.length} model calls, expected ${expected}`);
    };
    // All four in one group: each ratio compares sessions run side by side, in the same seconds. (A
    // client's closed SSE stream ends its follower at once, so the SSE runner weighs on no other.)
    await measureAndCheck([
      directRunner(direct),
      langGraphRunner(graph),
      reverieUnwatchedRunner(reverie),
      reverieRunner(reverie, reverieIdleMs),
    ]);
    checkpointsPerSession =
      graph.checkpointCount() / (WARMUP + ROUNDS * SESSIONS + CONCURRENT * CONCURRENT_ROUNDS);

    log(`· Reverie: CPU profile of ${PROFILE_SESSIONS} sequential sessions (no SSE client)`);
    await reverie.runSessionUnwatched("cpu-warm");
    const cpuStart = process.cpuUsage();
    cpuShares = await profileCpu(async () => {
      for (let i = 0; i < PROFILE_SESSIONS; i++) await reverie.runSessionUnwatched(`cpu${i}`);
    });
    const cpuUsed = process.cpuUsage(cpuStart);
    cpuProcessMsPerStep = (cpuUsed.user + cpuUsed.system) / 1000 / (PROFILE_SESSIONS * STEPS_PER_SESSION);

    log(`· Reverie: instrumented pass, ${PROFILE_SESSIONS} sequential sessions (SSE client)`);
    const probe = instrument(reverie);
    await reverie.runSession("profile-warm");
    probe.reset();
    for (let i = 0; i < PROFILE_SESSIONS; i++) await reverie.runSession(`profile${i}`);
    profile = probe.profile(PROFILE_SESSIONS);

    log(`· Reverie: timeline of ${TIMELINE_SESSIONS} sequential sessions (SSE client)`);
    timeline = await sessionTimeline(reverie, TIMELINE_SESSIONS);
  } finally {
    await graph.close();
    await direct.close();
    await reverie.close();
  }

  const [directResult, graphResult, unwatchedResult, reverieResult] = results as [
    SystemResult,
    SystemResult,
    SystemResult,
    SystemResult,
  ];
  const idleSummary = summariseSequential(reverieIdleMs.slice(WARMUP), STEPS_PER_SESSION);
  reverieResult.notes.push(
    `until status_idle only (before the last commit lands): ms/step p50 ${idleSummary.msPerStepP50}, p99 ${idleSummary.msPerStepP99}`,
  );
  graphResult.notes.push(`${round(checkpointsPerSession, 1)} checkpoints written per session`);

  const ratio = (a: number, b: number) => round(a / b, 2);
  /** Reverie's cost over a baseline's: ms/step sequential, and 1/throughput at concurrency. */
  const ratiosOf = (reverieRow: SystemResult, baseline: SystemResult) => ({
    msPerStepP50: ratio(reverieRow.sequential.msPerStepP50, baseline.sequential.msPerStepP50),
    msPerStepP99: ratio(reverieRow.sequential.msPerStepP99, baseline.sequential.msPerStepP99),
    cpuMsPerStep: ratio(
      reverieRow.sequential.cpuMsPerStep ?? Number.NaN,
      baseline.sequential.cpuMsPerStep ?? Number.NaN,
    ),
    msPerStepAtConcurrency: ratio(baseline.concurrent.stepsPerSecond, reverieRow.concurrent.stepsPerSecond),
  });
  const ratios = {
    reverieSseOverLangGraph: ratiosOf(reverieResult, graphResult),
    reverieSseOverDirect: ratiosOf(reverieResult, directResult),
    reverieNoSseOverLangGraph: ratiosOf(unwatchedResult, graphResult),
    reverieNoSseOverDirect: ratiosOf(unwatchedResult, directResult),
  };
  // The verdict on the median of the rounds' ratios, each round's p50 over LangGraph's p50 in the
  // same round; on the ratio itself, not on the figure printed (0.504 is not ≤ 0.5).
  const roundRatios = (row: SystemResult) =>
    Array.from({ length: ROUNDS }, (_, r) => {
      const inRound = (x: SystemResult) => x.sequential.sessionMs.slice(r * SESSIONS, (r + 1) * SESSIONS);
      return percentile(inRound(row), 50) / percentile(inRound(graphResult), 50);
    });
  const sseRounds = roundRatios(reverieResult);
  const noSseRounds = roundRatios(unwatchedResult);
  const exactSse = percentile(sseRounds, 50);
  const exactNoSse = percentile(noSseRounds, 50);
  const targetMet = exactSse <= TARGET_RATIO;
  const targetMetNoSse = exactNoSse <= TARGET_RATIO;
  const spread = (values: number[]) =>
    `rounds ${fmt(Math.min(...values), 3)}–${fmt(Math.max(...values), 3)}×`;

  console.log(
    `\nCost per agent step (1 model call + its tool; ${STEPS_PER_SESSION} steps/session; 0 ms scripted model; ` +
      `${ROUNDS}× ${SESSIONS} sequential sessions after ${WARMUP} warm-up; ${CONCURRENT} concurrent sessions)\n`,
  );
  printTable(results);
  console.log(
    "\nRatios: Reverie's cost ÷ the baseline's (lower is better for Reverie; at concurrency: inverse throughput)",
  );
  const ratioLine = (label: string, r: ReturnType<typeof ratiosOf>) =>
    console.log(
      `  ${label.padEnd(42)} ms/step p50 ${fmt(r.msPerStepP50)}×  p99 ${fmt(r.msPerStepP99)}×  CPU/step ${fmt(r.cpuMsPerStep)}×  @${CONCURRENT} concurrent ${fmt(r.msPerStepAtConcurrency)}×`,
    );
  ratioLine("Reverie (SSE client) ÷ LangGraph (durable)", ratios.reverieSseOverLangGraph);
  ratioLine("Reverie (SSE client) ÷ direct SDK", ratios.reverieSseOverDirect);
  ratioLine("Reverie, no SSE client ÷ LangGraph", ratios.reverieNoSseOverLangGraph);
  ratioLine("Reverie, no SSE client ÷ direct SDK", ratios.reverieNoSseOverDirect);
  console.log(
    `  Target: Reverie ≤ ${TARGET_RATIO}× LangGraph's durable ms/step (p50, median of ${ROUNDS} rounds): ${
      targetMet ? "MET" : "NOT MET"
    } (${fmt(exactSse, 3)}×, ${spread(sseRounds)}; without an SSE client ${fmt(exactNoSse, 3)}×, ${spread(noSseRounds)}, ${targetMetNoSse ? "met" : "not met"})`,
  );
  console.log("\nNotes");
  for (const r of results) for (const note of r.notes) console.log(`  ${r.system}: ${note}`);
  printProfile(profile);
  const mainThreadMs = cpuShares.reduce((a, c) => a + c.ms, 0) / (PROFILE_SESSIONS * STEPS_PER_SESSION);
  console.log(
    `\nReverie main-thread CPU by owner (V8 sampling profile, ${PROFILE_SESSIONS} sessions without SSE; ` +
      `${fmt(mainThreadMs)} ms/step sampled on the main thread, ${fmt(cpuProcessMsPerStep)} ms/step whole-process CPU while profiling):`,
  );
  for (const share of cpuShares.filter((c) => c.percent >= 0.5))
    console.log(
      `  ${fmt(share.percent, 1).padStart(5)}%  ${fmt(share.ms / (PROFILE_SESSIONS * STEPS_PER_SESSION)).padStart(6)} ms/step  ${share.owner}`,
    );

  printTimeline(timeline);

  const totalSeconds = (now() - benchStart) / 1000;
  const here = dirname(fileURLToPath(import.meta.url));
  const outDir = join(here, "results");
  mkdirSync(outDir, { recursive: true });
  const outFile = join(outDir, "latest.json");
  const report = {
    date: startedAt.toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? null,
    config: {
      stepsPerSession: STEPS_PER_SESSION,
      sessions: SESSIONS,
      rounds: ROUNDS,
      warmup: WARMUP,
      concurrent: CONCURRENT,
      concurrentRounds: CONCURRENT_ROUNDS,
      profileSessions: PROFILE_SESSIONS,
      reverieStepConcurrency: STEP_CONCURRENCY ?? "default (8)",
      upstreamDelayMs: 0,
    },
    results,
    ratios,
    target: {
      reverieOverLangGraphMsPerStepP50AtMost: TARGET_RATIO,
      /** The median of the rounds' ratios (SSE client), and each round's. */
      ratio: round(exactSse, 3),
      roundRatios: sseRounds.map((r) => round(r, 3)),
      ratioWithoutSseClient: round(exactNoSse, 3),
      roundRatiosWithoutSseClient: noSseRounds.map((r) => round(r, 3)),
      met: targetMet,
      metWithoutSseClient: targetMetNoSse,
    },
    reverieProfile: {
      ...profile,
      handlerMsPerStep: round(profile.handlerMsPerStep, 3),
      storeCallsPerStep: round(profile.storeCallsPerStep, 2),
      storeMsPerStep: round(profile.storeMsPerStep, 3),
      modelMsPerStep: round(profile.modelMsPerStep, 3),
      toolMsPerStep: round(profile.toolMsPerStep, 3),
      queueSendMsPerStep: round(profile.queueSendMsPerStep, 3),
      otherMsPerStep: round(profile.otherMsPerStep, 3),
      stepCalls: profile.stepCalls.map((c) => ({
        ...c,
        perStep: round(c.perStep, 2),
        avgMs: round(c.avgMs, 3),
      })),
      stepCallSites: profile.stepCallSites.map((s) => ({ ...s, perStep: round(s.perStep, 2) })),
      apiCallsPerSession: profile.apiCallsPerSession.map((a) => ({
        ...a,
        perSession: round(a.perSession, 2),
        avgMs: round(a.avgMs, 3),
      })),
    },
    reverieCpuByOwner: {
      sessions: PROFILE_SESSIONS,
      processCpuMsPerStep: round(cpuProcessMsPerStep, 3),
      shares: cpuShares.map((c) => ({
        owner: c.owner,
        msPerStep: round(c.ms / (PROFILE_SESSIONS * STEPS_PER_SESSION), 3),
        percent: round(c.percent, 1),
      })),
    },
    reverieTimeline: {
      sessions: TIMELINE_SESSIONS,
      marks: timeline.map((m) => ({ label: m.label, msSinceSend: round(m.msSinceSend, 3) })),
    },
    benchSeconds: round(totalSeconds, 1),
  };
  const files = [outFile];
  if (process.env.BENCH_RECORD) files.push(join(outDir, `${startedAt.toISOString().slice(0, 10)}.json`));
  for (const file of files) writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  formatJson(join(here, "..", ".."), files);
  console.log(`\nSaved ${files.join(", ")} (bench took ${fmt(totalSeconds, 1)} s)`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
