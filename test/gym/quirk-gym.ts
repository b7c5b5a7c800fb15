/**
 * The quirk gym's runner: for each task family and each condition, a sequence of sessions against one
 * memory store, driven through the official SDK against the embedded stack, the gym serving the
 * family's custom tool as the client. Conditions:
 *
 * - `no-memory`         — no memory store mounted;
 * - `memory`            — the store mounted read-write, never dreamt over (what the agent writes itself);
 * - `dreaming`          — the store mounted, and a dream (update_existing, auto) over the last k sessions
 *                          after every k sessions;
 * - `dreaming+outcomes` — the same, each session's task given as an outcome with a rubric, so the
 *                          grader's verdicts are part of what a dream reads.
 *
 * Results: per session (completed, rejected calls, tokens) and per dream (status, tokens); see
 * gym-report.ts for the table and the chart.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { Harness } from "../fixtures/reverie-harness.js";
import { plainTask, type QuirkFamily, simulatedTask } from "./quirk-families.js";

export const GYM_CONDITIONS = ["no-memory", "memory", "dreaming", "dreaming+outcomes"] as const;
export type GymCondition = (typeof GYM_CONDITIONS)[number];

export interface GymOptions {
  families: readonly QuirkFamily[];
  conditions?: readonly GymCondition[];
  /** Sessions per family and condition. */
  sessions: number;
  /** Dream after every k sessions (dreaming conditions). */
  dreamEvery: number;
  /** The model id agents and dreams run on. */
  model: string;
  /** true: plain-words tasks (a real model); false: the simulated model's explicit instructions. */
  plainTasks: boolean;
  /** How many family × condition sequences run at once. */
  concurrency?: number;
  /** Longest wait for one session or dream, ms. */
  waitMs?: number;
  log?: (line: string) => void;
}

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_read_input_tokens: number;
  cache_creation_input_tokens: number;
}

export interface GymSession {
  family: string;
  condition: GymCondition;
  /** 1-based position in the sequence. */
  index: number;
  sessionId: string;
  completed: boolean;
  accepted: number;
  rejected: number;
  usage: Usage;
}

export interface GymDream {
  family: string;
  condition: GymCondition;
  /** The session index it followed. */
  after: number;
  dreamId: string;
  status: string;
  error?: string;
  usage: Usage;
}

export interface GymResult {
  sessions: GymSession[];
  dreams: GymDream[];
}

const zero = (): Usage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
});

function usageOf(u: {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_read_input_tokens?: number | null;
  cache_creation?: {
    ephemeral_5m_input_tokens?: number | null;
    ephemeral_1h_input_tokens?: number | null;
  } | null;
  cache_creation_input_tokens?: number | null;
}): Usage {
  return {
    input_tokens: u.input_tokens ?? 0,
    output_tokens: u.output_tokens ?? 0,
    cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
    cache_creation_input_tokens:
      u.cache_creation_input_tokens ??
      (u.cache_creation?.ephemeral_5m_input_tokens ?? 0) + (u.cache_creation?.ephemeral_1h_input_tokens ?? 0),
  };
}

/** Runs every family under every condition; sequences run `concurrency` at a time. */
export async function runGym(h: Harness, options: GymOptions): Promise<GymResult> {
  const conditions = options.conditions ?? GYM_CONDITIONS;
  const environment = await h.client.beta.environments.create({ name: `gym-${Date.now()}` });
  const work: Array<() => Promise<GymResult>> = [];
  for (const family of options.families)
    for (const condition of conditions)
      work.push(() => runSequence(h, environment.id, family, condition, options));
  const results: GymResult[] = [];
  let next = 0;
  const workers = Array.from({ length: Math.min(options.concurrency ?? 8, work.length) }, async () => {
    while (next < work.length) {
      const job = work[next++] as () => Promise<GymResult>;
      results.push(await job());
    }
  });
  await Promise.all(workers);
  return {
    sessions: results.flatMap((r) => r.sessions),
    dreams: results.flatMap((r) => r.dreams),
  };
}

