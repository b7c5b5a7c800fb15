/**
 * One Lambda execution environment, as a child process: it imports a function's bundle (built like
 * CDK's NodejsFunction builds it), then serves invocations sent by its parent over IPC — the way
 * the Lambda runtime calls `handler(event, context)`. Response-streaming functions
 * (`awslambda.streamifyResponse`) get a writable stream whose metadata and chunks go back as
 * messages. Bundled by lambda-bundles.ts; run by lambda-service.ts.
 *
 * Usage: `node lambda-runtime.mjs <bundle.mjs> [<export name>]`, with the function's environment.
 */
import { Writable } from "node:stream";
import { pathToFileURL } from "node:url";

/** Parent → runtime. */
export type RuntimeRequest =
  | { type: "invoke"; id: number; event: string; deadline: number; requestId: string }
  | { type: "abort"; id: number };

/** Runtime → parent. */
export type RuntimeReply =
  | { type: "ready" }
  | { type: "init-error"; errorType: string; errorMessage: string }
  | { type: "result"; id: number; payload: string }
  | { type: "error"; id: number; errorType: string; errorMessage: string }
  | { type: "head"; id: number; meta: { statusCode?: number; headers?: Record<string, string> } }
  | { type: "chunk"; id: number; data: Uint8Array }
  | { type: "end"; id: number };

const STREAMING = Symbol.for("reverie.moto.streaming");
type Handler = ((event: unknown, context: unknown) => unknown) & { [STREAMING]?: boolean };
type StreamingHandler = (event: unknown, stream: Writable, context: unknown) => Promise<unknown>;

const send = (reply: RuntimeReply) => process.send?.(reply);

/** The subset of Node.js Lambda's `awslambda` global that functions/api-stream.ts uses. */
(globalThis as { awslambda?: unknown }).awslambda = {
  streamifyResponse(fn: StreamingHandler) {
    const wrapped = fn as unknown as Handler;
    wrapped[STREAMING] = true;
    return wrapped;
  },
  HttpResponseStream: {
    from(stream: Writable & { sendHead?: (meta: unknown) => void }, meta: unknown) {
      stream.sendHead?.(meta);
      return stream;
    },
  },
};

const [bundle, exportName = "handler"] = process.argv.slice(2);
const streams = new Map<number, Writable>();

function responseStream(id: number): Writable {
  let headSent = false;
  const sendHead = (meta: { statusCode?: number; headers?: Record<string, string> }) => {
    if (headSent) return;
    headSent = true;
    send({ type: "head", id, meta });
  };
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      sendHead({ statusCode: 200 });
      send({ type: "chunk", id, data: new Uint8Array(Buffer.from(chunk)) });
      callback();
    },
    final(callback) {
      sendHead({ statusCode: 200 });
      send({ type: "end", id });
      callback();
    },
  });
  // Writes after the client left fail quietly, as they do on Lambda; the handler runs on.
  stream.on("error", () => {});
  return Object.assign(stream, { sendHead });
}

function contextOf(request: Extract<RuntimeRequest, { type: "invoke" }>) {
  const name = process.env.AWS_LAMBDA_FUNCTION_NAME ?? "function";
  return {
    functionName: name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:123456789012:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? "1024",
    awsRequestId: request.requestId,
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: `moto/${process.pid}`,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, request.deadline - Date.now()),
    done() {},
    fail() {},
    succeed() {},
  };
}

function describe(error: unknown): { errorType: string; errorMessage: string } {
  return error instanceof Error
    ? { errorType: error.name, errorMessage: error.message }
    : { errorType: "Error", errorMessage: String(error) };
}

async function main() {
  let handler: Handler;
  try {
    const module = (await import(pathToFileURL(bundle as string).href)) as Record<string, unknown>;
    handler = module[exportName] as Handler;
    if (typeof handler !== "function") throw new Error(`${bundle} exports no function ${exportName}`);
  } catch (error) {
    send({ type: "init-error", ...describe(error) });
    process.exit(1);
  }
  process.on("message", (request: RuntimeRequest) => {
    if (request.type === "abort") {
      streams.get(request.id)?.destroy();
      streams.delete(request.id);
      return;
    }
    const context = contextOf(request);
    // Lambda hands the handler a parsed copy of the JSON payload and serialises what it returns.
    const event: unknown = JSON.parse(request.event);
    const run = async () => {
      if (handler[STREAMING]) {
        const stream = responseStream(request.id);
        streams.set(request.id, stream);
        try {
          return await (handler as unknown as StreamingHandler)(event, stream, context);
        } finally {
          streams.delete(request.id);
        }
      }
      return handler(event, context);
    };
    run().then(
      (value) => send({ type: "result", id: request.id, payload: JSON.stringify(value ?? null) }),
      (error) => send({ type: "error", id: request.id, ...describe(error) }),
    );
  });
  send({ type: "ready" });
}

await main();
