/**
 * A workflow run as stored: one run item per run in its session's partition `wfrun#<sessionId>`
 * (the validated plan, its phases, its status and result), one task item per call the plan made in
 * `wftask#<runId>` (a step, or one item of a map step: its attempts, each a thread), and a thread
 * counter in its own item (an atomic increment, kept apart from the run item's `rev` writes).
 * Durable payloads carry a `schemaVersion` and are validated on read (DESIGN.md §9).
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import { ConditionFailedError, type DocumentStore } from "../ports.js";
import { changeRevisioned } from "../revisioned-item.js";
import type { ValidatedPlan } from "./workflow-plan.js";

export const workflowRunsKey = (sessionId: string) => `wfrun#${sessionId}`;
export const workflowTasksKey = (runId: string) => `wftask#${runId}`;
const threadCountKey = (sessionId: string) => `wfthreads#${sessionId}`;
const threadMarksKey = (runId: string) => `wfthreadmark#${runId}`;
/** The partition listing every open run, for the sweeper. */
const OPEN_RUNS_KEY = "wfopen";

/** The SDK's workflow run error types (`BetaManagedAgentsWorkflowRunErrorObject`). */
export const workflowRunErrorSchema = lazySchema(() =>
  z.object({
    type: z.enum([
      "program_error",
      "timeout_error",
      "thread_limit_error",
      "max_workflow_runs_error",
      "unknown_error",
    ]),
    message: z.string(),
  }),
);
export type WorkflowRunError = z.infer<typeof workflowRunErrorSchema>;

export const workflowRunResultSchema = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.object({ type: z.literal("completed") }),
    z.object({ type: z.literal("error"), error: workflowRunErrorSchema }),
    z.object({ type: z.literal("stopped") }),
  ]),
);
export type WorkflowRunResult = z.infer<typeof workflowRunResultSchema>;

const workflowRunSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    workspaceId: z.string(),
    sessionId: z.string(),
    runId: z.string(),
    /** The `start_workflow_run` call that started it; its result is the run's result. */
    toolUseEventId: z.string(),
    /** The agent step that started it (the agent waits on its runs from that step). */
    stepSeq: z.number().int(),
    name: z.string(),
    description: z.string().nullable(),
    phases: z.array(z.object({ id: z.string(), name: z.string(), description: z.string().nullable() })),
    /** The validated plan (shared/core/workflows/workflow-plan.ts), stored as validated. */
    plan: z.custom<ValidatedPlan>((v) => typeof v === "object" && v !== null && "program" in v),
    /** Event time of everything the start wrote (a replay writes identical events). */
    createdAt: z.string(),
    /** Epoch ms after which the run ends with `timeout_error`. */
    deadline: z.number(),
    status: z.enum(["running", "ended"]),
    result: workflowRunResultSchema.optional(),
    /** Set once the end's effects (events, tool result, thread stops) are all written. */
    reported: z.boolean().optional(),
  }),
);
export type WorkflowRun = z.infer<typeof workflowRunSchema>;

const attemptSchema = lazySchema(() =>
  z.object({
    threadId: z.string(),
    /** The Step Functions task token this attempt answers. */
    taskToken: z.string(),
    /** The thread's answer, once it went idle (or was given up). */
    outcome: z
      .object({
        ok: z.boolean(),
        reply: z.string().optional(),
        error: z.string().optional(),
        items: z.array(z.string()).optional(),
      })
      .optional(),
    /** A list step's items as its agent returned them (`return_items`), until the outcome takes them. */
    returnedItems: z.array(z.string()).optional(),
    /** The Step Functions task was answered with the outcome. */
    answered: z.boolean().optional(),
  }),
);
export type WorkflowTaskAttempt = z.infer<typeof attemptSchema>;

const workflowTaskSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    runId: z.string(),
    stepId: z.string(),
    /** A map call's item index; absent for an agent step. */
    index: z.number().int().optional(),
    item: z.unknown().optional(),
    attempts: z.array(attemptSchema),
  }),
);
export type WorkflowTask = z.infer<typeof workflowTaskSchema>;

/**
 * A call's attempts, one per task token, in the order the execution issued them; the last is the
 * one the execution waits on (what the call's output is read from). Attempts are only appended,
 * never reordered, and a token already recorded never adds another (a late duplicate of an earlier
 * attempt's message is dropped). An earlier build could append such a duplicate — a "phantom" with
 * an earlier attempt's token, never dispatched — so a repeated token is skipped here: readers
 * never take a phantom for the call's current attempt.
 */
export function attemptsOf(task: WorkflowTask): WorkflowTaskAttempt[] {
  return task.attempts.filter((a, i, all) => all.findIndex((b) => b.taskToken === a.taskToken) === i);
}

/**
 * What a `workflow_task` message carrying `taskToken` changes in its call's task: a new attempt
 * (in thread `newThreadId()`) for a token never seen — unless the call succeeded, when a restarted
 * execution asking again gets the same answer — and nothing for a token recorded already, whichever
 * attempt it is (a redelivery of the current attempt's message, or a late duplicate of an earlier
 * one's). Undefined: the task stays as it is.
 */
export function withAttemptFor(
  task: WorkflowTask,
  taskToken: string,
  newThreadId: () => string,
): WorkflowTask | undefined {
  if (task.attempts.some((a) => a.taskToken === taskToken)) return undefined;
  if (attemptsOf(task).at(-1)?.outcome?.ok) return undefined;
  task.attempts.push({ threadId: newThreadId(), taskToken });
  return task;
}

/** A task's sort key: the step, then the map index (zero-padded, so a step's items list in order). */
export const workflowTaskSk = (stepId: string, index?: number) =>
  index === undefined ? `${stepId}#-` : `${stepId}#${index.toString().padStart(6, "0")}`;

