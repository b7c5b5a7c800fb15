/**
 * The ShellSandbox on AWS (docs/sandbox-on-aws.md): each command is one synchronous invocation of the
 * sandbox function (ReverieSandbox, functions/sandbox.ts), whose role may write its own logs and
 * nothing else. This adapter, running in agent-step with agent-step's role, carries the workspace in
 * and out: it lists the session's workspace under `<prefix>workspaces/<id>/`, presigns one GET per
 * file and one PUT for the changes object under `<prefix>sandbox-transfer/`, invokes the function,
 * then applies the (re-validated) changes to the workspace and keeps the shell state under
 * `<prefix>sandbox-state/<sessionId>.sh`.
 *
 * Egress: `unrestricted` runs on the function outside any VPC (open internet). `limited` runs only
 * when it asks for no hosts and no package managers and the no-egress function (isolated VPC) is
 * deployed; any allowed host is refused, since nothing here can enforce a host allowlist.
 */
import { randomUUID } from "node:crypto";
import type { InvokeCommandOutput, LambdaClient } from "@aws-sdk/client-lambda";
import type { ListObjectsV2CommandOutput, S3Client } from "@aws-sdk/client-s3";
import type {
  SandboxExecRequest,
  SandboxExecResult,
  SandboxMountChange,
  SandboxNetwork,
  ShellSandbox,
} from "../../core/ports.js";
import {
  decodeWorkspaceChanges,
  defaultSandboxLimits,
  factorSharedQuery,
  isSafeMountPath,
  isSafeRelativePath,
  parseSandboxResult,
  SANDBOX_PROTOCOL_VERSION,
  type SandboxInvocation,
  type SandboxInvocationResult,
  type SandboxLimits,
  SandboxProtocolError,
} from "./sandbox-protocol.js";
import { type SdkClient, sdkClientGetter } from "./sdk-client.js";

/**
 * Presigns one S3 request. On AWS: `@aws-sdk/s3-request-presigner`'s `getSignedUrl` with a
 * Get/PutObjectCommand (see aws-ports.ts); all URLs of one call share `signingDate`, which lets the
 * request carry their common query once.
 */
export type PresignS3 = (request: {
  method: "GET" | "PUT";
  bucket: string;
  key: string;
  expiresIn: number;
  signingDate: Date;
}) => Promise<string>;

export interface LambdaShellSandboxOptions {
  lambda: SdkClient<LambdaClient>;
  s3: SdkClient<S3Client>;
  presign: PresignS3;
  /** The workspace bucket; unset: the sandbox is unavailable. */
  bucket?: string;
  /** Key prefix shared with S3WorkspaceStore. @default "" */
  prefix?: string;
  /** The sandbox function outside any VPC (`unrestricted` networking). */
  functionName?: string;
  /** The sandbox function in the isolated VPC (`limited` networking with no allowed hosts). */
  isolatedFunctionName?: string;
  /** Longest command; requests are clamped to it (the function's timeout minus its transfer reserve). @default 600 s */
  maxTimeoutMs?: number;
  /** Timeout of a request that names none. @default 120 s, clamped to maxTimeoutMs */
  defaultTimeoutMs?: number;
  /** Most workspace files carried into one call. @default 20 000 */
  maxWorkspaceFiles?: number;
  /** Largest workspace carried into one call, bytes. @default 2 GiB */
  maxWorkspaceBytes?: number;
  limits?: Partial<SandboxLimits>;
}

/** The sandbox cannot run this command here (not deployed, or the network policy cannot be enforced). */
export class SandboxUnavailableError extends Error {
  override name = "SandboxUnavailableError";
}

/** The command could not be run or its results could not be brought back. */
export class SandboxExecError extends Error {
  override name = "SandboxExecError";
}

/** Lambda's synchronous request and response payloads are limited to 6 MB; keep a margin. */
const MAX_PAYLOAD_BYTES = 5.5 * 1024 * 1024;
/** How long presigned URLs outlive the command (download before, upload after). */
const TRANSFER_MARGIN_SECONDS = 300;
const PARALLEL_S3_WRITES = 16;

export class LambdaShellSandbox implements ShellSandbox {
  private readonly prefix: string;
  private readonly limits: SandboxLimits;
  private readonly maxTimeoutMs: number;
  private readonly lambda: () => Promise<LambdaClient>;
  private readonly s3Client: () => Promise<S3Client>;

