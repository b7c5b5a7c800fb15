/**
 * `npm run fuzz`: throws random requests at every route of the embedded stack — random and real ids,
 * junk and near-valid bodies, odd query strings, scoped and unknown credentials — and counts what
 * must never happen: a 5xx, a request that hangs, a `/health` that stops answering. Not part of
 * `npm test` (it takes a minute or two); `FUZZ_REQUESTS` (default 10,000), `FUZZ_SEED`, and
 * `REVERIE_STORE` (`sqlite`, the default, or `dynalite`) for the store under the stack.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import fc from "fast-check";
import { startEmbeddedStack } from "../../infra/local/embedded-stack.js";
import { loadConfig } from "../../shared/runtime/config.js";

const total = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const quiet = { info() {}, warn() {}, error() {} };

const dataDir = mkdtempSync(join(tmpdir(), "reverie-fuzz-"));
const stack = await startEmbeddedStack({
  config: loadConfig({ PORT: "0", REVERIE_LOG_LEVEL: "SILENT", REVERIE_STORE: process.env.REVERIE_STORE }),
  dataDir,
  port: 0,
  logger: quiet,
  sandbox: null,
});
const client = new Anthropic({ baseURL: stack.url, apiKey: stack.apiKey, maxRetries: 0 });

// Real resources, so that some requests reach deep into the handlers.
const environment = await client.beta.environments.create({ name: "fuzz" });
const hosted = await client.beta.environments.create({
  name: "fuzz-hosted",
  config: { type: "self_hosted" },
});
const agent = await client.beta.agents.create({
  name: "fuzz",
  model: "claude-sonnet-4-6",
  tools: [{ type: "agent_toolset_20260401" }],
});
const session = await client.beta.sessions.create({ agent: agent.id, environment_id: environment.id });
const store = await client.beta.memoryStores.create({ name: "fuzz" });
const memory = await client.beta.memoryStores.memories.create(store.id, { path: "/a.md", content: "a" });
const envKey = ((await client.post(`/v1/environments/${hosted.id}/keys`, { body: {} })) as { key: string })
  .key;
const real: Record<string, string[]> = {
  agent_id: [agent.id],
  environment_id: [environment.id, hosted.id],
  session_id: [session.id],
  memory_store_id: [store.id],
  memory_id: [memory.id],
};

const junkString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom("", " ", "..", "%00", "null", "0", "-1", "sesn_", "agent_x", "ü", "𝕏", "'\"<>"),
  fc.integer({ min: 300, max: 2_000 }).map((n) => "x".repeat(n)),
);
const json = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.record(
    {
      name: junkString,
      model: fc.oneof(junkString, fc.constant("claude-sonnet-4-6")),
      events: fc.array(
        fc.record(
          {
            type: fc.constantFrom("user.message", "user.tool_result", "user.interrupt", "nope"),
            content: fc.jsonValue(),
          },
          { requiredKeys: [] },
        ),
        { maxLength: 3 },
      ),
      path: junkString,
      content: junkString,
      config: fc.jsonValue({ maxDepth: 2 }),
      metadata: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: [] },
  ),
);
const routes = (stack.services.api?.router.list() ?? []).filter((r) => !r.public);
const request = fc.record({
  route: fc.integer({ min: 0, max: routes.length - 1 }),
  params: fc.array(fc.oneof(fc.constant("real"), junkString), { minLength: 6, maxLength: 6 }),
  query: fc.dictionary(
    fc.constantFrom("limit", "page", "order", "block_ms", "view", "types[]", "x"),
    junkString,
    {
      maxKeys: 3,
    },
  ),
  body: fc.oneof(
    json.map((v) => JSON.stringify(v)),
    junkString,
  ),
  auth: fc.constantFrom("workspace", "workspace", "workspace", "environment", "unknown", "none"),
});

const samples = fc.sample(request, { numRuns: total, seed });
const statuses = new Map<number, number>();
let serverErrors = 0;
let hung = 0;
const examples: string[] = [];
let healthWorst = 0;
let done = 0;

const health = setInterval(async () => {
  const started = performance.now();
  await fetch(`${stack.url}/health`).catch(() => undefined);
  healthWorst = Math.max(healthWorst, performance.now() - started);
}, 250);

async function send(sample: (typeof samples)[number]) {
  const route = routes[sample.route] as { method: string; path: string };
  let i = 0;
  const path = route.path.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
    const choice = sample.params[i++ % sample.params.length] as string;
    const ids = real[name];
    return encodeURIComponent(choice === "real" && ids ? (ids[i % ids.length] as string) : choice || "x");
  });
  const url = new URL(path, stack.url);
  for (const [k, v] of Object.entries(sample.query)) url.searchParams.append(k, v);
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (sample.auth === "workspace") headers.authorization = `Bearer ${stack.apiKey}`;
  if (sample.auth === "environment") headers.authorization = `Bearer ${envKey}`;
  if (sample.auth === "unknown") headers.authorization = "Bearer sk-ant-unknown";
  const hasBody = route.method !== "GET" && route.method !== "DELETE";
  try {
    const response = await fetch(url, {
      method: route.method,
      headers,
      body: hasBody ? sample.body : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    // SSE routes answer 200 and stream: enough to know they did not fail.
    if (response.headers.get("content-type")?.includes("text/event-stream")) await response.body?.cancel();
    else await response.arrayBuffer();
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    if (response.status >= 500) {
      serverErrors++;
      if (examples.length < 5) examples.push(`${response.status} ${route.method} ${url.pathname}`);
    }
  } catch {
    hung++;
    if (examples.length < 5) examples.push(`no answer: ${route.method} ${url.pathname}`);
  }
  done++;
  if (done % 2_000 === 0) process.stdout.write(`  ${done}/${total} requests\n`);
}

const started = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < samples.length) await send(samples[next++] as (typeof samples)[number]);
  }),
);
clearInterval(health);
const finalHealth = await fetch(`${stack.url}/health`).then(
  (r) => r.status,
  () => 0,
);
await stack.stop();
rmSync(dataDir, { recursive: true, force: true });

console.log(
  `\nfuzz (seed ${seed}, ${stack.services.deps.store.constructor.name}): ${total} requests over ${routes.length} routes in ${((Date.now() - started) / 1000).toFixed(1)} s`,
);
console.log(
  `statuses: ${[...statuses.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}×${n}`)
    .join(" ")}`,
);
console.log(
  `5xx: ${serverErrors}, no answer within 10 s: ${hung}, slowest /health: ${healthWorst.toFixed(0)} ms, /health after: ${finalHealth}`,
);
for (const example of examples) console.log(`  ${example}`);
process.exit(serverErrors > 0 || hung > 0 || finalHealth !== 200 ? 1 : 0);
