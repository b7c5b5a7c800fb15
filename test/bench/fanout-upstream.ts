/**
 * The fan-out bench's upstream model, run on a worker thread: the mock Messages server with the
 * bench's script (fanout-model.ts), reporting what it sees to the bench as messages.
 *
 * Why a thread of its own: a real upstream is another machine; in the bench's own thread the mock's
 * work (parsing 26 requests, writing 26 answers) takes turns with the stack it measures, and the
 * coordinator's resume request is only seen once the stack's event loop gets round to reading it.
 */
import { parentPort, workerData } from "node:worker_threads";
import { startMockMessagesServer } from "../fixtures/mock-messages-server.js";
import { fanoutModel, type UpstreamOptions, type UpstreamReport } from "./fanout-model.js";

const report = (message: UpstreamReport) => parentPort?.postMessage(message);
const upstream = await startMockMessagesServer();
upstream.fallback = fanoutModel(workerData as UpstreamOptions, report);
report({ type: "ready", url: upstream.url });
parentPort?.on("message", (message) => {
  if (message === "close") void upstream.close().then(() => parentPort?.close());
});
