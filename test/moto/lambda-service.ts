/**
 * A small Lambda service for the functions' bundles: each function runs in its own child process
 * (lambda-runtime.ts), started on its first invocation (a cold start) with exactly the environment
 * CDK gives it, plus the standard `AWS_ENDPOINT_URL` that points its SDK clients at moto. It keeps
 * the limits that shape Reverie's code on AWS: 6 MB synchronous payloads each way, the function's
 * timeout (after which the environment is replaced), a crashed environment failing its in-flight
 * invocations, an idle environment frozen. `startLambdaInvokeFront` serves the Invoke API for the
 * functions other functions call through the SDK (agent-step → sandbox): moto's own Lambda runs
 * functions in Docker, which this machine does not have.
 *
 * Unlike Lambda, one environment serves every concurrent invocation of its function (Lambda would
 * start one environment per concurrent invocation); docs/aws-on-moto.md lists this with the rest.
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { RuntimeReply, RuntimeRequest } from "./lambda-runtime.js";
import { MOTO_CREDENTIALS, MOTO_REGION } from "./moto-server.js";

/** Lambda's limit on a synchronous invocation's request and response payloads (6 MB). */
export const LAMBDA_SYNC_PAYLOAD_LIMIT = 6 * 1024 * 1024;

export interface LambdaFunctionOptions {
  /** The physical function name (`AWS_LAMBDA_FUNCTION_NAME`). */
  functionName: string;
  /** The bundle and the runtime that hosts it (lambda-bundles.ts). */
  bundle: string;
  runtime: string;
  /** The function's own environment variables, as CDK sets them. */
  environment: Record<string, string>;
  /** Where the function's SDK clients go (`AWS_ENDPOINT_URL`, and per-service overrides). */
  endpoints: Record<string, string>;
  timeoutSeconds: number;
  memorySize: number;
}

/**
 * What an invocation came to: the function's JSON result, an error the function raised (Lambda's
 * `FunctionError`: Unhandled, a timeout, a crash), or an error of the Invoke call itself.
 */
export type InvokeOutcome =
  | { kind: "result"; payload: string }
  | { kind: "function-error"; errorType: string; errorMessage: string }
  | { kind: "invoke-error"; status: number; errorType: string; message: string };

/** Receives a response-streaming function's output. */
export interface ResponseSink {
  head(meta: { statusCode?: number; headers?: Record<string, string> }): void;
  chunk(data: Uint8Array): void;
  end(): void;
}

interface Pending {
  resolve(outcome: InvokeOutcome): void;
  sink?: ResponseSink;
  timer: NodeJS.Timeout;
}

interface Container {
  child: ChildProcess;
  ready: Promise<void>;
  pending: Map<number, Pending>;
  /** Stopped (SIGSTOP) while no invocation runs, as Lambda freezes an idle environment. */
  frozen: boolean;
}

export class LambdaFunction {
  private container: Container | undefined;
  private nextId = 1;
  private log = "";
  /** Execution environments started so far. */
  coldStarts = 0;
  /** Invocations started, by outcome kind once settled. */
  readonly invocations = { started: 0, failed: 0, totalMs: 0 };

  constructor(readonly options: LambdaFunctionOptions) {}

  get name(): string {
    return this.options.functionName;
  }

  /** Invocations not settled yet. */
  get inFlight(): number {
    return this.container?.pending.size ?? 0;
  }

  /** What the function's environments printed (their logs), newest last. */
  output(): string {
    return this.log;
  }

  /**
   * Starts an execution environment now rather than on the first invocation (like provisioned
   * concurrency), so that cold starts overlap instead of adding up along a test's path.
   */
  async warm(): Promise<void> {
    const container = this.ensureContainer();
    await container.ready;
    this.freezeIfIdle(container);
  }

  /**
   * Lambda freezes an environment between invocations: work a handler leaves running after it
   * returns (an unawaited promise, a timer) does not run until the next invocation, if ever. The
   * runtime process is stopped the same way, so such work stalls here as it would on AWS.
   */
  private freezeIfIdle(container: Container): void {
    const alive = container.child.exitCode === null && container.child.signalCode === null;
    if (!alive || container.frozen || container.pending.size > 0) return;
    container.child.kill("SIGSTOP");
    container.frozen = true;
  }

