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
    const handlers: Record<string, (params: unknown) => Promise<unknown>> = {};
    for (const task of taskStatesOf(definition)) {
      if (task.resource === WAIT)
        handlers[task.name] = (params) =>
          this.waitForToken(name, (params as { MessageBody: Record<string, unknown> }).MessageBody);
      else if (task.resource === SEND)
        handlers[task.name] = async (params) => {
          await this.options.send((params as { MessageBody: unknown }).MessageBody);
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
    const settled = run.result
      .then(() => undefined)
      .catch((error) =>
        this.options.logger.error("workflow execution failed", { name, error: String(error) }),
      )
      .finally(() => {
        this.tokens.forget(name);
      });
    this.executions.set(name, { definition, abort: () => run.abort(), settled });
  }

  /** After a restart the map is empty: the run's execution starts again (a known one is left alone). */
  recover(name: string, definition: object, input: unknown): Promise<void> {
    return this.start(name, definition, input);
  }

  async stop(name: string): Promise<void> {
    const execution = this.executions.get(name);
    if (!execution) return;
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
