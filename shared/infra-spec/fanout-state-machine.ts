/**
 * The fan-out state machine (DESIGN.md §2 "Threads") as Amazon States Language data: CDK deploys this
 * object and the embedded stack runs this very object with aws-local-stepfunctions, its task states
 * bound to local handlers — one definition, two runtimes.
 *
 * Input: {@link FanoutExecutionInput}. A Map runs one iteration per dispatched thread (at most
 * {@link FANOUT_MAX_CONCURRENCY} at once); each iteration puts a `thread_dispatch` nudge carrying its
 * task token on the agent-steps queue and waits until the thread's runtime calls SendTaskSuccess (the
 * thread went idle with a reply) or SendTaskFailure (it failed). Each iteration catches its own error
 * (failure, heartbeat loss, its own timeout), so a sibling's failure never loses a finished result.
 * After the Map one `fanout_resume` message carrying every result resumes the coordinator (its send
 * retried with backoff). The message is a nudge, not the truth: each thread's outcome is on its
 * record, so a resume that never arrives is made from the store by the sweeper's nudge.
 */

/** Map concurrency: the issue caps a fan-out at 25 threads in flight. */
export const FANOUT_MAX_CONCURRENCY = 25;
/** A thread that sends no heartbeat for this long is given up (its runtime heartbeats every step). */
export const FANOUT_HEARTBEAT_SECONDS = 900;

/** One dispatched thread's dispatch nudge, without its task token. */
export interface FanoutDispatch {
  schemaVersion: 1;
  kind: "thread_dispatch";
  workspaceId: string;
  sessionId: string;
  threadId: string;
  /** The coordinator's `send_to_agent` tool use this thread answers. */
  toolUseEventId: string;
  /** `<coordinator step>`: identifies the dispatch on the thread. */
  fanoutKey: string;
  timeoutSeconds: number;
}

/**
 * One Map item, shaped like the SQS SendMessage request it becomes. Why `MessageBody` in the input:
 * AWS resolves `TimeoutSecondsPath` against the state's input, aws-local-stepfunctions against the
 * input after `Parameters`; `$.MessageBody.timeoutSeconds` exists in both, so one definition runs
 * in both runtimes.
 */
export interface FanoutItem {
  QueueUrl: string;
  MessageBody: FanoutDispatch;
}

export interface FanoutExecutionInput {
  schemaVersion: 1;
  queueUrl: string;
  workspaceId: string;
  sessionId: string;
  fanoutStep: number;
  threads: FanoutItem[];
}

const dispatchBody = {
  schemaVersion: 1,
  kind: "thread_dispatch",
  "workspaceId.$": "$.MessageBody.workspaceId",
  "sessionId.$": "$.MessageBody.sessionId",
  "threadId.$": "$.MessageBody.threadId",
  "toolUseEventId.$": "$.MessageBody.toolUseEventId",
  "fanoutKey.$": "$.MessageBody.fanoutKey",
  "timeoutSeconds.$": "$.MessageBody.timeoutSeconds",
  "taskToken.$": "$$.Task.Token",
};

/** The ASL definition (a plain JSON object). */
export const fanoutStateMachineDefinition = {
  Comment: "Reverie fan-out: run a coordinator's dispatched threads in parallel, then resume it",
  StartAt: "RunThreads",
  States: {
    RunThreads: {
      Type: "Map",
      ItemsPath: "$.threads",
      MaxConcurrency: FANOUT_MAX_CONCURRENCY,
      ItemProcessor: {
        ProcessorConfig: { Mode: "INLINE" },
        StartAt: "RunThread",
        States: {
          RunThread: {
            Type: "Task",
            Resource: "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            Parameters: { "QueueUrl.$": "$.QueueUrl", MessageBody: dispatchBody },
            TimeoutSecondsPath: "$.MessageBody.timeoutSeconds",
            HeartbeatSeconds: FANOUT_HEARTBEAT_SECONDS,
            ResultPath: "$.output",
            Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "ThreadFailed" }],
            Next: "ThreadSucceeded",
          },
          ThreadSucceeded: {
            Type: "Pass",
            Parameters: {
              "threadId.$": "$.MessageBody.threadId",
              "toolUseEventId.$": "$.MessageBody.toolUseEventId",
              ok: true,
              "reply.$": "$.output.reply",
            },
            End: true,
          },
          ThreadFailed: {
            Type: "Pass",
            Parameters: {
              "threadId.$": "$.MessageBody.threadId",
              "toolUseEventId.$": "$.MessageBody.toolUseEventId",
              ok: false,
              "error.$": "$.error.Error",
              "cause.$": "$.error.Cause",
            },
            End: true,
          },
        },
      },
      ResultPath: "$.results",
      Next: "ResumeCoordinator",
    },
    ResumeCoordinator: {
      Type: "Task",
      Resource: "arn:aws:states:::sqs:sendMessage",
      Parameters: {
        "QueueUrl.$": "$.queueUrl",
        MessageBody: {
          schemaVersion: 1,
          kind: "fanout_resume",
          "workspaceId.$": "$.workspaceId",
          "sessionId.$": "$.sessionId",
          "fanoutStep.$": "$.fanoutStep",
          "results.$": "$.results",
        },
      },
      // A throttled or failed send is tried again (a duplicate resume is dropped); should it still
      // fail, the execution fails and the sweeper resumes the coordinator from the store.
      Retry: [
        {
          ErrorEquals: ["States.ALL"],
          IntervalSeconds: 1,
          BackoffRate: 2,
          MaxAttempts: 6,
          MaxDelaySeconds: 30,
          JitterStrategy: "FULL",
        },
      ],
      End: true,
    },
  },
} as const;