export class WorkflowRunStore {
  constructor(private readonly store: DocumentStore) {}

  async get(sessionId: string, runId: string): Promise<WorkflowRun | undefined> {
    const item = await this.store.get("resources", workflowRunsKey(sessionId), runId);
    return item ? workflowRunSchema.parse(item.run) : undefined;
  }

  /** Creates `run` unless it exists; returns whichever is stored. */
  async create(run: WorkflowRun): Promise<WorkflowRun> {
    try {
      await this.store.put(
        "resources",
        { pk: workflowRunsKey(run.sessionId), sk: run.runId, rev: 1, run },
        { expectedRev: 0 },
      );
      return run;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      return (await this.get(run.sessionId, run.runId)) as WorkflowRun;
    }
  }

  /** Read-modify-write; `change` returns undefined to leave the run as it is. */
  async mutate(sessionId: string, runId: string, change: (run: WorkflowRun) => WorkflowRun | undefined) {
    return changeRevisioned<WorkflowRun>(
      this.store,
      "resources",
      "run",
      async () => {
        const item = await this.store.get("resources", workflowRunsKey(sessionId), runId);
        if (!item) throw new Error(`workflow run ${runId} not found`);
        return item;
      },
      (current) => change(workflowRunSchema.parse(structuredClone(current))),
    );
  }

  /** A session's runs, oldest first. */
  async list(sessionId: string): Promise<WorkflowRun[]> {
    const items = await this.store.query("resources", workflowRunsKey(sessionId), {
      order: "asc",
      limit: 1000,
    });
    return items.map((i) => workflowRunSchema.parse(i.run));
  }

  /** Deletes a session's runs and their tasks (session delete, after the runs were stopped). */
  async deleteAll(sessionId: string): Promise<void> {
    for (const run of await this.list(sessionId)) {
      for (const task of await this.store.query("resources", workflowTasksKey(run.runId), { limit: 10_000 }))
        await this.store.delete("resources", task.pk, task.sk);
      for (const mark of await this.store.query("resources", threadMarksKey(run.runId), { limit: 10_000 }))
        await this.store.delete("resources", mark.pk, mark.sk);
      await this.store.delete("resources", threadCountKey(sessionId), run.runId);
      await this.markClosed(run.runId);
      await this.store.delete("resources", workflowRunsKey(sessionId), run.runId);
    }
  }

  /** Open runs across sessions (the sweeper's list: time limits, lost local executions). */
  async markOpen(run: WorkflowRun): Promise<void> {
    await this.store.put("resources", {
      pk: OPEN_RUNS_KEY,
      sk: run.runId,
      workspaceId: run.workspaceId,
      sessionId: run.sessionId,
      deadline: run.deadline,
    });
  }

  async openRuns(): Promise<
    Array<{ runId: string; workspaceId: string; sessionId: string; deadline: number }>
  > {
    const items = await this.store.query("resources", OPEN_RUNS_KEY, { limit: 10_000 });
    return items.map((i) => ({
      runId: String(i.sk),
      workspaceId: String(i.workspaceId),
      sessionId: String(i.sessionId),
      deadline: Number(i.deadline),
    }));
  }

  markClosed(runId: string): Promise<void> {
    return this.store.delete("resources", OPEN_RUNS_KEY, runId);
  }

  async task(runId: string, stepId: string, index?: number): Promise<WorkflowTask | undefined> {
    const item = await this.store.get("resources", workflowTasksKey(runId), workflowTaskSk(stepId, index));
    return item ? workflowTaskSchema.parse(item.task) : undefined;
  }

  /** A step's tasks (one, or one per map item in index order). */
  async tasksOf(runId: string, stepId: string): Promise<WorkflowTask[]> {
    const items = await this.store.query("resources", workflowTasksKey(runId), {
      beginsWith: `${stepId}#`,
      limit: 10_000,
    });
    return items.map((i) => workflowTaskSchema.parse(i.task));
  }

  /** Every task of a run. */
  async allTasks(runId: string): Promise<WorkflowTask[]> {
    const items = await this.store.query("resources", workflowTasksKey(runId), { limit: 10_000 });
    return items.map((i) => workflowTaskSchema.parse(i.task));
  }

  /** Read-modify-write of a task, created empty when absent. */
  async mutateTask(
    runId: string,
    stepId: string,
    index: number | undefined,
    item: unknown,
    change: (task: WorkflowTask) => WorkflowTask | undefined,
  ): Promise<WorkflowTask> {
    const pk = workflowTasksKey(runId);
    const sk = workflowTaskSk(stepId, index);
    const fresh: WorkflowTask = {
      schemaVersion: 1,
      runId,
      stepId,
      ...(index === undefined ? {} : { index, item }),
      attempts: [],
    };
    return changeRevisioned<WorkflowTask>(
      this.store,
      "resources",
      "task",
      async () => (await this.store.get("resources", pk, sk)) ?? { pk, sk, rev: 0, task: fresh },
      (current) => change(workflowTaskSchema.parse(structuredClone(current))),
    );
  }

  /**
   * The thread's number among the run's threads: counted once (an atomic increment), the number kept
   * in a mark per thread, so a redelivered dispatch reads the same number. A crash between the two
   * writes counts that thread twice (the limit errs on the safe side).
   */
  async threadNumber(sessionId: string, runId: string, threadId: string): Promise<number> {
    const pk = threadMarksKey(runId);
    const mark = await this.store.get("resources", pk, threadId);
    if (mark) return Number(mark.number);
    const number = await this.store.increment("resources", threadCountKey(sessionId), runId, "threads", 1);
    await this.store.put("resources", { pk, sk: threadId, number });
    return number;
  }
}
