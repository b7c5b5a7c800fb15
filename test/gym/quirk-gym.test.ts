/**
 * The quirk gym's CI slice (mechanism only, simulated model): every family, every condition, four
 * sessions, a dream after every two. A lesson must travel from a failure, through a dream, into the
 * next sessions' memory and change what the agent does: completion with dreaming is higher than
 * without it on every family, and without memory it stays flat.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { completionByIndex, completionChart, reportLines } from "./gym-report.js";
import { QUIRK_FAMILIES } from "./quirk-families.js";
import { type GymResult, runGym } from "./quirk-gym.js";

const SESSIONS = 4;
const DREAM_EVERY = 2;
let h: Harness;
let result: GymResult;

beforeAll(async () => {
  h = await startHarness({ model: new SimulatedModel() });
  result = await runGym(h, {
    families: QUIRK_FAMILIES,
    sessions: SESSIONS,
    dreamEvery: DREAM_EVERY,
    model: "claude-sonnet-4-6",
    plainTasks: false,
    concurrency: 8,
  });
}, 120_000);
afterAll(async () => h.close());

const rate = (family: string, condition: string) => {
  const own = result.sessions.filter((s) => s.family === family && s.condition === condition);
  return own.filter((s) => s.completed).length / own.length;
};

describe("quirk gym (CI slice, mechanism check with the simulated model)", () => {
  it("has at least 8 families, every one run under the 4 conditions", () => {
    expect(QUIRK_FAMILIES.length).toBeGreaterThanOrEqual(8);
    expect(result.sessions).toHaveLength(QUIRK_FAMILIES.length * 4 * SESSIONS);
    expect(result.dreams.every((d) => d.status === "completed")).toBe(true);
  });

  it.each(QUIRK_FAMILIES.map((f) => [f.id]))("%s: completion with dreaming beats no dreaming", (family) => {
    for (const dreaming of ["dreaming", "dreaming+outcomes"]) {
      expect(rate(family, dreaming)).toBeGreaterThan(rate(family, "no-memory"));
      expect(rate(family, dreaming)).toBeGreaterThan(rate(family, "memory"));
    }
    // The lesson arrives after the first dream, and only then.
    const dreamt = result.sessions.filter((s) => s.family === family && s.condition === "dreaming");
    expect(dreamt.map((s) => s.completed)).toEqual([false, false, true, true]);
  });

  it("no-memory stays flat at every position", () => {
    const byIndex = completionByIndex(result, SESSIONS)["no-memory"];
    expect(new Set(byIndex).size).toBe(1);
  });

  it("reports tokens per condition and draws the chart, marked as a mechanism check", () => {
    const context = {
      model: "simulated",
      simulated: true,
      sessions: SESSIONS,
      dreamEvery: DREAM_EVERY,
      quirks: new Map(QUIRK_FAMILIES.map((f) => [f.id, f.quirk])),
    };
    const lines = reportLines(result, context);
    expect(lines.every((l) => l.startsWith("[mechanism check: simulated model]"))).toBe(true);
    expect(lines.join("\n")).toMatch(/\| dreaming \| 50% \|/);
    expect(result.dreams.every((d) => d.usage.input_tokens > 0)).toBe(true);
    expect(completionChart(result, context)).toMatch(/^<svg[\s\S]*polyline[\s\S]*<\/svg>$/);
  });
});