  constructor(private readonly options: LambdaShellSandboxOptions) {
    this.lambda = sdkClientGetter(options.lambda);
    this.s3Client = sdkClientGetter(options.s3);
    this.prefix = options.prefix ?? "";
    this.limits = { ...defaultSandboxLimits, ...options.limits };
    this.maxTimeoutMs = options.maxTimeoutMs ?? 600_000;
  }

  async availability(): Promise<{ available: true } | { available: false; reason: string }> {
    if (!this.options.bucket) {
      return { available: false, reason: "no workspace bucket is configured (REVERIE_WORKSPACE_BUCKET)" };
    }
    if (!this.options.functionName && !this.options.isolatedFunctionName) {
      return {
        available: false,
        reason:
          "no sandbox function is configured (REVERIE_SANDBOX_FUNCTION_NAME): deploy the ReverieSandbox construct to run bash on AWS",
      };
    }
    return { available: true };
  }

  async exec(request: SandboxExecRequest): Promise<SandboxExecResult> {
    const bucket = this.options.bucket;
    const availability = await this.availability();
    if (!availability.available || !bucket) {
      throw new SandboxUnavailableError(
        `bash is not available: ${(availability as { reason: string }).reason}`,
      );
    }
    const functionName = this.functionFor(request.network);
    const stateKey = this.stateKey(request.sessionId);
    const workspaceRoot = this.workspaceRoot(request.workspaceId);
    for (const mount of request.mounts) {
      if (!isSafeMountPath(mount.path)) {
        throw new SandboxExecError(
          `cannot mount at ${JSON.stringify(mount.path)} (absolute, outside /workspace)`,
        );
      }
      const unsafe = mount.files.find((f) => !isSafeRelativePath(f.path));
      if (unsafe)
        throw new SandboxExecError(`cannot mount file ${JSON.stringify(unsafe.path)} in ${mount.path}`);
    }

    if (request.restart) await this.deleteObject(stateKey);
    if (request.command === undefined) {
      return { output: "", exitCode: request.restart ? 0 : null, timedOut: false, mountChanges: [] };
    }

    const timeoutMs = Math.max(
      1_000,
      Math.min(request.timeoutMs ?? this.options.defaultTimeoutMs ?? 120_000, this.maxTimeoutMs),
    );
    const expiresIn = Math.ceil(timeoutMs / 1000) + TRANSFER_MARGIN_SECONDS;
    const signingDate = new Date();
    const files = await this.listWorkspace(bucket, workspaceRoot);
    const urls = await Promise.all(
      files.map((f) =>
        this.options.presign({
          method: "GET",
          bucket,
          key: `${workspaceRoot}${f.path}`,
          expiresIn,
          signingDate,
        }),
      ),
    );
    const factored = factorSharedQuery(urls);
    const transferKey = `${this.prefix}sandbox-transfer/${request.sessionId}/${randomUUID()}.gz`;
    const shellState = request.restart ? undefined : await this.readText(bucket, stateKey);
    const invocation: SandboxInvocation = {
      v: SANDBOX_PROTOCOL_VERSION,
      command: request.command,
      restart: request.restart ?? false,
      timeoutMs,
      ...(shellState === undefined ? {} : { shellState }),
      workspace: {
        ...(factored.sharedQuery ? { sharedQuery: factored.sharedQuery } : {}),
        files: files.map((f, i) => ({ path: f.path, size: f.size, url: factored.urls[i] ?? "" })),
      },
      changesUrl: await this.options.presign({
        method: "PUT",
        bucket,
        key: transferKey,
        expiresIn,
        signingDate,
      }),
      mounts: request.mounts.map((m) => ({ path: m.path, readOnly: m.readOnly, files: [...m.files] })),
      limits: this.limits,
    };
    const payload = new TextEncoder().encode(JSON.stringify(invocation));
    if (payload.byteLength > MAX_PAYLOAD_BYTES) {
      throw new SandboxExecError(
        `the workspace (${files.length} files) and mounts are too large to hand to the sandbox in one call (${payload.byteLength} bytes, limit ${MAX_PAYLOAD_BYTES})`,
      );
    }

    const answer = await this.invoke(functionName, payload);
    if (answer.kind === "timeout" || answer.result.timedOut) {
      // A command that outlives its timeout restarts the shell (the bash tool's contract).
      await this.deleteObject(stateKey);
    }
    if (answer.kind === "timeout") {
      return {
        output: `${answer.message}\n[reverie: the sandbox function timed out; changes made by this command were not saved]`,
        exitCode: null,
        timedOut: true,
        mountChanges: [],
      };
    }
    const result = answer.result;
    if (result.changesUploaded) await this.applyChanges(bucket, workspaceRoot, transferKey);
    if (result.shellState !== undefined && result.shellState.length <= this.limits.shellStateBytes) {
      const { s3, S3 } = await this.s3();
      await s3.send(
        new S3.PutObjectCommand({
          Bucket: bucket,
          Key: stateKey,
          Body: result.shellState,
          ContentType: "text/x-shellscript; charset=utf-8",
        }),
      );
    }
    return {
      output: result.output,
      exitCode: result.exitCode,
      timedOut: result.timedOut,
      mountChanges: this.acceptedMountChanges(request, result),
    };
  }

