/**
 * `npm run bench` (cold starts): each Lambda function's bundle, built exactly as CDK builds it
 * (test/moto/lambda-bundles.ts, on infra/aws/lambda-bundling.ts: ESM, node24, minified, the AWS SDK
 * external as Lambda's runtime supplies it), imported cold in a fresh Node process with the
 * environment CDK gives the function:
 *   - init: the `import()` of the bundle — what Lambda's Init phase does with the handler module,
 *     the AWS SDK packages the bundle imports at load included (resolved from node_modules, as the
 *     runtime's own copy would be);
 *   - first call: init + the first invocation of an event that reaches no AWS service (a request
 *     without a key for the authorizer, `GET /health` for the API functions, a malformed record for
 *     the queue consumers): the composition the entry builds on its first call, and every AWS SDK
 *     package it loads then. Functions whose every event reaches AWS (sweeper, schedulers) have none.
 * Baselines in the same run: an empty module (Node's own floor) and `@aws-sdk/client-dynamodb` with
 * `@aws-sdk/lib-dynamodb` alone — what every function loaded at init before DynamoDB and SQS went
 * over signed HTTP (shared/adapters/aws/aws-json-client.ts), kept as the run's yardstick: on a
 * shared machine the load moves every absolute figure, and each function's ratio to it much less.
 * With BENCH_INIT_BASELINE_REF=<commit> the functions of that commit are built the same way (their
 * source taken with `git archive`, the packages it left out stubbed as its lambda-bundling.ts said, or
 * before that file Bedrock's SDK left external and Ajv stubbed as then) and measured
 * in the same rounds, beside today's.
 * Target: init ≤ 80 ms for each function (median of the rounds). Knobs: BENCH_INIT_ROUNDS (5).
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { ABSENT_MODULE, LAMBDA_ESBUILD_OPTIONS } from "../../infra/aws/lambda-bundling.js";
import { functionEnvironments } from "../moto/aws-on-moto-stack.js";
import type { AwsResources } from "../moto/aws-resources.js";
import { buildLambdaBundles, type LambdaFunctionName, lambdaFunctionNames } from "../moto/lambda-bundles.js";
import { percentile, round } from "./stats.js";

const ROUNDS = Math.max(1, Number(process.env.BENCH_INIT_ROUNDS) || 5);
const BASELINE_REF = process.env.BENCH_INIT_BASELINE_REF;
const repoRoot = resolve(import.meta.dirname, "../..");
const TARGET_MS = 80;
const log = (line = "") => process.stderr.write(`${line}\n`);

/** What the child process reports. */
interface Sample {
  initMs: number;
  /** CPU time (user + system) of the init: less moved than wall time by other work on the machine. */
  initCpuMs: number;
  firstCallMs?: number;
  /** `@aws-sdk/*` packages imported by the time the bundle was loaded, and after the first call. */
  sdkAtInit: string[];
  sdkAfterCall: string[];
}

/**
 * The child: records which AWS SDK packages get imported (a resolve hook), imports the bundle, then
 * calls its handler once with the event, if there is one. `awslambda` is the Lambda runtime's global
 * for response streaming (api-stream): a pass-through here.
 */
const CHILD = `
import { registerHooks } from "node:module";
const sdk = new Set();
registerHooks({ resolve(specifier, context, next) {
  const m = /^(@aws-sdk\\/[^/]+)/.exec(specifier);
  if (m) sdk.add(m[1]);
  return next(specifier, context);
} });
globalThis.awslambda = { streamifyResponse: (fn) => fn, HttpResponseStream: { from: (s) => s } };
const cpu = process.cpuUsage();
const started = performance.now();
const mod = await import(process.env.BENCH_BUNDLE);
const initMs = performance.now() - started;
const used = process.cpuUsage(cpu);
const initCpuMs = (used.user + used.system) / 1000;
const sdkAtInit = [...sdk].sort();
let firstCallMs;
const event = process.env.BENCH_EVENT ? JSON.parse(process.env.BENCH_EVENT) : undefined;
if (event !== undefined) {
  const stream = { write() {}, end() {} };
  const context = { getRemainingTimeInMillis: () => 30000, functionName: "bench", awsRequestId: "bench" };
  // api-stream's handler takes the response stream second; the others a Lambda context.
  try { await mod.handler(event, process.env.BENCH_STREAM ? stream : context); } catch {}
  firstCallMs = performance.now() - started;
}
// Exit once written: a client's open socket must not keep the process (pipes write asynchronously).
process.stdout.write("\\n" + JSON.stringify({ initMs, initCpuMs, firstCallMs, sdkAtInit, sdkAfterCall: [...sdk].sort() }) + "\\n", () => process.exit(0));
`;

