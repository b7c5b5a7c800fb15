/**
 * The web console's static assets (issue 14): the browser app under `app/` bundled by esbuild into one
 * script, with its page and stylesheet, held in memory. The embedded stack builds them on the first
 * request for `/console/`; the CDK stack builds them at synth into the console function's asset
 * (infra/aws/reverie-console.ts). Both serve them with `serveConsoleAsset` (console-http.ts).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { BuildOptions } from "esbuild";
import type { ConsoleAsset, ConsoleAssets } from "./console-http.js";

export { type ConsoleAssets, isConsolePath, serveConsoleAsset } from "./console-http.js";

const here = dirname(fileURLToPath(import.meta.url));

/** The console could not be built (esbuild missing or the app does not compile). */
export class ConsoleBuildError extends Error {
  override name = "ConsoleBuildError";
}

const asset = (body: string, contentType: string): ConsoleAsset => ({
  body,
  contentType,
  etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
});

/** The browser bundle: one minified ES2022 module, everything inlined, nothing fetched. */
const appBuild: BuildOptions = {
  entryPoints: [join(here, "app", "main.ts")],
  bundle: true,
  write: false,
  format: "esm",
  target: "es2022",
  platform: "browser",
  minify: true,
  legalComments: "none",
  logLevel: "silent",
};

/** The page and stylesheet around a built script; the page names each file by content hash. */
function assemble(script: string): ConsoleAssets {
  const app = asset(script, "text/javascript; charset=utf-8");
  const styles = asset(readFileSync(join(here, "console.css"), "utf8"), "text/css; charset=utf-8");
  const page = readFileSync(join(here, "index.html"), "utf8")
    .replace("app.js", `app.js?v=${app.etag.slice(1, 13)}`)
    .replace("console.css", `console.css?v=${styles.etag.slice(1, 13)}`);
  return { "index.html": asset(page, "text/html; charset=utf-8"), "app.js": app, "console.css": styles };
}

async function loadEsbuild(): Promise<typeof import("esbuild")> {
  try {
    return await import("esbuild");
  } catch (error) {
    throw new ConsoleBuildError("esbuild is not installed: run npm ci to build the console", {
      cause: error,
    });
  }
}

/** Builds the console (embedded stack: on the first request for it). */
export async function buildConsoleAssets(): Promise<ConsoleAssets> {
  const esbuild = await loadEsbuild();
  try {
    const result = await esbuild.build(appBuild);
    return assemble(result.outputFiles?.[0]?.text ?? "");
  } catch (error) {
    throw new ConsoleBuildError(`the console app does not build: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * The console Lambda function's code, built synchronously (CDK constructs are synchronous): the
 * handler (functions/console.ts) bundled to `index.mjs`, and the assets beside it as
 * `console-assets.json`, which the handler reads once per container.
 */
export function buildConsoleFunctionFiles(esbuild: typeof import("esbuild")): Record<string, string> {
  try {
    const assets = assemble(esbuild.buildSync(appBuild).outputFiles?.[0]?.text ?? "");
    const handler = esbuild.buildSync({
      entryPoints: [join(here, "..", "..", "functions", "console.ts")],
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node24",
      minify: true,
      legalComments: "none",
      logLevel: "silent",
    });
    return {
      "index.mjs": handler.outputFiles?.[0]?.text ?? "",
      "console-assets.json": JSON.stringify(assets),
    };
  } catch (error) {
    throw new ConsoleBuildError(`the console does not build: ${(error as Error).message}`, { cause: error });
  }
}
