/**
 * The embedded stack's local queue alone, durable in a temporary data dir: what a message costs
 * without the rest of a step around it, in wall time and in this process's CPU time (CPU moves less
 * than wall time when the machine is shared).
 *   (a) sends awaited one after another, nothing consuming: a step's enqueue;
 *   (b) send → receive → acknowledge: 40 chains at once, each delivery sending the next message
 *       (like steps), 32 batches in flight as in the embedded stack.
 * `npx tsx test/bench/queue-bench.ts`; QUEUE_BENCH_MESSAGES (3000) per part.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { LocalQueue } from "../../shared/adapters/local/local-queue.js";
import { queueSpecs } from "../../shared/infra-spec/queues.js";

const messages = Number(process.env.QUEUE_BENCH_MESSAGES) || 3000;
const chains = 40;
const nudge = {
  schemaVersion: 1,
  workspaceId: "wrkspc_local",
  sessionId: "sesn_011CYxR7yYbq2Vx9QzWcL3aB",
  stepSeq: 4,
};

/** Wall and CPU milliseconds per message of `work`. */
async function perMessage(work: () => Promise<void>): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await work();
  const used = process.cpuUsage(cpu);
  return {
    wallMs: (performance.now() - started) / messages,
    cpuMs: (used.user + used.system) / 1000 / messages,
  };
}

const dataDir = mkdtempSync(join(tmpdir(), "reverie-queue-bench-"));
try {
  const sends = new LocalQueue<typeof nudge>({
    spec: queueSpecs["agent-steps"],
    dir: join(dataDir, "queues", "a"),
  });
  const send = await perMessage(async () => {
    for (let n = 0; n < messages; n++) await sends.send({ ...nudge, stepSeq: n });
  });
  await sends.close();

  const cycles = new LocalQueue<typeof nudge>({
    spec: queueSpecs["agent-steps"],
    dir: join(dataDir, "queues", "b"),
  });
  let toSend = messages - chains;
  cycles.start(
    async (event) => {
      for (const _ of event.Records) if (toSend-- > 0) await cycles.send(nudge);
    },
    { concurrency: 32 },
  );
  const cycle = await perMessage(async () => {
    for (let n = 0; n < chains; n++) await cycles.send(nudge);
    await cycles.drained();
  });
  await cycles.close();

  const fmt = (x: number) => x.toFixed(3);
  console.log(`local queue, ${messages} messages per part, load average ${loadavg()[0]?.toFixed(2)}`);
  console.log(`  send                   ${fmt(send.wallMs)} ms wall, ${fmt(send.cpuMs)} ms CPU per message`);
  console.log(
    `  send + receive + ack   ${fmt(cycle.wallMs)} ms wall, ${fmt(cycle.cpuMs)} ms CPU per message`,
  );
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
