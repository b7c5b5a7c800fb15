/**
 * The web console in real Chromium (playwright-core driving Debian's chromium) against the embedded
 * stack, with a scripted Messages API server as the model (and the simulated model for dreams):
 * sign in, a session streaming live (send, confirm, interrupt), a coordinator's thread, an outcome's
 * criteria, memory versions with their provenance, a snapshot restored, a dream reviewed and two of
 * its three files applied, webhooks. Every page is checked with axe-core; screenshots are saved under
 * test-results/console/.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import {
  chromiumMissing,
  errorsOf,
  type InPage,
  launchChromium,
  saveScreenshot,
  seriousA11yViolations,
  signedInPage,
  watchErrors,
} from "../fixtures/console-browser.js";
import {
  type MockResponse,
  mockText,
  mockToolUse,
  type ReceivedRequest,
} from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

const missing = chromiumMissing();
if (missing) console.warn(missing);

let h: Harness;
/** A second stack on the simulated model: it dreams (mechanically) and delivers webhooks to a local receiver. */
let sim: Harness;
let receiver: Server;
let receiverUrl: string;
let receiverFails = true;
let browser: Browser;
const pages: Page[] = [];

/** What the agent answers next (in order); the grader and coordinators are scripted by role. */
const agentReplies: MockResponse[] = [];
let coordinatorNext: Array<{ name: string; input: unknown }> = [];

const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");
const isGrader = (r: ReceivedRequest) =>
  (r.body.tool_choice as { name?: string } | undefined)?.name === "submit_grade";
const hasToolResults = (r: ReceivedRequest) => {
  const content = r.body.messages.at(-1)?.content;
  return Array.isArray(content) && content.some((b) => b.type === "tool_result");
};

function respond(r: ReceivedRequest): MockResponse {
  if (isGrader(r))
    return mockToolUse("submit_grade", {
      rubric_applies: true,
      criteria: [{ index: 2, satisfied: true, finding: "The report reads clearly." }],
      explanation: "Everything is there.",
    });
  const system = systemOf(r);
  if (system.startsWith("COORDINATOR")) {
    if (hasToolResults(r)) return mockText("summary: both specialists reported");
    const calls = coordinatorNext;
    coordinatorNext = [];
    return { stop_reason: "tool_use", content: calls.map((c) => ({ type: "tool_use" as const, ...c })) };
  }
  if (system.startsWith("WORKER ")) return mockText(`${system.slice(7)} finished the research`);
  return agentReplies.shift() ?? mockText("ok");
}

async function open(viewport?: { width: number; height: number }, stack = h.stack): Promise<Page> {
  const page = await signedInPage(browser, stack, viewport);
  pages.push(page);
  return page;
}

/** Seconds spent in axe-core, printed at the end (it is most of these tests' browser time). */
let axeMs = 0;
async function expectAccessible(page: Page) {
  const started = Date.now();
  expect(await seriousA11yViolations(page)).toEqual([]);
  axeMs += Date.now() - started;
}

const latestMemoryId = (page: { data: Array<{ type: string; id?: string }> }) =>
  page.data.find((m) => m.type === "memory")?.id ?? "";
/** `expect.poll` with room for a busy CI machine (its default gives up after 1 s). */
const eventually = <T>(probe: () => Promise<T> | T, timeout = 20_000) => expect.poll(probe, { timeout });

const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });

