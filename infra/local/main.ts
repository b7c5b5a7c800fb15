/** `npm start`: the embedded stack on 127.0.0.1:$PORT with a banner; Ctrl-C stops it cleanly. */
import { resolve } from "node:path";
import { loadConfig } from "../../shared/runtime/config.js";
import { startEmbeddedStack } from "./embedded-stack.js";

const config = loadConfig();
const dataDir = resolve(config.REVERIE_DATA_DIR);
const stack = await startEmbeddedStack({ config, dataDir });

const provider = stack.services.deps.model.name;
process.stdout.write(
  `${[
    "",
    "  Reverie — Claude Managed Agents API, embedded stack",
    `  URL        ${stack.url}`,
    `  API key    ${stack.apiKey}`,
    `  Model      ${provider}${provider === "simulated" ? " (offline stand-in: set ANTHROPIC_API_KEY for Claude)" : ""}`,
    `  Data dir   ${dataDir}`,
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
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
