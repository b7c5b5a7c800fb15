/**
 * A V8 CPU profile of a piece of the bench, summed by who owns the code: each sample goes to the
 * innermost frame that belongs to a package or to this repository (Node's own internals count for
 * their caller), so "AWS SDK" includes the HTTP and crypto work the SDK asks Node for.
 * BENCH_PROFILE_FILE=<path> also writes the raw profile (a .cpuprofile for DevTools).
 */
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

export interface CpuShare {
  owner: string;
  ms: number;
  percent: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const owners: Array<[RegExp, string]> = [
  [/node_modules\/dynalite\//, "dynalite (DynamoDB emulator, server side)"],
  [
    /node_modules\/(classic-level|abstract-level|level|level-transcoder|memory-level|module-error)\//,
    "LevelDB (dynalite's storage)",
  ],
  [
    /node_modules\/(@aws-sdk|@smithy|@aws-crypto|fast-xml-parser|bowser)\//,
    "AWS SDK v3 client (DynamoDB calls)",
  ],
  [/node_modules\/@anthropic-ai\/sdk\//, "Anthropic SDK (bench client + model adapter)"],
  [/node_modules\/@aws-lambda-powertools\//, "Powertools (batch processor)"],
  [/node_modules\/zod\//, "zod (validation)"],
  [/\/test\/fixtures\/mock-messages-server/, "mock Messages server"],
  [/\/test\/bench\/cpu-profile/, "(profiler)"],
  [/\/test\/bench\//, "bench harness"],
  [/\/test\/fixtures\//, "test fixtures"],
  [/\/shared\/adapters\/local\/local-queue/, "Reverie: local queue"],
  [/\/shared\/adapters\//, "Reverie: adapters"],
  [/\/shared\/|\/infra\/local\//, "Reverie: core, API and stack"],
  [/node_modules\/tsx\//, "tsx loader"],
];

function ownerOf(url: string): string | undefined {
  if (!url || url.startsWith("node:")) return undefined;
  for (const [pattern, owner] of owners) if (pattern.test(url)) return owner;
  if (url.includes("node_modules/"))
    return `other packages (${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]})`;
  return undefined;
}

/** Runs `body` under the V8 sampling profiler and returns where the CPU time went. */
export async function profileCpu(body: () => Promise<void>): Promise<CpuShare[]> {
  const session = new Session();
  session.connect();
  let failure: unknown;
  let profile: Profile;
  try {
    await session.post("Profiler.enable");
    await session.post("Profiler.setSamplingInterval", { interval: 500 });
    await session.post("Profiler.start");
    try {
      await body();
    } catch (error) {
      failure = error ?? new Error("profiled body failed");
    }
    profile = ((await session.post("Profiler.stop")) as unknown as { profile: Profile }).profile;
  } finally {
    session.disconnect();
  }
  if (failure !== undefined) throw failure;
  if (process.env.BENCH_PROFILE_FILE) writeFileSync(process.env.BENCH_PROFILE_FILE, JSON.stringify(profile));
  return summarise(profile);
}

function summarise(profile: Profile): CpuShare[] {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const ownerCache = new Map<number, string>();
  const resolve = (id: number): string => {
    const cached = ownerCache.get(id);
    if (cached) return cached;
    const node = byId.get(id) as ProfileNode;
    const name = node.callFrame.functionName;
    let owner: string;
    if (name === "(idle)") owner = "(idle)";
    else if (name === "(garbage collector)") owner = "GC";
    else if (name === "(program)") owner = "V8/Node native (unattributed)";
    else {
      let current: number | undefined = id;
      let found: string | undefined;
      while (current !== undefined && !found) {
        found = ownerOf((byId.get(current) as ProfileNode).callFrame.url);
        current = parent.get(current);
      }
      owner = found ?? "Node internals (loopback HTTP: sockets, parsing; microtasks)";
    }
    ownerCache.set(id, owner);
    return owner;
  };
  const totals = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const owner = resolve(id);
    totals.set(owner, (totals.get(owner) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  totals.delete("(idle)");
  totals.delete("(profiler)");
  if (process.env.BENCH_DEBUG_OWNER) {
    const leaves = new Map<string, number>();
    profile.samples.forEach((id, i) => {
      if (resolve(id) !== process.env.BENCH_DEBUG_OWNER) return;
      const node = byId.get(id) as ProfileNode;
      let chain = `${node.callFrame.functionName} ${node.callFrame.url.split("/").slice(-2).join("/")}`;
      let up = parent.get(id);
      for (let d = 0; d < 4 && up !== undefined; d++, up = parent.get(up)) {
        const f = (byId.get(up) as ProfileNode).callFrame;
        chain += ` < ${f.functionName} ${f.url.split("/").slice(-1)}`;
      }
      leaves.set(chain, (leaves.get(chain) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
    });
    for (const [chain, ms] of [...leaves].sort((a, b) => b[1] - a[1]).slice(0, 15))
      console.error(ms.toFixed(1), chain);
  }
  const busy = [...totals.values()].reduce((a, b) => a + b, 0);
  return [...totals]
    .map(([owner, ms]) => ({ owner, ms, percent: (100 * ms) / busy }))
    .sort((a, b) => b.ms - a.ms);
}
