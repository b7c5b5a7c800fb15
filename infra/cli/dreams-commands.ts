/**
 * `reverie dreams review <id>`: a dream's proposed memory changes as diffs in the terminal, each
 * accepted or rejected (asked one by one, or decided by flags), then the accepted ones applied with
 * the review extension (`GET /v1/dreams/{id}/changes`, `POST /v1/dreams/{id}/apply`). A rejected
 * change is simply not applied: it stays in the review and can be applied later.
 */
import { createInterface } from "node:readline";
import type Anthropic from "@anthropic-ai/sdk";
import { type CliContext, CliError, ExitCode, UsageError } from "./cli-context.js";

/** One proposed file change, as `GET /v1/dreams/{id}/changes` returns it. */
export interface DreamChange {
  type: "dream_change";
  path: string;
  target_path: string;
  change: "added" | "modified" | "deleted" | "quarantined";
  additions: number;
  deletions: number;
  diff: string;
  rationale: string | null;
  evidence: Array<{ session_id: string; event_ids: string[] }>;
  tainted: boolean;
  applied: string | null;
}

interface DreamChanges {
  data: DreamChange[];
  review: {
    state: "none" | "pending" | "applied";
    mode?: string;
    violations?: Array<{ guard: string; path: string | null; message: string }>;
  };
}

interface ApplyResult {
  type: "dream_apply_result";
  dream_id: string;
  results: Array<{ path: string; outcome: "applied" | "conflict" | "unchanged" | "not_found" }>;
}

export const dreamsReviewOptions = {
  accept: { type: "string", multiple: true },
  reject: { type: "string", multiple: true },
  "accept-all": { type: "boolean" },
  wait: { type: "boolean" },
} as const;

type Flags = { accept?: string[]; reject?: string[]; "accept-all"?: boolean; wait?: boolean };

const RUNNING = new Set(["pending", "running"]);

/**
 * Reviews a dream. Decisions come from `--accept PATH` / `--reject PATH` / `--accept-all`, and for
 * any change they leave open, from a y/n answer on stdin (end of input rejects). `--json` never
 * asks: without decision flags it prints the review and applies nothing. Exit 6 when an accepted
 * change met a conflict (the memory changed since the dream read it; nothing was overwritten).
 */
export async function dreamsReview(
  ctx: CliContext,
  dreamId: string | undefined,
  flags: Flags,
  signal: AbortSignal,
): Promise<ExitCode> {
  if (!dreamId) throw new UsageError("dreams review needs a dream id (drm_…)");
  const client = ctx.client();
  let dream = await client.beta.dreams.retrieve(dreamId);
  while (flags.wait && RUNNING.has(dream.status) && !signal.aborted) {
    ctx.note(`dream ${dreamId} is ${dream.status}; waiting…`);
    await new Promise((r) => setTimeout(r, 1000));
    dream = await client.beta.dreams.retrieve(dreamId);
  }
  if (dream.status !== "completed")
    throw new CliError(
      `dream ${dreamId} is ${dream.status}: only a completed dream has changes to review${RUNNING.has(dream.status) ? " (--wait waits for it)" : ""}`,
      ExitCode.failed,
      "invalid_request_error",
    );
  const review = (await client.get(`/v1/dreams/${encodeURIComponent(dreamId)}/changes`)) as DreamChanges;
  const open = review.data.filter((c) => c.applied === null);
  const decided = decisionsFrom(flags, review.data);
  const interactive = !ctx.json && !flags["accept-all"];

  if (!ctx.json) printReviewHeader(ctx, dream, review, open.length);
  if (review.review.state !== "pending" || open.length === 0) {
    if (ctx.json) ctx.emit({ dream_id: dreamId, review: review.review, changes: review.data, result: null });
    else ctx.say(review.review.state === "applied" ? "every change is applied" : "nothing waits for review");
    return ExitCode.ok;
  }

  const accepted: string[] = [];
  const answers = interactive ? lineReader(ctx) : undefined;
  try {
    for (const change of open) {
      if (!ctx.json) printChange(ctx, change);
      let verdict: "accept" | "reject" | "quit" | undefined = decided.get(change.path);
      if (verdict === undefined && answers) verdict = await ask(ctx, answers, change);
      if (verdict === "quit") {
        ctx.note("quit: nothing applied");
        return ExitCode.ok;
      }
      if (verdict === "accept") accepted.push(change.path);
      else if (!ctx.json) ctx.say(`  rejected ${change.path}`);
    }
  } finally {
    answers?.close();
  }

  if (accepted.length === 0) {
    if (ctx.json) ctx.emit({ dream_id: dreamId, review: review.review, changes: review.data, result: null });
    else ctx.say("nothing accepted: nothing applied");
    return ExitCode.ok;
  }
  const result = (await client.post(`/v1/dreams/${encodeURIComponent(dreamId)}/apply`, {
    body: { paths: accepted },
  })) as ApplyResult;
  if (ctx.json) ctx.emit({ dream_id: dreamId, review: review.review, changes: review.data, result });
  else for (const r of result.results) ctx.say(`${r.outcome.padEnd(9)} ${r.path}`);
  const conflicts = result.results.filter((r) => r.outcome === "conflict");
  if (conflicts.length > 0) {
    ctx.note(
      `${conflicts.length} change(s) conflicted: the memory changed since the dream read it, and was left as it is`,
    );
    return ExitCode.unsettled;
  }
  return ExitCode.ok;
}

