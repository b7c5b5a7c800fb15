/**
 * Stands in for functions/sandbox.ts on this machine. The real entry is right for a Lambda execution
 * environment and wrong here: it wipes all of /tmp and kills every process of its user after each
 * command. This one runs the very same `runSandboxCall` (download by presigned URL, bash, upload of
 * the changes by presigned URL) in a private scratch directory, sweeping only its own processes —
 * as test/adapters/sandbox-runner.test.ts does. The presigned URLs point at moto's S3.
 */
import type { Context } from "aws-lambda";
import {
  parseSandboxInvocation,
  type SandboxInvocationResult,
} from "../../shared/adapters/aws/sandbox-protocol.js";
import { runSandboxCall } from "../../shared/adapters/aws/sandbox-runner.js";

/** Set by the stack (aws-on-moto-stack.ts) to a directory of its own. */
const scratchDir = process.env.REVERIE_MOTO_SANDBOX_SCRATCH_DIR;

export const handler = async (event: unknown, context: Context): Promise<SandboxInvocationResult> => {
  if (!scratchDir) throw new Error("REVERIE_MOTO_SANDBOX_SCRATCH_DIR is not set");
  return runSandboxCall(parseSandboxInvocation(event), {
    scratchDir,
    remainingMs: () => context.getRemainingTimeInMillis(),
  });
};
