/**
 * The quirk gym's report: completion per condition and per position in the sequence, per family,
 * tokens and list-price cost, and an SVG chart of completion against session index. With the
 * simulated model every line says it is a mechanism check.
 */
import { listCostUsd } from "../../shared/core/runtime/budget.js";
import { GYM_CONDITIONS, type GymCondition, type GymResult, type Usage } from "./quirk-gym.js";

export interface ReportContext {
  /** The model id, as printed with the results. */
  model: string;
  /** true with the simulated model: every line is marked a mechanism check. */
  simulated: boolean;
  sessions: number;
  dreamEvery: number;
  /** Family id → the kind of quirk it has (for the table). */
  quirks: ReadonlyMap<string, string>;
}

const pct = (n: number, d: number) => (d === 0 ? "—" : `${Math.round((100 * n) / d)}%`);

function add(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens,
    cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
  };
}

const none: Usage = {
  input_tokens: 0,
  output_tokens: 0,
  cache_read_input_tokens: 0,
  cache_creation_input_tokens: 0,
};

function costOf(model: string, u: Usage): number {
  return listCostUsd(model, {
    input_tokens: u.input_tokens,
    output_tokens: u.output_tokens,
    cache_read_input_tokens: u.cache_read_input_tokens,
    cache_creation: {
      ephemeral_5m_input_tokens: u.cache_creation_input_tokens,
      ephemeral_1h_input_tokens: 0,
    },
  });
}

/** Completion rate per condition at each session index (across families), 0–1. */
export function completionByIndex(result: GymResult, sessions: number): Record<GymCondition, number[]> {
  const out = {} as Record<GymCondition, number[]>;
  for (const condition of GYM_CONDITIONS) {
    out[condition] = Array.from({ length: sessions }, (_, i) => {
      const at = result.sessions.filter((s) => s.condition === condition && s.index === i + 1);
      return at.length === 0 ? Number.NaN : at.filter((s) => s.completed).length / at.length;
    });
  }
  return out;
}

/** The report as lines of text (markdown tables), each marked when the model is simulated. */
export function reportLines(result: GymResult, context: ReportContext): string[] {
  const mark = context.simulated ? "[mechanism check: simulated model] " : "";
  const lines: string[] = [];
  const say = (line: string) => lines.push(`${mark}${line}`);
  const conditions = GYM_CONDITIONS.filter((c) => result.sessions.some((s) => s.condition === c));
  const families = [...new Set(result.sessions.map((s) => s.family))];
  say(
    `Quirk gym — model: ${context.model}; ${families.length} families × ${conditions.length} conditions × ${context.sessions} sessions; dreaming every ${context.dreamEvery} sessions`,
  );
  if (context.simulated)
    say(
      "The simulated agent follows notes of a form it can parse: this shows a lesson travelling from a failure, through a dream, into the next session's memory — not that a model learns.",
    );
  say("");
  say(
    `| condition | completion | ${Array.from({ length: context.sessions }, (_, i) => `#${i + 1}`).join(" | ")} | tokens (sessions + dreams) | list cost (USD) |`,
  );
  say(`|---|---|${"---|".repeat(context.sessions)}---|---|`);
  const byIndex = completionByIndex(result, context.sessions);
  for (const condition of conditions) {
    const own = result.sessions.filter((s) => s.condition === condition);
    const dreams = result.dreams.filter((d) => d.condition === condition);
    const usage = [...own.map((s) => s.usage), ...dreams.map((d) => d.usage)].reduce(add, none);
    const tokens =
      usage.input_tokens +
      usage.output_tokens +
      usage.cache_read_input_tokens +
      usage.cache_creation_input_tokens;
    const dreamTokens = dreams.map((d) => d.usage).reduce(add, none);
    const dt =
      dreamTokens.input_tokens +
      dreamTokens.output_tokens +
      dreamTokens.cache_read_input_tokens +
      dreamTokens.cache_creation_input_tokens;
    say(
      `| ${condition} | ${pct(own.filter((s) => s.completed).length, own.length)} | ${byIndex[condition].map((r) => (Number.isNaN(r) ? "—" : `${Math.round(r * 100)}%`)).join(" | ")} | ${tokens.toLocaleString("en-US")} (${dt.toLocaleString("en-US")} in ${dreams.length} dreams) | ${costOf(context.model, usage).toFixed(4)} |`,
    );
  }
  say("");
  say(`| family | quirk | ${conditions.join(" | ")} |`);
  say(`|---|---|${"---|".repeat(conditions.length)}`);
  for (const family of families) {
    const quirk = context.quirks.get(family) ?? "";
    const cells = conditions.map((condition) => {
      const own = result.sessions.filter((s) => s.family === family && s.condition === condition);
      return `${own.filter((s) => s.completed).length}/${own.length}`;
    });
    say(`| ${family} | ${quirk} | ${cells.join(" | ")} |`);
  }
  const failedDreams = result.dreams.filter((d) => d.status !== "completed");
  if (failedDreams.length > 0) {
    say("");
    for (const d of failedDreams)
      say(
        `dream ${d.dreamId} (${d.family}, ${d.condition}, after #${d.after}): ${d.status} ${d.error ?? ""}`,
      );
  }
  return lines;
}