/** The verdicts the flags give; a path the review does not hold is a usage error. */
function decisionsFrom(flags: Flags, changes: DreamChange[]): Map<string, "accept" | "reject"> {
  const known = new Set(changes.map((c) => c.path));
  const decided = new Map<string, "accept" | "reject">();
  for (const [list, verdict] of [
    [flags.accept ?? [], "accept"],
    [flags.reject ?? [], "reject"],
  ] as const) {
    for (const path of list) {
      if (!known.has(path))
        throw new UsageError(`--${verdict} ${path}: the dream proposes no change to that path`);
      if (decided.has(path) && decided.get(path) !== verdict)
        throw new UsageError(`${path} is both accepted and rejected`);
      decided.set(path, verdict);
    }
  }
  if (flags["accept-all"]) for (const c of changes) if (!decided.has(c.path)) decided.set(c.path, "accept");
  return decided;
}

/** Lines from stdin, one per answer (a terminal or a pipe alike). */
function lineReader(ctx: CliContext) {
  const rl = createInterface({ input: ctx.io.stdin, terminal: false });
  const lines = rl[Symbol.asyncIterator]();
  return {
    async next(): Promise<string | undefined> {
      const next = await lines.next();
      return next.done ? undefined : String(next.value);
    },
    close: () => rl.close(),
  };
}

async function ask(
  ctx: CliContext,
  answers: ReturnType<typeof lineReader>,
  change: DreamChange,
): Promise<"accept" | "reject" | "quit"> {
  for (;;) {
    ctx.io.stderr.write(`accept ${change.change} ${change.path}? [y]es / [n]o / [q]uit: `);
    const answer = await answers.next();
    if (answer === undefined) {
      ctx.note("(end of input: rejected)");
      return "reject";
    }
    const word = answer.trim().toLowerCase();
    if (word === "y" || word === "yes") return "accept";
    if (word === "n" || word === "no") return "reject";
    if (word === "q" || word === "quit") return "quit";
  }
}

function printReviewHeader(
  ctx: CliContext,
  dream: Anthropic.Beta.Dreams.BetaDream,
  review: DreamChanges,
  open: number,
) {
  ctx.say(
    `dream ${dream.id} (${dream.status}) — ${review.data.length} change(s), ${open} waiting for review`,
  );
  for (const v of review.review.violations ?? [])
    ctx.say(`  guard ${v.guard}${v.path ? ` on ${v.path}` : ""}: ${v.message}`);
}

const colors = { add: "\x1b[32m", del: "\x1b[31m", hunk: "\x1b[36m", dim: "\x1b[2m", off: "\x1b[0m" };

function printChange(ctx: CliContext, change: DreamChange) {
  const tty = ctx.io.stdout.isTTY === true;
  const paint = (color: keyof typeof colors, text: string) =>
    tty ? `${colors[color]}${text}${colors.off}` : text;
  ctx.say("");
  const target = change.target_path !== change.path ? ` → ${change.target_path}` : "";
  ctx.say(
    `${change.change.toUpperCase()} ${change.path}${target}  (+${change.additions} −${change.deletions})`,
  );
  if (change.tainted) ctx.say("  ⚠ derived from untrusted content (tool output, files or fetched pages)");
  if (change.rationale) ctx.say(`  why: ${change.rationale}`);
  for (const e of change.evidence)
    ctx.say(paint("dim", `  evidence: ${e.session_id} ${e.event_ids.join(", ")}`));
  for (const line of change.diff.split("\n")) {
    if (line.startsWith("+++") || line.startsWith("---")) ctx.say(paint("dim", line));
    else if (line.startsWith("+")) ctx.say(paint("add", line));
    else if (line.startsWith("-")) ctx.say(paint("del", line));
    else if (line.startsWith("@@")) ctx.say(paint("hunk", line));
    else ctx.say(line);
  }
}
