import { describe, expect, it } from "vitest";
import { fanoutResumeMessageSchema } from "../../shared/core/threads/thread-messages.js";

describe("fan-out resume message", () => {
  it("reads a failed thread whose Catch carried a null Error or Cause as having none", () => {
    const message = fanoutResumeMessageSchema.parse({
      schemaVersion: 1,
      kind: "fanout_resume",
      workspaceId: "wrkspc_a",
      sessionId: "sesn_a",
      fanoutStep: 3,
      results: [
        { threadId: "sthr_1", toolUseEventId: "sevt_1", ok: false, error: "ThreadFailed", cause: null },
        { threadId: "sthr_2", toolUseEventId: "sevt_2", ok: false, error: null, cause: null },
        { threadId: "sthr_3", toolUseEventId: "sevt_3", ok: true, reply: "done" },
      ],
    });
    expect(message.results.map((r) => [r.error, r.cause])).toEqual([
      ["ThreadFailed", undefined],
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });
});
