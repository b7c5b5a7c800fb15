/**
 * Workflow runs (`multiagent_20261001` workflows) in the step loop and on the queue.
 *
 *   start  The session's agent calls `start_workflow_run` with a plan (workflow-plan.ts). The plan is
 *          validated (a refusal is a `program_error` the agent can fix and retry), checked against
 *          the open-runs limit, stored as a run, announced (`workflow_run.created`, `status_running`)
 *          and compiled to ASL, whose execution starts (WorkflowOrchestrator: Step Functions on AWS,
 *          aws-local-stepfunctions locally). The call answers at once: the run is background work;
 *          the agent may go on or end its turn.
 *   run    The execution sends `workflow_phase` markers (phase events) and, per agent call, a
 *          `workflow_task` with its task token. Each call gets a fresh thread of the session
 *          (`workflow_run_id` on it), dispatched through the threads runtime like a fan-out's; the
 *          thread answers a relay token on idle, which records the outcome here (the truth, in the
 *          store) and answers Step Functions. Retries are new attempts in new threads.
 *   end    `workflow_run_finished` (or the deadline, an interrupt, the thread limit, a session
 *          delete) ends the run once: its last phase ends, an error if any, `status_ended`; threads
 *          still at work are stopped; the run's result text is carried to the agent's context and
 *          an idle session is woken to read it.
 *
 * Every handler is idempotent (DESIGN.md §5): runs are keyed by the starting tool call, events go
 * through emitOnce, attempts are keyed by task token, answers and stops of settled things change nothing.
 */
import * as z from "zod";
import { idPrefix } from "../../contract/ids.js";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { SessionAgent } from "../../contract/sdk-types.js";
import {
  compileWorkflowStateMachine,
  WORKFLOW_TASK_FAILED,
  type WorkflowExecutionInput,
} from "../../infra-spec/workflow-state-machine.js";
import { buildInlineAgent, InlineAgentError } from "../multiagent/inline-agents.js";
import { runnableAgent, sessionMultiagent } from "../multiagent/session-multiagent.js";
import type { FanoutOrchestrator, WorkflowOrchestrator } from "../ports.js";
import type { ExtensionTool, RunExtension } from "../runtime/run-extension.js";
import { wakeSession } from "../runtime/session-status.js";
import type { StepDeps } from "../runtime/step-deps.js";
import type { ToolRun } from "../runtime/step-record.js";
import type { SessionRecord } from "../sessions/session-record.js";
import { metaOf, threadRepository } from "../threads/thread-record.js";
import type { WorkflowThreadDispatcher } from "../threads/thread-tasks.js";
import type { ToolOutcome } from "../tools/toolset.js";
import {
  WORKFLOW_MESSAGE_KINDS,
  type WorkflowFinishedMessage,
  type WorkflowQueueMessage,
  type WorkflowTaskMessage,
  workflowQueueMessageSchema,
} from "./workflow-messages.js";
import {
  type PlanStep,
  referencedSteps,
  renderStepInput,
  type ValidatedPlan,
  validateWorkflowPlan,
  WORKFLOW_PLAN_LIMITS,
  WorkflowPlanSchema,
} from "./workflow-plan.js";
import { emitPhaseStarted, emitRunCreated, emitRunEnded, emitRunRefused } from "./workflow-run-events.js";
import {
  attemptsOf,
  type WorkflowRun,
  type WorkflowRunError,
  type WorkflowRunResult,
  WorkflowRunStore,
  type WorkflowTask,
  withAttemptFor,
  workflowTaskSk,
} from "./workflow-run-record.js";

export const START_WORKFLOW_RUN = "start_workflow_run";
/** The tool a list step's agent returns its items with (a list step's output is never parsed from prose). */
export const RETURN_ITEMS = "return_items";
/** The extension's name (run-extension.ts). */
const WORKFLOWS = "workflows";
/** Relay tokens: what a workflow task's thread answers, so the run records the outcome first. */
const RELAY = "wfrelay";
/** A step output as a later step's input or the run's result sees it. */
const MAX_OUTPUT_CHARS = 8_000;
const MAX_RESULT_CHARS = 40_000;
const iso = (ms: number) => new Date(ms).toISOString();

export interface WorkflowLimits {
  /** Runs a session may have open (not ended) at once. */
  maxOpenRuns: number;
  /** Threads one run may create (every attempt of every call is a thread). */
  maxThreadsPerRun: number;
  /** Upper bound of a plan's `timeout_seconds`. */
  maxRunTimeoutSeconds: number;
}

