import { describe, expect, it } from "vitest";
import { InProcessPreviews } from "../../shared/adapters/local/in-process-previews.js";
import {
  deltaTypesOf,
  MessagePreviewer,
  previewerFor,
  withPreviews,
} from "../../shared/core/events/event-previews.js";

/** A log follower stand-in: yields what is pushed, ends when closed. */
function fakeLog() {
  const queue: Array<{ seq: number; event: { type: string; id: string } }> = [];
  let wake: (() => void) | undefined;
  let closed = false;
  return {
    push(entry: { seq: number; event: { type: string; id: string } }) {
      queue.push(entry);
      wake?.();
    },
    close() {
      closed = true;
      wake?.();
    },
    async *entries() {
      for (;;) {
        while (queue.length > 0) yield queue.shift() as (typeof queue)[number];
        if (closed) return;
        await new Promise<void>((r) => {
          wake = r;
        });
      }
    },
  };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("event_deltas", () => {
  it("parses the query values (repeated or comma-separated) and refuses unknown types", () => {
    expect([...deltaTypesOf(["agent.message"])]).toEqual(["agent.message"]);
    expect([...deltaTypesOf(["agent.message,agent.thinking"])]).toEqual(["agent.message", "agent.thinking"]);
    expect(deltaTypesOf(undefined).size).toBe(0);
    expect(() => deltaTypesOf(["agent.tool_use"])).toThrow(/event_deltas/);
  });

  it("previews text blocks with ids fixed up front, and thinking blocks start-only", () => {
    const channel = new InProcessPreviews();
    const seen: unknown[] = [];
    channel.subscribe("sesn_1", (p) => seen.push(p));
    let n = 0;
    const previewer = new MessagePreviewer(channel, "sesn_1", () => `sevt_${++n}`);
    previewer.blockStart(0, "thinking");
    previewer.blockStart(1, "text");
    previewer.textDelta(1, "Hel");
    previewer.textDelta(1, "lo");
    previewer.blockStart(2, "tool_use");
    previewer.textDelta(2, "ignored");
    expect(seen).toEqual([
      { type: "event_start", event: { type: "agent.thinking", id: "sevt_1" } },
      { type: "event_start", event: { type: "agent.message", id: "sevt_2" } },
      {
        type: "event_delta",
        event_id: "sevt_2",
        delta: { type: "content_delta", index: 0, content: { type: "text", text: "Hel" } },
      },
      {
        type: "event_delta",
        event_id: "sevt_2",
        delta: { type: "content_delta", index: 0, content: { type: "text", text: "lo" } },
      },
    ]);
    expect([...previewer.idsByBlock]).toEqual([
      [0, "sevt_1"],
      [1, "sevt_2"],
    ]);
  });

  it("previews only while a stream listens", () => {
    const channel = new InProcessPreviews();
    expect(previewerFor(channel, "sesn_1", () => "x")).toBeUndefined();
    const stop = channel.subscribe("sesn_1", () => {});
    expect(previewerFor(channel, "sesn_1", () => "x")).toBeInstanceOf(MessagePreviewer);
    stop();
    expect(previewerFor(undefined, "sesn_1", () => "x")).toBeUndefined();
  });

  it("merges the requested previews into the followed log, in order, and nothing else", async () => {
    const channel = new InProcessPreviews();
    const log = fakeLog();
    const out: unknown[] = [];
    const merged = withPreviews(log.entries(), channel, "sesn_1", new Set(["agent.message" as const]));
    const done = (async () => {
      for await (const entry of merged) out.push(entry);
    })();
    await tick();
    log.push({ seq: 1, event: { type: "user.message", id: "sevt_u" } });
    await tick();
    const previewer = new MessagePreviewer(
      channel,
      "sesn_1",
      (() => {
        const ids = ["sevt_t", "sevt_m"];
        return () => ids.shift() as string;
      })(),
    );
    previewer.blockStart(0, "thinking"); // not asked for
    previewer.blockStart(1, "text");
    previewer.textDelta(1, "hi");
    channel.publish("sesn_other", { type: "event_start", event: { type: "agent.message", id: "sevt_x" } });
    await tick();
    log.push({ seq: 2, event: { type: "agent.message", id: "sevt_m" } });
    await tick();
    previewer.textDelta(1, "late"); // after the buffered event: its preview is closed
    await tick();
    log.close();
    await done;
    expect(out).toEqual([
      { seq: 1, event: { type: "user.message", id: "sevt_u" } },
      { preview: { type: "event_start", event: { type: "agent.message", id: "sevt_m" } } },
      {
        preview: {
          type: "event_delta",
          event_id: "sevt_m",
          delta: { type: "content_delta", index: 0, content: { type: "text", text: "hi" } },
        },
      },
      { seq: 2, event: { type: "agent.message", id: "sevt_m" } },
    ]);
    expect(channel.listening("sesn_1")).toBe(false); // unsubscribed when the stream ended
  });

  it("listens from the moment the stream opens, and stops when it ends even unread", () => {
    const channel = new InProcessPreviews();
    const abort = new AbortController();
    withPreviews(fakeLog().entries(), channel, "sesn_1", new Set(["agent.message" as const]), abort.signal);
    expect(channel.listening("sesn_1")).toBe(true);
    abort.abort();
    expect(channel.listening("sesn_1")).toBe(false);
  });

  it("passes the log through untouched when no previews are asked for", async () => {
    const log = fakeLog();
    log.push({ seq: 1, event: { type: "user.message", id: "a" } });
    log.close();
    const out: unknown[] = [];
    for await (const entry of withPreviews(log.entries(), new InProcessPreviews(), "s", new Set()))
      out.push(entry);
    expect(out).toEqual([{ seq: 1, event: { type: "user.message", id: "a" } }]);
  });
});