  private thaw(container: Container): void {
    if (!container.frozen) return;
    container.child.kill("SIGCONT");
    container.frozen = false;
  }

  /** A synchronous (RequestResponse) invocation. */
  invoke(event: unknown): Promise<InvokeOutcome> {
    return this.start(event);
  }

  /** An InvokeWithResponseStream invocation: the metadata and chunks go to `sink` as they come. */
  invokeStreaming(event: unknown, sink: ResponseSink): { outcome: Promise<InvokeOutcome>; abort(): void } {
    let id = 0;
    const outcome = this.start(event, sink, (assigned) => {
      id = assigned;
    });
    return {
      outcome,
      abort: () => {
        if (id) this.container?.child.send({ type: "abort", id } satisfies RuntimeRequest);
      },
    };
  }

  private async start(
    event: unknown,
    sink?: ResponseSink,
    onId?: (id: number) => void,
  ): Promise<InvokeOutcome> {
    const payload = JSON.stringify(event);
    if (Buffer.byteLength(payload) > LAMBDA_SYNC_PAYLOAD_LIMIT && !sink) {
      return {
        kind: "invoke-error",
        status: 413,
        errorType: "RequestEntityTooLargeException",
        message: `Request must be smaller than ${LAMBDA_SYNC_PAYLOAD_LIMIT} bytes for the InvokeFunction operation`,
      };
    }
    this.invocations.started++;
    let container: Container;
    try {
      container = this.ensureContainer();
      await container.ready;
    } catch (error) {
      this.invocations.failed++;
      return { kind: "function-error", errorType: "Runtime.ImportModuleError", errorMessage: String(error) };
    }
    const id = this.nextId++;
    onId?.(id);
    const requestId = randomUUID();
    const timeoutMs = this.options.timeoutSeconds * 1000;
    const outcome = new Promise<InvokeOutcome>((resolve) => {
      const timer = setTimeout(() => {
        container.pending.delete(id);
        resolve({
          kind: "function-error",
          errorType: "Sandbox.Timedout",
          errorMessage: `${requestId} Task timed out after ${this.options.timeoutSeconds.toFixed(2)} seconds`,
        });
        // Lambda replaces an environment whose invocation timed out.
        container.child.kill("SIGKILL");
      }, timeoutMs);
      container.pending.set(id, { resolve, sink, timer });
    });
    this.thaw(container);
    container.child.send({
      type: "invoke",
      id,
      event: payload,
      deadline: Date.now() + timeoutMs,
      requestId,
    } satisfies RuntimeRequest);
    const startedAt = Date.now();
    const settled = await outcome;
    this.freezeIfIdle(container);
    this.invocations.totalMs += Date.now() - startedAt;
    if (settled.kind !== "result") this.invocations.failed++;
    return settled;
  }

