/**
 * The fan-out ASL under aws-local-stepfunctions: every thread's result survives a sibling's failure,
 * and duplicate callbacks (SendTaskSuccess twice, a failure after a success) change nothing.
 */
import { describe, expect, it } from "vitest";
import { LocalFanoutOrchestrator } from "../../shared/adapters/local/local-fanout-orchestrator.js";
import {
  type FanoutExecutionInput,
  fanoutStateMachineDefinition,
} from "../../shared/infra-spec/fanout-state-machine.js";

const quiet = { info() {}, warn() {}, error() {} };

function input(threads: Array<[string, number]>): FanoutExecutionInput {
  return {
    schemaVersion: 1,
    queueUrl: "local",
    workspaceId: "ws",
    sessionId: "sesn_1",
    fanoutStep: 2,
    threads: threads.map(([threadId, timeoutSeconds]) => ({
      QueueUrl: "local",
      MessageBody: {
        schemaVersion: 1,
        kind: "thread_dispatch",
        workspaceId: "ws",
        sessionId: "sesn_1",
        threadId,
        toolUseEventId: `use_${threadId}`,
        fanoutKey: "2",
        timeoutSeconds,
      },
    })),
  };
}

function harness(failResumeSends = 0) {
  const sent: Array<Record<string, unknown>> = [];
  let notify: () => void = () => {};
  let failures = failResumeSends;
  const orchestrator = new LocalFanoutOrchestrator({
    definition: fanoutStateMachineDefinition,
    send: async (body) => {
      if ((body as { kind?: string }).kind === "fanout_resume" && failures-- > 0)
        throw new Error("SQS SendMessage throttled");
      sent.push(body as Record<string, unknown>);
      notify();
    },
    logger: quiet,
  });
  const until = async (predicate: () => boolean) => {
    while (!predicate()) await new Promise<void>((resolve) => (notify = resolve));
  };
  const dispatches = () => sent.filter((m) => m.kind === "thread_dispatch");
  const resumes = () => sent.filter((m) => m.kind === "fanout_resume");
  return { orchestrator, sent, until, dispatches, resumes };
}

describe("LocalFanoutOrchestrator", () => {
  it("sends one dispatch per thread with its own token, then one resume with every result", async () => {
    const { orchestrator, until, dispatches, resumes } = harness();
    await orchestrator.start(
      "sesn_1-2",
      input([
        ["a", 60],
        ["b", 60],
        ["c", 60],
      ]),
    );
    await until(() => dispatches().length === 3);
    const tokens = dispatches().map((d) => d.taskToken as string);
    expect(new Set(tokens).size).toBe(3);
    await orchestrator.sendTaskSuccess(tokens[0] as string, { threadId: "a", reply: "A" });
    await orchestrator.sendTaskFailure(tokens[1] as string, "ThreadFailed", "model said no");
    await orchestrator.sendTaskSuccess(tokens[2] as string, { threadId: "c", reply: "C" });
    await until(() => resumes().length === 1);
    expect(resumes()[0]?.results).toEqual([
      { threadId: "a", toolUseEventId: "use_a", ok: true, reply: "A" },
      { threadId: "b", toolUseEventId: "use_b", ok: false, error: "ThreadFailed", cause: "model said no" },
      { threadId: "c", toolUseEventId: "use_c", ok: true, reply: "C" },
    ]);
  });

  it("ignores duplicate callbacks and a second start of the same execution", async () => {
    const { orchestrator, until, dispatches, resumes } = harness();
    await orchestrator.start("sesn_1-2", input([["a", 60]]));
    await orchestrator.start("sesn_1-2", input([["a", 60]]));
    await until(() => dispatches().length === 1);
    const token = dispatches()[0]?.taskToken as string;
    await orchestrator.sendTaskSuccess(token, { threadId: "a", reply: "first" });
    await orchestrator.sendTaskSuccess(token, { threadId: "a", reply: "second" });
    await orchestrator.sendTaskFailure(token, "ThreadFailed", "late");
    await orchestrator.drain();
    expect(dispatches()).toHaveLength(1);
    expect(resumes()).toHaveLength(1);
    expect(resumes()[0]?.results).toEqual([
      { threadId: "a", toolUseEventId: "use_a", ok: true, reply: "first" },
    ]);
  });

  it("turns a thread that outlives its timeout into an error result", async () => {
    const { orchestrator, until, dispatches, resumes } = harness();
    await orchestrator.start(
      "sesn_1-2",
      input([
        ["slow", 1],
        ["fast", 60],
      ]),
    );
    await until(() => dispatches().length === 2);
    const fast = dispatches().find((d) => d.threadId === "fast")?.taskToken as string;
    await orchestrator.sendTaskSuccess(fast, { threadId: "fast", reply: "done" });
    await until(() => resumes().length === 1);
    const results = resumes()[0]?.results as Array<{ threadId: string; ok: boolean; error?: string }>;
    expect(results.find((r) => r.threadId === "slow")).toMatchObject({ ok: false, error: "States.Timeout" });
    expect(results.find((r) => r.threadId === "fast")).toMatchObject({ ok: true });
  });

  it("sends the resume again when its send fails (ResumeCoordinator's Retry)", async () => {
    const { orchestrator, until, dispatches, resumes } = harness(2);
    await orchestrator.start("sesn_1-2", input([["a", 60]]));
    await until(() => dispatches().length === 1);
    await orchestrator.sendTaskSuccess(dispatches()[0]?.taskToken as string, { threadId: "a", reply: "A" });
    await until(() => resumes().length === 1);
    expect(resumes()[0]?.results).toEqual([{ threadId: "a", toolUseEventId: "use_a", ok: true, reply: "A" }]);
  });
});
