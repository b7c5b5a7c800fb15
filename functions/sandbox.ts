/**
 * Lambda entry of the sandbox function (ReverieSandbox, docs/sandbox-on-aws.md): runs one bash command
 * of one session over its workspace. Invoked synchronously by agent-step only. It imports no AWS SDK
 * and no Reverie configuration — its execution role may write its own logs and nothing else — and it
 * reaches S3 only through the presigned URLs in the request.
 */
import type { Context } from "aws-lambda";
import {
  parseSandboxInvocation,
  type SandboxInvocationResult,
} from "../shared/adapters/aws/sandbox-protocol.js";
import { runSandboxCall, SandboxDirtyError, sameUserSweeper } from "../shared/adapters/aws/sandbox-runner.js";

export const handler = async (event: unknown, context: Context): Promise<SandboxInvocationResult> => {
  try {
    return await runSandboxCall(parseSandboxInvocation(event), {
      scratchDir: "/tmp",
      wipeWholeScratchDir: true,
      // The runtime's own node stays usable from the shell.
      path: "/var/lang/bin:/usr/local/bin:/usr/bin:/bin",
      remainingMs: () => context.getRemainingTimeInMillis(),
      sweeper: sameUserSweeper,
    });
  } catch (error) {
    if (error instanceof SandboxDirtyError) {
      // A process or file of this call could reach the next one (another session's): exit so that Lambda
      // discards this execution environment; the call fails with Runtime.ExitError.
      console.error(
        JSON.stringify({ level: "ERROR", message: "sandbox not clean, exiting", error: error.message }),
      );
      process.exit(1);
    }
    throw error;
  }
};