export interface WorkflowRunsOptions {
  orchestrator: WorkflowOrchestrator;
  threads: WorkflowThreadDispatcher;
  /** The agent-steps queue URL the state machines send to (any string locally). */
  queueUrl: string;
  limits: WorkflowLimits;
}

const relayTokenSchema = lazySchema(() =>
  z.tuple([z.literal(RELAY), z.string(), z.string(), z.string(), z.string(), z.coerce.number().int()]),
);

let toolInputSchema: Record<string, unknown> | undefined;

/**
 * The start tool's input schema, the plan's JSON Schema: built when the tool is first offered, not
 * at module load, where it was the largest cost of every Lambda function's cold start that carries
 * this runtime (docs/performance.md) — most never offer the tool.
 */
function startToolInputSchema(): Record<string, unknown> {
  if (toolInputSchema === undefined) {
    toolInputSchema = z.toJSONSchema(WorkflowPlanSchema, { io: "input" }) as Record<string, unknown>;
    delete toolInputSchema.$schema;
  }
  return toolInputSchema;
}

const description = `Start a workflow run: background work that follows a plan you write, running other agents in session threads and combining what they return. The call answers at once with the run's id; you may keep working or end your turn, and the run's result is given to you when it ends.

A plan has phases, run in order; a phase's steps run one after the other. A step is
- {"type":"agent","id","agent","input"}: one agent works on input and replies (add "output":"list" and the agent returns a list of items with its return_items tool);
- {"type":"map","id","agent","items","input"}: the same call once per item, side by side ("items": a list of strings, or {"from":"<id of an earlier list step>"}; "max_concurrency" ≤ ${WORKFLOW_PLAN_LIMITS.branches});
- {"type":"parallel","id","branches":[[steps…],[steps…]]}: branches side by side.
An input names an earlier step's output as {{steps.<id>}} (a map's outputs come numbered); a map's input names its item {{item}} and {{index}}. "retries" (0–${WORKFLOW_PLAN_LIMITS.retries}) re-runs a failed or timed-out call; "timeout_seconds" bounds a call (default ${WORKFLOW_PLAN_LIMITS.stepTimeout.default}) and the plan's "timeout_seconds" the run. "agent" is one of your workflow agents (by name) or an inline agent you define in "agents" ({name, system, model?, tools?}). "result" lists the steps whose outputs make the run's result (default: the last phase's steps). A failed step does not stop the run: its failure is reported in its place.`;

/** The run a starting tool call makes: one per call, so a re-run of the call finds it. */
export const workflowRunIdFor = (toolUseEventId: string) => `wfrun_${toolUseEventId.replace(/^sevt_/, "")}`;

function workflowsOf(agent: SessionAgent) {
  const w = sessionMultiagent(agent)?.workflows;
  return w?.type === "enabled" ? w : undefined;
}

export class WorkflowRunsRuntime {
  constructor(private readonly options: WorkflowRunsOptions) {}

  /** The primary thread's side in the step loop: the start tool, and interrupts stopping its runs. */
  readonly extension: RunExtension = {
    name: WORKFLOWS,
    tools: async (deps, run) => {
      if (run.thread === undefined) return workflowsOf(run.session.agent) ? [this.startTool] : [];
      return (await this.listStepOf(deps, run)) ? [this.returnItemsTool] : [];
    },
    contextText: (logged) =>
      logged.event.type === "workflow_run.status_ended" ? logged.internals.workflowResult : undefined,
    interrupted: async (deps, run) => {
      if (run.thread !== undefined) return;
      await this.stopRuns(deps, run.workspaceId, run.session.id, { type: "stopped" });
    },
  };

  private readonly startTool: ExtensionTool = {
    definition: {
      name: START_WORKFLOW_RUN,
      description,
      get input_schema() {
        return startToolInputSchema() as never;
      },
    },
    run: (deps, run, call) => this.start(deps, run, call),
  };

  /**
   * A list step's agent answers through `return_items` (zod-checked; a malformed call is answered
   * with what is wrong and the agent calls again within its turn; a turn that ends without items
   * fails the call, which the step's `retries` bound). The items wait on the call's attempt until
   * its thread goes idle.
   */
  private readonly returnItemsTool: ExtensionTool = {
    definition: {
      name: RETURN_ITEMS,
      description:
        "Return the list this step asks for: one call with every item, each a short self-contained string (a later step runs once per item). Call it again to replace the list; end your turn after it is recorded.",
      input_schema: {
        type: "object",
        properties: {
          items: {
            type: "array",
            items: { type: "string", minLength: 1, maxLength: WORKFLOW_PLAN_LIMITS.itemChars },
            minItems: 1,
          },
        },
        required: ["items"],
      },
    },
    run: (deps, run, call) => this.returnItems(deps, run, call),
  };

