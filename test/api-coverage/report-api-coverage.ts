/**
 * `npm run coverage:api`: which of the pinned SDK's Managed Agents endpoints the embedded stack
 * serves (the AWS API functions serve the same router). `-- --write` updates README.md's block.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { startEmbeddedStack } from "../../infra/local/embedded-stack.js";
import { loadConfig } from "../../shared/runtime/config.js";
import { coverage, coverageMarkdown, sdkEndpoints, sdkInfo, withCoverageBlock } from "./api-coverage.js";

const quiet = { info() {}, warn() {}, error() {} };
const stack = await startEmbeddedStack({
  config: loadConfig({ PORT: "0", REVERIE_LOG_LEVEL: "SILENT" }),
  port: 0,
  logger: quiet,
  sandbox: null,
});
try {
  const { version } = sdkInfo();
  const rows = coverage(sdkEndpoints(), stack.services.api?.router.list() ?? []);
  const width = Math.max(...rows.map((r) => r.call.length));
  for (const r of rows)
    console.log(`${r.served ? "✅" : "— "} ${r.call.padEnd(width)}  ${r.method} ${r.path}`);
  const served = rows.filter((r) => r.served).length;
  console.log(
    `\n@anthropic-ai/sdk ${version}: Reverie serves ${served} / ${rows.length} Managed Agents endpoints`,
  );
  if (process.argv.includes("--write")) {
    const readme = readFileSync("README.md", "utf8");
    writeFileSync("README.md", withCoverageBlock(readme, coverageMarkdown(rows, version)));
    console.log("README.md updated");
  }
} finally {
  await stack.stop();
}
