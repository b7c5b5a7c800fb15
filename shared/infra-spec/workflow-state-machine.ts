/**
 * A workflow run's plan as Amazon States Language: the compiler from a validated plan (its
 * {@link WorkflowProgram}, lowered by shared/core/workflows/workflow-plan.ts) to the ASL object that
 * AWS runs as one Standard execution and the embedded stack runs with aws-local-stepfunctions —
 * one definition per plan, two runtimes.
 *
 *     Program (Parallel, one branch: the whole plan, so one Catch sees every fatal error)
 *       Phase 0 ── marker: `workflow_phase` on the agent-steps queue (phase events)
 *       Step a  ── Task sqs:sendMessage.waitForTaskToken: a `workflow_task` nudge; the step's thread
 *                  answers the token when it goes idle (its reply stays in DynamoDB, DESIGN.md §5)
 *       Map  m  ── one such Task per item (MaxConcurrency ≤ 25), each with its own Retry/Catch
 *       Parallel p ── one branch per list of steps
 *       Phase 1 …
 *     RunCompleted / RunFailed ── `workflow_run_finished` on the queue: the core ends the run
 *
 * Why the data in the state is small: step outputs live in the store and are read by the core when
 * a later step's input names them; the state carries only what Step Functions itself needs — the
 * items a `map` iterates (a literal list in the input, or a `list` step's parsed output).
 *
 * Failure isolation: each task catches its own failure (a failed thread, its timeout, a lost
 * heartbeat) and the plan goes on; only the fatal errors ({@link WORKFLOW_FATAL_ERRORS}: the thread
 * limit, a stopped run) leave through a Fail state and end the run.
 */

/** Map concurrency ceiling (as for the coordinator fan-out). */
export const WORKFLOW_MAX_CONCURRENCY = 25;
/** A task longer than this must heartbeat (a thread heartbeats on every step). */
export const WORKFLOW_HEARTBEAT_SECONDS = 900;
/** The execution's own limit lies this far beyond the run timeout the core enforces. */
export const WORKFLOW_EXECUTION_GRACE_SECONDS = 300;

/** Errors a task answer raises to end the whole run, not just its step. */
export const WORKFLOW_FATAL_ERRORS = ["WorkflowThreadLimit", "WorkflowRunStopped"] as const;
/** The error a step's failed thread answers its task with (retried, then caught). */
export const WORKFLOW_TASK_FAILED = "WorkflowTaskFailed";

/** One node of a lowered plan. Ids are the plan's step ids (`[a-z][a-z0-9_]*`), unique in a plan. */
export type WorkflowNode =
  | {
      kind: "task";
      id: string;
      retries: number;
      timeoutSeconds: number;
      /** The step's output is parsed into a list (a later map iterates it). */
      listOutput: boolean;
    }
  | {
      kind: "map";
      id: string;
      retries: number;
      timeoutSeconds: number;
      maxConcurrency: number;
      /** Items: the literal list in the execution input, or a `list` step's parsed output. */
      items: { literal: true } | { fromStep: string };
    }
  | { kind: "parallel"; id: string; branches: WorkflowNode[][] };

/** A validated plan's control flow. */
export interface WorkflowProgram {
  /** The run's time limit (the core enforces it; the execution's own limit is a backstop). */
  timeoutSeconds: number;
  phases: { nodes: WorkflowNode[] }[];
}

/** A `workflow_task` nudge as the ASL sends it (the task token added by Step Functions). */
export interface WorkflowTaskBody {
  schemaVersion: 1;
  kind: "workflow_task";
  workspaceId: string;
  sessionId: string;
  runId: string;
  stepId: string;
  phase: number;
  /** A map step's item and its index; absent for an agent step. */
  index?: number;
  item?: unknown;
  taskToken: string;
}

/** The execution input. */
export interface WorkflowExecutionInput {
  schemaVersion: 1;
  queueUrl: string;
  workspaceId: string;
  sessionId: string;
  runId: string;
  /** Literal map items by map step id. */
  items: Record<string, unknown[]>;
  /** Filled by `list` steps as the run goes (`{ ok, items }`). */
  results: Record<string, unknown>;
}

type State = Record<string, unknown>;
type States = Record<string, State>;

const WAIT = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
const SEND = "arn:aws:states:::sqs:sendMessage";

const runFields = {
  schemaVersion: 1,
  "workspaceId.$": "$.workspaceId",
  "sessionId.$": "$.sessionId",
  "runId.$": "$.runId",
};

/**
 * One agent call: a `waitForTaskToken` send of a `workflow_task` message into agent-steps, with the
 * step's timeout and retries (`fields`: a map item's index and item).
 */
