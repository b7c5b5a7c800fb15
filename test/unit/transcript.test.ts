import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../shared/contract/sdk-types.js";
import type { LoggedEvent } from "../../shared/core/events/event-log.js";
import { buildTranscript } from "../../shared/core/runtime/transcript.js";

let seq = 0;
const at = "2026-01-01T00:00:00.000Z";
const log = (event: Record<string, unknown>, internals: LoggedEvent["internals"] = {}): LoggedEvent => ({
  seq: ++seq,
  event: { processed_at: at, ...event } as unknown as SessionEvent,
  internals,
});
const user = (text: string, id = `u${seq}`) =>
  log({ type: "user.message", id, content: [{ type: "text", text }] });

describe("buildTranscript", () => {
  it("pairs assistant tool calls with their results and keeps user text after them", () => {
    const events = [
      user("do it"),
      log({ type: "agent.tool_use", id: "e1", name: "read", input: {} }, { toolUseId: "toolu_1" }),
      log(
        { type: "span.model_request_end", id: "s1" },
        { assistantContent: [{ type: "tool_use", id: "toolu_1", name: "read", input: {} }] },
      ),
      user("also this"),
      log({
        type: "agent.tool_result",
        id: "r1",
        tool_use_id: "e1",
        is_error: false,
        content: [{ type: "text", text: "ok" }],
      }),
    ];
    expect(buildTranscript(events)).toEqual([
      { role: "user", content: [{ type: "text", text: "do it" }] },
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "read", input: {} }] },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: "toolu_1",
            is_error: false,
            content: [{ type: "text", text: "ok" }],
          },
          { type: "text", text: "also this" },
        ],
      },
    ]);
  });

  it("answers a tool call that never got a result, so the transcript stays valid", () => {
    const events = [
      user("go"),
      log({ type: "agent.custom_tool_use", id: "c1", name: "x", input: {} }, { toolUseId: "toolu_9" }),
      log(
        { type: "span.model_request_end", id: "s" },
        { assistantContent: [{ type: "tool_use", id: "toolu_9", name: "x", input: {} }] },
      ),
      user("never mind"),
    ];
    const transcript = buildTranscript(events);
    expect(transcript[2]).toMatchObject({
      role: "user",
      content: [
        { type: "tool_result", tool_use_id: "toolu_9", is_error: true },
        { type: "text", text: "never mind" },
      ],
    });
  });

  it("ignores results for unknown tool calls", () => {
    const events = [
      user("hi"),
      log({ type: "user.custom_tool_result", id: "x", custom_tool_use_id: "nope", content: [] }),
    ];
    expect(buildTranscript(events)).toEqual([{ role: "user", content: [{ type: "text", text: "hi" }] }]);
  });
});
