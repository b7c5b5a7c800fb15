/**
 * The fan-out bench's upstream model, run on a worker thread: the mock Messages server answering a
 * coordinator that dispatches `threads` threads in one turn and threads whose answer takes
 * `threadMs`. It reports what it sees to the bench (the coordinator's dispatching answer, each
 * thread's call, the coordinator's resume request) as {@link UpstreamReport}s timed on the shared
 * clock (`performance.timeOrigin + performance.now()`).
 *
 * Why a thread of its own: a real upstream is another machine; in the bench's own thread the mock's
 * work (parsing 26 requests, writing 26 answers) takes turns with the stack it measures, and the
 * coordinator's resume request is only seen once the stack's event loop gets round to reading it.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { ReceivedRequest } from "../fixtures/mock-messages-server.js";
import { startMockMessagesServer } from "../fixtures/mock-messages-server.js";

export interface UpstreamOptions {
  threads: number;
  threadMs: number;
}

export type UpstreamReport =
  | { type: "ready"; url: string }
  | { type: "dispatched"; at: number }
  | { type: "thread_call"; at: number }
  | { type: "resumed"; at: number };

const now = () => performance.timeOrigin + performance.now();
const systemOf = (r: ReceivedRequest) =>
  Array.isArray(r.body.system) ? r.body.system.map((b) => b.text).join("") : String(r.body.system ?? "");

const { threads, threadMs } = workerData as UpstreamOptions;
const report = (message: UpstreamReport) => parentPort?.postMessage(message);
const upstream = await startMockMessagesServer();
upstream.fallback = (r) => {
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
report({ type: "ready", url: upstream.url });
parentPort?.on("message", (message) => {
  if (message === "close") void upstream.close().then(() => parentPort?.close());
});