  async close(sessionId: string): Promise<void> {
    if (!this.options.bucket) return;
    await this.deleteObject(this.stateKey(sessionId));
  }

  // ---------------------------------------------------------------- choices

  private functionFor(network: SandboxNetwork): string {
    if (network.type === "unrestricted") {
      if (this.options.functionName) return this.options.functionName;
      throw new SandboxUnavailableError(
        "bash with unrestricted networking needs the open sandbox function (REVERIE_SANDBOX_FUNCTION_NAME), which is not configured",
      );
    }
    if (network.allowedHosts.length > 0 || network.allowPackageManagers) {
      const asked = [...network.allowedHosts, ...(network.allowPackageManagers ? ["package managers"] : [])];
      throw new SandboxUnavailableError(
        `bash is not available with limited networking that allows ${asked.join(", ")}: this deployment cannot enforce a host allowlist (no egress proxy), and it will not run the command with open egress instead. Use networking {type: "limited"} with no allowed hosts (no network at all) or {type: "unrestricted"}.`,
      );
    }
    if (this.options.isolatedFunctionName) return this.options.isolatedFunctionName;
    throw new SandboxUnavailableError(
      "bash with limited networking needs the no-egress sandbox function (ReverieSandbox with isolatedNetwork: true, REVERIE_SANDBOX_ISOLATED_FUNCTION_NAME), which is not deployed; it will not run the command with open egress instead",
    );
  }

  private acceptedMountChanges(
    request: SandboxExecRequest,
    result: SandboxInvocationResult,
  ): SandboxMountChange[] {
    // Only writable mounts of this request, only safe paths: the answer is untrusted.
    const writable = new Set(request.mounts.filter((m) => !m.readOnly).map((m) => m.path));
    return result.mountChanges.filter((c) => writable.has(c.mountPath) && isSafeRelativePath(c.path));
  }

  // ---------------------------------------------------------------- Lambda