const COLORS: Record<GymCondition, string> = {
  "no-memory": "#888888",
  memory: "#1f77b4",
  dreaming: "#d62728",
  "dreaming+outcomes": "#2ca02c",
};

const DASHES: Record<GymCondition, string> = {
  "no-memory": ' stroke-dasharray="6 4"',
  memory: "",
  dreaming: "",
  "dreaming+outcomes": ' stroke-dasharray="2 3"',
};

/** An SVG line chart: completion rate (across families) against session index, one line per condition. */
export function completionChart(result: GymResult, context: ReportContext): string {
  const width = 720;
  const height = 420;
  const left = 60;
  const right = 190;
  const top = 50;
  const bottom = 50;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const n = context.sessions;
  const x = (i: number) => left + (n === 1 ? plotW / 2 : (i * plotW) / (n - 1));
  const y = (r: number) => top + plotH - r * plotH;
  const byIndex = completionByIndex(result, n);
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  const title = `Quirk gym: completion by session index — ${context.model}${context.simulated ? " (mechanism check)" : ""}`;
  parts.push(`<title>${escapeXml(title)}</title>`);
  parts.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  parts.push(`<text x="${left}" y="24" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  for (const r of [0, 0.25, 0.5, 0.75, 1]) {
    parts.push(`<line x1="${left}" y1="${y(r)}" x2="${left + plotW}" y2="${y(r)}" stroke="#dddddd"/>`);
    parts.push(`<text x="${left - 8}" y="${y(r) + 4}" text-anchor="end">${Math.round(r * 100)}%</text>`);
  }
  for (let i = 0; i < n; i++)
    parts.push(`<text x="${x(i)}" y="${top + plotH + 18}" text-anchor="middle">${i + 1}</text>`);
  parts.push(
    `<text x="${left + plotW / 2}" y="${height - 10}" text-anchor="middle">session index (dream after every ${context.dreamEvery})</text>`,
  );
  parts.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + plotH}" stroke="#333333"/>`);
  parts.push(
    `<line x1="${left}" y1="${top + plotH}" x2="${left + plotW}" y2="${top + plotH}" stroke="#333333"/>`,
  );
  let legend = top + 10;
  for (const [k, condition] of GYM_CONDITIONS.entries()) {
    const rates = byIndex[condition];
    if (rates.every((r) => Number.isNaN(r))) continue;
    // Lines that share values are drawn a few pixels apart, so none hides another.
    const shift = (k - 1.5) * 3;
    const points = rates
      .map((r, i) => (Number.isNaN(r) ? undefined : `${x(i).toFixed(1)},${(y(r) + shift).toFixed(1)}`))
      .filter(Boolean)
      .join(" ");
    const dash = DASHES[condition];
    parts.push(
      `<polyline fill="none" stroke="${COLORS[condition]}" stroke-width="2.5"${dash} points="${points}"/>`,
    );
    for (const [i, r] of rates.entries())
      if (!Number.isNaN(r))
        parts.push(`<circle cx="${x(i)}" cy="${y(r)}" r="3" fill="${COLORS[condition]}"/>`);
    parts.push(
      `<line x1="${left + plotW + 20}" y1="${legend}" x2="${left + plotW + 44}" y2="${legend}" stroke="${COLORS[condition]}" stroke-width="3"${dash}/>`,
    );
    parts.push(`<text x="${left + plotW + 50}" y="${legend + 4}">${escapeXml(condition)}</text>`);
    legend += 22;
  }
  parts.push("</svg>");
  return parts.join("\n");
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}
