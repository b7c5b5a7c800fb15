/**
 * How dreams are stored in the `resources` table, one item each so every change is a single-item
 * conditional write:
 *
 * | pk                         | sk            | holds                                                  |
 * |----------------------------|---------------|--------------------------------------------------------|
 * | `ws#<ws>#dream`            | dream id      | the dream (SDK document + run state, rev-checked)      |
 * | `dreams#active`            | `<ws>#<id>`   | an unfinished dream, for the sweeper                   |
 * | `dreamhold#<ws>#<store>`   | `hold`        | the update_existing dream writing into a store         |
 * | `dreamres#<dream>`         | `answer`      | the pinned model answer, guard verdict and usage       |
 * | `dreamchg#<dream>`         | path          | one file's proposed change (before/after, diff, proof) |
 *
 * An agentic dream's draft manifest, hint and finish answer: dreamer-state.ts.
 */
import type { BetaDream } from "@anthropic-ai/sdk/resources/beta/dreams";
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import { ConditionFailedError, type DocumentStore, type StoredItem } from "../ports.js";
import type { FileChange, GuardViolation } from "./dream-guards.js";

export const dreamKey = (ws: string) => `ws#${ws}#dream`;
export const activeDreamsKey = "dreams#active";
/**
 * The sweeper's entry for an unfinished dream; `createdAt` (epoch ms) dates a marker whose record
 * never came. Written unconditionally: the create writes it before the dream's record and looks
 * again after it; the sweeper looks for the record again after dropping one (dream-sweeper.ts).
 */
export const activeDreamMarker = (workspaceId: string, dreamId: string, now: number): StoredItem => ({
  pk: activeDreamsKey,
  sk: `${workspaceId}#${dreamId}`,
  createdAt: now,
});
export const answerKey = (dreamId: string) => `dreamres#${dreamId}`;
export const changeKey = (dreamId: string) => `dreamchg#${dreamId}`;

/** What happened to one accepted path of a review. */
export const applyOutcomeSchema = lazySchema(() => z.enum(["applied", "conflict", "unchanged"]));
export type ApplyOutcome = z.infer<typeof applyOutcomeSchema>;

export const dreamRunSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    /** `auto`: guarded results land by themselves; `review`: every result waits for apply. */
    mode: z.enum(["auto", "review"]),
    /** The API key that created the dream (the second-reviewer rule compares against it). */
    createdByKey: z.string().nullable(),
    scheduleId: z.string().nullable(),
    /** Chosen at create time so a retried run never makes a second output store. */
    outputStoreId: z.string().nullable(),
    /** The store the dreamer drafts its output in (a copy of the input), chosen when the run is claimed. */
    draftStoreId: z.string().nullable().optional(),
    /** The draft holds the whole input copy and the manifest and hint are written. */
    draftReady: z.boolean().optional(),
    leaseUntil: z.number().optional(),
    attempts: z.number().int().min(0),
    /** Review state (extension): `pending` until a reviewer applies or the dream needs none. */
    review: z.enum(["none", "pending", "applied"]),
    violations: z.array(
      z.object({
        guard: z.enum(["conservation", "poisoning", "rubric"]),
        path: z.string().nullable(),
        message: z.string(),
      }),
    ),
    /** Per accepted path, what apply did (idempotent: a path applied once is not applied again). */
    applied: z.record(z.string(), applyOutcomeSchema),
    /** A landed update_existing dream: what writing into the input store did, per path. */
    landed: z.record(z.string(), applyOutcomeSchema),
  }),
);
export type DreamRun = z.infer<typeof dreamRunSchema>;

export interface DreamRecord {
  workspaceId: string;
  dream: BetaDream;
  run: DreamRun;
  rev: number;
}

