import type { SessionAgent } from "../../contract/sdk-types.js";
import type { StepDeps } from "../runtime/step-deps.js";

/**
 * A thread's task from outside a coordinator's fan-out: what workflow runs (core/workflows) need from
 * a session's threads, implemented by threads-runtime.ts with the fan-out's own dispatch — the
 * same thread records, events, task-token answer on idle, heartbeats, cancellation.
 */
export interface WorkflowThreadDispatcher {
  /**
   * Creates thread `threadId` (unless it exists) running `agent`, marked as created by workflow run
   * `workflowRunId` (`session.thread_created` carries it), gives it `message` for the task `key`
   * with `taskToken`, and wakes it. Idempotent per (thread, key); the thread answers the token when
   * it goes idle (success with its reply, failure with why), and heartbeats it while it works.
   */
  dispatchTask(
    deps: StepDeps,
    task: {
      workspaceId: string;
      sessionId: string;
      threadId: string;
      agentName: string;
      agent: SessionAgent;
      agentKind: "agent" | "inline";
      workflowRunId: string;
      key: string;
      toolUseEventId: string;
      message: string;
      taskToken: string;
    },
  ): Promise<void>;
  /** Stops threads still working on task `key` (each ends at its next decision point, answering as cancelled). */
  cancelTasks(
    deps: StepDeps,
    workspaceId: string,
    sessionId: string,
    tasks: Array<{ threadId: string; key: string }>,
    reason: string,
  ): Promise<void>;
}
