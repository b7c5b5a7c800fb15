/**
 * A run-now whose answer is lost is retried by the official SDK on its own (the same request again,
 * with `X-Stainless-Retry-Count: 1`); the stack must answer the retry with the run the first attempt
 * started, not start a second one (a second session, its initial events answered twice). Driven
 * through the SDK, whose `fetch` lets the first run-now reach the stack and then loses its answer.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mockText } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
let agentId: string;
let environmentId: string;

beforeAll(async () => {
  h = await startHarness();
  ({ agentId, environmentId } = await h.setup());
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.reset());

const isRunNow = (url: string | URL | Request, init?: RequestInit) =>
  init?.method === "POST" && /\/v1\/deployments\/[^/]+\/run$/.test(String(url).split("?")[0] ?? "");

/**
 * A `fetch` for the SDK that delivers the first run-now to the stack, waits for its answer, and
 * then loses it: a dropped connection, or a 502 from a gateway in between. Records the
 * `X-Stainless-Retry-Count` of every run-now.
 */
function losingFirstRunAnswer(loss: "connection" | "gateway") {
  const retryCounts: Array<string | null> = [];
  const fetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await globalThis.fetch(url, init);
    if (!isRunNow(url, init)) return response;
    retryCounts.push(new Headers(init?.headers).get("x-stainless-retry-count"));
    if (retryCounts.length > 1) return response;
    await response.arrayBuffer();
    if (loss === "connection") throw new TypeError("fetch failed", { cause: new Error("socket hang up") });
    return new Response(JSON.stringify({ message: "Bad Gateway" }), {
      status: 502,
      headers: { "content-type": "application/json" },
    });
  };
  return { fetch, retryCounts };
}

async function newDeployment(text: string) {
  return h.client.beta.deployments.create({
    agent: agentId,
    environment_id: environmentId,
    name: "run-now retries",
    initial_events: [{ type: "user.message", content: [{ type: "text", text }] }],
  });
}

async function runsOf(deploymentId: string) {
  return (await h.client.beta.deploymentRuns.list({ deployment_id: deploymentId })).data;
}

async function sessionsOf(deploymentId: string) {
  return (await h.client.beta.sessions.list({ deployment_id: deploymentId })).data;
}

describe("run now", () => {
  it.each(["connection", "gateway"] as const)(
    "starts one run when the SDK retries a run-now whose answer was lost (%s)",
    async (loss) => {
      // Prepare
      const d = await newDeployment(`report, lost answer (${loss})`);
      h.upstream.script(mockText("the one answer"), mockText("a second answer"));
      const losing = losingFirstRunAnswer(loss);
      const client = new Anthropic({
        baseURL: h.stack.url,
        apiKey: h.stack.apiKey,
        maxRetries: 2,
        fetch: losing.fetch,
      });

      // Act
      const run = await client.beta.deployments.run(d.id);
      await h.waitIdle(run.session_id as string);

      // Assess: the SDK did retry; the retry answered with the first attempt's run.
      expect(losing.retryCounts).toEqual(["0", "1"]);
      expect(await runsOf(d.id)).toEqual([run]);
      expect((await sessionsOf(d.id)).map((s) => s.id)).toEqual([run.session_id]);
      const events = await h.allEvents(run.session_id as string);
      expect(events.filter((e) => e.type === "user.message")).toHaveLength(1);
      expect(h.upstream.requests).toHaveLength(1);
    },
  );

  it("starts a second run when the user runs the deployment twice", async () => {
    const d = await newDeployment("report, twice");
    h.upstream.script(mockText("first"), mockText("second"));

    const first = await h.client.beta.deployments.run(d.id);
    const second = await h.client.beta.deployments.run(d.id);
    await h.waitIdle(first.session_id as string);
    await h.waitIdle(second.session_id as string);

    expect(second.id).not.toBe(first.id);
    expect(second.session_id).not.toBe(first.session_id);
    expect((await runsOf(d.id)).map((r) => r.id).sort()).toEqual([first.id, second.id].sort());
    expect(h.upstream.requests).toHaveLength(2);
  });

  it("takes a client's own Idempotency-Key for a repeat of the run-now that carried it", async () => {
    const d = await newDeployment("report, keyed");
    h.upstream.script(mockText("first"), mockText("second"), mockText("third"));
    const keyed = (key: string) => ({ headers: { "Idempotency-Key": key } });

    const first = await h.client.beta.deployments.run(d.id, {}, keyed("k-1"));
    const repeat = await h.client.beta.deployments.run(d.id, {}, keyed("k-1"));
    const other = await h.client.beta.deployments.run(d.id, {}, keyed("k-2"));
    await h.waitIdle(first.session_id as string);
    await h.waitIdle(other.session_id as string);

    expect(repeat).toEqual(first);
    expect(other.id).not.toBe(first.id);
    expect(await runsOf(d.id)).toHaveLength(2);
    expect(h.upstream.requests).toHaveLength(2);
  });

  it("answers a retry with the run of the same deployment only", async () => {
    const a = await newDeployment("report A");
    const b = await newDeployment("report B");
    h.upstream.script(mockText("A"), mockText("B"));
    const retry = { headers: { "X-Stainless-Retry-Count": "1" } };

    const ranA = await h.client.beta.deployments.run(a.id);
    // A retry (as the SDK marks it) of a run-now of another deployment: nothing of A's to repeat.
    const ranB = await h.client.beta.deployments.run(b.id, {}, retry);
    await h.waitIdle(ranA.session_id as string);
    await h.waitIdle(ranB.session_id as string);

    expect(ranB.deployment_id).toBe(b.id);
    expect(await runsOf(b.id)).toEqual([ranB]);
    expect(await runsOf(a.id)).toEqual([ranA]);
  });
});
