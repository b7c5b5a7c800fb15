/**
 * `bash` on AWS, for agent-step only (`awsServices(withSandbox)`): the sandbox Lambda of the
 * ReverieSandbox construct, with the workspace carried in and out through presigned S3 URLs.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { LambdaShellSandbox, type PresignS3 } from "../adapters/aws/lambda-shell-sandbox.js";
import { awsClients } from "./aws-clients.js";
import type { Config } from "./config.js";
import type { Ports } from "./container.js";

/** Presigns with the runtime's `@aws-sdk/s3-request-presigner`, loaded on the first bash call. */
function presigner(client: () => Promise<S3Client>): PresignS3 {
  return async ({ method, bucket, key, expiresIn, signingDate }) => {
    const [{ getSignedUrl }, { GetObjectCommand, PutObjectCommand }, s3] = await Promise.all([
      import("@aws-sdk/s3-request-presigner"),
      import("@aws-sdk/client-s3"),
      client(),
    ]);
    const command =
      method === "GET"
        ? new GetObjectCommand({ Bucket: bucket, Key: key })
        : new PutObjectCommand({ Bucket: bucket, Key: key });
    return getSignedUrl(s3, command, { expiresIn, signingDate });
  };
}

export const withSandbox = async (config: Config): Promise<Partial<Ports>> => {
  const clients = awsClients();
  const sandbox = new LambdaShellSandbox({
    // One attempt: a retried invoke could run a command twice.
    lambda: clients.sandboxLambda,
    s3: clients.s3,
    presign: presigner(clients.s3),
    bucket: config.REVERIE_WORKSPACE_BUCKET,
    functionName: config.REVERIE_SANDBOX_FUNCTION_NAME,
    isolatedFunctionName: config.REVERIE_SANDBOX_ISOLATED_FUNCTION_NAME,
    maxTimeoutMs: config.REVERIE_SANDBOX_MAX_TIMEOUT_SECONDS * 1000,
  });
  return { sandbox, bashAvailable: (await sandbox.availability()).available };
};
