/** `npm start`: the embedded stack on 127.0.0.1:$PORT with a banner; Ctrl-C stops it cleanly. */
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError, loadConfig } from "../../shared/runtime/config.js";
import { DataDirInUseError, lockDataDir } from "./data-dir-lock.js";
import { type EmbeddedStack, startEmbeddedStack } from "./embedded-stack.js";

/** A start-up failure a user can fix, said in one line (no stack trace). */
function fail(message: string): never {
  process.stderr.write(`reverie: ${message}\n`);
  process.exit(1);
}

let stack: EmbeddedStack;
let dataDir: string;
let unlock: () => void = () => {};
try {
  const config = loadConfig();
  dataDir = resolve(config.REVERIE_DATA_DIR);
  mkdirSync(dataDir, { recursive: true });
  unlock = lockDataDir(dataDir);
  try {
    stack = await startEmbeddedStack({ config, dataDir });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EADDRINUSE")
      fail(`port ${config.PORT} on ${config.REVERIE_HOST} is in use: stop what listens there, or set PORT`);
    throw error;
  }
} catch (error) {
  unlock();
  if (error instanceof ConfigError || error instanceof DataDirInUseError) fail(error.message);
  throw error;
}

const provider = stack.services.deps.model.name;
process.stdout.write(
  `${[
    "",
    "  Reverie — Claude Managed Agents API, embedded stack",
    `  URL        ${stack.url}`,
    `  Console    ${stack.consoleUrl}`,
    `  API key    ${stack.apiKey}`,
    `  Model      ${provider}${provider === "simulated" ? " (offline stand-in: set ANTHROPIC_API_KEY for Claude)" : ""}`,
    `  Data dir   ${dataDir} (${stack.store.kind === "sqlite" ? "SQLite" : "dynalite"}${stack.store.note ? `: ${stack.store.note}` : ""})`,
    `  bash       ${stack.bash.available ? "sandboxed (bubblewrap): offered in cloud environments" : `not offered: ${stack.bash.reason}`}`,
    "",
    `  new Anthropic({ baseURL: "${stack.url}", apiKey: "${stack.apiKey}" })`,
    "",
  ].join("\n")}\n`,
);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("\nstopping…\n");
    stack.stop().then(
      () => {
        unlock();
        process.exit(0);
      },
      () => process.exit(1),
    );
  });
}
