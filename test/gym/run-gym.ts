/**
 * `npm run gym`: the quirk gym, in full. With the simulated model (the default, offline) it is a
 * mechanism check and says so on every line; with ANTHROPIC_API_KEY it runs on that model
 * (GYM_MODEL, default claude-sonnet-4-6) and prints its id with the result.
 *
 * Knobs (env): GYM_SESSIONS (10), GYM_DREAM_EVERY (3), GYM_FAMILIES (comma-separated ids; all 8),
 * GYM_CONDITIONS (comma-separated; all 4), GYM_CONCURRENCY (8), GYM_OUT (test/gym/results).
 * Writes <out>/quirk-gym.md (the tables) and <out>/quirk-gym.svg (the chart).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { AnthropicModel } from "../../shared/adapters/model/anthropic-model.js";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import { startHarness } from "../fixtures/reverie-harness.js";
import { completionChart, reportLines } from "./gym-report.js";
import { QUIRK_FAMILIES } from "./quirk-families.js";
import { GYM_CONDITIONS, type GymCondition, runGym } from "./quirk-gym.js";

const env = process.env;
const apiKey = env.ANTHROPIC_API_KEY;
const simulated = !apiKey;
const model = simulated ? "claude-sonnet-4-6" : (env.GYM_MODEL ?? "claude-sonnet-4-6");
const sessions = Number(env.GYM_SESSIONS ?? 10);
const dreamEvery = Number(env.GYM_DREAM_EVERY ?? 3);
const families = env.GYM_FAMILIES
  ? QUIRK_FAMILIES.filter((f) => (env.GYM_FAMILIES as string).split(",").includes(f.id))
  : QUIRK_FAMILIES;
const conditions = env.GYM_CONDITIONS
  ? (env.GYM_CONDITIONS.split(",") as GymCondition[])
  : [...GYM_CONDITIONS];
const out = env.GYM_OUT ?? "test/gym/results";
const label = simulated ? "simulated (offline stand-in)" : model;

const h = await startHarness({
  model: simulated
    ? new SimulatedModel()
    : new AnthropicModel({ apiKey: apiKey as string, baseURL: env.ANTHROPIC_BASE_URL, timeoutMs: 120_000 }),
  env: { REVERIE_MODEL_TIMEOUT_SECONDS: "120" },
});
const started = Date.now();
try {
  const mark = simulated ? "[mechanism check: simulated model] " : "";
  console.log(`${mark}quirk gym on ${label}: ${families.length} families, ${conditions.join(", ")}`);
  const result = await runGym(h, {
    families,
    conditions,
    sessions,
    dreamEvery,
    model,
    plainTasks: !simulated,
    concurrency: Number(env.GYM_CONCURRENCY ?? 8),
    waitMs: simulated ? 120_000 : 900_000,
    log: (line) => console.log(`${mark}${line}`),
  });
  const context = {
    model: label,
    simulated,
    sessions,
    dreamEvery,
    quirks: new Map(families.map((f) => [f.id, f.quirk])),
  };
  const lines = reportLines(result, context);
  lines.push(
    `${simulated ? "[mechanism check: simulated model] " : ""}wall time: ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  console.log(`\n${lines.join("\n")}`);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, "quirk-gym.md"), `${lines.join("\n")}\n`);
  writeFileSync(join(out, "quirk-gym.svg"), completionChart(result, context));
  console.log(`\nwrote ${join(out, "quirk-gym.md")} and ${join(out, "quirk-gym.svg")}`);
} finally {
  await h.close();
}