async function runSequence(
  h: Harness,
  environmentId: string,
  family: QuirkFamily,
  condition: GymCondition,
  options: GymOptions,
): Promise<GymResult> {
  const client = h.client;
  const agent = await client.beta.agents.create({
    name: `gym-${family.id}`,
    model: options.model,
    system: "You are a careful operations agent. Finish the task with the tools you have.",
    tools: [
      { type: "agent_toolset_20260401", default_config: { permission_policy: { type: "always_allow" } } },
      { type: "custom", ...family.tool } as Anthropic.Beta.Agents.BetaManagedAgentsCustomToolParams,
    ],
  });
  const withMemory = condition !== "no-memory";
  const store = withMemory
    ? await client.beta.memoryStores.create({ name: `gym-${family.id}-${condition}` })
    : undefined;
  const sessions: GymSession[] = [];
  const dreams: GymDream[] = [];
  for (let index = 1; index <= options.sessions; index++) {
    const session = await client.beta.sessions.create({
      agent: agent.id,
      environment_id: environmentId,
      resources: store ? [{ type: "memory_store", memory_store_id: store.id, access: "read_write" }] : [],
    });
    const mount = session.resources.find((r) => r.type === "memory_store")?.mount_path ?? undefined;
    const text = options.plainTasks ? plainTask(family, mount) : simulatedTask(family, mount);
    await client.beta.sessions.events.send(session.id, {
      events: [
        condition === "dreaming+outcomes"
          ? {
              type: "user.define_outcome",
              description: text,
              rubric: { type: "text", content: '- The final answer says "accepted"' },
              max_iterations: 1,
            }
          : { type: "user.message", content: [{ type: "text", text }] },
      ],
    });
    const calls = await serve(h, session.id, family, options.waitMs ?? 120_000);
    const done = await client.beta.sessions.retrieve(session.id);
    const result: GymSession = {
      family: family.id,
      condition,
      index,
      sessionId: session.id,
      accepted: calls.accepted,
      rejected: calls.rejected,
      completed: calls.accepted > 0 && calls.rejected === 0,
      usage: usageOf(done.usage),
    };
    sessions.push(result);
    options.log?.(
      `${family.id.padEnd(14)} ${condition.padEnd(18)} #${String(index).padStart(2)} ${result.completed ? "completed" : "not completed"} (rejected ${result.rejected}, accepted ${result.accepted})`,
    );
    const dreaming = condition === "dreaming" || condition === "dreaming+outcomes";
    if (dreaming && store && index % options.dreamEvery === 0 && index < options.sessions) {
      const ids = sessions.slice(-options.dreamEvery).map((s) => s.sessionId);
      dreams.push(await dream(h, store.id, ids, family, condition, index, options));
    }
  }
  return { sessions, dreams };
}

/** Serves the family's tool until the session is idle with nothing left to answer. */
async function serve(
  h: Harness,
  sessionId: string,
  family: QuirkFamily,
  waitMs: number,
): Promise<{ accepted: number; rejected: number }> {
  const answered = new Set<string>();
  let accepted = 0;
  let rejected = 0;
  const deadline = Date.now() + waitMs;
  for (;;) {
    await h.waitIdle(sessionId, Math.max(1_000, deadline - Date.now()));
    const pending: Array<{ id: string; input: Record<string, unknown> }> = [];
    for (const event of await h.allEvents(sessionId)) {
      if (event.type === "user.custom_tool_result") answered.add(event.custom_tool_use_id);
      if (event.type === "agent.custom_tool_use" && event.name === family.tool.name)
        pending.push({ id: event.id, input: (event.input ?? {}) as Record<string, unknown> });
    }
    const open = pending.filter((p) => !answered.has(p.id));
    if (open.length === 0) return { accepted, rejected };
    for (const call of open) {
      const ok = family.accepts(call.input);
      if (ok) accepted++;
      else rejected++;
      answered.add(call.id);
      await h.client.beta.sessions.events.send(sessionId, {
        events: [
          {
            type: "user.custom_tool_result",
            custom_tool_use_id: call.id,
            is_error: !ok,
            content: [{ type: "text", text: ok ? family.success : family.rejection }],
          },
        ],
      });
    }
    if (Date.now() > deadline) throw new Error(`gym: session ${sessionId} still busy after ${waitMs} ms`);
  }
}

async function dream(
  h: Harness,
  storeId: string,
  sessionIds: string[],
  family: QuirkFamily,
  condition: GymCondition,
  after: number,
  options: GymOptions,
): Promise<GymDream> {
  const created = await h.client.beta.dreams.create({
    inputs: [
      { type: "memory_store", memory_store_id: storeId },
      { type: "sessions", session_ids: sessionIds },
    ],
    model: options.model,
    output_behavior: { type: "update_existing", memory_store_id: storeId },
  });
  const deadline = Date.now() + (options.waitMs ?? 120_000);
  for (;;) {
    const d = await h.client.beta.dreams.retrieve(created.id);
    if (d.status === "completed" || d.status === "failed" || d.status === "canceled") {
      options.log?.(
        `${family.id.padEnd(14)} ${condition.padEnd(18)} dream after #${after}: ${d.status}${d.error ? ` (${d.error.type}: ${d.error.message})` : ""}`,
      );
      return {
        family: family.id,
        condition,
        after,
        dreamId: d.id,
        status: d.status,
        error: d.error ? `${d.error.type}: ${d.error.message}` : undefined,
        usage: usageOf(d.usage),
      };
    }
    if (Date.now() > deadline) throw new Error(`gym: dream ${d.id} still ${d.status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export const emptyUsage = zero;