  /** The workflow call a thread works on when it is a list step's, with its run and task reference. */
  private async listStepOf(deps: StepDeps, thread: SessionRecord) {
    const meta = metaOf(thread);
    const ref =
      meta.workflowRunId && meta.dispatch?.taskToken ? this.parseRelay(meta.dispatch.taskToken) : undefined;
    if (!ref) return undefined;
    const run = await this.runs(deps).get(ref.sessionId, ref.runId);
    return run?.plan.steps[ref.stepId]?.listOutput ? { run, ref } : undefined;
  }

  private async returnItems(deps: StepDeps, thread: SessionRecord, call: ToolRun): Promise<ToolOutcome> {
    const step = await this.listStepOf(deps, thread);
    if (!step) return { isError: true, content: "This thread's workflow call does not ask for a list." };
    const max = this.options.limits.maxThreadsPerRun;
    const parsed = z
      .object({ items: z.array(z.string().min(1).max(WORKFLOW_PLAN_LIMITS.itemChars)).min(1).max(max) })
      .safeParse(call.input);
    if (!parsed.success)
      return {
        isError: true,
        content: `Invalid input for ${RETURN_ITEMS}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ")}. Call ${RETURN_ITEMS} again with {"items": ["…", "…"]}.`,
      };
    const { ref } = step;
    const items = parsed.data.items;
    await this.runs(deps).mutateTask(step.run.runId, ref.stepId, ref.index, undefined, (task) => {
      const attempt = task.attempts[ref.attempt];
      if (!attempt || attempt.outcome) return undefined;
      attempt.returnedItems = items;
      return task;
    });
    return {
      isError: false,
      content: `Recorded ${items.length} item(s). End your turn with a one-line summary.`,
    };
  }

  private runs(deps: StepDeps) {
    return new WorkflowRunStore(deps.store);
  }

  // ── start ────────────────────────────────────────────────────────────────────────────────────

  private async start(deps: StepDeps, record: SessionRecord, call: ToolRun): Promise<ToolOutcome> {
    const workflows = workflowsOf(record.session.agent);
    const sessionId = record.session.id;
    const now = iso(deps.clock.now());
    const eventDeps = { store: deps.store, events: deps.events, ids: deps.ids };
    if (!workflows) return { isError: true, content: "Workflow runs are not enabled for this agent." };
    const runId = workflowRunIdFor(call.toolUseEventId);
    const store = this.runs(deps);
    const existing = await store.get(sessionId, runId);
    // A re-run of the call after a crash finishes the start (each part is idempotent).
    if (existing) return this.launch(deps, existing);
    const refuse = async (error: WorkflowRunError) => {
      await emitRunRefused(eventDeps, sessionId, call.toolUseEventId, error, now);
      return { isError: true, content: error.message };
    };
    const validation = validateWorkflowPlan(call.input, {
      predefined: workflows.predefined_agents.map((a) => ({ name: a.name, id: a.id, version: a.version })),
      inlineAgents: workflows.inline_agents.type === "enabled",
      maxRunTimeoutSeconds: this.options.limits.maxRunTimeoutSeconds,
    });
    if (!validation.ok) return refuse({ type: "program_error", message: validation.message });
    const plan = validation.plan;
    for (const [i, inline] of plan.inlineAgents.entries()) {
      try {
        buildInlineAgent(record.session.agent, inline, {
          budgeted: Boolean(record.session.budget),
          defaultName: inline.name,
        });
      } catch (error) {
        if (!(error instanceof InlineAgentError)) throw error;
        return refuse({
          type: "program_error",
          message: `The plan was refused: agents[${i}]: ${error.message} Fix the plan and call ${START_WORKFLOW_RUN} again.`,
        });
      }
    }
    const open = (await store.list(sessionId)).filter((r) => r.status === "running").length;
    if (open >= this.options.limits.maxOpenRuns)
      return refuse({
        type: "max_workflow_runs_error",
        message: `No run was created: this session already has ${open} open workflow runs, its limit. Wait for one to end (its result comes to you), then start this one again.`,
      });
    const run = await store.create({
      schemaVersion: 1,
      workspaceId: record.workspaceId,
      sessionId,
      runId,
      toolUseEventId: call.toolUseEventId,
      stepSeq: record.run.stepSeq,
      name: plan.name ?? `Workflow run ${runId.slice(-6)}`,
      description: plan.description,
      phases: plan.phases.map((p) => ({
        id: deps.ids.next("wfph"),
        name: p.name,
        description: p.description,
      })),
      plan,
      createdAt: now,
      deadline: deps.clock.now() + plan.timeoutSeconds * 1000,
      status: "running",
    });
    return this.launch(deps, run);
  }

