/**
 * The `reverie` command (package.json `bin` → infra/cli/reverie.mjs → here): parses
 * `reverie <command> [args] [flags]`, runs the command against the stack through the official SDK,
 * and exits with a code scripts can branch on (cli-context.ts `ExitCode`).
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import {
  type CliContext,
  CliError,
  cliErrorOf,
  createContext,
  ExitCode,
  type GlobalFlags,
  globalOptions,
  type Io,
  UsageError,
} from "./cli-context.js";
import { dreamsReview, dreamsReviewOptions } from "./dreams-commands.js";
import { keysCreate, keysCreateOptions } from "./keys-commands.js";
import { sessionsLs, sessionsLsOptions, sessionsTail, sessionsTailOptions } from "./sessions-commands.js";
import { worker, workerOptions } from "./worker-command.js";

export const USAGE = `reverie — the command line of Reverie (Claude Managed Agents, self-hosted)

Usage: reverie <command> [arguments] [flags]

Commands:
  sessions ls [--limit N] [--status S]... [--agent agent_…]
                                 list sessions, newest first
  sessions tail <sesn_…> [--follow] [--no-threads]
                                 print a session's events, then follow it live until its turn
                                 ends (--follow: until Ctrl-C); threads are indented under it
  dreams review <drm_…> [--accept PATH]... [--reject PATH]... [--accept-all] [--wait]
                                 show a dream's changes as diffs, accept or reject each, apply
  keys create --environment env_… [--name N]
                                 an environment key for a self-hosted environment (via the API)
  keys create --local [--data-dir DIR] [--workspace wrkspc_…]
                                 a workspace API key in the embedded stack's data dir (stack stopped)
  keys create --table <ResourcesTableName> [--region R] [--workspace wrkspc_…]
                                 a workspace API key for a deployed stack (AWS credentials)
  worker --environment env_… [--environment-key K] [--workdir DIR] [--worker-id ID] [--for SECONDS]
                                 serve a self-hosted environment with the SDK's EnvironmentWorker

Flags for every command:
  --base-url URL     the stack (REVERIE_BASE_URL; default http://127.0.0.1:8787, the embedded stack)
  --api-key KEY      the workspace API key (REVERIE_API_KEY; default: <data dir>/api-key)
  --data-dir DIR     the embedded stack's data dir (REVERIE_DATA_DIR; default .reverie)
  --json             machine-readable output on stdout (JSON; one line per event for tail)
  -h, --help         this help

Exit codes: 0 ok · 1 failed · 2 usage · 3 authentication/permission · 4 not found ·
            5 cannot reach the stack · 6 finished unsettled (turn ended in an error, apply conflicts)
`;

type Options = NonNullable<ParseArgsConfig["options"]>;

interface Command {
  options: Options;
  /** How many positional arguments it takes after its name. */
  positionals: number;
  run(
    ctx: CliContext,
    values: Record<string, unknown>,
    args: string[],
    signal: AbortSignal,
  ): Promise<ExitCode>;
}

const commands: Record<string, Command> = {
  "sessions ls": {
    options: sessionsLsOptions,
    positionals: 0,
    run: (ctx, values) => sessionsLs(ctx, values),
  },
  "sessions tail": {
    options: sessionsTailOptions,
    positionals: 1,
    run: (ctx, values, args, signal) => sessionsTail(ctx, args[0], values, signal),
  },
  "dreams review": {
    options: dreamsReviewOptions,
    positionals: 1,
    run: (ctx, values, args, signal) => dreamsReview(ctx, args[0], values, signal),
  },
  "keys create": {
    options: keysCreateOptions,
    positionals: 0,
    run: (ctx, values) => keysCreate(ctx, values),
  },
  worker: {
    options: workerOptions,
    positionals: 0,
    run: (ctx, values, _args, signal) => worker(ctx, values, signal),
  },
};

/** Runs the CLI over `argv` (without node and the script) and resolves with the exit code. */
export async function main(argv: string[], io: Io, signal: AbortSignal): Promise<ExitCode> {
  // The command's words come first: `reverie sessions tail sesn_… --json`.
  const pair = `${argv[0]} ${argv[1]}`;
  const name = commands[pair] ? pair : (argv[0] ?? "");
  const command = commands[name];
  const json = argv.includes("--json");
  if (!command) {
    if (argv.length === 0 || argv.includes("--help") || argv.includes("-h")) {
      io.stdout.write(USAGE);
      return argv.length === 0 ? ExitCode.usage : ExitCode.ok;
    }
    const asked = argv
      .filter((a) => !a.startsWith("-"))
      .slice(0, 2)
      .join(" ");
    return report(new UsageError(`unknown command: ${asked || argv.join(" ")}`), io, json);
  }
  let ctx: CliContext | undefined;
  try {
    const rest = argv.slice(name.split(" ").length);
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({
        args: rest,
        options: { ...globalOptions, ...command.options },
        allowPositionals: true,
        strict: true,
      });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const values = parsed.values as Record<string, unknown> & GlobalFlags & { help?: boolean };
    if (values.help) {
      io.stdout.write(USAGE);
      return ExitCode.ok;
    }
    if (parsed.positionals.length > command.positionals)
      throw new UsageError(`${name}: unexpected argument ${parsed.positionals[command.positionals]}`);
    ctx = createContext(values, io);
    return await command.run(ctx, values, parsed.positionals, signal);
  } catch (error) {
    return report(cliErrorOf(error, ctx?.baseURL ?? "the stack"), io, json);
  }
}

/** Says what went wrong — one line on stderr, or an error object on stdout with `--json`. */
function report(error: CliError, io: Io, json: boolean): ExitCode {
  if (json)
    io.stdout.write(
      `${JSON.stringify({ type: "error", error: { type: error.type, message: error.message }, exit_code: error.exitCode })}\n`,
    );
  io.stderr.write(`reverie: ${error.message}\n`);
  if (error.exitCode === ExitCode.usage) io.stderr.write("(reverie --help lists the commands)\n");
  return error.exitCode;
}

/** Runs as the program: Ctrl-C / SIGTERM stop long-running commands cleanly, a second one at once. */
export async function runAsProgram(): Promise<void> {
  const stop = new AbortController();
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.on(sig, () => {
      if (stop.signal.aborted) process.exit(130);
      stop.abort();
    });
  const code = await main(
    process.argv.slice(2),
    { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env },
    stop.signal,
  );
  process.exitCode = code;
  // Open sockets (an SSE stream's keep-alive) must not hold the process after the command is done.
  setTimeout(() => process.exit(code), 200).unref();
}

export { CliError };
