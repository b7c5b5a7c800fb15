/**
 * What every `reverie` command shares: where the stack is and which key to send (flags, then
 * environment, then the embedded stack's defaults), the official SDK client pointed at it, output
 * for people or for scripts (`--json`), and the exit codes.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";

/** The embedded stack's address (`npm start`). */
export const DEFAULT_BASE_URL = "http://127.0.0.1:8787";

/**
 * Exit codes (documented in README): scripts branch on these rather than on messages.
 * `unsettled` is a command that ran but whose subject did not end cleanly (a tailed turn that
 * ended in an error, a dream apply with conflicts).
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  auth: 3,
  notFound: 4,
  unreachable: 5,
  unsettled: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A failure the CLI reports in one line (or as JSON) and exits with. */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    readonly type = "cli_error",
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A mistake in how the command was called (exit 2, with a pointer to `--help`). */
export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string) {
    super(message, ExitCode.usage, "usage_error");
  }
}

/** The flags every command takes. */
export const globalOptions = {
  "base-url": { type: "string" },
  "api-key": { type: "string" },
  "data-dir": { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

export interface GlobalFlags {
  "base-url"?: string;
  "api-key"?: string;
  "data-dir"?: string;
  json?: boolean;
}

/** Where output goes; tests and the commands write through this, never `console.*`. */
export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export interface CliContext {
  io: Io;
  json: boolean;
  baseURL: string;
  /** The SDK client, built on first use (so `--help` and `keys create --local` need no key). */
  client(): Anthropic;
  /** Writes one line for people to stdout (nothing in `--json` mode). */
  say(line: string): void;
  /** Writes a value as one JSON line to stdout. */
  emit(value: unknown): void;
  /** A note for people on stderr (progress, prompts, warnings). */
  note(line: string): void;
}

/** The API key: `--api-key`, `REVERIE_API_KEY`, else the embedded stack's saved key in its data dir. */
function apiKeyOf(flags: GlobalFlags, env: NodeJS.ProcessEnv): string | undefined {
  if (flags["api-key"]) return flags["api-key"];
  if (env.REVERIE_API_KEY) return env.REVERIE_API_KEY;
  const dataDir = flags["data-dir"] ?? env.REVERIE_DATA_DIR ?? ".reverie";
  try {
    return readFileSync(join(dataDir, "api-key"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function createContext(flags: GlobalFlags, io: Io): CliContext {
  let baseURL = flags["base-url"] ?? io.env.REVERIE_BASE_URL ?? DEFAULT_BASE_URL;
  while (baseURL.endsWith("/")) baseURL = baseURL.slice(0, -1);
  let client: Anthropic | undefined;
  const json = flags.json === true;
  return {
    io,
    json,
    baseURL,
    client() {
      if (client) return client;
      const apiKey = apiKeyOf(flags, io.env);
      if (!apiKey)
        throw new CliError(
          "no API key: pass --api-key or set REVERIE_API_KEY (the embedded stack's banner prints it)",
          ExitCode.auth,
          "authentication_error",
        );
      client = new Anthropic({ baseURL, apiKey, maxRetries: 1, timeout: 60_000 });
      return client;
    },
    say(line) {
      if (!json) io.stdout.write(`${line}\n`);
    },
    emit(value) {
      io.stdout.write(`${JSON.stringify(value)}\n`);
    },
    note(line) {
      io.stderr.write(`${line}\n`);
    },
  };
}

/** Maps an SDK error (or anything thrown) to the CLI's message, error type and exit code. */
export function cliErrorOf(error: unknown, baseURL: string): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof Anthropic.APIConnectionError)
    return new CliError(
      `cannot reach ${baseURL}: ${error.message} (is the stack running? set --base-url or REVERIE_BASE_URL)`,
      ExitCode.unreachable,
      "connection_error",
      { cause: error },
    );
  if (error instanceof Anthropic.APIError) {
    const body = error.error as { error?: { type?: string; message?: string } } | undefined;
    const type = body?.error?.type ?? "api_error";
    const message = body?.error?.message ?? error.message;
    const code =
      error.status === 401 || error.status === 403
        ? ExitCode.auth
        : error.status === 404
          ? ExitCode.notFound
          : ExitCode.failed;
    return new CliError(`${message} (${error.status} ${type})`, code, type, { cause: error });
  }
  return new CliError(String((error as Error)?.message ?? error), ExitCode.failed, "internal_error", {
    cause: error,
  });
}

/** "3m ago", "2h ago", "5d ago" from an RFC 3339 time. */
export function age(iso: string, now = Date.now()): string {
  const seconds = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  return `${Math.floor(seconds / 86_400)}d ago`;
}

/** Lays rows out in columns (two spaces apart), the last column unpadded. */
export function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows)
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}