  /** Lists the run as open, announces it and starts its execution; all safe to repeat. */
  private async launch(deps: StepDeps, run: WorkflowRun): Promise<ToolOutcome> {
    if (run.status === "running") {
      await this.runs(deps).markOpen(run);
      await emitRunCreated({ store: deps.store, events: deps.events, ids: deps.ids }, run);
      await this.startExecution(deps, run);
    }
    return this.startedOutcome(run);
  }

  private startedOutcome(run: WorkflowRun): ToolOutcome {
    const phases = run.phases.map((p, i) => `${i + 1}. ${p.name}`).join("; ");
    return {
      isError: false,
      content: `Workflow run ${run.runId} ("${run.name}") started, with ${run.phases.length} phase(s): ${phases}. It runs in the background (time limit ${run.plan.timeoutSeconds} s); its result will be given to you when it ends. You may keep working or end your turn.`,
    };
  }

  private executionInput(run: WorkflowRun): WorkflowExecutionInput {
    return {
      schemaVersion: 1,
      queueUrl: this.options.queueUrl,
      workspaceId: run.workspaceId,
      sessionId: run.sessionId,
      runId: run.runId,
      items: run.plan.items,
      results: {},
    };
  }

  /** Starts (idempotently) the run's execution of its compiled plan. */
  private startExecution(_deps: StepDeps, run: WorkflowRun) {
    return this.options.orchestrator.start(
      run.runId,
      compileWorkflowStateMachine(run.plan.program),
      this.executionInput(run),
    );
  }

  // ── queue ────────────────────────────────────────────────────────────────────────────────────

  /** Handles a workflow message from the agent-steps queue; false when `body` is not one. */
  async handleQueueMessage(deps: StepDeps, body: unknown): Promise<boolean> {
    if (
      typeof body !== "object" ||
      body === null ||
      !WORKFLOW_MESSAGE_KINDS.has(String((body as { kind?: unknown }).kind))
    )
      return false;
    const message: WorkflowQueueMessage = workflowQueueMessageSchema.parse(body);
    const run = await this.runs(deps).get(message.sessionId, message.runId);
    if (message.kind === "workflow_task") await this.dispatch(deps, run, message);
    else if (!run || run.status === "ended") return true;
    else if (message.kind === "workflow_phase")
      await emitPhaseStarted(deps, run, message.phase, iso(deps.clock.now()));
    else await this.finished(deps, run, message);
    return true;
  }