function callState(
  node: { id: string; timeoutSeconds: number; retries: number },
  phase: number,
  fields: Record<string, string>,
  resultPath: string | null,
): State {
  return {
    Type: "Task",
    Resource: WAIT,
    Parameters: {
      "QueueUrl.$": "$.queueUrl",
      MessageBody: {
        ...runFields,
        kind: "workflow_task",
        stepId: node.id,
        phase,
        ...fields,
        "taskToken.$": "$$.Task.Token",
      },
    },
    ...timing(node.timeoutSeconds),
    ResultPath: resultPath,
    ...retry(node.retries),
  };
}

/** State names: unique in the whole machine (AWS requires it across branches and processors). */
export const workflowStateNames = {
  phase: (p: number) => `Phase ${p}`,
  task: (id: string) => `Step ${id}`,
  map: (id: string) => `Map ${id}`,
  item: (id: string) => `Item ${id}`,
  parallel: (id: string) => `Parallel ${id}`,
  noItems: (id: string) => `NoItems ${id}`,
  itemFailed: (id: string) => `ItemFailed ${id}`,
  fatal: (scope: string) => `Fatal ${scope}`,
};

function retry(retries: number): State {
  if (retries === 0) return {};
  return {
    Retry: [
      {
        ErrorEquals: [WORKFLOW_TASK_FAILED, "States.Timeout", "States.HeartbeatTimeout"],
        IntervalSeconds: 1,
        MaxAttempts: retries,
        BackoffRate: 2,
      },
    ],
  };
}

function timing(timeoutSeconds: number): State {
  return timeoutSeconds > WORKFLOW_HEARTBEAT_SECONDS
    ? { TimeoutSeconds: timeoutSeconds, HeartbeatSeconds: WORKFLOW_HEARTBEAT_SECONDS }
    : { TimeoutSeconds: timeoutSeconds };
}

/** The list steps whose results exist in `$.results` after `nodes` ran. */
function listStepsIn(nodes: WorkflowNode[]): string[] {
  return nodes.flatMap((n) =>
    n.kind === "task"
      ? n.listOutput
        ? [n.id]
        : []
      : n.kind === "parallel"
        ? n.branches.flatMap(listStepsIn)
        : [],
  );
}

class Compiler {
  /** List steps whose results are in `$.results` at the point being compiled. */
  private visible: string[] = [];

  constructor(private readonly program: WorkflowProgram) {}

  compile(): object {
    const branch = this.sequence(
      "Program",
      this.program.phases.flatMap((phase, p) => [
        { marker: p } as const,
        ...phase.nodes.map((node) => ({ node, p })),
      ]),
    );
    return {
      Comment: "Reverie workflow run: one plan, compiled (shared/infra-spec/workflow-state-machine.ts)",
      StartAt: "Program",
      TimeoutSeconds: this.program.timeoutSeconds + WORKFLOW_EXECUTION_GRACE_SECONDS,
      States: {
        Program: {
          Type: "Parallel",
          Branches: [branch],
          ResultPath: null,
          Catch: [{ ErrorEquals: ["States.ALL"], ResultPath: "$.error", Next: "RunFailed" }],
          Next: "RunCompleted",
        },
        RunCompleted: finished({ ok: true }),
        RunFailed: finished({ ok: false, "error.$": "$.error.Error", "cause.$": "$.error.Cause" }),
      },
    };
  }

  /** A list of phase markers and nodes run one after the other, as a branch `{StartAt, States}`. */
  private sequence(
    scope: string,
    entries: ReadonlyArray<{ marker: number } | { node: WorkflowNode; p: number }>,
  ): { StartAt: string; States: States } {
    const states: States = {};
    const fatal = workflowStateNames.fatal(scope);
    let needsFatal = false;
    const names = entries.map((e) => ("marker" in e ? workflowStateNames.phase(e.marker) : nodeName(e.node)));
    entries.forEach((entry, i) => {
      const next = names[i + 1];
      const chain = next ? { Next: next } : { End: true };
      if ("marker" in entry) {
        states[names[i] as string] = {
          Type: "Task",
          Resource: SEND,
          Parameters: {
            "QueueUrl.$": "$.queueUrl",
            MessageBody: { ...runFields, kind: "workflow_phase", phase: entry.marker },
          },
          ResultPath: null,
          ...chain,
        };
        return;
      }
      const { node, p } = entry;
      if (node.kind === "task") {
        needsFatal = true;
        const task = callState(node, p, {}, node.listOutput ? `$.results.${node.id}` : null);
        if (node.listOutput) {
          // A failed list step still leaves a list (empty), so a map over it runs no item.
          const noItems = workflowStateNames.noItems(node.id);
          task.Catch = [
            { ErrorEquals: [...WORKFLOW_FATAL_ERRORS], ResultPath: "$.fatal", Next: fatal },
            { ErrorEquals: ["States.ALL"], ResultPath: null, Next: noItems },
          ];
          states[noItems] = {
            Type: "Pass",
            Result: { ok: false, items: [] },
            ResultPath: `$.results.${node.id}`,
            ...chain,
          };
          this.visible.push(node.id);
        } else {
          task.Catch = [
            { ErrorEquals: [...WORKFLOW_FATAL_ERRORS], ResultPath: "$.fatal", Next: fatal },
            {
              ErrorEquals: ["States.ALL"],
              ResultPath: null,
              ...(next ? { Next: next } : { Next: this.end(states, scope) }),
            },
          ];
        }
        Object.assign(task, chain);
        states[names[i] as string] = task;
        return;
      }
      if (node.kind === "map") {
        states[names[i] as string] = { ...this.map(node, p), ...chain };
        return;
      }
      states[names[i] as string] = { ...this.parallel(node, p), ...chain };
    });
    if (needsFatal) states[fatal] = { Type: "Fail", ErrorPath: "$.fatal.Error", CausePath: "$.fatal.Cause" };
    return { StartAt: names[0] as string, States: states };
  }

