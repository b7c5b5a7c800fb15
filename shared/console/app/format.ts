/** Small formatting helpers for the console's views. */

/**
 * An API object read loosely: the console renders fields it knows and shows the rest as JSON, so
 * a field Reverie adds later never breaks a view.
 */
// biome-ignore lint/suspicious/noExplicitAny: API JSON is read field by field, defensively
export type Loose = Record<string, any>;

import { listCostUsd } from "./list-prices.js";

type Usage = {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number;
  cache_creation?: { ephemeral_5m_input_tokens?: number; ephemeral_1h_input_tokens?: number };
  list_cost?: { amount: string; currency: string } | null;
};

/** "3 s", "4 min", "2 h", "5 d" since an RFC 3339 time. */
export function age(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return "—";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h`;
  return `${Math.floor(s / 86_400)} d`;
}

export function count(n: number | undefined): string {
  return (n ?? 0).toLocaleString("en-US");
}

/** Tokens in → out, e.g. "1,204 → 310". */
export function tokens(usage: Usage | null | undefined): string {
  if (!usage) return "—";
  const cached = usage.cache_read_input_tokens ?? 0;
  return `${count((usage.input_tokens ?? 0) + cached)} → ${count(usage.output_tokens)}`;
}

/** List cost: the API's `list_cost` when it gives one, else computed at public list prices. */
export function cost(usage: Usage | null | undefined, model: string | undefined): string {
  if (!usage) return "—";
  if (usage.list_cost) return `$${Number(usage.list_cost.amount).toFixed(4)}`;
  return `$${listCostUsd(model ?? "", usage).toFixed(4)}`;
}

export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("en-GB", { hour12: false });
}

export function json(value: unknown): string {
  return JSON.stringify(value, null, 2);
}

/** Text of an SDK content array (text blocks joined; other blocks named). */
export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return content === undefined ? "" : json(content);
  return content
    .map((block: { type?: string; text?: string }) =>
      block?.type === "text" ? (block.text ?? "") : `[${block?.type ?? "block"}]`,
    )
    .join("\n");
}
