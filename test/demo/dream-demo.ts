/**
 * `npm run demo:dream`: memory that learns, through the official Anthropic SDK.
 *
 * Start the stack in one terminal (`npm start`), then run `npm run demo:dream` in another. The demo
 * makes a memory store holding a few team notes (two of them duplicates), runs three sessions that
 * mount it and stumble over the same missing file while the user states a preference, then dreams
 * over those sessions and prints the store before and after, the dream's reviewable changes, and
 * the input store unchanged. With no model key the simulated model does the work mechanically
 * (merges duplicates, writes notes from the pre-pass); with a key, Claude does.
 *
 *   REVERIE_URL, REVERIE_API_KEY   as for `npm run demo`
 */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import Anthropic from "@anthropic-ai/sdk";
import { DemoError, type DemoOutput, explainClientError, runFromCommandLine } from "./demo.js";

export interface DreamDemoOptions {
  baseURL: string;
  apiKey: string;
  out?: DemoOutput;
  /** Gives up waiting for a session or the dream after this long (default 120 s). */
  timeoutMs?: number;
}

export interface DreamDemoResult {
  inputStoreId: string;
  outputStoreId: string;
  dreamId: string;
  sessionIds: string[];
  before: Record<string, string>;
  after: Record<string, string>;
  inputAfter: Record<string, string>;
  changes: Array<{ path: string; change: string }>;
}

/** The notes the team starts with: two say the same thing under different names. */
export const SEED_NOTES: Record<string, string> = {
  "/notes/build.md": "Run npm test before pushing.\n",
  "/notes/build-again.md": "Run npm test before pushing.\n",
  "/notes/people.md": "Ada owns the billing service.\n",
};

/** What each session is asked: one step fails the same way every time; the user states a preference. */
const sessionMessage = (n: number) =>
  `write "release ${n} checked" to release${n}.md then read changelog.md then read release${n}.md. ` +
  "Always run the linter before committing.";

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runDreamDemo(options: DreamDemoOptions): Promise<DreamDemoResult> {
  const out = options.out ?? process.stdout;
  const print = (line = "") => out.write(`${line}\n`);
  const client = new Anthropic({ baseURL: options.baseURL, apiKey: options.apiKey, maxRetries: 1 });
  const timeoutMs = options.timeoutMs ?? 120_000;

  try {
    print(`Reverie dream demo — ${options.baseURL}`);
    print();
    const store = await client.beta.memoryStores.create({
      name: `team-notes-${Date.now().toString(36)}`,
      description: "What the team's agents have learned",
    });
    for (const [path, content] of Object.entries(SEED_NOTES))
      await client.beta.memoryStores.memories.create(store.id, { path, content });
    print(`✓ memory store ${store.id} with ${Object.keys(SEED_NOTES).length} notes`);
    const before = await storeContents(client, store.id);

    const environment = await client.beta.environments.create({ name: "reverie-dream-demo" });
    const agent = await client.beta.agents.create({
      name: "Reverie dream demo agent",
      model: "claude-sonnet-4-6",
      system: "You are a release helper. Use the file tools to do exactly what the user asks.",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const sessionIds: string[] = [];
    for (const n of [1, 2, 3]) {
      const session = await client.beta.sessions.create({
        agent: agent.id,
        environment_id: environment.id,
        title: `release check ${n}`,
        resources: [{ type: "memory_store", memory_store_id: store.id, access: "read_only" }],
      });
      await client.beta.sessions.events.send(session.id, {
        events: [{ type: "user.message", content: [{ type: "text", text: sessionMessage(n) }] }],
      });
      await waitFor(`session ${session.id}`, timeoutMs, async () => {
        const s = await client.beta.sessions.retrieve(session.id);
        return s.status === "idle" || s.status === "terminated";
      });
      sessionIds.push(session.id);
      print(`✓ session ${session.id} done (mounted the store at /mnt/memory/${store.name}/)`);
    }

    print();
    print("→ dreaming over the 3 sessions and the store …");
    const created = await client.beta.dreams.create({
      inputs: [
        { type: "memory_store", memory_store_id: store.id },
        { type: "sessions", session_ids: sessionIds },
      ],
      model: "claude-sonnet-4-6",
      instructions: "Merge duplicate notes; record recurring mistakes and the team's preferences.",
    });
    const started = Date.now();
    let dream = created;
    await waitFor(`dream ${created.id}`, timeoutMs, async () => {
      dream = await client.beta.dreams.retrieve(created.id);
      print(`  … ${((Date.now() - started) / 1000).toFixed(1)}s · ${dream.status}`);
      return dream.status === "completed" || dream.status === "failed" || dream.status === "canceled";
    });
    if (dream.status !== "completed")
      throw new DemoError(`the dream ended ${dream.status}${dream.error ? `: ${dream.error.message}` : ""}`);
    const outputStoreId = dream.outputs[0]?.memory_store_id;
    if (!outputStoreId) throw new DemoError("the dream completed without an output store");
    print(`✓ dream ${dream.id} completed → new store ${outputStoreId}`);
    print(
      `  usage: ${dream.usage.input_tokens.toLocaleString("en-US")} in / ` +
        `${dream.usage.output_tokens.toLocaleString("en-US")} out tokens`,
    );

    const after = await storeContents(client, outputStoreId);
    const inputAfter = await storeContents(client, store.id);
    print();
    printStore(print, "Before (input store)", before);
    printStore(print, "After (the dream's output store)", after);

    // Reverie extension: the dream as a reviewable change set against its input store.
    const review = (await client.get(`/v1/dreams/${dream.id}/changes`)) as {
      data: Array<{ path: string; change: string; rationale?: string }>;
    };
    const changes = review.data.map((c) => ({ path: c.path, change: c.change }));
    print("Changes against the input store (GET /v1/dreams/{id}/changes)");
    for (const c of review.data)
      print(`  ${c.change.padEnd(8)} ${c.path}${c.rationale ? ` — ${c.rationale}` : ""}`);
    print();
    const unchanged = JSON.stringify(inputAfter) === JSON.stringify(before);
    print(unchanged ? "✓ the input store is unchanged" : "! the input store changed during the demo");
    print(`Apply some of it: client.post("/v1/dreams/${dream.id}/apply", { body: { paths: [...] } })`);

    return {
      inputStoreId: store.id,
      outputStoreId,
      dreamId: dream.id,
      sessionIds,
      before,
      after,
      inputAfter,
      changes,
    };
  } catch (error) {
    throw explainClientError(error, options.baseURL);
  }
}

async function waitFor(what: string, timeoutMs: number, done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new DemoError(`${what} did not finish within ${timeoutMs / 1000} s`);
    await pause(250);
  }
}

/** Every memory of a store, path → content, read through the SDK. */
async function storeContents(client: Anthropic, storeId: string): Promise<Record<string, string>> {
  const contents: Record<string, string> = {};
  for await (const item of client.beta.memoryStores.memories.list(storeId)) {
    if (item.type !== "memory") continue;
    const memory = await client.beta.memoryStores.memories.retrieve(item.id, { memory_store_id: storeId });
    contents[memory.path] = memory.content ?? "";
  }
  return Object.fromEntries(Object.entries(contents).sort(([a], [b]) => a.localeCompare(b)));
}

function printStore(print: (line?: string) => void, title: string, contents: Record<string, string>) {
  print(title);
  for (const [path, content] of Object.entries(contents)) {
    print(`  ${path}`);
    for (const line of content.trimEnd().split("\n").slice(0, 6)) print(`    │ ${line}`);
  }
  print();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  await runFromCommandLine(runDreamDemo);