const sqsEvent = { Records: [{ messageId: "bench", receiptHandle: "bench", body: "{}", attributes: {} }] };
const httpEvent = (path: string) => ({
  httpMethod: "GET",
  path,
  headers: {},
  multiValueHeaders: {},
  queryStringParameters: null,
  multiValueQueryStringParameters: null,
  pathParameters: null,
  requestContext: {},
  body: null,
  isBase64Encoded: false,
});
/** An event each function answers without reaching AWS (none: every event of it does). */
const firstEvents: Partial<Record<LambdaFunctionName, unknown>> = {
  authorizer: {
    type: "REQUEST",
    methodArn: "arn:aws:execute-api:us-east-1:1:api/prod/GET/v1/agents",
    headers: {},
  },
  api: httpEvent("/health"),
  "api-memory": httpEvent("/v1/memory_stores/x"),
  "api-workspace": httpEvent("/v1/files/x"),
  "api-stream": httpEvent("/health"),
  "agent-step": sqsEvent,
  grader: sqsEvent,
  "webhook-deliver": sqsEvent,
  "dream-worker": sqsEvent,
};

function runChild(childFile: string, env: Record<string, string>): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childFile], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => {
      out += c;
    });
    child.stderr.on("data", (c) => {
      err += c;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      try {
        // The function's own log lines come first (Powertools logs to stdout, as on Lambda).
        resolve(JSON.parse(out.trim().split("\n").at(-1) ?? "") as Sample);
      } catch {
        reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      }
    });
  });
}

/** Placeholder names: nothing is reached (the endpoint below refuses connections at once). */
function environments() {
  const x = "x";
  const queue = {
    url: "https://sqs.us-east-1.amazonaws.com/1/x",
    arn: x,
    deadLetterUrl: x,
    deadLetterArn: x,
  };
  const resources = {
    tables: { resources: "resources", events: "events" },
    queues: { "agent-steps": queue, grader: queue, webhooks: queue, "dream-jobs": queue },
    bucket: x,
    outcomesTopicArn: "arn:aws:sns:us-east-1:1:x",
    eventBusName: x,
    stateMachineArn: "arn:aws:states:us-east-1:1:stateMachine:x",
    anthropicSecretArn: "arn:aws:secretsmanager:us-east-1:1:secret:x",
    scheduleGroup: x,
    deploymentScheduleGroup: x,
    serviceRoleArn: "arn:aws:iam::1:role/x",
    roleArns: {
      workflowRuns: "arn:aws:iam::1:role/x",
      dreamScheduler: "arn:aws:iam::1:role/x",
      deploymentScheduler: "arn:aws:iam::1:role/x",
    },
    secretsKeyArn: "arn:aws:kms:us-east-1:1:key/x",
  } as unknown as AwsResources;
  const names = Object.fromEntries([...lambdaFunctionNames, "sandbox"].map((n) => [n, n])) as never;
  return functionEnvironments(resources, names, { anthropicBaseUrl: "http://127.0.0.1:9" });
}

