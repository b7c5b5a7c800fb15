/**
 * The guards a dream's result passes before anything lands without a human: pure functions over the
 * input store's contents (before) and the dream's output (after).
 *
 * - conservation: refuse to drop more than a configured share of the store's content, or to empty a
 *   file that had content — consolidation must not silently wipe memory;
 * - poisoning: a file derived from tainted sources whose new lines read like an instruction is moved
 *   under `/quarantine/` in the output and needs review (DESIGN.md §7);
 * - the change set: a per-file diff (unified patch) with the rationale and evidence the dreamer gave.
 *
 * A dream whose result fails a guard ends in review instead of landing.
 */
import { createHash } from "node:crypto";
import { createTwoFilesPatch, diffLines } from "diff";
import { defaultInstructionDetector, type InstructionDetector } from "./poisoning.js";
import type { Evidence } from "./pre-pass.js";

/** A memory as the guards see it. */
export interface StoreFile {
  path: string;
  content: string;
  /** The version came from (or after) untrusted content: tool output, files, fetched pages. */
  tainted?: boolean;
}

/** A file the dream wrote, with what it said about why. */
export interface DreamedFile extends StoreFile {
  rationale?: string;
  evidence?: Evidence[];
  /** Input paths whose content this file was built from (a merge names every source). */
  derivedFrom?: string[];
}

export const QUARANTINE_PREFIX = "/quarantine";

export interface GuardOptions {
  /** Largest share (0–1) of the input's content the output may drop before the dream needs review. */
  maxDroppedShare: number;
  detector?: InstructionDetector;
}

export const defaultGuardOptions: GuardOptions = { maxDroppedShare: 0.3 };

export type FileChangeKind = "added" | "modified" | "deleted" | "quarantined";

/** One file's change: what the review endpoint shows and what apply acts on. */
export interface FileChange {
  path: string;
  change: FileChangeKind;
  /** Hash of the input store's content the dream read (null when the file is new). */
  before_sha256: string | null;
  /** Hash of the proposed content (null when deleted). */
  after_sha256: string | null;
  additions: number;
  deletions: number;
  /** Unified diff against the input store. */
  diff: string;
  rationale: string | null;
  evidence: Evidence[];
  tainted: boolean;
}

export interface GuardViolation {
  guard: "conservation" | "poisoning" | "rubric";
  path: string | null;
  message: string;
}

export interface GuardVerdict {
  /** True when the output may land without review. */
  passed: boolean;
  violations: GuardViolation[];
  /** The output after the poisoning gate: quarantined files moved under `/quarantine/`. */
  output: DreamedFile[];
  changes: FileChange[];
  /** Bytes of content in the input store and in the guarded output (quarantine excluded). */
  bytesBefore: number;
  bytesAfter: number;
}

export function sha256(content: string): string {
  return createHash("sha256").update(content, "utf8").digest("hex");
}

/** Runs every guard over a dream's output; pure. */
export function guardDream(
  before: readonly StoreFile[],
  after: readonly DreamedFile[],
  options: GuardOptions = defaultGuardOptions,
): GuardVerdict {
  const detector = options.detector ?? defaultInstructionDetector;
  const inputs = new Map(before.map((f) => [f.path, f]));
  const violations: GuardViolation[] = [];

  // Poisoning gate first: quarantined content is not live, so conservation judges what would land.
  const output: DreamedFile[] = [];
  const quarantinedFrom = new Set<string>();
  for (const file of after) {
    if (isQuarantined(file.path)) {
      output.push(file);
      continue;
    }
    const previous = inputs.get(file.path);
    const tainted = isTainted(file, inputs);
    const added = addedText(previous?.content ?? "", file.content);
    if (tainted && added.length > 0 && detector.isInstructionLike(added)) {
      quarantinedFrom.add(file.path);
      output.push({ ...file, path: quarantinePath(file.path), tainted: true });
      violations.push({
        guard: "poisoning",
        path: file.path,
        message: `${file.path}: instruction-like content derived from untrusted sources was quarantined`,
      });
      // The live path keeps what the input store had: quarantine never destroys the original.
      if (previous) output.push({ ...previous });
    } else {
      output.push({ ...file, tainted });
    }
  }

  const live = output.filter((f) => !isQuarantined(f.path));
  const liveByPath = new Map(live.map((f) => [f.path, f]));
  const bytesBefore = sum(before.map((f) => byteLength(f.content)));
  const bytesAfter = sum(live.map((f) => byteLength(f.content)));
  const dropped = bytesBefore === 0 ? 0 : Math.max(0, bytesBefore - bytesAfter) / bytesBefore;
  if (dropped > options.maxDroppedShare) {
    violations.push({
      guard: "conservation",
      path: null,
      message: `the output drops ${Math.round(dropped * 100)}% of the store's content (limit ${Math.round(options.maxDroppedShare * 100)}%)`,
    });
  }
  for (const file of before) {
    const next = liveByPath.get(file.path);
    if (file.content.trim() !== "" && next !== undefined && next.content.trim() === "") {
      violations.push({
        guard: "conservation",
        path: file.path,
        message: `${file.path}: the output empties this file`,
      });
    }
  }

  return {
    passed: violations.length === 0,
    violations,
    output,
    changes: changeSet(before, output),
    bytesBefore,
    bytesAfter,
  };
}

