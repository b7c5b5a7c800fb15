/**
 * A send of user events whose answer is lost is retried by the official SDK on its own (with
 * `X-Stainless-Retry-Count: 1`); the stack must not log the retried events a second time, or the
 * agent reads and answers them twice. Driven through the SDK, whose `fetch` lets the first send
 * reach the stack and then loses its answer.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mockText } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

type SessionEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsSessionEvent;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());
beforeEach(() => h.upstream.reset());

const text = (s: string) => ({
  type: "user.message" as const,
  content: [{ type: "text" as const, text: s }],
});
const ofType = (events: SessionEvent[], type: SessionEvent["type"]) => events.filter((e) => e.type === type);

/**
 * A `fetch` for the SDK that delivers the first `POST …/events` to the stack, waits for its answer,
 * and then loses it: a dropped connection, or a 502 from a gateway in between. Records the
 * `X-Stainless-Retry-Count` of every send.
 */
function losingFirstSendAnswer(loss: "connection" | "gateway") {
  const retryCounts: Array<string | null> = [];
  const fetch = async (url: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const response = await globalThis.fetch(url, init);
    if (init?.method !== "POST" || !String(url).split("?")[0]?.endsWith("/events")) return response;
    retryCounts.push(new Headers(init.headers).get("x-stainless-retry-count"));
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

async function newSession() {
  const { agentId, environmentId } = await h.setup();
  return h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
}

describe("sending user events", () => {
  it.each(["connection", "gateway"] as const)(
    "logs a message once and answers it once when the SDK retries a send whose answer was lost (%s)",
    async (loss) => {
      // Prepare
      const session = await newSession();
      h.upstream.script(mockText("the one answer"), mockText("a second answer"));
      const losing = losingFirstSendAnswer(loss);
      const client = new Anthropic({
        baseURL: h.stack.url,
        apiKey: h.stack.apiKey,
        maxRetries: 2,
        fetch: losing.fetch,
      });

      // Act
      const sent = await client.beta.sessions.events.send(session.id, { events: [text("hello")] });
      await h.waitIdle(session.id);

      // Assess: the SDK did retry; the retry wrote nothing and answered with the stored event.
      expect(losing.retryCounts).toEqual(["0", "1"]);
      const events = await h.allEvents(session.id);
      const messages = ofType(events, "user.message");
      expect(messages).toHaveLength(1);
      expect(sent.data).toEqual(messages);
      expect(ofType(events, "agent.message")).toHaveLength(1);
      expect(h.upstream.requests).toHaveLength(1);
    },
  );

  it("logs and answers the same words twice when the user sends them twice", async () => {
    const session = await newSession();
    h.upstream.script(mockText("first"), mockText("second"));

    const first = await h.client.beta.sessions.events.send(session.id, { events: [text("yes")] });
    await h.waitIdle(session.id);
    const second = await h.client.beta.sessions.events.send(session.id, { events: [text("yes")] });
    await h.waitIdle(session.id);

    const events = await h.allEvents(session.id);
    expect(ofType(events, "user.message").map((e) => e.id)).toEqual([
      first.data?.[0]?.id,
      second.data?.[0]?.id,
    ]);
    expect(ofType(events, "agent.message")).toHaveLength(2);
    expect(h.upstream.requests).toHaveLength(2);
  });

  it("takes a client's own Idempotency-Key for a repeat of the send that carried it", async () => {
    const session = await newSession();
    h.upstream.script(mockText("first"), mockText("second"));
    const keyed = (key: string) => ({ headers: { "Idempotency-Key": key } });

    const first = await h.client.beta.sessions.events.send(
      session.id,
      { events: [text("go")] },
      keyed("k-1"),
    );
    const repeat = await h.client.beta.sessions.events.send(
      session.id,
      { events: [text("go")] },
      keyed("k-1"),
    );
    await h.waitIdle(session.id);

    expect(repeat).toEqual(first);
    const events = await h.allEvents(session.id);
    expect(ofType(events, "user.message")).toHaveLength(1);
    expect(h.upstream.requests).toHaveLength(1);
  });
});
