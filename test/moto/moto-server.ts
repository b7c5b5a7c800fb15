/**
 * moto in server mode (`moto_server`, https://docs.getmoto.org/en/latest/docs/server_mode.html): one
 * HTTP endpoint that speaks DynamoDB, SQS, S3, SNS, EventBridge, EventBridge Scheduler, Step Functions
 * and Secrets Manager, started by a test on a free port and stopped by it.
 *
 * moto is a Python package, not an npm one: `.ci/run` installs `moto[server]` when it is missing. A
 * test that needs it fails with {@link MotoUnavailableError} (saying how to install it) rather than
 * skipping, unless `REVERIE_SKIP_MOTO=1` is set.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { freePort } from "../fixtures/stack-process.js";

/** Set to 1 to skip the tests that need moto (say so in the run's notes). */
export const SKIP_MOTO_VARIABLE = "REVERIE_SKIP_MOTO";

export const motoSkipped = (): boolean => process.env[SKIP_MOTO_VARIABLE] === "1";

/** moto's server cannot be found or started here. */
export class MotoUnavailableError extends Error {
  override name = "MotoUnavailableError";
}

export const MOTO_INSTALL_HINT =
  "install it with `pip install 'moto[server]'` (Python ≥ 3.9; .ci/run does this), so that `moto_server` is on PATH " +
  `or \`python3 -c "import moto.server"\` works — or set ${SKIP_MOTO_VARIABLE}=1 to skip the AWS-on-moto tests`;

/** The account and region moto answers for (its defaults), and the fake credentials clients sign with. */
export const MOTO_ACCOUNT = "123456789012";
export const MOTO_REGION = "us-east-1";
export const MOTO_CREDENTIALS = { accessKeyId: "testing", secretAccessKey: "testing" } as const;

export interface MotoServer {
  /** e.g. `http://127.0.0.1:41234` — the one endpoint of every service. */
  readonly endpoint: string;
  readonly port: number;
  /** What the server printed (its request log), for a failing test's report. */
  output(): string;
  stop(): Promise<void>;
}

function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** How to start moto's server here: `moto_server` on PATH, else `python3 -m moto.server`. */
export function motoCommand(): { command: string; args: string[] } {
  const server = onPath("moto_server");
  if (server) return { command: server, args: [] };
  const python = onPath("python3") ?? onPath("python");
  if (python && spawnSync(python, ["-c", "import moto.server"], { stdio: "ignore" }).status === 0) {
    return { command: python, args: ["-m", "moto.server"] };
  }
  throw new MotoUnavailableError(`moto's server is not installed: ${MOTO_INSTALL_HINT}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Starts moto's server on a free 127.0.0.1 port and resolves once it answers. The port is chosen
 * here, not by `-p 0`: moto's Step Functions interpreter calls back into its own server at
 * `localhost:$MOTO_PORT`, which `moto_server` sets from `-p`.
 */
export async function startMotoServer(options: { startTimeoutMs?: number } = {}): Promise<MotoServer> {
  const { command, args } = motoCommand();
  const port = await freePort();
  const child: ChildProcess = spawn(command, [...args, "-H", "127.0.0.1", "-p", String(port)], {
    env: { ...process.env, MOTO_PORT: String(port), PYTHONUNBUFFERED: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let log = "";
  const keep = (chunk: Buffer) => {
    // The request log grows with every call; keep its tail.
    log = (log + chunk.toString()).slice(-256_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  for (;;) {
    const failed = await Promise.race([spawnError, sleep(0).then(() => undefined)]);
    if (failed) throw new MotoUnavailableError(`could not start ${command}: ${failed.message}`);
    if (child.exitCode !== null) {
      throw new MotoUnavailableError(
        `${command} exited with ${child.exitCode} before answering: ${log.trim().slice(-2000)}\n${MOTO_INSTALL_HINT}`,
      );
    }
    try {
      // moto's own management API: answers once the server is up.
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new MotoUnavailableError(`${command} did not answer on ${endpoint}: ${log.trim().slice(-2000)}`);
    }
    await sleep(50);
  }
  return {
    endpoint,
    port,
    output: () => log,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Sets moto's configuration (`POST /moto-api/config`). The one setting used here:
 * `stepfunctions.execute_state_machine`, without which moto records executions but runs no state.
 */
export async function configureMoto(endpoint: string, config: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${endpoint}/moto-api/config`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(config),
  });
  if (!response.ok)
    throw new Error(`moto refused its configuration: ${response.status} ${await response.text()}`);
}
