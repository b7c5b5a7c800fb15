/**
 * The fan-out bench's scripted model, as a mock Messages server fallback: a coordinator that
 * dispatches `threads` threads in one turn, threads whose answer takes `threadMs`, and the
 * coordinator's closing answer once their results are back. It reports what it sees
 * ({@link UpstreamReport}, timed on the clock every thread shares: `performance.timeOrigin +
 * performance.now()`). The same script runs in the bench's thread or on a worker (fanout-upstream.ts).
 */
import type { MockResponse, ReceivedRequest } from "../fixtures/mock-messages-server.js";

export interface UpstreamOptions {
  threads: number;
  threadMs: number;
}

export type UpstreamReport =
  | { type: "ready"; url: string }
  | { type: "dispatched"; at: number }
  | { type: "thread_call"; at: number }
  | { type: "resumed"; at: number };

export const now = () => performance.timeOrigin + performance.now();

export const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");

export function fanoutModel(
  { threads, threadMs }: UpstreamOptions,
  report: (message: UpstreamReport) => void,
): (request: ReceivedRequest) => MockResponse {
  return (r) => {
    if (systemOf(r) === "COORDINATOR") {
      const last = r.body.messages.at(-1)?.content;
      if (Array.isArray(last) && last.some((b) => b.type === "tool_result")) {
        report({ type: "resumed", at: now() });
        return { content: "all done" };
      }
      report({ type: "dispatched", at: now() });
      return {
        stop_reason: "tool_use",
        content: Array.from({ length: threads }, (_, i) => ({
          type: "tool_use" as const,
          name: "send_to_agent",
          input: { agent_name: "worker", message: `part ${i}` },
        })),
      };
    }
    report({ type: "thread_call", at: now() });
    return { content: "part done", delayMs: threadMs };
  };
}