  /** A caught last step has nowhere to go but the branch's end: a Succeed state. */
  private end(states: States, scope: string): string {
    const name = `End ${scope}`;
    states[name] = { Type: "Succeed" };
    return name;
  }

  private map(node: Extract<WorkflowNode, { kind: "map" }>, p: number): State {
    const item = workflowStateNames.item(node.id);
    const failed = workflowStateNames.itemFailed(node.id);
    const fatal = workflowStateNames.fatal(node.id);
    return {
      Type: "Map",
      ItemsPath: "literal" in node.items ? `$.items.${node.id}` : `$.results.${node.items.fromStep}.items`,
      MaxConcurrency: node.maxConcurrency,
      ItemSelector: {
        "queueUrl.$": "$.queueUrl",
        "workspaceId.$": "$.workspaceId",
        "sessionId.$": "$.sessionId",
        "runId.$": "$.runId",
        "item.$": "$$.Map.Item.Value",
        "index.$": "$$.Map.Item.Index",
      },
      ItemProcessor: {
        ProcessorConfig: { Mode: "INLINE" },
        StartAt: item,
        States: {
          [item]: {
            ...callState(node, p, { "index.$": "$.index", "item.$": "$.item" }, null),
            Catch: [
              { ErrorEquals: [...WORKFLOW_FATAL_ERRORS], ResultPath: "$.fatal", Next: fatal },
              { ErrorEquals: ["States.ALL"], ResultPath: null, Next: failed },
            ],
            End: true,
          },
          [failed]: { Type: "Pass", End: true },
          [fatal]: { Type: "Fail", ErrorPath: "$.fatal.Error", CausePath: "$.fatal.Cause" },
        },
      },
      ResultPath: null,
    };
  }

  private parallel(node: Extract<WorkflowNode, { kind: "parallel" }>, p: number): State {
    const before = [...this.visible];
    const added: string[][] = [];
    const branches = node.branches.map((nodes, b) => {
      this.visible = [...before];
      const branch = this.sequence(
        `${node.id} ${b}`,
        nodes.map((n) => ({ node: n, p })),
      );
      added.push(listStepsIn(nodes));
      return branch;
    });
    this.visible = [...before, ...added.flat()];
    if (added.flat().length === 0) return { Type: "Parallel", Branches: branches, ResultPath: null };
    // Each branch ran on a copy of the state: gather the list results every later map may read.
    const selector: Record<string, string> = {};
    for (const id of before) selector[`${id}.$`] = `$[0].results.${id}`;
    added.forEach((ids, b) => {
      for (const id of ids) selector[`${id}.$`] = `$[${b}].results.${id}`;
    });
    return { Type: "Parallel", Branches: branches, ResultSelector: selector, ResultPath: "$.results" };
  }
}

function nodeName(node: WorkflowNode): string {
  return node.kind === "task"
    ? workflowStateNames.task(node.id)
    : node.kind === "map"
      ? workflowStateNames.map(node.id)
      : workflowStateNames.parallel(node.id);
}

function finished(fields: Record<string, unknown>): State {
  return {
    Type: "Task",
    Resource: SEND,
    Parameters: {
      "QueueUrl.$": "$.queueUrl",
      MessageBody: { ...runFields, kind: "workflow_run_finished", ...fields },
    },
    End: true,
  };
}

/**
 * Compiles a lowered plan to its ASL definition (a plain JSON object, deterministic for a plan).
 * A node inside a parallel branch belongs to its top-level node's phase.
 */
export function compileWorkflowStateMachine(program: WorkflowProgram): object {
  const compiler = new Compiler(program);
  return compiler.compile();
}
