/**
 * A dream's answer as the guards read it — writes and deletes, each with a rationale and evidence —
 * and the output store it describes. The agentic dreamer's draft and finish_dream answer are turned
 * into this shape (dream-runner.ts `pinAnswer`), so the guards and the review see one form whatever
 * produced it.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import { memoryPathProblem } from "../../contract/memory-stores.js";
import type { DreamedFile, StoreFile } from "./dream-guards.js";
import type { Evidence } from "./pre-pass.js";

const evidenceSchema = lazySchema(() =>
  z.object({ session_id: z.string(), event_ids: z.array(z.string()).default([]) }),
);

export const dreamerAnswerSchema = lazySchema(() =>
  z.object({
    writes: z
      .array(
        z.object({
          path: z.string().min(1),
          content: z.string(),
          rationale: z.string().nullish(),
          evidence: z.array(evidenceSchema).default([]),
          derived_from: z.array(z.string()).default([]),
        }),
      )
      .default([]),
    deletes: z
      .array(
        z.object({
          path: z.string().min(1),
          rationale: z.string().nullish(),
          merged_into: z.string().nullish(),
        }),
      )
      .default([]),
    summary: z.string().default(""),
  }),
);
export type DreamerAnswer = z.infer<typeof dreamerAnswerSchema>;

/**
 * The output store an answer describes: the input with the writes and deletes applied. Evidence
 * citing a session outside the dream's inputs is dropped (a model cannot cite what it was not shown).
 * A write is trusted only when it cites evidence and every cited event is one a user wrote
 * (`trusted`); anything else is tainted, and the poisoning gate then decides by what it says.
 */
export function outputOf(
  store: readonly StoreFile[],
  answer: DreamerAnswer,
  sessionIds: readonly string[],
  trusted: ReadonlySet<string> = new Set(),
): DreamedFile[] {
  const allowed = new Set(sessionIds);
  const files = new Map<string, DreamedFile>(store.map((f) => [f.path, { ...f }]));
  for (const del of answer.deletes) {
    const path = normalisePath(del.path);
    files.delete(path);
    // A merge the answer describes by its delete: the kept file names what was folded into it.
    const into = del.merged_into ? files.get(normalisePath(del.merged_into)) : undefined;
    if (into) into.derivedFrom = [...(into.derivedFrom ?? []), path];
  }
  for (const write of answer.writes) {
    const path = normalisePath(write.path);
    // A path the memory store would refuse is dropped here rather than failing the whole dream.
    if (memoryPathProblem(path) !== undefined) continue;
    const evidence: Evidence[] = write.evidence
      .filter((e) => allowed.has(e.session_id))
      .map((e) => ({ sessionId: e.session_id, eventIds: e.event_ids }));
    const cited = evidence.flatMap((e) => e.eventIds);
    const userOnly = cited.length > 0 && cited.every((id) => trusted.has(id));
    files.set(path, {
      path,
      content: write.content,
      rationale: write.rationale ?? undefined,
      evidence,
      derivedFrom: write.derived_from.map(normalisePath),
      tainted: !userOnly,
    });
  }
  return [...files.values()];
}

/** Memory paths are absolute, `/`-separated, with no `.`/`..` segments. */
export function normalisePath(path: string): string {
  const parts = path.split("/").filter((p) => p !== "" && p !== "." && p !== "..");
  return `/${parts.join("/")}`;
}
