#!/usr/bin/env node
// The `reverie` command (package.json "bin"). Plain JavaScript, so that any Node can start it: on a
// Node older than 24 it hands over to the project's pinned Node 24 (the `node` devDependency) when
// that is installed, then runs the TypeScript entry (infra/cli/main.ts) through tsx, a dependency.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const major = Number(process.versions.node.split(".")[0]);
const pinnedNode = () => {
  try {
    const bin = join(dirname(createRequire(import.meta.url).resolve("node/package.json")), "bin", "node");
    return existsSync(bin) ? bin : undefined;
  } catch {
    return undefined;
  }
};
const handOver = major < 24 && !process.env.REVERIE_CLI_HANDED_OVER ? pinnedNode() : undefined;

if (handOver) {
  const child = spawn(
    handOver,
    [import.meta.filename ?? new URL(import.meta.url).pathname, ...process.argv.slice(2)],
    {
      stdio: "inherit",
      env: { ...process.env, REVERIE_CLI_HANDED_OVER: "1" },
    },
  );
  // The terminal sends Ctrl-C to both processes; a SIGTERM sent to this one is passed on.
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
  child.on("exit", (code, signal) => process.exit(code ?? (signal ? 128 + 2 : 1)));
} else {
  const { tsImport } = await import("tsx/esm/api");
  const { runAsProgram } = await tsImport("./main.ts", import.meta.url);
  await runAsProgram();
}