  /** One call of the plan: a fresh attempt in a fresh thread, or the answer it already has. */
  private async dispatch(deps: StepDeps, run: WorkflowRun | undefined, message: WorkflowTaskMessage) {
    const { taskToken, stepId, index } = message;
    const orchestrator = this.options.orchestrator;
    if (!run || run.status === "ended") {
      await orchestrator.sendTaskFailure(taskToken, "WorkflowRunStopped", "the run has ended");
      return;
    }
    if (deps.clock.now() >= run.deadline) {
      await orchestrator.sendTaskFailure(taskToken, "WorkflowRunStopped", "the run reached its time limit");
      await this.endRun(deps, run, {
        type: "error",
        error: {
          type: "timeout_error",
          message: `The run reached its time limit of ${run.plan.timeoutSeconds} s.`,
        },
      });
      return;
    }
    const step = run.plan.steps[stepId];
    if (!step?.agent || step.input === undefined) {
      await orchestrator.sendTaskFailure(
        taskToken,
        WORKFLOW_TASK_FAILED,
        `no agent step ${stepId} in the plan`,
      );
      return;
    }
    await emitPhaseStarted(deps, run, message.phase, iso(deps.clock.now()));
    const store = this.runs(deps);
    // A new token is a new attempt; a recorded one (a redelivery, a late duplicate) adds nothing.
    const task = await store.mutateTask(run.runId, stepId, index, message.item, (t) =>
      withAttemptFor(t, taskToken, () => deps.ids.next(idPrefix.thread)),
    );
    const current = attemptsOf(task).at(-1);
    const attemptIndex = task.attempts.findIndex((a) => a.taskToken === taskToken);
    if (attemptIndex === -1) {
      if (current?.outcome) await this.answer(step, taskToken, current.outcome);
      return;
    }
    const attempt = task.attempts[attemptIndex] as WorkflowTask["attempts"][number];
    // A late duplicate of an earlier attempt's message: the execution has moved on from its token
    // (it failed or timed out, so the execution issued the next one); that attempt's thread answers
    // through its own relay token or was stopped. Nothing to do.
    if (attempt !== current) return;
    if (attempt.outcome) {
      await this.answer(step, taskToken, attempt.outcome);
      return;
    }
    const key = this.taskKey(run.runId, stepId, index, attemptIndex);
    // The attempt before this one was given up (its timeout): its thread stops.
    const previous = attemptsOf(task).at(-2);
    if (previous && !previous.outcome)
      await this.options.threads.cancelTasks(
        deps,
        run.workspaceId,
        run.sessionId,
        [
          {
            threadId: previous.threadId,
            key: this.taskKey(run.runId, stepId, index, task.attempts.indexOf(previous)),
          },
        ],
        "its workflow step timed out and was retried",
      );
    // Counted once per thread; the count is kept with the mark, so a redelivery decides the same way.
    const count = await store.threadNumber(run.sessionId, run.runId, attempt.threadId);
    if (count > this.options.limits.maxThreadsPerRun) {
      await this.endRun(deps, run, {
        type: "error",
        error: {
          type: "thread_limit_error",
          message: `The run needed more than ${this.options.limits.maxThreadsPerRun} threads, its limit.`,
        },
      });
      await orchestrator.sendTaskFailure(
        taskToken,
        "WorkflowThreadLimit",
        "the run's thread limit was reached",
      );
      return;
    }
    const session = await deps.sessions.get(run.workspaceId, run.sessionId);
    if (!session) {
      await orchestrator.sendTaskFailure(taskToken, "WorkflowRunStopped", "the session is gone");
      return;
    }
    let called: ReturnType<typeof agentFor>;
    try {
      called = agentFor(session, run, step);
    } catch (error) {
      await orchestrator.sendTaskFailure(taskToken, WORKFLOW_TASK_FAILED, (error as Error).message);
      return;
    }
    const { agent, agentKind } = called;
    const outputs = await this.referencedOutputs(deps, run, step.input);
    await this.options.threads.dispatchTask(deps, {
      workspaceId: run.workspaceId,
      sessionId: run.sessionId,
      threadId: attempt.threadId,
      agentName: agent.name,
      agent,
      agentKind,
      workflowRunId: run.runId,
      key,
      toolUseEventId: run.toolUseEventId,
      message: renderStepInput(step.input, {
        output: (id) => outputText(run, id, outputs),
        item: message.item,
        index,
      }),
      taskToken: [
        RELAY,
        run.workspaceId,
        run.sessionId,
        run.runId,
        workflowTaskSk(stepId, index),
        attemptIndex,
      ].join(":"),
    });
  }

  private taskKey(runId: string, stepId: string, index: number | undefined, attempt: number) {
    return `wf:${runId}:${workflowTaskSk(stepId, index)}:${attempt}`;
  }

  /** The texts of the steps `template` names, read from their tasks' outcomes. */
  private async referencedOutputs(deps: StepDeps, run: WorkflowRun, template: string) {
    const ids = referencedSteps(template);
    const out = new Map<string, WorkflowTask[]>();
    for (const id of ids) out.set(id, await this.runs(deps).tasksOf(run.runId, id));
    return out;
  }

  /** Answers Step Functions for a call with its recorded outcome. */
  private async answer(
    step: PlanStep,
    taskToken: string,
    outcome: NonNullable<WorkflowTask["attempts"][number]["outcome"]>,
  ) {
    if (outcome.ok)
      await this.options.orchestrator.sendTaskSuccess(
        taskToken,
        step.listOutput ? { ok: true, items: outcome.items ?? [] } : { ok: true },
      );
    else
      await this.options.orchestrator.sendTaskFailure(
        taskToken,
        WORKFLOW_TASK_FAILED,
        outcome.error ?? "failed",
      );
  }

  // ── relay ────────────────────────────────────────────────────────────────────────────────────

