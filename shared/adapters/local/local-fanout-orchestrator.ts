/**
 * Step Functions on one machine: aws-local-stepfunctions executes the very ASL object CDK deploys,
 * with its two task states bound to local handlers — `RunThread` puts the thread's dispatch nudge
 * (with a fresh task token) on the local agent-steps queue and waits for the token's answer;
 * `ResumeCoordinator` puts the resume message there. Executions live in memory: after a restart the
 * threads are re-nudged and record their outcomes, and the sweeper's nudge of the waiting coordinator
 * resumes it from the store (threads-runtime.ts `startFanout`); a start of an execution this process
 * never ran (a lost start) starts it (threads that answered already answer again at once).
 */
import { StateMachine } from "aws-local-stepfunctions";
import type { FanoutOrchestrator, Logger } from "../../core/ports.js";
import { LocalTaskTokens } from "./local-task-tokens.js";

export interface LocalFanoutOrchestratorOptions {
  /** The ASL definition (shared/infra-spec/fanout-state-machine.ts). */
  definition: object;
  /** Sends a message body to the agent-steps queue. */
  send(body: unknown): Promise<void>;
  logger: Logger;
}

export class LocalFanoutOrchestrator implements FanoutOrchestrator {
  private readonly executions = new Map<string, Promise<unknown>>();
  private readonly tokens = new LocalTaskTokens();
  /** Heartbeats received per task token (observable in tests). */
  readonly heartbeats = new Map<string, number>();

  /** Validated once; each execution is a `run` of it. */
  private readonly machine: StateMachine;

  constructor(private readonly options: LocalFanoutOrchestratorOptions) {
    this.machine = new StateMachine(options.definition as never, { validationOptions: { checkArn: false } });
  }

  /** The definition this orchestrator executes (the same object CDK deploys). */
  get definition(): object {
    return this.options.definition;
  }

  async start(name: string, input: unknown): Promise<void> {
    if (this.executions.has(name)) return;
    const run = this.machine.run(input as never, {
      // Iterations get their own token in RunThread; the library needs a value for $$.Task.Token.
      context: { Task: { Token: "local" } } as never,
      overrides: {
        taskResourceLocalHandlers: {
          RunThread: (params) => this.runThread(name, params as { MessageBody: Record<string, unknown> }),
          ResumeCoordinator: async (params) => {
            await this.options.send((params as { MessageBody: unknown }).MessageBody);
            return {};
          },
        },
      },
    });
    const settled = run.result
      .catch((error) => this.options.logger.error("fan-out execution failed", { name, error: String(error) }))
      .finally(() => {
        // Iterations that timed out leave their waiters behind; a late answer then changes nothing.
        this.tokens.forget(name);
      });
    this.executions.set(name, settled);
  }

  private runThread(execution: string, params: { MessageBody: Record<string, unknown> }): Promise<never> {
    return this.tokens.wait(execution, params.MessageBody, this.options.send) as Promise<never>;
  }

  async sendTaskSuccess(taskToken: string, output: unknown): Promise<void> {
    this.tokens.succeed(taskToken, output);
  }

  async sendTaskFailure(taskToken: string, error: string, cause: string): Promise<void> {
    this.tokens.fail(taskToken, error, cause);
  }

  async sendTaskHeartbeat(taskToken: string): Promise<void> {
    if (this.tokens.has(taskToken)) this.heartbeats.set(taskToken, (this.heartbeats.get(taskToken) ?? 0) + 1);
  }

  /** Resolves when every execution started so far has ended (tests, shutdown). */
  async drain(): Promise<void> {
    await Promise.all(this.executions.values());
  }
}
