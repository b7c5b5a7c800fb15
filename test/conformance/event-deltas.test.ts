/**
 * `event_deltas` through the official SDK: a stream that asks for `agent.message` previews sees an
 * `event_start` carrying the id of the message to come, `event_delta` fragments whose text adds up
 * to the final `agent.message`, then that event; the model call behind it streams (real HTTP to the
 * mock Messages API). Streams that did not ask see no previews, previews are never in the history,
 * and an unknown preview type is a 400.
 */
import Anthropic from "@anthropic-ai/sdk";
import { accumulateManagedAgentsEvent } from "@anthropic-ai/sdk/lib/sessions/accumulate";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

type StreamEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsStreamSessionEvents;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

const say = (text: string) => ({ type: "user.message" as const, content: [{ type: "text" as const, text }] });

/** Reads a stream until the session goes idle. */
async function untilIdle(stream: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const seen: StreamEvent[] = [];
  for await (const event of stream) {
    seen.push(event);
    if (event.type === "session.status_idle") break;
  }
  return seen;
}

const ANSWER =
  "Here is a long answer, written piece by piece: first the summary, then the details, and finally a closing line.";

describe("event_deltas", () => {
  it("previews the agent's text as the model writes it, then sends the final agent.message", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    h.upstream.script({ content: ANSWER, delayMs: 200 });
    const previewing = await h.client.beta.sessions.events.stream(session.id, {
      event_deltas: ["agent.message"],
    });
    const plain = await h.client.beta.sessions.events.stream(session.id);
    await h.client.beta.sessions.events.send(session.id, { events: [say("explain")] });
    const [events, plainEvents] = await Promise.all([untilIdle(previewing), untilIdle(plain)]);

    const final = events.find((e) => e.type === "agent.message");
    expect(final?.type).toBe("agent.message");
    const finalId = (final as { id: string }).id;
    const start = events.find((e) => e.type === "event_start");
    expect(start).toEqual({ type: "event_start", event: { type: "agent.message", id: finalId } });
    const deltas = events.filter((e) => e.type === "event_delta");
    expect(deltas.length).toBeGreaterThan(1);
    for (const d of deltas)
      expect(d).toMatchObject({ event_id: finalId, delta: { type: "content_delta", index: 0 } });
    const previewed = deltas
      .map((d) => (d.delta.content.type === "text" ? d.delta.content.text : ""))
      .join("");
    expect(previewed).toBe(ANSWER);
    expect(final).toMatchObject({ content: [{ type: "text", text: ANSWER }] });
    // In order: the start, every fragment, then the buffered event that concludes the preview.
    const at = (e: StreamEvent) => events.indexOf(e);
    expect(at(start as StreamEvent)).toBeLessThan(at(deltas[0] as StreamEvent));
    expect(at(deltas.at(-1) as StreamEvent)).toBeLessThan(at(final as StreamEvent));

    // The SDK's own accumulator folds the previews into the message the final event carries.
    let snapshot: ReturnType<typeof accumulateManagedAgentsEvent> | undefined;
    const snapshots: string[] = [];
    for (const event of events) {
      snapshot = accumulateManagedAgentsEvent(snapshot, event);
      if (event.type === "event_delta" && snapshot?.content[0]?.type === "text")
        snapshots.push(snapshot.content[0].text);
    }
    expect(snapshots.at(-1)).toBe(ANSWER);
    expect(snapshot).toEqual(final);

    // The model call behind it streamed.
    expect(h.upstream.received.at(-1)?.body.stream).toBe(true);
    // A stream that did not ask, and the history, have the events and no previews.
    expect(plainEvents.some((e) => e.type === "event_start" || e.type === "event_delta")).toBe(false);
    expect(plainEvents.find((e) => e.type === "agent.message")).toEqual(final);
    const history = await h.allEvents(session.id);
    expect(history.map((e) => e.type)).not.toContain("event_start");
    expect(history.find((e) => e.id === finalId)).toEqual(final);
  });

  it("does not stream the model call when no stream asks for previews", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    h.upstream.script({ content: "quiet" });
    await h.client.beta.sessions.events.send(session.id, { events: [say("hi")] });
    await h.waitIdle(session.id);
    expect(h.upstream.received.at(-1)?.body.stream).toBeUndefined();
  });

  it("refuses an event type that cannot be previewed", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const refused = await h.client.beta.sessions.events
      .stream(session.id, { event_deltas: ["agent.tool_use" as "agent.message"] })
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    expect(refused).toBeInstanceOf(Anthropic.BadRequestError);
    expect(String((refused as Error).message)).toContain("event_deltas");
  });
});