  /**
   * The orchestrator the step loop answers tasks through: relay tokens (a workflow call's thread)
   * are recorded here first; every other token goes on to `base` (the fan-out's engine).
   */
  relay(deps: () => StepDeps, base: FanoutOrchestrator | undefined): FanoutOrchestrator {
    const isRelay = (token: string) => token.startsWith(`${RELAY}:`);
    return {
      start: (name, input) =>
        base ? base.start(name, input) : Promise.reject(new Error("no fan-out engine")),
      sendTaskSuccess: (token, output) =>
        isRelay(token)
          ? this.threadAnswered(deps(), token, output, undefined)
          : (base?.sendTaskSuccess(token, output) ?? Promise.resolve()),
      sendTaskFailure: (token, error, cause) =>
        isRelay(token)
          ? this.threadAnswered(deps(), token, undefined, `${error}: ${cause}`)
          : (base?.sendTaskFailure(token, error, cause) ?? Promise.resolve()),
      sendTaskHeartbeat: (token) =>
        isRelay(token)
          ? this.threadHeartbeat(deps(), token)
          : (base?.sendTaskHeartbeat(token) ?? Promise.resolve()),
    };
  }

  private parseRelay(token: string) {
    const parsed = relayTokenSchema.safeParse(token.split(":"));
    if (!parsed.success) return undefined;
    const [, workspaceId, sessionId, runId, sk, attempt] = parsed.data;
    const [stepId, rawIndex] = sk.split("#") as [string, string];
    const index = rawIndex === "-" ? undefined : Number(rawIndex);
    return { workspaceId, sessionId, runId, stepId, index, attempt };
  }

  /** A call's thread went idle: record its outcome (the truth), then answer Step Functions. */
  private async threadAnswered(deps: StepDeps, token: string, output: unknown, failure: string | undefined) {
    const ref = this.parseRelay(token);
    if (!ref) return;
    const store = this.runs(deps);
    const run = await store.get(ref.sessionId, ref.runId);
    const step = run?.plan.steps[ref.stepId];
    if (!run || !step) return;
    const reply = (output as { reply?: unknown } | undefined)?.reply;
    // A list step's items are what its agent returned through return_items, never its prose.
    const returned = step.listOutput
      ? (await store.task(run.runId, ref.stepId, ref.index))?.attempts[ref.attempt]?.returnedItems
      : undefined;
    const outcome = failure
      ? { ok: false, error: failure.replace(/^Thread(Failed|Cancelled): /, "") }
      : step.listOutput && !returned
        ? { ok: false, error: `the agent ended its turn without returning its list through ${RETURN_ITEMS}` }
        : {
            ok: true,
            reply: typeof reply === "string" ? reply : "",
            ...(returned ? { items: returned } : {}),
          };
    const task = await store.mutateTask(run.runId, ref.stepId, ref.index, undefined, (t) => {
      const attempt = t.attempts[ref.attempt];
      if (!attempt || attempt.outcome) return undefined;
      attempt.outcome = outcome;
      return t;
    });
    const attempt = task.attempts[ref.attempt];
    if (!attempt?.outcome || attempt.answered) return;
    if (run.status === "running") await this.answer(step, attempt.taskToken, attempt.outcome);
    await store.mutateTask(run.runId, ref.stepId, ref.index, undefined, (t) => {
      const a = t.attempts[ref.attempt];
      if (!a || a.answered) return undefined;
      a.answered = true;
      return t;
    });
  }

  private async threadHeartbeat(deps: StepDeps, token: string) {
    const ref = this.parseRelay(token);
    if (!ref) return;
    const task = await this.runs(deps).task(ref.runId, ref.stepId, ref.index);
    const attempt = task?.attempts[ref.attempt];
    if (attempt && !attempt.outcome) await this.options.orchestrator.sendTaskHeartbeat(attempt.taskToken);
  }

  // ── end ──────────────────────────────────────────────────────────────────────────────────────

  private async finished(deps: StepDeps, run: WorkflowRun, message: WorkflowFinishedMessage) {
    if (message.ok) return this.endRun(deps, run, { type: "completed" });
    if (message.error === "WorkflowRunStopped") return; // whoever stopped it ends it
    const error: WorkflowRunError =
      message.error === "WorkflowThreadLimit"
        ? {
            type: "thread_limit_error",
            message: `The run needed more than ${this.options.limits.maxThreadsPerRun} threads, its limit.`,
          }
        : message.error === "States.Timeout"
          ? {
              type: "timeout_error",
              message: `The run reached its time limit of ${run.plan.timeoutSeconds} s.`,
            }
          : {
              type: "unknown_error",
              message: `The run's execution failed (${(message.error ?? "unknown").slice(0, 100)}).`,
            };
    return this.endRun(deps, run, { type: "error", error });
  }

