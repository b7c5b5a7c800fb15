/**
 * `npx tsx test/bench/sandbox-bench.ts` (not part of `npm test` or `npm run bench`): what the
 * bubblewrap sandbox costs, beside plain bash measured in the same run.
 *
 *   cold start     the first command of a new session (bwrap, namespaces, the proxy listeners, a
 *                  pids cgroup), after one session has started the network proxy
 *   per call       `true` in a warm session, through the sentinel protocol
 *   per call (rw)  the same with one writable mount of 20 files (listed before and after the command)
 *   spawn          `child_process.spawn("bash", ["-c", "true"])`, one process per call
 *   persistent     a plain `bash` on pipes, the same sentinel framing, no sandbox
 *
 * Knobs (env): SANDBOX_BENCH_CALLS (200), SANDBOX_BENCH_COLD (20).
 */
import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { BubblewrapSandbox } from "../../shared/adapters/local/bubblewrap-sandbox.js";
import type { SandboxExecRequest, SandboxMount } from "../../shared/core/ports.js";
import { now, percentile, round } from "./stats.js";

const CALLS = Number(process.env.SANDBOX_BENCH_CALLS ?? 200);
const COLD = Number(process.env.SANDBOX_BENCH_COLD ?? 20);

interface Series {
  name: string;
  samples: number[];
}

function summary(series: Series) {
  return {
    name: series.name,
    n: series.samples.length,
    p50: round(percentile(series.samples, 50), 3),
    p99: round(percentile(series.samples, 99), 3),
  };
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = now();
  await run();
  return now() - start;
}

function spawnTrue(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", "true"], { stdio: "ignore" });
    child.on("error", reject);
    child.on("close", () => resolve());
  });
}

/** A plain persistent bash with the same framing as the sandbox's shell, to isolate the sandbox's cost. */
class PlainShell {
  private readonly child = spawn("bash", ["--noprofile", "--norc"], { stdio: ["pipe", "pipe", "pipe"] });
  private buffer = "";
  private waiting?: { sentinel: string; resolve: () => void };

  constructor() {
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (d: string) => {
      this.buffer += d;
      if (this.waiting && this.buffer.includes(this.waiting.sentinel)) this.waiting.resolve();
    });
  }

  run(command: string): Promise<void> {
    this.buffer = "";
    const sentinel = `__BENCH_${randomUUID()}__`;
    const split = `${sentinel.slice(0, 8)}''${sentinel.slice(8)}`;
    return new Promise((resolve) => {
      this.waiting = { sentinel, resolve };
      this.child.stdin.write(`{ ${command}\n} </dev/null 2>&1; printf '\\n${split}%d\\n' $?\n`);
    });
  }

  close(): void {
    this.child.kill("SIGKILL");
  }
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(tmpdir(), "reverie-sandbox-bench-"));
  const sandbox = new BubblewrapSandbox({
    workspaceDir: (id) => path.join(root, "workspaces", id),
    scratchDir: path.join(root, "scratch"),
  });
  try {
    const availability = await sandbox.availability();
    if (!availability.available) throw new Error(`sandbox unavailable: ${availability.reason}`);
    const request = (
      sessionId: string,
      command: string,
      mounts: SandboxMount[] = [],
    ): SandboxExecRequest => ({
      sessionId,
      workspaceId: "ws_bench",
      mounts,
      network: { type: "unrestricted" },
      command,
    });

    const firstEver = await timed(() => sandbox.exec(request("warmup", "true")));
    await sandbox.close("warmup");

    const cold: Series = { name: "sandbox cold start (first exec of a new session)", samples: [] };
    for (let i = 0; i < COLD; i++) {
      cold.samples.push(await timed(() => sandbox.exec(request(`cold_${i}`, "true"))));
      await sandbox.close(`cold_${i}`);
    }

    const warm: Series = { name: "sandbox per call: true", samples: [] };
    await sandbox.exec(request("warm", "true"));
    for (let i = 0; i < CALLS; i++)
      warm.samples.push(await timed(() => sandbox.exec(request("warm", "true"))));

    const files = Array.from({ length: 20 }, (_, i) => ({
      path: `note-${i}.md`,
      content: `note ${i}\n`.repeat(20),
    }));
    const mounts: SandboxMount[] = [{ path: "/mnt/memory/bench", readOnly: false, files }];
    const warmRw: Series = { name: "sandbox per call: true, one writable mount (20 files)", samples: [] };
    await sandbox.exec(request("warm_rw", "true", mounts));
    for (let i = 0; i < CALLS; i++)
      warmRw.samples.push(await timed(() => sandbox.exec(request("warm_rw", "true", mounts))));

    const spawned: Series = { name: 'plain spawn("bash", ["-c", "true"])', samples: [] };
    for (let i = 0; i < CALLS; i++) spawned.samples.push(await timed(spawnTrue));

    const plain = new PlainShell();
    const persistent: Series = { name: "plain persistent bash: true", samples: [] };
    await plain.run("true");
    for (let i = 0; i < CALLS; i++) persistent.samples.push(await timed(() => plain.run("true")));
    plain.close();

    const rows = [cold, warm, warmRw, spawned, persistent].map(summary);
    console.log(`first exec ever (starts the network proxy too): ${round(firstEver, 1)} ms`);
    console.table(rows);
    const [c, w, rw, s, p] = rows as [
      ReturnType<typeof summary>,
      ReturnType<typeof summary>,
      ReturnType<typeof summary>,
      ReturnType<typeof summary>,
      ReturnType<typeof summary>,
    ];
    const ratio = (a: number, b: number) => `${round(a / b, 2)}×`;
    console.log("ratios (p50):");
    console.log(`  sandbox per call ÷ plain persistent bash: ${ratio(w.p50, p.p50)}`);
    console.log(`  sandbox per call ÷ plain spawn:           ${ratio(w.p50, s.p50)}`);
    console.log(`  sandbox per call with a writable mount ÷ without: ${ratio(rw.p50, w.p50)}`);
    console.log(`  sandbox cold start ÷ plain spawn:         ${ratio(c.p50, s.p50)}`);
  } finally {
    await sandbox.dispose();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