  private async invoke(
    functionName: string,
    payload: Uint8Array,
  ): Promise<{ kind: "result"; result: SandboxInvocationResult } | { kind: "timeout"; message: string }> {
    let output: InvokeCommandOutput;
    try {
      const [{ InvokeCommand }, lambda] = await Promise.all([
        import("@aws-sdk/client-lambda"),
        this.lambda(),
      ]);
      output = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: "RequestResponse",
          Payload: payload,
        }),
      );
    } catch (error) {
      const name = (error as { name?: string }).name ?? "Error";
      if (name === "TooManyRequestsException") {
        throw new SandboxExecError(
          "the sandbox is busy (its concurrency limit is reached); try again shortly",
          {
            cause: error,
          },
        );
      }
      throw new SandboxExecError(
        `could not invoke the sandbox function: ${name}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    const text = output.Payload ? new TextDecoder().decode(output.Payload) : "";
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (output.FunctionError) {
      const { errorType, errorMessage } = (body ?? {}) as { errorType?: string; errorMessage?: string };
      if (errorType === "Sandbox.Timedout" || /Task timed out/.test(errorMessage ?? "")) {
        return { kind: "timeout", message: errorMessage ?? "Task timed out" };
      }
      throw new SandboxExecError(
        `the sandbox failed: ${errorType ?? output.FunctionError}: ${errorMessage ?? "no details"}`,
      );
    }
    try {
      return { kind: "result", result: parseSandboxResult(body) };
    } catch (error) {
      throw new SandboxExecError(`the sandbox's answer was not understood: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  // ---------------------------------------------------------------- S3

  /** The S3 client and the package's commands, loaded on the first bash call. */
  private async s3(): Promise<{ s3: S3Client; S3: typeof import("@aws-sdk/client-s3") }> {
    const [S3, s3] = await Promise.all([import("@aws-sdk/client-s3"), this.s3Client()]);
    return { s3, S3 };
  }

  private async listWorkspace(bucket: string, root: string): Promise<Array<{ path: string; size: number }>> {
    const files: Array<{ path: string; size: number }> = [];
    let bytes = 0;
    let token: string | undefined;
    const maxFiles = this.options.maxWorkspaceFiles ?? 20_000;
    const maxBytes = this.options.maxWorkspaceBytes ?? 2 * 1024 * 1024 * 1024;
    const { s3, S3 } = await this.s3();
    do {
      const page: ListObjectsV2CommandOutput = await s3.send(
        new S3.ListObjectsV2Command({ Bucket: bucket, Prefix: root, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) {
        if (!object.Key || object.Key.length <= root.length) continue;
        const path = object.Key.slice(root.length);
        if (!isSafeRelativePath(path)) continue;
        files.push({ path, size: object.Size ?? 0 });
        bytes += object.Size ?? 0;
      }
      if (files.length > maxFiles || bytes > maxBytes) {
        throw new SandboxExecError(
          `the workspace is too large for the sandbox (more than ${maxFiles} files or ${maxBytes} bytes)`,
        );
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return files;
  }

  /** Applies the sandbox's changes object to the workspace, then deletes it. */
  private async applyChanges(bucket: string, workspaceRoot: string, transferKey: string): Promise<void> {
    let bytes: Uint8Array;
    const { s3, S3 } = await this.s3();
    try {
      const object = await s3.send(new S3.GetObjectCommand({ Bucket: bucket, Key: transferKey }));
      const body = await object.Body?.transformToByteArray();
      if (!body) throw new SandboxProtocolError("empty changes object");
      // node:zlib on first use, not as an ES module import: loading it is ~7 ms of every agent-step
      // cold start, and only a command that changed files sends its archive.
      bytes = process
        .getBuiltinModule("node:zlib")
        .gunzipSync(body, { maxOutputLength: this.limits.changedBytes + 16 * 1024 * 1024 });
    } catch (error) {
      throw new SandboxExecError(
        `the command ran, but its workspace changes could not be read back: ${(error as Error).message}`,
        { cause: error },
      );
    }
    let changes: ReturnType<typeof decodeWorkspaceChanges>;
    try {
      changes = decodeWorkspaceChanges(bytes);
    } catch (error) {
      throw new SandboxExecError(
        `the command ran, but its workspace changes were malformed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    if (changes.written.length + changes.deleted.length > this.limits.changedFiles) {
      throw new SandboxExecError(
        "the command ran, but it changed more workspace files than allowed; nothing was saved",
      );
    }
    const writes = [
      ...changes.written.map(
        (w) => () =>
          s3.send(
            new S3.PutObjectCommand({
              Bucket: bucket,
              Key: `${workspaceRoot}${w.path}`,
              Body: w.data,
              ContentType: isUtf8(w.data) ? "text/plain; charset=utf-8" : "application/octet-stream",
            }),
          ),
      ),
      ...changes.deleted.map((path) => () => this.deleteObject(`${workspaceRoot}${path}`)),
    ];
    await inParallel(writes, PARALLEL_S3_WRITES);
    await this.deleteObject(transferKey);
  }

  private async readText(bucket: string, key: string): Promise<string | undefined> {
    const { s3, S3 } = await this.s3();
    try {
      const object = await s3.send(new S3.GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await object.Body?.transformToString("utf-8")) ?? undefined;
    } catch (error) {
      if (error instanceof S3.NoSuchKey || (error as { name?: string }).name === "NoSuchKey")
        return undefined;
      throw error;
    }
  }

  private async deleteObject(key: string): Promise<void> {
    const { s3, S3 } = await this.s3();
    await s3.send(new S3.DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }

  private workspaceRoot(workspaceId: string): string {
    if (workspaceId === "" || workspaceId.includes("/")) {
      throw new SandboxExecError(`invalid workspace id ${JSON.stringify(workspaceId)}`);
    }
    return `${this.prefix}workspaces/${workspaceId}/`;
  }

  private stateKey(sessionId: string): string {
    if (sessionId === "" || sessionId.includes("/")) {
      throw new SandboxExecError(`invalid session id ${JSON.stringify(sessionId)}`);
    }
    return `${this.prefix}sandbox-state/${sessionId}.sh`;
  }
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

async function inParallel(tasks: Array<() => Promise<unknown>>, width: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++];
      if (task) await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, tasks.length) }, worker));
}