  /**
   * Ends a run once (whoever comes first: the execution's end, the deadline, the thread limit, an
   * interrupt, a delete) and reports it; a repeat finishes a report a crash cut short.
   */
  async endRun(deps: StepDeps, run: WorkflowRun, result: WorkflowRunResult) {
    const store = this.runs(deps);
    const ended = await store.mutate(run.sessionId, run.runId, (current) => {
      if (current.status === "ended") return undefined;
      current.status = "ended";
      current.result = result;
      return current;
    });
    if (ended.reported) return;
    const final = ended.result ?? result;
    const now = iso(deps.clock.now());
    await this.options.orchestrator.stop(run.runId);
    // Calls still at work are given up: their threads stop.
    const tasks = await store.allTasks(run.runId);
    const open = tasks.flatMap((t) =>
      t.attempts.flatMap((a, i) =>
        a.outcome ? [] : [{ threadId: a.threadId, key: this.taskKey(run.runId, t.stepId, t.index, i) }],
      ),
    );
    if (open.length > 0)
      await this.options.threads.cancelTasks(
        deps,
        run.workspaceId,
        run.sessionId,
        open,
        "its workflow run ended",
      );
    // The session's usage counts its threads' (a snapshot of every thread, as a fan-out's resume takes).
    const threads = await threadRepository(deps.store, run.sessionId).list(run.workspaceId, {
      order: "asc",
      limit: 1000,
    });
    await deps.sessions.mutate(run.workspaceId, run.sessionId, (current) => {
      current.run.threadUsage = Object.fromEntries(threads.map((t) => [t.session.id, t.session.usage]));
      return current;
    });
    const text = resultText(ended, final, tasks);
    const entries = await emitRunEnded(
      { store: deps.store, events: deps.events, ids: deps.ids },
      ended,
      final,
      now,
      text,
    );
    // The result joins the agent's context; an idle session wakes to read it — unless the run was
    // stopped (an interrupt): the agent then reads it on its next turn.
    const last = entries.at(-1);
    if (last && final.type !== "stopped") await wakeSession(deps, run.workspaceId, run.sessionId, last.seq);
    await store.mutate(run.sessionId, run.runId, (current) => {
      if (current.reported) return undefined;
      current.reported = true;
      return current;
    });
    await store.markClosed(run.runId);
  }

  /**
   * The sweeper's look at open runs (scheduled on AWS, an interval locally): a run past its time
   * limit ends with `timeout_error`; an end a crash cut short is finished; an execution the engine
   * lost (the embedded stack restarted) is started again — answered calls answer again at once — and
   * one that ended while the run stayed open sends its end again (the embedded stack's `recover`).
   */
  async sweep(deps: StepDeps): Promise<{ open: number; timedOut: number }> {
    const store = this.runs(deps);
    let timedOut = 0;
    const open = await store.openRuns();
    for (const entry of open) {
      try {
        const run = await store.get(entry.sessionId, entry.runId);
        if (!run || run.reported) await store.markClosed(entry.runId);
        else if (run.status === "ended") await this.endRun(deps, run, run.result ?? { type: "stopped" });
        else if (deps.clock.now() >= run.deadline) {
          timedOut++;
          await this.endRun(deps, run, {
            type: "error",
            error: {
              type: "timeout_error",
              message: `The run reached its time limit of ${run.plan.timeoutSeconds} s.`,
            },
          });
        } else
          await this.options.orchestrator.recover?.(
            run.runId,
            compileWorkflowStateMachine(run.plan.program),
            this.executionInput(run),
          );
      } catch (error) {
        deps.logger.error("sweeping a workflow run failed", { runId: entry.runId, error: String(error) });
      }
    }
    return { open: open.length, timedOut };
  }

  /** Ends a session's open runs (an interrupt: `stopped`). */
  async stopRuns(deps: StepDeps, workspaceId: string, sessionId: string, result: WorkflowRunResult) {
    for (const run of await this.runs(deps).list(sessionId))
      if (run.status === "running" || !run.reported)
        if (run.workspaceId === workspaceId) await this.endRun(deps, run, result);
  }

  /** Session delete: stops every run's execution and open calls, then forgets the runs (their threads go with the session). */
  async deleteSessionRuns(deps: StepDeps, workspaceId: string, sessionId: string) {
    const store = this.runs(deps);
    for (const run of await store.list(sessionId)) {
      if (run.workspaceId !== workspaceId) continue;
      await this.options.orchestrator.stop(run.runId);
      const tasks = await store.allTasks(run.runId);
      const open = tasks.flatMap((t) =>
        t.attempts.flatMap((a, i) =>
          a.outcome ? [] : [{ threadId: a.threadId, key: this.taskKey(run.runId, t.stepId, t.index, i) }],
        ),
      );
      if (open.length > 0)
        await this.options.threads.cancelTasks(deps, workspaceId, sessionId, open, "its session was deleted");
    }
    await store.deleteAll(sessionId);
  }
}

