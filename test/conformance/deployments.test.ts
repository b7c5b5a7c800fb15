/**
 * `/v1/deployments` and `/v1/deployment_runs` through the official SDK: all 10 endpoints, their 4xx
 * answers (bad cron, bad time zone, bad initial events, archived references, another workspace's
 * deployment), and a run-now that creates a session from the deployment and runs its initial events
 * against the scripted upstream model.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mockText, mockToolUse, type ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
let agentId: string;
let environmentId: string;
let other: Anthropic;

const message = (text: string) => ({
  type: "user.message" as const,
  content: [{ type: "text" as const, text }],
});
const base = () => ({
  agent: agentId,
  environment_id: environmentId,
  name: "Daily order report",
  initial_events: [message("Compile yesterday's orders into report.md.")],
});

beforeAll(async () => {
  h = await startHarness();
  ({ agentId, environmentId } = await h.setup());
  const key = `sk-other-${Date.now()}`;
  await h.stack.services.apiKeys.register(key, { workspaceId: "wrkspc_other", apiKeyId: "apikey_other" });
  other = new Anthropic({ baseURL: h.stack.url, apiKey: key, maxRetries: 0 });
});
afterAll(async () => h.close());

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function status(
  promise: Promise<unknown>,
): Promise<{ status: number; type?: string; message?: string }> {
  try {
    await promise;
    return { status: 200 };
  } catch (error) {
    if (!(error instanceof Anthropic.APIError)) throw error;
    const body = error.error as { error?: { type?: string; message?: string } } | undefined;
    return { status: error.status as number, type: body?.error?.type, message: body?.error?.message };
  }
}

describe("deployments: create and retrieve", () => {
  it("creates a scheduled deployment pinned to the agent's latest version, with its next 5 firings", async () => {
    const before = Date.now();
    const d = await h.client.beta.deployments.create({
      ...base(),
      description: "orders",
      metadata: { team: "ops" },
      schedule: { type: "cron", expression: "0 9 * * 1-5", timezone: "America/Los_Angeles" },
    });
    expect(d).toMatchObject({
      type: "deployment",
      agent: { type: "agent", id: agentId, version: 1 },
      archived_at: null,
      description: "orders",
      environment_id: environmentId,
      metadata: { team: "ops" },
      name: "Daily order report",
      paused_reason: null,
      resources: [],
      status: "active",
      vault_ids: [],
      initial_events: [message("Compile yesterday's orders into report.md.")],
      schedule: {
        type: "cron",
        expression: "0 9 * * 1-5",
        timezone: "America/Los_Angeles",
        last_run_at: null,
      },
    });
    expect(d.id).toMatch(/^depl_01/);
    const upcoming = d.schedule?.upcoming_runs_at ?? [];
    expect(upcoming).toHaveLength(5);
    for (const at of upcoming) {
      const t = new Date(at);
      expect(t.getTime()).toBeGreaterThan(before);
      const local = new Intl.DateTimeFormat("en-US", {
        timeZone: "America/Los_Angeles",
        weekday: "short",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      }).format(t);
      // 09:00 on a weekday, in Los Angeles.
      expect(local).toMatch(/^(Mon|Tue|Wed|Thu|Fri),? 09:00$/);
    }
    expect([...upcoming].sort()).toEqual(upcoming);
    expect(await h.client.beta.deployments.retrieve(d.id)).toEqual(d);
  });

  it("pins an explicit agent version and accepts a manual-only deployment", async () => {
    await h.client.beta.agents.update(agentId, { version: 1, system: "v2 prompt" });
    const pinned = await h.client.beta.deployments.create({
      ...base(),
      agent: { type: "agent", id: agentId, version: 1 },
    });
    expect(pinned.agent).toEqual({ type: "agent", id: agentId, version: 1 });
    expect(pinned.schedule).toBeNull();
    const latest = await h.client.beta.deployments.create(base());
    expect(latest.agent.version).toBe(2);
  });

  it("refuses bad cron expressions and time zones with clear 400s", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["0 9 * *", "UTC", /expected 5 fields/],
      ["0 0 9 * * *", "UTC", /expected 5 fields.*seconds and year/],
      ["@daily", "UTC", /predefined shortcuts/],
      ["0 9 L * *", "UTC", /extended cron syntax \(L\)/],
      ["0 9 * * 1#2", "UTC", /extended cron syntax \(#\)/],
      ["0 9 ? * *", "UTC", /extended cron syntax \(\?\)/],
      ["60 * * * *", "UTC", /minute: 60 is out of range 0-59/],
      ["0 24 * * *", "UTC", /hour: 24 is out of range 0-23/],
      ["0 9 * * 8", "UTC", /day-of-week: 8 is out of range 0-7/],
      ["0 9 5-1 * *", "UTC", /runs backwards/],
      ["0 0 31 2 *", "UTC", /never run/],
      ["0 9 * * *", "Mars/Olympus_Mons", /not in the IANA time zone database/],
      ["0 9 * * *", "+02:00", /not an IANA time zone name/],
    ];
    for (const [expression, timezone, pattern] of cases) {
      const result = await status(
        h.client.beta.deployments.create({ ...base(), schedule: { type: "cron", expression, timezone } }),
      );
      expect(result, `${expression} @ ${timezone}`).toMatchObject({
        status: 400,
        type: "invalid_request_error",
      });
      expect(result.message).toMatch(pattern);
    }
  });

  it("refuses bad bodies with the SDK's limits", async () => {
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ initial_events: [] }, /initial_events: must have at least 1 item/],
      [
        { initial_events: Array.from({ length: 51 }, () => message("x")) },
        /initial_events: must have at most 50/,
      ],
      [
        { initial_events: [{ type: "system.message", content: [{ type: "text", text: "x" }] }] },
        /system.message is not supported/,
      ],
      [{ name: "" }, /name: must not be empty/],
      [{ vault_ids: Array.from({ length: 51 }, (_, i) => `vlt_${i}`) }, /vault_ids: must have at most 50/],
      [
        { metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])) },
        /metadata: must have at most 16 keys/,
      ],
      [{ schedule: { type: "cron", expression: "0 9 * * *" } }, /schedule.timezone: required/],
      [
        {
          initial_events: [
            {
              type: "user.define_outcome",
              description: "d",
              rubric: { type: "text", content: "r" },
              max_iterations: 21,
            },
          ],
        },
        /max_iterations: must be at most 20/,
      ],
      [
        { resources: [{ type: "memory_store", memory_store_id: "memstore_missing" }] },
        /memory store memstore_missing not found/,
      ],
    ];
    for (const [patch, pattern] of bad) {
      const result = await status(h.client.post("/v1/deployments", { body: { ...base(), ...patch } }));
      expect(result, JSON.stringify(patch).slice(0, 80)).toMatchObject({ status: 400 });
      expect(result.message).toMatch(pattern);
    }
    expect(
      await status(h.client.beta.deployments.create({ ...base(), agent: "agent_missing" })),
    ).toMatchObject({
      status: 404,
    });
    expect(
      await status(h.client.beta.deployments.create({ ...base(), environment_id: "env_missing" })),
    ).toMatchObject({ status: 404 });
  });

  it("refuses an archived agent or environment", async () => {
    const agent = await h.client.beta.agents.create({ name: "gone", model: "claude-sonnet-4-6" });
    await h.client.beta.agents.archive(agent.id);
    expect(await status(h.client.beta.deployments.create({ ...base(), agent: agent.id }))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/archived/),
    });
    const environment = await h.client.beta.environments.create({ name: `gone-${Date.now()}` });
    await h.client.beta.environments.archive(environment.id);
    expect(
      await status(h.client.beta.deployments.create({ ...base(), environment_id: environment.id })),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/archived/) });
  });

  it("is a 404 for an unknown id and for another workspace's deployment", async () => {
    const d = await h.client.beta.deployments.create(base());
    expect(await status(h.client.beta.deployments.retrieve("depl_01nope"))).toMatchObject({
      status: 404,
      type: "not_found_error",
    });
    for (const call of [
      () => other.beta.deployments.retrieve(d.id),
      () => other.beta.deployments.update(d.id, { name: "mine" }),
      () => other.beta.deployments.pause(d.id),
      () => other.beta.deployments.unpause(d.id),
      () => other.beta.deployments.archive(d.id),
      () => other.beta.deployments.run(d.id),
    ])
      expect(await status(call())).toMatchObject({ status: 404 });
    expect((await other.beta.deployments.list()).data).toEqual([]);
  });
});

describe("deployments: update, pause, unpause, archive, list", () => {
  it("updates fields as the SDK documents (omit preserves, null clears, metadata is a patch)", async () => {
    const d = await h.client.beta.deployments.create({
      ...base(),
      description: "first",
      metadata: { a: "1", b: "2" },
      schedule: { type: "cron", expression: "30 6 * * *", timezone: "UTC" },
    });
    const updated = await h.client.beta.deployments.update(d.id, {
      name: "Renamed",
      description: "",
      metadata: { a: null, c: "3" },
      schedule: { type: "cron", expression: "15 7 1 * *", timezone: "Europe/Paris" },
    });
    expect(updated).toMatchObject({
      name: "Renamed",
      description: null,
      metadata: { b: "2", c: "3" },
      initial_events: d.initial_events,
      schedule: { expression: "15 7 1 * *", timezone: "Europe/Paris" },
    });
    for (const at of updated.schedule?.upcoming_runs_at ?? []) {
      const local = new Intl.DateTimeFormat("en-GB", {
        timeZone: "Europe/Paris",
        day: "numeric",
        hour: "2-digit",
        minute: "2-digit",
        hourCycle: "h23",
      }).format(new Date(at));
      expect(local).toMatch(/^1,? 07:15$/);
    }
    const manual = await h.client.beta.deployments.update(d.id, { schedule: null });
    expect(manual.schedule).toBeNull();
    expect(await status(h.client.beta.deployments.update(d.id, { initial_events: [] }))).toMatchObject({
      status: 400,
    });
    expect(await status(h.client.beta.deployments.update(d.id, { name: "" }))).toMatchObject({ status: 400 });
    expect(
      await status(
        h.client.beta.deployments.update(d.id, {
          schedule: { type: "cron", expression: "* * *", timezone: "UTC" },
        }),
      ),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/expected 5 fields/) });
  });

  it("pauses and unpauses (idempotently), archives for good", async () => {
    const d = await h.client.beta.deployments.create({
      ...base(),
      schedule: { type: "cron", expression: "0 0 * * *", timezone: "UTC" },
    });
    const paused = await h.client.beta.deployments.pause(d.id);
    expect(paused).toMatchObject({ status: "paused", paused_reason: { type: "manual" } });
    // A paused deployment still shows what its schedule would do if unpaused.
    expect(paused.schedule?.upcoming_runs_at).toHaveLength(5);
    expect(await h.client.beta.deployments.pause(d.id)).toMatchObject({ status: "paused" });
    const resumed = await h.client.beta.deployments.unpause(d.id);
    expect(resumed).toMatchObject({ status: "active", paused_reason: null });
    expect(await h.client.beta.deployments.unpause(d.id)).toMatchObject({ status: "active" });

    await h.client.beta.deployments.pause(d.id);
    const archived = await h.client.beta.deployments.archive(d.id);
    expect(archived.archived_at).not.toBeNull();
    // Archived deployments report `active` with `archived_at` set, and no upcoming runs.
    expect(archived).toMatchObject({ status: "active", paused_reason: null });
    expect(archived.schedule?.upcoming_runs_at).toEqual([]);
    expect(await h.client.beta.deployments.archive(d.id)).toEqual(archived);
    for (const call of [
      () => h.client.beta.deployments.pause(d.id),
      () => h.client.beta.deployments.unpause(d.id),
      () => h.client.beta.deployments.update(d.id, { name: "again" }),
      () => h.client.beta.deployments.run(d.id),
    ])
      expect(await status(call())).toMatchObject({ status: 400, message: expect.stringMatching(/archived/) });
  });

  it("lists newest first with the SDK's filters and pages", async () => {
    const agent = await h.client.beta.agents.create({ name: "lister", model: "claude-sonnet-4-6" });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await h.client.beta.deployments.create({ ...base(), agent: agent.id, name: `l${i}` })).id);
    await h.client.beta.deployments.pause(ids[1] as string);
    await h.client.beta.deployments.archive(ids[2] as string);

    const mine = await h.client.beta.deployments.list({ agent_id: agent.id });
    expect(mine.data.map((d) => d.id)).toEqual([ids[1], ids[0]]);
    const all = await h.client.beta.deployments.list({ agent_id: agent.id, include_archived: true });
    expect(all.data.map((d) => d.id)).toEqual([ids[2], ids[1], ids[0]]);
    const paused = await h.client.beta.deployments.list({ agent_id: agent.id, status: "paused" });
    expect(paused.data.map((d) => d.id)).toEqual([ids[1]]);
    const paged: string[] = [];
    for await (const d of h.client.beta.deployments.list({
      agent_id: agent.id,
      include_archived: true,
      limit: 1,
    }))
      paged.push(d.id);
    expect(paged).toEqual([ids[2], ids[1], ids[0]]);
    expect(
      await status(h.client.beta.deployments.list({ status: "paused", include_archived: true })),
    ).toMatchObject({ status: 400, message: expect.stringMatching(/cannot be combined/) });
  });
});

describe("deployments: run now and deployment runs", () => {
  it("runs now: one session from the deployment, its initial events answered by the upstream model", async () => {
    h.upstream.script(mockText("Report written."));
    const d = await h.client.beta.deployments.create({
      ...base(),
      initial_events: [message("Compile the report for run-now.")],
      metadata: { k: "v" },
    });
    await h.client.beta.deployments.pause(d.id); // manual runs are still permitted while paused
    const run = await h.client.beta.deployments.run(d.id);
    expect(run).toMatchObject({
      type: "deployment_run",
      deployment_id: d.id,
      agent: d.agent,
      error: null,
      trigger_context: { type: "manual" },
    });
    expect(run.id).toMatch(/^drun_01/);
    const sessionId = run.session_id as string;
    const session = await h.waitIdle(sessionId);
    expect(session).toMatchObject({
      deployment_id: d.id,
      environment_id: environmentId,
      agent: { id: agentId },
    });
    const events = await h.allEvents(sessionId);
    expect(events.map((e) => e.type)).toContain("agent.message");
    const sent = events.filter((e) => e.type === "user.message");
    expect(sent).toHaveLength(1);
    expect(JSON.stringify(h.upstream.requests.at(-1)?.messages)).toContain("Compile the report for run-now.");
    // Manual runs do not move the schedule's last run.
    expect((await h.client.beta.deployments.retrieve(d.id)).status).toBe("paused");

    expect(await h.client.beta.deploymentRuns.retrieve(run.id)).toEqual(run);
    const listed = await h.client.beta.deploymentRuns.list({ deployment_id: d.id });
    expect(listed.data).toEqual([run]);
    expect(
      (await h.client.beta.deploymentRuns.list({ deployment_id: d.id, trigger_type: "schedule" })).data,
    ).toEqual([]);
    expect((await h.client.beta.deploymentRuns.list({ deployment_id: d.id, has_error: true })).data).toEqual(
      [],
    );
    expect(
      (await h.client.beta.deploymentRuns.list({ deployment_id: d.id, has_error: false })).data,
    ).toHaveLength(1);
    expect((await h.client.beta.deploymentRuns.list({ deployment_id: "depl_nope" })).data).toEqual([]);
    const sessions = await h.client.beta.sessions.list({ deployment_id: d.id });
    expect(sessions.data.map((s) => s.id)).toEqual([sessionId]);
  });

  it("runs a user.define_outcome initial event: the agent works, the grader grades, the outcome is satisfied", async () => {
    const isGrader = (request: ReceivedRequest) =>
      (request.body.tool_choice as { name?: string } | undefined)?.name === "submit_grade";
    h.upstream.fallback = (request) =>
      isGrader(request)
        ? mockToolUse("submit_grade", {
            rubric_applies: true,
            criteria: [{ index: 0, satisfied: true, finding: "it names the total" }],
            explanation: "Done.",
          })
        : mockText("The total is 42.");
    try {
      const d = await h.client.beta.deployments.create({
        ...base(),
        initial_events: [
          {
            type: "user.define_outcome",
            description: "State the total",
            rubric: { type: "text", content: "- The answer states the total" },
            max_iterations: 2,
          },
        ],
      });
      expect(d.initial_events[0]).toMatchObject({ type: "user.define_outcome", max_iterations: 2 });
      const run = await h.client.beta.deployments.run(d.id);
      const session = await until("the outcome to be satisfied", async () => {
        const s = await h.client.beta.sessions.retrieve(run.session_id as string);
        return s.outcome_evaluations[0]?.result === "satisfied" ? s : undefined;
      });
      expect(session.outcome_evaluations).toHaveLength(1);
      const events = await h.allEvents(session.id);
      expect(events.filter((e) => e.type === "user.define_outcome")).toHaveLength(1);
      expect(events.map((e) => e.type)).toContain("span.outcome_evaluation_end");
      await h.waitIdle(session.id);
    } finally {
      h.upstream.reset();
    }
  });

  it("records a run whose session cannot be created (a manual run does not pause)", async () => {
    const agent = await h.client.beta.agents.create({ name: "short-lived", model: "claude-sonnet-4-6" });
    const d = await h.client.beta.deployments.create({ ...base(), agent: agent.id });
    await h.client.beta.agents.archive(agent.id);
    const run = await h.client.beta.deployments.run(d.id);
    expect(run).toMatchObject({
      session_id: null,
      error: { type: "agent_archived_error", message: expect.stringContaining(agent.id) },
      trigger_context: { type: "manual" },
    });
    expect((await h.client.beta.deployments.retrieve(d.id)).status).toBe("active");
    expect((await h.client.beta.deploymentRuns.list({ deployment_id: d.id, has_error: true })).data).toEqual([
      run,
    ]);
  });

  it("attaches its vaults to each session; a vault archived since records vault_archived_error", async () => {
    const vault = await h.client.beta.vaults.create({ display_name: "deploy creds" });
    expect(
      await status(h.client.beta.deployments.create({ ...base(), vault_ids: ["vlt_missing"] })),
    ).toMatchObject({
      status: 404,
    });
    const d = await h.client.beta.deployments.create({ ...base(), vault_ids: [vault.id] });
    expect(d.vault_ids).toEqual([vault.id]);
    const ok = await h.client.beta.deployments.run(d.id);
    expect((await h.client.beta.sessions.retrieve(ok.session_id as string)).vault_ids).toEqual([vault.id]);
    await h.client.beta.vaults.archive(vault.id);
    const failed = await h.client.beta.deployments.run(d.id);
    expect(failed).toMatchObject({ session_id: null, error: { type: "vault_archived_error" } });
  });

  it("stamps its budget onto each session it creates; a model without a list price takes none", async () => {
    const budget = { type: "limit" as const, max_list_cost: { amount: "2.50", currency: "USD" as const } };
    const d = await h.client.beta.deployments.create({ ...base(), budget });
    expect(d.budget).toEqual(budget);
    const run = await h.client.beta.deployments.run(d.id);
    expect((await h.client.beta.sessions.retrieve(run.session_id as string)).budget).toEqual(budget);
    const cleared = await h.client.beta.deployments.update(d.id, { budget: null });
    expect(cleared.budget).toBeUndefined();
    const unpriced = await h.client.beta.agents.create({ name: "unpriced", model: "claude-custom-1" });
    expect(
      await status(h.client.beta.deployments.create({ ...base(), agent: unpriced.id, budget })),
    ).toMatchObject({
      status: 400,
      message: expect.stringMatching(/model_not_budgetable/),
    });
    const priced = await h.client.beta.deployments.create({ ...base(), budget });
    expect(await status(h.client.beta.deployments.update(priced.id, { agent: unpriced.id }))).toMatchObject({
      status: 400,
      message: expect.stringMatching(/model_not_budgetable/),
    });
  });

  it("is a 404 for an unknown run and another workspace's run; bad list queries are 400s", async () => {
    const d = await h.client.beta.deployments.create(base());
    const run = await h.client.beta.deployments.run(d.id);
    expect(await status(h.client.beta.deploymentRuns.retrieve("drun_01nope"))).toMatchObject({ status: 404 });
    expect(await status(other.beta.deploymentRuns.retrieve(run.id))).toMatchObject({ status: 404 });
    expect((await other.beta.deploymentRuns.list()).data).toEqual([]);
    expect(
      await status(h.client.get("/v1/deployment_runs", { query: { trigger_type: "cron" } })),
    ).toMatchObject({ status: 400 });
    expect(
      await status(h.client.get("/v1/deployment_runs", { query: { "created_at[gte]": "yesterday" } })),
    ).toMatchObject({ status: 400 });
  });
});