describe.skipIf(missing !== undefined)("web console in Chromium", () => {
  beforeAll(async () => {
    receiver = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(receiverFails ? 500 : 204).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
    [h, sim, browser] = await Promise.all([
      startHarness({ env: { REVERIE_GRADER_HEARTBEAT_SECONDS: "0.2" } }),
      startHarness({
        model: new SimulatedModel(),
        env: {
          REVERIE_WEBHOOK_ALLOW_PRIVATE: "1",
          REVERIE_WEBHOOK_RETRY_BASE_SECONDS: "0",
          REVERIE_WEBHOOK_MAX_ATTEMPTS: "2",
        },
      }),
      launchChromium(),
    ]);
    h.upstream.fallback = respond;
  }, 60_000);
  afterAll(async () => {
    // No page threw, and nothing was refused by the Content-Security-Policy.
    expect(pages.flatMap(errorsOf)).toEqual([]);
    console.log(`axe-core: ${(axeMs / 1000).toFixed(1)} s in all`);
    await browser?.close();
    await Promise.all([h?.close(), sim?.close()]);
    await new Promise((resolve) => receiver?.close(resolve));
  });
  beforeEach(() => {
    agentReplies.length = 0;
  });

  it("signs in with a key kept in sessionStorage (never in the URL), and lists sessions with status, agent, tokens and cost", async () => {
    const { agentId, environmentId } = await h.setup({ name: "lister" });
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      title: "listed",
    });
    agentReplies.push(mockText("hello there", { usage: { input_tokens: 1200, output_tokens: 300 } }));
    await h.client.beta.sessions.events.send(session.id, { events: [say("hi")] });
    await h.waitIdle(session.id);

    const context = await browser.newContext();
    const page = await context.newPage();
    watchErrors(page);
    pages.push(page);
    await page.goto(h.stack.consoleUrl);
    await page.getByRole("heading", { name: "Reverie console" }).waitFor();
    await expectAccessible(page);
    await saveScreenshot(page, "sign-in");
    await page.getByLabel("API key").fill("sk-wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await eventually(() => page.getByRole("alert").textContent()).toContain("not accepted");
    // By keyboard: the key field, then Enter.
    await page.getByLabel("API key").fill("");
    await page.keyboard.press("Shift+Tab");
    await page.keyboard.press("Tab");
    expect(await page.evaluate(() => (globalThis as InPage).document.activeElement?.id)).toBe("api-key");
    await page.keyboard.type(h.stack.apiKey);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: "Sessions", level: 1 }).waitFor();
    expect(page.url()).not.toContain(h.stack.apiKey);
    expect(await page.evaluate(() => Object.values((globalThis as InPage).sessionStorage))).toContain(
      h.stack.apiKey,
    );

    const row = page.getByRole("row").filter({ hasText: "listed" });
    await row.waitFor();
    const text = await row.textContent();
    expect(text).toContain("idle");
    expect(text).toContain("lister");
    expect(text).toContain("→ 300");
    expect(text).toMatch(/\$0\.00\d\d/);
    await expectAccessible(page);
    await saveScreenshot(page, "sessions");
    // Filters go to the API (statuses[], agent_id): a running-only list leaves the idle session out.
    await page.getByLabel("Status").selectOption("running");
    await eventually(() => row.count()).toBe(0);
    await page.getByLabel("Status").selectOption("idle");
    await page.getByLabel("Agent").selectOption({ label: `lister (${agentId})` });
    await eventually(() => page.locator("tbody tr").count()).toBe(1);

    // A narrow window (a phone held upright): one column, nothing wider than the screen.
    const narrow = await open({ width: 390, height: 844 });
    await narrow.goto(`${h.stack.consoleUrl}#/sessions/${session.id}`);
    await narrow
      .getByRole("region", { name: "Session events" })
      .getByText("hello there", { exact: true })
      .waitFor();
    const fits = await narrow.evaluate(() => {
      const { document, window } = globalThis as InPage;
      return document.documentElement.scrollWidth <= window.innerWidth;
    });
    expect(fits).toBe(true);
    await expectAccessible(narrow);
    await saveScreenshot(narrow, "session-narrow");
  });

  it("streams a session live: a message sent from the console, an always_ask tool allowed, spans with tokens and latency, an interrupt", async () => {
    const { agentId, environmentId } = await h.setup({
      name: "careful",
      tools: [
        {
          type: "agent_toolset_20260401",
          configs: [{ name: "write", permission_policy: { type: "always_ask" } }],
        },
      ],
    });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const page = await open();
    await page.goto(`${h.stack.consoleUrl}#/sessions/${session.id}`);
    await page.getByText("Live", { exact: false }).first().waitFor();
    await eventually(() => page.getByRole("status").first().textContent()).toMatch(/^.*Live/);

    agentReplies.push(
      mockToolUse("write", { file_path: "/workspace/hello.txt", content: "hello" }, { delayMs: 200 }),
      mockText("Wrote hello.txt for you", { delayMs: 200, usage: { input_tokens: 900, output_tokens: 40 } }),
    );
    await page.getByRole("textbox", { name: "Message" }).fill("please write hello.txt");
    await page.getByRole("button", { name: "Send" }).click();
    const timeline = page.getByRole("region", { name: "Session events" });
    await timeline.getByText("please write hello.txt", { exact: true }).waitFor();
    // The write waits for the user: Allow / Deny on the tool use, the session idle with requires_action.
    const allow = timeline.getByRole("button", { name: "Allow" });
    await allow.waitFor();
    await eventually(() => page.getByTestId("session-status").textContent()).toBe("idle");
    await expectAccessible(page);
    await saveScreenshot(page, "session-confirmation");
    await allow.click();
    await timeline.getByText("Wrote hello.txt for you", { exact: true }).waitFor();
    await timeline
      .getByText(/Model request\s+in \d+/)
      .first()
      .waitFor();
    await eventually(() => page.getByTestId("session-status").textContent()).toBe("idle");
    const events = await h.allEvents(session.id);
    expect(events.map((e) => e.type)).toContain("user.tool_confirmation");
    // Every event of the session reached the page (history + stream, nothing twice).
    await eventually(() => page.getByRole("status").first().textContent()).toContain(
      `${(await h.allEvents(session.id)).length} events`,
    );
    const result = timeline.getByRole("article", { name: /agent\.tool_result/ });
    await result.getByText("Result", { exact: true }).click();
    await saveScreenshot(page, "session-live");

    // A slow answer, interrupted from the console.
    agentReplies.push(mockText("too late", { delayMs: 4000 }));
    await page.getByRole("textbox", { name: "Message" }).fill("take your time");
    await page.getByRole("button", { name: "Send" }).click();
    await eventually(() => page.getByTestId("session-status").textContent()).toBe("running");
    await page.getByRole("button", { name: "Interrupt" }).click();
    await timeline.getByRole("article", { name: /user\.interrupt/ }).waitFor();
    await eventually(() => page.getByTestId("session-status").textContent()).toBe("idle");
  });

  it("falls back to polling where a stream route does not stream (thread streams on the AWS REST API)", async () => {
    const { agentId, environmentId } = await h.setup({ name: "polled" });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const page = await open();
    // What the REST API's JSON function answers on a stream route it does not stream.
    await page.route("**/events/stream", (route) =>
      route.fulfill({
        status: 400,
        contentType: "application/json",
        body: '{"error":"use the stream route"}',
      }),
    );
    await page.goto(`${h.stack.consoleUrl}#/sessions/${session.id}`);
    await eventually(() => page.getByRole("status").first().textContent()).toContain("Live (polling)");
    agentReplies.push(mockText("heard you by polling"));
    await h.client.beta.sessions.events.send(session.id, { events: [say("are you there?")] });
    const timeline = page.getByRole("region", { name: "Session events" });
    await timeline.getByText("heard you by polling", { exact: true }).waitFor();
    await eventually(() => page.getByTestId("session-status").textContent()).toBe("idle");
  });

  it("opens a thread of a coordinator session from the thread tree and reads the thread's own timeline", async () => {
    const { environmentId } = await h.setup();
    const worker = (name: string) =>
      h.client.beta.agents.create({ name, model: "claude-haiku-4-5", system: `WORKER ${name}` });
    const [alpha, beta] = await Promise.all([worker("alpha"), worker("beta")]);
    const lead = await h.client.beta.agents.create({
      name: "lead",
      model: "claude-sonnet-4-6",
      system: "COORDINATOR",
      multiagent: { type: "coordinator", agents: [alpha.id, beta.id] },
    });
    const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
    coordinatorNext = [
      { name: "send_to_agent", input: { agent_name: "alpha", message: "research topic A" } },
      { name: "send_to_agent", input: { agent_name: "beta", message: "research topic B" } },
    ];
    await h.client.beta.sessions.events.send(session.id, { events: [say("split the research")] });
    await h.waitIdle(session.id, 30_000);

    const page = await open();
    await page.goto(`${h.stack.consoleUrl}#/sessions/${session.id}`);
    const tree = page.getByRole("navigation", { name: "Threads" });
    await tree.getByRole("link", { name: "beta" }).waitFor();
    const timeline = page.getByRole("region", { name: "Session events" });
    await timeline.getByText("summary: both specialists reported", { exact: true }).waitFor();
    await tree.getByRole("link", { name: "alpha" }).click();
    const threadTimeline = page.getByRole("region", { name: /^Events of thread sthr_/ });
    await threadTimeline.getByText("alpha finished the research", { exact: true }).waitFor();
    await threadTimeline.getByText("research topic A", { exact: true }).waitFor();
    expect(await threadTimeline.getByText("beta finished the research").count()).toBe(0);
    expect(await tree.getByRole("link", { name: "alpha" }).getAttribute("aria-current")).toBe("page");
    await expectAccessible(page);
    await saveScreenshot(page, "coordinator-thread");
  });

  it("reads an outcome's evaluation per criterion: verdict, finding and whether code or the grader decided", async () => {
    const { agentId, environmentId } = await h.setup({ name: "reporter" });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    agentReplies.push(
      mockToolUse("write", { file_path: "/workspace/report.md", content: "Revenue 4, costs 2. Total: 6" }),
      mockText("report written"),
    );
    await h.client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.define_outcome",
          description: "Write a quarterly report to report.md",
          rubric: {
            type: "text",
            content:
              '- check: file report.md exists\n- check: file report.md contains "Total"\n- The tone is clear',
          },
        },
      ],
    });
    await h.waitIdle(session.id);

    const page = await open();
    await page.goto(`${h.stack.consoleUrl}#/sessions/${session.id}/outcomes`);
    const table = page.getByRole("table").filter({ hasText: "Iteration 0" });
    await table.waitFor();
    const rows = table.getByRole("row");
    await eventually(() => rows.count()).toBe(4);
    const cells = async (i: number) => (await rows.nth(i).getByRole("cell").allTextContents()).slice(0, 3);
    expect(await cells(1)).toEqual(["check: file report.md exists", "met", "machine check"]);
    expect(await cells(2)).toEqual(['check: file report.md contains "Total"', "met", "machine check"]);
    expect(await cells(3)).toEqual(["The tone is clear", "met", "grader model"]);
    expect(await rows.nth(3).textContent()).toContain("The report reads clearly.");
    await page.getByText("satisfied").first().waitFor();
    await expectAccessible(page);
    await saveScreenshot(page, "outcome-criteria");
  });

  it("shows a memory's versions as diffs with their author, taint, and the session event that wrote them one click away; redacts", async () => {
    const { agentId, environmentId } = await h.setup({ name: "note-taker" });
    const store = await h.client.beta.memoryStores.create({ name: "Team notes" });
    await h.client.beta.memoryStores.memories.create(store.id, {
      path: "/prefs.md",
      content: "Likes coffee.\n",
    });
    const session = await h.client.beta.sessions.create({
      agent: agentId,
      environment_id: environmentId,
      resources: [{ type: "memory_store", memory_store_id: store.id, access: "read_write" }],
    });
    agentReplies.push(
      mockToolUse("read", { file_path: "/workspace/fetched.txt" }),
      mockToolUse("write", { file_path: "/mnt/memory/team-notes/prefs.md", content: "Likes tea.\n" }),
      mockText("noted"),
    );
    await h.client.beta.sessions.events.send(session.id, { events: [say("remember: tea")] });
    await h.waitIdle(session.id);
    const write = (await h.allEvents(session.id)).find(
      (e) => e.type === "agent.tool_use" && e.name === "write",
    ) as { id: string };

    const page = await open();
    await page.getByRole("link", { name: "Memory" }).click();
    await page.getByRole("link", { name: "Team notes" }).waitFor();
    await expectAccessible(page);
    await page.getByRole("link", { name: "Team notes" }).click();
    await page.getByRole("navigation", { name: "Memories" }).getByRole("link", { name: "prefs.md" }).click();
    const versions = page.getByRole("region", { name: /^Versions of/ });
    const latest = versions.getByRole("listitem").first();
    await latest.getByText("modified").waitFor();
    expect(await latest.getByRole("link", { name: session.id }).count()).toBe(1);
    const diff = latest.getByLabel(/^Changes in memver_/);
    expect(await diff.textContent()).toContain("-Likes coffee.");
    expect(await diff.textContent()).toContain("+Likes tea.");
    await latest.getByText(/^tainted: /).waitFor();
    await expectAccessible(page);
    await saveScreenshot(page, "memory-versions");

    await latest.getByRole("link", { name: /^Open the event that wrote this/ }).click();
    await page.waitForURL(new RegExp(`event=${write.id}`));
    const highlighted = page.locator(`#event-${write.id}`);
    await highlighted.waitFor();
    expect(await highlighted.getAttribute("class")).toContain("highlighted");
    expect(await highlighted.textContent()).toContain("write");
    await saveScreenshot(page, "memory-provenance-event");
    // The session's Files tab lists the store it mounts, where, and how.
    await page.getByRole("link", { name: "Files" }).click();
    const mounted = page.getByRole("listitem").filter({ hasText: "/mnt/memory/team-notes" });
    await mounted.waitFor();
    expect(await mounted.textContent()).toContain("read_write");
    expect(await mounted.getByRole("link", { name: store.id }).count()).toBe(1);
    await expectAccessible(page);

    // Redact the first version (no live memory holds its content any more).
    await page.goto(
      `${h.stack.consoleUrl}#/memory/${store.id}/${latestMemoryId(await h.client.beta.memoryStores.memories.list(store.id))}`,
    );
    const first = versions.getByRole("listitem").last();
    await first.getByRole("button", { name: /^Redact / }).click();
    await first.getByText("Content redacted.").waitFor();
    const listed = await h.client.beta.memoryStores.memoryVersions.list(store.id, { view: "full" });
    const redacted = listed.data.filter((v) => v.redacted_at);
    expect(redacted.map((v) => v.operation)).toEqual(["created"]);
  });

  it("takes a snapshot and restores it after the memory changed", async () => {
    const store = await h.client.beta.memoryStores.create({ name: "Restorable" });
    const memory = await h.client.beta.memoryStores.memories.create(store.id, {
      path: "/plan.md",
      content: "Ship on Friday.\n",
    });
    const page = await open();
    await page.goto(`${h.stack.consoleUrl}#/memory/${store.id}`);
    await page.getByLabel("Name").fill("before the change");
    await page.getByRole("button", { name: "Take snapshot" }).click();
    await page.getByRole("button", { name: "Restore before the change" }).waitFor();
    await h.client.beta.memoryStores.memories.update(memory.id, {
      memory_store_id: store.id,
      content: "Ship next month.\n",
    });
    await h.client.beta.memoryStores.memories.create(store.id, { path: "/extra.md", content: "scratch\n" });
    await page.getByRole("button", { name: "Restore before the change" }).click();
    const status = page.getByRole("status").filter({ hasText: "Restored to" });
    await status.waitFor();
    expect(await status.textContent()).toContain("1 modified, 1 deleted");
    const restored = await h.client.beta.memoryStores.memories.retrieve(memory.id, {
      memory_store_id: store.id,
    });
    expect(restored.content).toBe("Ship on Friday.\n");
    await saveScreenshot(page, "memory-restored");
  });

  it("reviews a dream: per-file diffs with rationale and evidence, two of three files accepted and applied, a conflict shown", async () => {
    const { agentId, environmentId } = await sim.setup();
    const sessionIds: string[] = [];
    for (const n of [1, 2, 3]) {
      const session = await sim.client.beta.sessions.create({
        agent: agentId,
        environment_id: environmentId,
      });
      await sim.client.beta.sessions.events.send(session.id, {
        events: [
          say(
            `write "note ${n}" to notes${n}.md then read missing${n}.md then read notes${n}.md. Always run the linter before committing.`,
          ),
        ],
      });
      await sim.waitIdle(session.id);
      sessionIds.push(session.id);
    }
    const store = await sim.client.beta.memoryStores.create({ name: "Dream input" });
    for (const [path, content] of Object.entries({
      "/notes/build.md": "Run npm test before pushing.\n",
      "/notes/people.md": "Ada owns the billing service.\n",
    }))
      await sim.client.beta.memoryStores.memories.create(store.id, { path, content });
    const dream = await sim.client.beta.dreams.create({
      inputs: [
        { type: "memory_store", memory_store_id: store.id },
        { type: "sessions", session_ids: sessionIds },
      ],
      model: "claude-sonnet-4-6",
    });
    for (let i = 0; ; i++) {
      const d = await sim.client.beta.dreams.retrieve(dream.id);
      if (d.status === "completed") break;
      if (d.status === "failed" || i > 400) throw new Error(`dream ${d.status}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const changes = (await sim.client.get(`/v1/dreams/${dream.id}/changes`)) as {
      data: Array<{ path: string; change: string }>;
    };
    const paths = changes.data.map((c) => c.path);
    expect(paths.length).toBe(3);

    const page = await open(undefined, sim.stack);
    await page.getByRole("link", { name: "Dreams" }).click();
    await page.getByRole("link", { name: dream.id }).waitFor();
    await expectAccessible(page);
    await page.getByRole("link", { name: dream.id }).click();
    const review = page.getByRole("region", { name: "Review" });
    await review.getByRole("group").first().waitFor();
    expect(
      await page
        .getByRole("link", { name: /^sesn_/ })
        .first()
        .textContent(),
    ).toMatch(/^sesn_/);
    const files = review.getByRole("listitem");
    expect(await files.count()).toBe(3);
    // Each file: its diff, the dreamer's rationale, and evidence linking to session events.
    const note = files.filter({ hasText: "/dreams/preferences/" });
    expect(await note.getByLabel(/^Diff of /).textContent()).toContain("+# User preference");
    expect(await note.getByText(/^Rationale:/).count()).toBe(1);
    expect(await note.getByRole("link", { name: /^sevt_/ }).count()).toBeGreaterThanOrEqual(2);
    await expectAccessible(page);
    await saveScreenshot(page, "dream-review");

    const [accept1, accept2, reject] = paths as [string, string, string];
    for (const path of [accept1, accept2])
      await review
        .getByRole("radiogroup", { name: `Decision for ${path}` })
        .getByLabel("Accept")
        .check();
    await review
      .getByRole("radiogroup", { name: `Decision for ${reject}` })
      .getByLabel("Reject")
      .check();
    await review.getByRole("button", { name: "Apply 2 accepted files" }).click();
    await page.getByRole("status").filter({ hasText: "2 applied, 0 conflicts" }).waitFor();
    await eventually(() => review.getByText("Applied.").count()).toBe(2);
    const after = (await sim.client.get(`/v1/dreams/${dream.id}/changes`)) as {
      data: Array<{ path: string; applied: boolean }>;
    };
    expect(
      after.data
        .filter((c) => c.applied)
        .map((c) => c.path)
        .sort(),
    ).toEqual([accept1, accept2].sort());
    await saveScreenshot(page, "dream-applied");

    // The rejected file, accepted after someone wrote that path meanwhile: a conflict, shown, nothing overwritten.
    await sim.client.beta.memoryStores.memories.create(store.id, {
      path: reject,
      content: "written by hand\n",
    });
    await review
      .getByRole("radiogroup", { name: `Decision for ${reject}` })
      .getByLabel("Accept")
      .check();
    await review.getByRole("button", { name: "Apply 1 accepted file" }).click();
    await page.getByRole("status").filter({ hasText: "0 applied, 1 conflicts" }).waitFor();
    const conflicted = files.filter({ hasText: reject });
    await conflicted.getByText(/^Conflict: the memory changed after the dream read it/).waitFor();
    const kept = (await sim.client.beta.memoryStores.memories.list(store.id, { view: "full" })).data.find(
      (m) => m.type === "memory" && m.path === reject,
    );
    expect((kept as { content?: string } | undefined)?.content).toBe("written by hand\n");
    await saveScreenshot(page, "dream-conflict");
  });

  it("lists webhook endpoints and their deliveries with attempts, and replays a failed one", async () => {
    receiverFails = true;
    const endpoint = await sim.client.beta.organization.webhooks.create({
      url: receiverUrl,
      enabled_events: ["session.created"] as never,
    });
    const { agentId, environmentId } = await sim.setup();
    await sim.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const page = await open(undefined, sim.stack);
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("link", { name: receiverUrl }).click();
    const row = page.getByRole("row").filter({ hasText: "session.created" });
    await eventually(async () => (await row.textContent()) ?? "").toContain("failed");
    expect(await row.getByRole("cell").nth(2).textContent()).toBe("2");
    expect(await row.textContent()).toContain("500");
    await expectAccessible(page);
    await saveScreenshot(page, "webhook-deliveries");
    receiverFails = false;
    await row.getByRole("button", { name: /^Replay / }).click();
    await eventually(async () => (await row.textContent()) ?? "").toContain("delivered");
    void endpoint;
  });
});
