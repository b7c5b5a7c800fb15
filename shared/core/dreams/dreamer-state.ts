/**
 * What an agentic dream keeps beside its dream record, one item each (single-item writes, safe to
 * repeat):
 *
 * | pk                   | sk              | holds                                                        |
 * |----------------------|-----------------|--------------------------------------------------------------|
 * | `dreamin#<dream>`    | path            | the input store as the draft was copied from it (sha, taint) |
 * | `dreamhint#<dream>`  | `hint`          | the pre-pass findings offered to the dreamer as a hint       |
 * | `dreamfin#<dream>`   | `finish`        | the dreamer's validated finish_dream answer                  |
 * | `dreamfin#<dream>`   | `bad#<event>`   | one malformed finish_dream call (counted against a bound)    |
 *
 * The manifest is what makes the dream's diff exact: a change is a draft file whose content differs
 * from what was copied, whatever happens to the live input store meanwhile (a concurrent edit there
 * is never mistaken for the dreamer's, and a dream applies over it only under its precondition).
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { DocumentStore } from "../ports.js";

export const manifestKey = (dreamId: string) => `dreamin#${dreamId}`;
export const hintKey = (dreamId: string) => `dreamhint#${dreamId}`;
export const finishKey = (dreamId: string) => `dreamfin#${dreamId}`;

export const manifestEntrySchema = lazySchema(() => z.object({ sha256: z.string(), tainted: z.boolean() }));
export type ManifestEntry = z.infer<typeof manifestEntrySchema>;

const evidenceSchema = lazySchema(() =>
  z
    .object({
      session_id: z.string().min(1).describe("a session of this dream"),
      event_ids: z.array(z.string().min(1)).max(50).describe("ids of the events the change rests on"),
    })
    .strict(),
);

/** The input of `finish_dream`, and the dreamer's answer as pinned. */
export const finishDreamSchema = lazySchema(() =>
  z
    .object({
      summary: z.string().min(1).max(4000).describe("what the dream changed and why, in a few sentences"),
      changes: z
        .array(
          z
            .object({
              path: z.string().min(1).max(1024).describe("the memory's path, e.g. /notes/build.md"),
              rationale: z.string().min(1).max(2000),
              evidence: z.array(evidenceSchema).max(20).default([]),
              merged_into: z
                .string()
                .max(1024)
                .nullish()
                .describe("for a deleted duplicate: the path it was merged into"),
            })
            .strict(),
        )
        .max(2000)
        .default([]),
    })
    .strict(),
);
export type FinishDream = z.infer<typeof finishDreamSchema>;

const evidenceJson = {
  type: "object",
  properties: {
    session_id: { type: "string", minLength: 1, description: "a session of this dream" },
    event_ids: {
      type: "array",
      maxItems: 50,
      items: { type: "string", minLength: 1 },
      description: "ids of the events the change rests on",
    },
  },
  required: ["session_id", "event_ids"],
  additionalProperties: false,
};

/**
 * finish_dream's JSON schema, as offered to the model: the same shape as `finishDreamSchema`, written
 * out (zod's JSON Schema converter would add ~40 KB to every Lambda bundle; a unit test keeps the two
 * in step).
 */
export const finishDreamInputSchema = {
  type: "object" as const,
  properties: {
    summary: {
      type: "string",
      minLength: 1,
      maxLength: 4000,
      description: "what the dream changed and why, in a few sentences",
    },
    changes: {
      type: "array",
      maxItems: 2000,
      items: {
        type: "object",
        properties: {
          path: {
            type: "string",
            minLength: 1,
            maxLength: 1024,
            description: "the memory's path, e.g. /notes/build.md",
          },
          rationale: { type: "string", minLength: 1, maxLength: 2000 },
          evidence: { type: "array", maxItems: 20, items: evidenceJson },
          merged_into: {
            type: ["string", "null"],
            maxLength: 1024,
            description: "for a deleted duplicate: the path it was merged into",
          },
        },
        required: ["path", "rationale"],
        additionalProperties: false,
      },
    },
  },
  required: ["summary"],
  additionalProperties: false,
};

export async function readManifest(
  store: DocumentStore,
  dreamId: string,
): Promise<Map<string, ManifestEntry>> {
  const out = new Map<string, ManifestEntry>();
  let after: string | undefined;
  for (;;) {
    const items = await store.query("resources", manifestKey(dreamId), { after, limit: 500 });
    for (const item of items) out.set(String(item.sk), manifestEntrySchema.parse(item.value));
    if (items.length < 500) return out;
    after = String(items[items.length - 1]?.sk);
  }
}

export async function readHint(store: DocumentStore, dreamId: string): Promise<string | undefined> {
  const item = await store.get("resources", hintKey(dreamId), "hint");
  return typeof item?.text === "string" ? item.text : undefined;
}

export async function readFinish(store: DocumentStore, dreamId: string): Promise<FinishDream | undefined> {
  const item = await store.get("resources", finishKey(dreamId), "finish");
  return item ? finishDreamSchema.parse(item.value) : undefined;
}

/** The malformed finish_dream calls recorded so far (the last one's problem first). */
export async function malformedFinishes(store: DocumentStore, dreamId: string): Promise<string[]> {
  const items = await store.query("resources", finishKey(dreamId), {
    beginsWith: "bad#",
    order: "desc",
    limit: 100,
  });
  return items.map((i) => String(i.problem));
}
