/**
 * The task tokens of the embedded stack's Step Functions executions (aws-local-stepfunctions): a
 * `waitForTaskToken` state sends its message with a fresh token and waits until the token is
 * answered (SendTaskSuccess / SendTaskFailure), as AWS does. A token that is unknown — answered
 * already, or its execution ended — is ignored, so a late or duplicate answer changes nothing.
 */
import { randomUUID } from "node:crypto";

interface Waiter {
  execution: string;
  resolve(output: unknown): void;
  reject(error: Error): void;
}

export class LocalTaskTokens {
  private readonly waiting = new Map<string, Waiter>();

  /** Sends `body` with a new token (`prefix` + UUID) and resolves with the token's answer. */
  wait(
    execution: string,
    body: Record<string, unknown>,
    send: (message: Record<string, unknown>) => Promise<void>,
    prefix = "",
  ): Promise<unknown> {
    const taskToken = `${prefix}${randomUUID()}`;
    return new Promise((resolve, reject) => {
      this.waiting.set(taskToken, { execution, resolve, reject });
      send({ ...body, taskToken }).catch(reject);
    });
  }

  succeed(taskToken: string, output: unknown): void {
    const waiter = this.waiting.get(taskToken);
    this.waiting.delete(taskToken);
    waiter?.resolve(output);
  }

  /** The waiting state fails with an error named `error` (what its Catch matches), `cause` its message. */
  fail(taskToken: string, error: string, cause: string): void {
    const waiter = this.waiting.get(taskToken);
    this.waiting.delete(taskToken);
    if (!waiter) return;
    const failure = new Error(cause);
    failure.name = error;
    waiter.reject(failure);
  }

  has(taskToken: string): boolean {
    return this.waiting.has(taskToken);
  }

  /** Forgets an ended execution's tokens (iterations that timed out leave theirs behind). */
  forget(execution: string): void {
    for (const [token, waiter] of this.waiting)
      if (waiter.execution === execution) this.waiting.delete(token);
  }
}