/** The Lambda functions of `ref`, bundled as CDK bundled them then; `remove()` deletes them. */
async function buildBaseline(ref: string) {
  const root = join(repoRoot, "node_modules", ".cache", `reverie-cold-init-baseline-${process.pid}`);
  mkdirSync(root, { recursive: true });
  const tar = execFileSync(
    "git",
    ["archive", "--format=tar", ref, "functions", "shared", "infra", "tsconfig.json"],
    {
      cwd: repoRoot,
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  execFileSync("tar", ["-x", "-C", root], { input: tar });
  const names = readdirSync(join(root, "functions"))
    .filter((f) => f.endsWith(".ts") && !["sandbox.ts", "console.ts"].includes(f))
    .map((f) => f.slice(0, -3));
  const outdir = join(root, "out");
  // Each function's aliases then: lambda-bundling.ts's bundleAliases where the ref has it (one entry
  // for zod, the built-ins' stand-ins, the packages left out), else its absentAliases; before that
  // file, Bedrock's SDK was left external and only agent-step's Ajv stubbed.
  const bundlingFile = join(root, "infra", "aws", "lambda-bundling.ts");
  const refBundling = existsSync(bundlingFile)
    ? ((await import(pathToFileURL(bundlingFile).href)) as {
        bundleAliases?: (n: string) => Record<string, string>;
        absentAliases?: (n: string) => Record<string, string>;
      })
    : undefined;
  const refAliases = refBundling?.bundleAliases ?? refBundling?.absentAliases;
  await Promise.all(
    names.map((name) =>
      build({
        entryPoints: { [name]: join(root, "functions", `${name}.ts`) },
        outdir,
        outExtension: { ".js": ".mjs" },
        ...LAMBDA_ESBUILD_OPTIONS,
        mainFields: [...LAMBDA_ESBUILD_OPTIONS.mainFields],
        external: ["@aws-sdk/*", "@smithy/*", ...(refAliases ? [] : ["@anthropic-ai/bedrock-sdk"])],
        alias:
          refAliases?.(name) ??
          (name === "agent-step" ? { ajv: ABSENT_MODULE, "ajv-formats": ABSENT_MODULE } : {}),
        tsconfig: join(root, "tsconfig.json"),
        logLevel: "error",
      }),
    ),
  );
  return {
    functions: Object.fromEntries(names.map((n) => [n, join(outdir, `${n}.mjs`)])) as Record<string, string>,
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

async function main() {
  log(
    `cold init: ${lambdaFunctionNames.length} functions × ${ROUNDS} fresh processes (node ${process.version})`,
  );
  const bundles = await buildLambdaBundles();
  const baseline = BASELINE_REF ? await buildBaseline(BASELINE_REF) : undefined;
  try {
    const floorFile = join(bundles.dir, "floor-dynamodb.mjs");
    writeFileSync(floorFile, 'import "@aws-sdk/client-dynamodb";\nimport "@aws-sdk/lib-dynamodb";\n');
    const emptyFile = join(bundles.dir, "floor-empty.mjs");
    writeFileSync(emptyFile, "export {};\n");
    const childFile = join(bundles.dir, "cold-init-child.mjs");
    writeFileSync(childFile, CHILD);
    const envs = environments();
    const common = {
      PATH: process.env.PATH ?? "",
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "AKIDBENCH",
      AWS_SECRET_ACCESS_KEY: "bench",
      // Anything that would reach AWS fails at once instead.
      AWS_ENDPOINT_URL: "http://127.0.0.1:9",
      AWS_MAX_ATTEMPTS: "1",
    };
    const subjects: Array<{ name: string; file: string; env: Record<string, string>; event?: unknown }> = [
      { name: "(baseline) empty module", file: emptyFile, env: common },
      { name: "(baseline) DynamoDB client alone", file: floorFile, env: common },
      ...lambdaFunctionNames.map((name) => {
        const { REVERIE_ANTHROPIC_SECRET_ARN: secret, ...env }: Record<string, string> = envs[name];
        // The model key straight from the environment: the first call then reads no secret.
        const model: Record<string, string> = secret ? { ANTHROPIC_API_KEY: "sk-ant-bench" } : {};
        return {
          name,
          file: bundles.functions[name],
          env: { ...env, ...model, ...common },
          event: firstEvents[name],
        };
      }),
      ...Object.entries(baseline?.functions ?? {}).map(([name, file]) => {
        const { REVERIE_ANTHROPIC_SECRET_ARN: secret, ...env }: Record<string, string> =
          (envs as Record<string, Record<string, string>>)[name] ?? envs.api;
        const model: Record<string, string> = secret ? { ANTHROPIC_API_KEY: "sk-ant-bench" } : {};
        return { name: `(${BASELINE_REF?.slice(0, 7)}) ${name}`, file, env: { ...env, ...model, ...common } };
      }),
    ];
    const samples = new Map<string, Sample[]>(subjects.map((s) => [s.name, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const subject of subjects) {
        const sample = await runChild(childFile, {
          ...subject.env,
          BENCH_BUNDLE: subject.file,
          ...(subject.event === undefined ? {} : { BENCH_EVENT: JSON.stringify(subject.event) }),
          ...(subject.name === "api-stream" ? { BENCH_STREAM: "1" } : {}),
        }).catch((error: Error) => {
          throw new Error(`${subject.name}: ${error.message}`);
        });
        samples.get(subject.name)?.push(sample);
      }
    }
    const rows = subjects.map((subject) => {
      const list = samples.get(subject.name) as Sample[];
      const init = percentile(
        list.map((s) => s.initMs),
        50,
      );
      const calls = list.flatMap((s) => (s.firstCallMs === undefined ? [] : [s.firstCallMs]));
      const last = list.at(-1) as Sample;
      const short = (names: string[]) =>
        names.map((n) => n.replace("@aws-sdk/", "").replace("client-", "")).join(" ");
      return {
        name: subject.name,
        kib: round(statSync(subject.file).size / 1024, 1),
        initMs: round(init, 1),
        initCpuMs: round(
          percentile(
            list.map((s) => s.initCpuMs),
            50,
          ),
          1,
        ),
        firstCallMs: calls.length ? round(percentile(calls, 50), 1) : undefined,
        sdkAtInit: short(last.sdkAtInit),
        sdkAfterCall: short(last.sdkAfterCall.filter((n) => !last.sdkAtInit.includes(n))),
        baseline: subject.name.startsWith("("),
      };
    });
    const floor = rows[1]?.initMs ?? Number.NaN;
    log("");
    log(
      `${"function".padEnd(34)}${"bundle".padStart(10)}${"init p50".padStart(11)}${"× SDK".padStart(7)}${"cpu p50".padStart(10)}${"first call".padStart(12)}  AWS SDK at init | + at first call`,
    );
    for (const r of rows) {
      log(
        `${r.name.padEnd(34)}${`${r.kib} KiB`.padStart(10)}${`${r.initMs} ms`.padStart(11)}${`${round(r.initMs / floor, 2)}`.padStart(7)}${`${r.initCpuMs} ms`.padStart(10)}${(r.firstCallMs === undefined ? "—" : `${r.firstCallMs} ms`).padStart(12)}  ${r.sdkAtInit || "—"} | ${r.sdkAfterCall || "—"}`,
      );
    }
    const functions = rows.filter((r) => !r.baseline && !r.name.startsWith("("));
    if (baseline) {
      log("");
      log(`against ${BASELINE_REF} in the same run (init, bundle):`);
      for (const r of functions) {
        const before = rows.find((b) => b.name === `(${BASELINE_REF?.slice(0, 7)}) ${r.name}`);
        if (before)
          log(
            `  ${r.name.padEnd(20)} ${String(r.initMs).padStart(7)} ms vs ${String(before.initMs).padStart(7)} ms (${round(r.initMs / before.initMs, 2)}×); cpu ${r.initCpuMs} vs ${before.initCpuMs} ms (${round(r.initCpuMs / before.initCpuMs, 2)}×); ${r.kib} vs ${before.kib} KiB`,
          );
      }
    }
    const met = functions.filter((r) => r.initMs <= TARGET_MS);
    const worst = functions.reduce((a, b) => (b.initMs > a.initMs ? b : a));
    log("");
    log(
      `cold init: ${met.length}/${functions.length} functions ≤ ${TARGET_MS} ms (slowest ${worst.name} ${worst.initMs} ms = ${round(worst.initMs / floor, 2)}× the DynamoDB client alone, ${floor} ms, in this run) — ${met.length === functions.length ? "MET" : "NOT MET"}`,
    );
    const notMet = functions.filter((r) => r.initMs > TARGET_MS).map((r) => `${r.name} ${r.initMs} ms`);
    if (notMet.length) log(`  over ${TARGET_MS} ms: ${notMet.join(", ")}`);
  } finally {
    bundles.remove();
    baseline?.remove();
  }
}

await main();