  private ensureContainer(): Container {
    if (
      this.container &&
      this.container.child.exitCode === null &&
      this.container.child.signalCode === null
    ) {
      return this.container;
    }
    const { options } = this;
    this.coldStarts++;
    const child = fork(options.runtime, [options.bundle], {
      execPath: process.execPath,
      execArgv: [],
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env: {
        // What Lambda's Node.js runtime sets (the subset a function could read) …
        PATH: process.env.PATH,
        LANG: "en_US.UTF-8",
        TZ: ":UTC",
        AWS_REGION: MOTO_REGION,
        AWS_DEFAULT_REGION: MOTO_REGION,
        AWS_ACCESS_KEY_ID: MOTO_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: MOTO_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: "testing",
        AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
        AWS_LAMBDA_FUNCTION_NAME: options.functionName,
        AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(options.memorySize),
        AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${options.functionName}`,
        LAMBDA_TASK_ROOT: options.bundle.replace(/\/[^/]*$/, ""),
        // … the function's own environment (CDK's) …
        ...options.environment,
        // … and where its SDK clients go: the SDK's standard endpoint variables, no code change.
        ...options.endpoints,
      },
    });
    const pending = new Map<number, Pending>();
    const append = (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-256_000);
    };
    child.stdout?.on("data", append);
    child.stderr?.on("data", append);
    let markReady: () => void = () => {};
    let failInit: (error: Error) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      failInit = reject;
    });
    ready.catch(() => {});
    child.on("message", (reply: RuntimeReply) => {
      if (reply.type === "ready") return markReady();
      if (reply.type === "init-error")
        return failInit(new Error(`${reply.errorType}: ${reply.errorMessage}`));
      const entry = pending.get(reply.id);
      if (!entry) return;
      if (reply.type === "head") return entry.sink?.head(reply.meta);
      if (reply.type === "chunk") return entry.sink?.chunk(reply.data);
      if (reply.type === "end") return entry.sink?.end();
      pending.delete(reply.id);
      clearTimeout(entry.timer);
      if (reply.type === "error") {
        entry.resolve({
          kind: "function-error",
          errorType: reply.errorType,
          errorMessage: reply.errorMessage,
        });
      } else if (Buffer.byteLength(reply.payload) > LAMBDA_SYNC_PAYLOAD_LIMIT && !entry.sink) {
        entry.resolve({
          kind: "function-error",
          errorType: "Function.ResponseSizeTooLarge",
          errorMessage: `Response payload size exceeded maximum allowed payload size (${LAMBDA_SYNC_PAYLOAD_LIMIT} bytes).`,
        });
      } else {
        entry.resolve({ kind: "result", payload: reply.payload });
      }
    });
    child.on("exit", (code, signal) => {
      failInit(
        new Error(`the environment exited (${signal ?? code}) during init:\n${this.log.slice(-4000)}`),
      );
      for (const [id, entry] of pending) {
        clearTimeout(entry.timer);
        entry.resolve({
          kind: "function-error",
          errorType: "Runtime.ExitError",
          errorMessage: `RequestId: ${id} Error: Runtime exited with error: ${signal ?? `exit status ${code}`}`,
        });
      }
      pending.clear();
      if (this.container?.child === child) this.container = undefined;
    });
    this.container = { child, ready, pending, frozen: false };
    return this.container;
  }

  /** Stops the function's environment (in-flight invocations fail as a crash would). */
  async stop(): Promise<void> {
    const child = this.container?.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }
}

/** The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) over `functions`. */
export async function startLambdaInvokeFront(
  functions: ReadonlyMap<string, LambdaFunction>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", async () => {
      const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(
        new URL(req.url ?? "/", "http://x").pathname,
      );
      const name = match ? decodeURIComponent(match[1] as string) : undefined;
      const fn = name === undefined ? undefined : functions.get(name.replace(/^arn:.*:function:/, ""));
      const fail = (status: number, type: string, message: string) => {
        res.writeHead(status, { "content-type": "application/json", "x-amzn-errortype": type });
        res.end(JSON.stringify({ Type: "User", message }));
      };
      if (req.method !== "POST" || !fn)
        return fail(404, "ResourceNotFoundException", `Function not found: ${name}`);
      if ((req.headers["x-amz-invocation-type"] ?? "RequestResponse") !== "RequestResponse") {
        return fail(
          400,
          "InvalidParameterValueException",
          "only RequestResponse invocations are served here",
        );
      }
      let event: unknown;
      try {
        event = JSON.parse(Buffer.concat(chunks).toString("utf8") || "null");
      } catch {
        return fail(400, "InvalidRequestContentException", "Could not parse request body into json");
      }
      const outcome = await fn.invoke(event);
      if (outcome.kind === "invoke-error") return fail(outcome.status, outcome.errorType, outcome.message);
      const headers: Record<string, string> = {
        "content-type": "application/json",
        "x-amz-executed-version": "$LATEST",
      };
      if (outcome.kind === "function-error") {
        headers["x-amz-function-error"] = "Unhandled";
        res.writeHead(200, headers);
        res.end(
          JSON.stringify({ errorType: outcome.errorType, errorMessage: outcome.errorMessage, trace: [] }),
        );
        return;
      }
      res.writeHead(200, headers);
      res.end(outcome.payload);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
