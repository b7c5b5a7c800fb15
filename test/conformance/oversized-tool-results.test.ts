/**
 * A tool result too large to store is cut to a documented size with a marker, never a failed step:
 * before, reading a 119 KB file of control characters (6 stored bytes each) failed the step five
 * times and ended the turn `retries_exhausted`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_TOOL_RESULT_STORED_BYTES } from "../../shared/core/events/result-size.js";
import { mockText, mockToolUse } from "../fixtures/mock-messages-server.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
let dataDir: string;
beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "reverie-big-result-"));
  h = await startHarness({ dataDir });
});
afterAll(async () => {
  await h.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("oversized tool results", () => {
  it("cuts a result that would not fit the event log, and the turn ends normally", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const workspace = join(dataDir, "workspaces", session.id);
    mkdirSync(workspace, { recursive: true });
    writeFileSync(join(workspace, "control.txt"), `${"\u0001".repeat(999)}\n`.repeat(119));
    h.upstream.script(mockToolUse("read", { file_path: "control.txt" }), mockText("read it"));
    await h.client.beta.sessions.events.send(session.id, {
      events: [{ type: "user.message", content: [{ type: "text", text: "read control.txt" }] }],
    });
    const idle = await h.waitIdle(session.id, 30_000);
    expect(idle.status).toBe("idle");
    const events = await h.allEvents(session.id);
    expect(events.findLast((e) => e.type === "session.status_idle")).toMatchObject({
      stop_reason: { type: "end_turn" },
    });
    const result = events.find((e) => e.type === "agent.tool_result") as {
      is_error: boolean;
      content: Array<{ text: string }>;
    };
    expect(result.is_error).toBe(false);
    const text = result.content[0]?.text ?? "";
    expect(text).toMatch(/\[output truncated: the result was \d+ bytes stored; at most 100000 are kept\]$/);
    expect(Buffer.byteLength(JSON.stringify(text))).toBeLessThanOrEqual(MAX_TOOL_RESULT_STORED_BYTES);
    expect(events.some((e) => e.type === "session.error")).toBe(false);
  });
});