/** One file's proposed change as stored: the review's unit. */
export const storedChangeSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    change: z.custom<FileChange>(),
    /** The path the change applies to in the input store (a quarantined change's original path). */
    livePath: z.string(),
    before: z.string().nullable(),
    after: z.string().nullable(),
    /** SHA-256 of the input store's content at `livePath` when the dream read it (null: absent). */
    expectedSha: z.string().nullable(),
  }),
);
export type StoredChange = z.infer<typeof storedChangeSchema>;

export const pinnedAnswerSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    summary: z.string(),
    usage: z.object({
      input_tokens: z.number(),
      output_tokens: z.number(),
      cache_creation_input_tokens: z.number(),
      cache_read_input_tokens: z.number(),
    }),
    passed: z.boolean(),
    violations: z.array(z.custom<GuardViolation>()),
    paths: z.array(z.string()),
  }),
);
export type PinnedAnswer = z.infer<typeof pinnedAnswerSchema>;

export class DreamRepository {
  constructor(private readonly store: DocumentStore) {}

  async get(workspaceId: string, dreamId: string): Promise<DreamRecord | undefined> {
    const item = await this.store.get("resources", dreamKey(workspaceId), dreamId);
    return item ? fromItem(workspaceId, item) : undefined;
  }

  async create(record: Omit<DreamRecord, "rev">): Promise<DreamRecord> {
    const stored = { ...record, rev: 1 };
    await this.store.put("resources", toItem(stored), { expectedRev: 0 });
    return stored;
  }

  /**
   * Read-modify-write with retries on a concurrent change; `change` returns undefined to leave the
   * record as it is, and may run more than once.
   */
  async mutate(
    workspaceId: string,
    dreamId: string,
    change: (current: DreamRecord) => DreamRecord | undefined,
  ): Promise<{ before: DreamRecord; after: DreamRecord } | undefined> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const current = await this.get(workspaceId, dreamId);
      if (!current) return undefined;
      const changed = change(structuredClone(current));
      if (!changed) return { before: current, after: current };
      const next = { ...changed, rev: current.rev + 1 };
      try {
        await this.store.put("resources", toItem(next), { expectedRev: current.rev });
        return { before: current, after: next };
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    throw new Error(`dream ${dreamId}: too much contention`);
  }

  async list(workspaceId: string, options: { after?: string; limit: number }): Promise<DreamRecord[]> {
    const items = await this.store.query("resources", dreamKey(workspaceId), {
      before: options.after,
      order: "desc",
      limit: options.limit,
    });
    return items.map((i) => fromItem(workspaceId, i));
  }

  /**
   * The change items of the pinned answer (none before it is pinned). Items are written before the
   * answer marker, so a run whose answer lost the pin, or that died before it, may have left others
   * under the same key: they are no part of the dream, and never listed or applied.
   */
  async changes(dreamId: string): Promise<StoredChange[]> {
    const answer = await this.answer(dreamId);
    if (!answer) return [];
    const named = new Set(answer.paths);
    const out: StoredChange[] = [];
    let after: string | undefined;
    for (;;) {
      const items = await this.store.query("resources", changeKey(dreamId), { after, limit: 200 });
      for (const item of items)
        if (named.has(String(item.sk))) out.push(storedChangeSchema.parse(item.value));
      if (items.length < 200) return out;
      after = String(items[items.length - 1]?.sk);
    }
  }

  async answer(dreamId: string): Promise<PinnedAnswer | undefined> {
    const item = await this.store.get("resources", answerKey(dreamId), "answer");
    return item ? pinnedAnswerSchema.parse(item.value) : undefined;
  }
}

function toItem(record: DreamRecord): StoredItem {
  return {
    pk: dreamKey(record.workspaceId),
    sk: record.dream.id,
    rev: record.rev,
    dream: record.dream,
    run: record.run,
  };
}

function fromItem(workspaceId: string, item: StoredItem): DreamRecord {
  return {
    workspaceId,
    dream: item.dream as BetaDream,
    run: dreamRunSchema.parse(item.run),
    rev: Number(item.rev),
  };
}
