/**
 * `reverie worker`: serves a self-hosted environment with the SDK's own `EnvironmentWorker`
 * (`@anthropic-ai/sdk/lib/environments`), unchanged — it polls the environment's work queue, claims
 * a session, runs its tool calls (bash, read, write, edit, glob, grep) in `--workdir` and syncs its
 * memory stores — until Ctrl-C / SIGTERM (or `--for` seconds).
 */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { type CliContext, ExitCode, UsageError } from "./cli-context.js";

export const workerOptions = {
  environment: { type: "string" },
  "environment-key": { type: "string" },
  workdir: { type: "string" },
  "worker-id": { type: "string" },
  for: { type: "string" },
} as const;

type Flags = {
  environment?: string;
  "environment-key"?: string;
  workdir?: string;
  "worker-id"?: string;
  for?: string;
};

/**
 * The environment comes from `--environment` or `REVERIE_ENVIRONMENT_ID` / `ANTHROPIC_ENVIRONMENT_ID`,
 * its key from `--environment-key` or `REVERIE_ENVIRONMENT_KEY` / `ANTHROPIC_ENVIRONMENT_KEY` (the
 * worker needs no workspace API key). Exits 0 when stopped.
 */
export async function worker(ctx: CliContext, flags: Flags, signal: AbortSignal): Promise<ExitCode> {
  const env = ctx.io.env;
  const environmentId = flags.environment ?? env.REVERIE_ENVIRONMENT_ID ?? env.ANTHROPIC_ENVIRONMENT_ID;
  const environmentKey =
    flags["environment-key"] ?? env.REVERIE_ENVIRONMENT_KEY ?? env.ANTHROPIC_ENVIRONMENT_KEY;
  if (!environmentId) throw new UsageError("worker needs --environment env_… (or REVERIE_ENVIRONMENT_ID)");
  if (!environmentKey)
    throw new UsageError(
      "worker needs the environment's key: --environment-key, or REVERIE_ENVIRONMENT_KEY (`reverie keys create --environment …` makes one)",
    );
  const seconds = flags.for === undefined ? undefined : Number(flags.for);
  if (seconds !== undefined && !(seconds > 0)) throw new UsageError("--for: a number of seconds above 0");
  const workdir = resolve(flags.workdir ?? ".");
  mkdirSync(workdir, { recursive: true });
  // The environment key is the only credential: polling uses it, and each claimed session's calls
  // use the sessions token the work item carries.
  const client = new Anthropic({ baseURL: ctx.baseURL, apiKey: environmentKey });
  const stop = AbortSignal.any([signal, ...(seconds ? [AbortSignal.timeout(seconds * 1000)] : [])]);
  // `work.worker()` constructs the SDK's EnvironmentWorker (@anthropic-ai/sdk/lib/environments).
  const running = client.beta.environments.work.worker({
    environmentId,
    environmentKey,
    workdir,
    ...(flags["worker-id"] ? { workerId: flags["worker-id"] } : {}),
  });
  ctx.note(`worker: serving ${environmentId} at ${ctx.baseURL}, tools in ${workdir} (Ctrl-C stops)`);
  try {
    await running.run(stop);
  } catch (error) {
    if (!stop.aborted) throw error;
  }
  ctx.note("worker: stopped");
  return ExitCode.ok;
}