/** The per-file change set of an output against its input store, sorted by path. */
export function changeSet(before: readonly StoreFile[], after: readonly DreamedFile[]): FileChange[] {
  const inputs = new Map(before.map((f) => [f.path, f]));
  const outputs = new Map(after.map((f) => [f.path, f]));
  const changes: FileChange[] = [];
  for (const file of after) {
    const previous = inputs.get(file.path);
    if (previous && previous.content === file.content) continue;
    const quarantined = isQuarantined(file.path);
    const { additions, deletions } = lineCounts(previous?.content ?? "", file.content);
    changes.push({
      path: file.path,
      change: quarantined ? "quarantined" : previous ? "modified" : "added",
      before_sha256: previous ? sha256(previous.content) : null,
      after_sha256: sha256(file.content),
      additions,
      deletions,
      diff: createTwoFilesPatch(file.path, file.path, previous?.content ?? "", file.content),
      rationale: file.rationale ?? null,
      evidence: file.evidence ?? [],
      tainted: file.tainted === true,
    });
  }
  for (const file of before) {
    if (outputs.has(file.path)) continue;
    const mergedInto = after.find((f) => f.derivedFrom?.includes(file.path) && !isQuarantined(f.path));
    changes.push({
      path: file.path,
      change: "deleted",
      before_sha256: sha256(file.content),
      after_sha256: null,
      additions: 0,
      deletions: lineCounts(file.content, "").deletions,
      diff: createTwoFilesPatch(file.path, file.path, file.content, ""),
      rationale: mergedInto ? `merged into ${mergedInto.path}` : null,
      evidence: mergedInto?.evidence ?? [],
      tainted: file.tainted === true,
    });
  }
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export function isQuarantined(path: string): boolean {
  return path === QUARANTINE_PREFIX || path.startsWith(`${QUARANTINE_PREFIX}/`);
}

export function quarantinePath(path: string): string {
  return `${QUARANTINE_PREFIX}${path.startsWith("/") ? "" : "/"}${path}`;
}

/**
 * A dreamed file is tainted when it says so, when it was built from a tainted input, or when an
 * input at its own path was tainted (an edit of a tainted memory inherits the taint).
 */
function isTainted(file: DreamedFile, inputs: Map<string, StoreFile>): boolean {
  if (file.tainted) return true;
  if (inputs.get(file.path)?.tainted) return true;
  return (file.derivedFrom ?? []).some((path) => inputs.get(path)?.tainted === true);
}

function addedText(before: string, after: string): string {
  return diffLines(before, after)
    .filter((part) => part.added)
    .map((part) => part.value)
    .join("");
}

function lineCounts(before: string, after: string): { additions: number; deletions: number } {
  let additions = 0;
  let deletions = 0;
  for (const part of diffLines(before, after)) {
    if (part.added) additions += part.count ?? 0;
    if (part.removed) deletions += part.count ?? 0;
  }
  return { additions, deletions };
}

function byteLength(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
