/**
 * Workflow runs on one machine: aws-local-stepfunctions executes each run's compiled ASL — the very
 * object the AWS adapter hands to CreateStateMachine — with its task states bound by their
 * resource: `sqs:sendMessage.waitForTaskToken` puts the body (with a fresh task token) on the local
 * agent-steps queue and waits for the token's answer; `sqs:sendMessage` puts the body there.
 * Executions live in memory: after a restart the sweeper recovers each open run's execution
 * (calls whose threads answered already answer again at once).
 */
import { StateMachine } from "aws-local-stepfunctions";
import type { Logger, WorkflowOrchestrator } from "../../core/ports.js";
import { LocalTaskTokens } from "./local-task-tokens.js";

const WAIT = "arn:aws:states:::sqs:sendMessage.waitForTaskToken";
const SEND = "arn:aws:states:::sqs:sendMessage";
/** Local task tokens say whose they are, so one composite answers both engines' tokens. */
export const LOCAL_WORKFLOW_TOKEN_PREFIX = "wf-";

interface Execution {
  definition: object;
  abort(): void;
  settled: Promise<void>;
  /** It ended: completed, failed or stopped. */
  ended: boolean;
  /** It was stopped (`stop`): whoever stopped it ends the run. */
  stopped: boolean;
  /** Its `workflow_run_finished` message, once it was sent (or tried). */
  finished?: unknown;
}

export interface LocalWorkflowOrchestratorOptions {
  /** Sends a message body to the agent-steps queue. */
  send(body: unknown): Promise<void>;
  logger: Logger;
}

/** Every Task state of a definition (nested Parallel branches and Map processors included). */
export function taskStatesOf(definition: object): Array<{ name: string; resource: string }> {
  const out: Array<{ name: string; resource: string }> = [];
  const visit = (machine: { States?: Record<string, Record<string, unknown>> }) => {
    for (const [name, state] of Object.entries(machine.States ?? {})) {
      if (state.Type === "Task") out.push({ name, resource: String(state.Resource) });
      for (const branch of (state.Branches as object[] | undefined) ?? []) visit(branch);
      const processor = (state.ItemProcessor ?? state.Iterator) as object | undefined;
      if (processor) visit(processor);
    }
  };
  visit(definition as never);
  return out;
}

export class LocalWorkflowOrchestrator implements WorkflowOrchestrator {
  private readonly executions = new Map<string, Execution>();
  private readonly tokens = new LocalTaskTokens();

  constructor(private readonly options: LocalWorkflowOrchestratorOptions) {}

  /** The definition execution `name` runs (tests compare it with what AWS would be given). */
  definitionOf(name: string): object | undefined {
    return this.executions.get(name)?.definition;
  }

  /** Whether a task token is one of this orchestrator's. */
  owns(taskToken: string): boolean {
    return taskToken.startsWith(LOCAL_WORKFLOW_TOKEN_PREFIX);
  }

  async start(name: string, definition: object, input: unknown): Promise<void> {
    if (this.executions.has(name)) return;
    const execution: Execution = {
      definition,
      abort: () => {},
      settled: Promise.resolve(),
      ended: false,
      stopped: false,
    };
    const handlers: Record<string, (params: unknown) => Promise<unknown>> = {};
    for (const task of taskStatesOf(definition)) {
      if (task.resource === WAIT)
        handlers[task.name] = (params) =>
          this.waitForToken(name, (params as { MessageBody: Record<string, unknown> }).MessageBody);
      else if (task.resource === SEND)
        handlers[task.name] = async (params) => {
          const body = (params as { MessageBody: { kind?: unknown } }).MessageBody;
          if (body.kind === "workflow_run_finished") execution.finished = body;
          await this.options.send(body);
          return {};
        };
      else
        throw new Error(`workflow ${name}: task state ${task.name} has an unknown resource ${task.resource}`);
    }
    // Not validated again here: asl-validator takes ~0.6 s a definition on one core, and every
    // compiled shape is validated by the tests (test/infra/workflow-state-machine.test.ts).
    const machine = new StateMachine(definition as never, { validationOptions: { noValidate: true } });
    const run = machine.run(input as never, {
      context: { Task: { Token: "local" } } as never,
      noThrowOnAbort: true,
      overrides: { taskResourceLocalHandlers: handlers as never },
    });
    execution.settled = run.result
      .then(() => undefined)
      .catch((error) =>
        this.options.logger.error("workflow execution failed", { name, error: String(error) }),
      )
      .finally(() => {
        execution.ended = true;
        this.tokens.forget(name);
      });
    execution.abort = () => run.abort();
    this.executions.set(name, execution);
  }

  /**
   * The sweeper's call for a run still open. After a restart the map is empty: the run's execution
   * starts again. One that ended sends its `workflow_run_finished` again: the run being open, the
   * first never arrived (it went to the DLQ, or its send failed), and a duplicate changes nothing.
   * One still running, or stopped, is left alone.
   */
  async recover(name: string, definition: object, input: unknown): Promise<void> {
    const execution = this.executions.get(name);
    if (!execution) return this.start(name, definition, input);
    if (!execution.ended || execution.stopped || execution.finished === undefined) return;
    this.options.logger.warn("a workflow execution ended but its run is open: its end is sent again", {
      name,
    });
    await this.options.send(execution.finished);
  }

  async stop(name: string): Promise<void> {
    const execution = this.executions.get(name);
    if (!execution) return;
    execution.stopped = true;
    execution.abort();
    await execution.settled;
  }

  private waitForToken(execution: string, body: Record<string, unknown>): Promise<unknown> {
    return this.tokens.wait(execution, body, this.options.send, LOCAL_WORKFLOW_TOKEN_PREFIX);
  }

  async sendTaskSuccess(taskToken: string, output: unknown): Promise<void> {
    this.tokens.succeed(taskToken, output);
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    this.tokens.fail(taskToken, error, cause);
  }

  async sendTaskHeartbeat(_taskToken: string): Promise<void> {}

  /** Aborts every execution (shutdown): their timers stop; nothing is answered. */
  async close(): Promise<void> {
    for (const name of this.executions.keys()) await this.stop(name);
  }

  /** Resolves when every execution started so far has ended (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.all([...this.executions.values()].map((e) => e.settled));
  }
}
