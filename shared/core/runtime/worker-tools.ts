/** The tools a self-hosted worker runs, and whether a run's tools are served by one. */
import type { SessionRecord } from "../sessions/session-record.js";

/** The tools a self-hosted worker runs (the SDK's `betaAgentToolset20260401`). */
export const WORKER_TOOL_NAMES = ["bash", "read", "write", "edit", "glob", "grep"] as const;

export const isWorkerTool = (name: string) => (WORKER_TOOL_NAMES as readonly string[]).includes(name);

/** Whether a run's tools are served by a self-hosted worker. */
export const servedByWorker = (record: Pick<SessionRecord, "run">) => record.run.hands === "worker";