/** The agent a step calls: a predefined agent as pinned in the session, or an inline one built from the caller. */
function agentFor(
  session: SessionRecord,
  run: WorkflowRun,
  step: PlanStep,
): { agent: SessionAgent; agentKind: "agent" | "inline" } {
  const binding = step.agent;
  if (binding?.kind === "predefined") {
    // The session's copy, resolved when it was created (core/multiagent/session-multiagent.ts).
    const pinned = workflowsOf(session.session.agent)?.predefined_agents.find((a) => a.id === binding.id);
    if (pinned) return { agent: runnableAgent(pinned), agentKind: "agent" };
  }
  const inline = run.plan.inlineAgents.find((a) => a.name === binding?.name);
  if (!inline) throw new Error(`workflow run ${run.runId}: the agent of step ${step.id} is gone`);
  const agent = buildInlineAgent(session.session.agent, inline, {
    budgeted: Boolean(session.session.budget),
    defaultName: inline.name,
  });
  return { agent, agentKind: "inline" };
}

function outputText(run: WorkflowRun, stepId: string, outputs: Map<string, WorkflowTask[]>): string {
  const tasks = outputs.get(stepId) ?? [];
  if (run.plan.steps[stepId]?.kind === "map")
    return (
      tasks.map((t, i) => `[${(t.index ?? i) + 1}] ${describeTask(t, MAX_OUTPUT_CHARS / 4)}`).join("\n") ||
      "(no items)"
    );
  const task = tasks[0];
  return task ? describeTask(task, MAX_OUTPUT_CHARS) : `[step ${stepId} gave no result]`;
}

function describeTask(task: WorkflowTask, max: number): string {
  const attempts = attemptsOf(task);
  const last = attempts.at(-1);
  const tries = attempts.length > 1 ? ` (after ${attempts.length} attempts)` : "";
  if (!last) return "[not run]";
  if (!last.outcome) return `[no result: it timed out or was stopped${tries}]`;
  if (!last.outcome.ok) return `[failed${tries}: ${(last.outcome.error ?? "").slice(0, 500)}]`;
  const reply = last.outcome.reply ?? "";
  return reply.length > max ? `${reply.slice(0, max)}… [truncated]` : reply || "(no reply)";
}

/** The run's result as the agent reads it: how it ended, every step's status, the result steps' outputs. */
export function resultText(run: WorkflowRun, result: WorkflowRunResult, tasks: WorkflowTask[]): string {
  const plan: ValidatedPlan = run.plan;
  const how =
    result.type === "completed"
      ? "completed (its plan finished; check each step's outcome below)"
      : result.type === "stopped"
        ? "was stopped"
        : `ended with an error (${result.error.type}: ${result.error.message})`;
  const lines = [`Workflow run ${run.runId} ("${run.name}") ${how}.`, "", "Steps:"];
  const byStep = new Map<string, WorkflowTask[]>();
  for (const t of tasks) byStep.set(t.stepId, [...(byStep.get(t.stepId) ?? []), t]);
  for (const step of Object.values(plan.steps)) {
    if (step.kind === "parallel") continue;
    const ts = byStep.get(step.id) ?? [];
    const ok = ts.filter((t) => attemptsOf(t).at(-1)?.outcome?.ok).length;
    const status =
      step.kind === "map"
        ? `${ok}/${ts.length} item(s) succeeded`
        : ts.length === 0
          ? "not run"
          : ok === 1
            ? "succeeded"
            : describeTask(ts[0] as WorkflowTask, 300);
    lines.push(`- ${step.id} (phase ${step.phase + 1}, ${step.agent?.name ?? "?"}): ${status}`);
  }
  let budget = MAX_RESULT_CHARS;
  lines.push("", "Result:");
  for (const id of plan.result) {
    const step = plan.steps[id];
    const ts = (byStep.get(id) ?? []).sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
    const body =
      step?.kind === "map"
        ? ts.map((t, i) => `[${(t.index ?? i) + 1}] ${describeTask(t, MAX_OUTPUT_CHARS / 4)}`).join("\n") ||
          "(no items)"
        : ts[0]
          ? describeTask(ts[0], MAX_OUTPUT_CHARS)
          : "[not run]";
    const part = `## ${id}\n${body}`;
    lines.push(part.length > budget ? `${part.slice(0, Math.max(0, budget))}… [truncated]` : part);
    budget -= part.length;
    if (budget <= 0) break;
  }
  return lines.join("\n");
}
