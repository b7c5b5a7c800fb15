/**
 * A recording proxy in front of moto, one per Lambda function: the function's `AWS_ENDPOINT_URL`
 * (and `AWS_ENDPOINT_URL_LAMBDA`) point at its own proxy, which notes what each request asks IAM
 * for (aws-request-actions.ts) and forwards it unchanged — to moto, or to the harness's Lambda
 * Invoke front for Lambda calls. Every AWS call a function makes goes through it, whichever client
 * makes it (the SDK's, or aws-json-client.ts's for DynamoDB and SQS), and so do presigned URLs the
 * function signs: they carry its endpoint, and on AWS they act with its role. Reverie's code is
 * untouched; the recorded calls are judged against the function's IAM role by iam-evaluator.ts.
 */
import { Agent, createServer, request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type AwsAction, actionsOfRequest, signingServiceOf } from "./aws-request-actions.js";

/** One permission one function's request needed. */
export interface RecordedAwsCall extends AwsAction {
  /** The harness's name of the function (`api-workspace`, `agent-step`, …). */
  fn: string;
  /** The HTTP status moto (or the Invoke front) answered. */
  status?: number;
}

export interface AwsCallRecorder {
  /** The endpoint to give the function. */
  readonly url: string;
  close(): Promise<void>;
}

/** Where the proxies forward: moto, and the Lambda Invoke front once it listens. */
export interface RecorderTargets {
  moto: string;
  lambda?: string;
}

/**
 * Starts `fn`'s proxy. Each request's actions are appended to `calls` as it is forwarded; a request
 * the proxy cannot forward answers 502.
 */
export async function startAwsCallRecorder(
  fn: string,
  targets: RecorderTargets,
  calls: RecordedAwsCall[],
): Promise<AwsCallRecorder> {
  const agent = new Agent({ keepAlive: true });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const incoming = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body };
      const recorded: RecordedAwsCall[] = actionsOfRequest(incoming).map((a) => ({ ...a, fn }));
      calls.push(...recorded);
      const isLambda =
        signingServiceOf(incoming) === "lambda" || incoming.url.startsWith("/2015-03-31/functions/");
      const target = new URL(isLambda && targets.lambda ? targets.lambda : targets.moto);
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          // The Host header is kept: it is signed, and presigned URLs name this proxy.
          headers: req.headers,
          agent,
        },
        (answer) => {
          for (const call of recorded) call.status = answer.statusCode;
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", (error) => {
        if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
        res.end(`recording proxy for ${fn}: ${error.message}`);
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        agent.destroy();
      }),
  };
}
