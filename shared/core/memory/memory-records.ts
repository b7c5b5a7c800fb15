/**
 * How memory stores, memories and versions are stored in the `resources` table, one item each, so
 * every change is a single-item conditional write (dynalite has no transactions):
 *
 * | pk                          | sk          | holds                                                  |
 * |-----------------------------|-------------|--------------------------------------------------------|
 * | `ws#<ws>#memstore`          | store id    | the store (rev-checked)                                |
 * | `memstore#<store>#mem`      | memory id   | the head: current path, content, sha, version (rev)    |
 * | `memstore#<store>#path`     | path        | the path index: which memory owns a path (ifNotExists) |
 * | `memstore#<store>#ver`      | version id  | one immutable version (only redaction rewrites it)     |
 * | `memstore#<store>#meta`     | `count`     | memories counted against the 2,000 limit (a hint)      |
 * | `memstore#<store>#snap`     | snapshot id | a snapshot header (Reverie extension)                  |
 * | `memsnap#<store>#<snap>`    | path        | one memory of a snapshot                               |
 *
 * The head carries everything its current version holds, so the version item can always be
 * (re)written from it: a crash between the head write and the version write is repaired by the
 * next write to that memory or by any read of its versions (`ensureHeadVersion`).
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";

export const storeKey = (ws: string) => `ws#${ws}#memstore`;
export const headKey = (store: string) => `memstore#${store}#mem`;
export const pathKey = (store: string) => `memstore#${store}#path`;
export const versionKey = (store: string) => `memstore#${store}#ver`;
export const metaKey = (store: string) => `memstore#${store}#meta`;
export const snapshotKey = (store: string) => `memstore#${store}#snap`;
export const snapshotEntryKey = (store: string, snapshot: string) => `memsnap#${store}#${snapshot}`;
/**
 * The item by which an update_existing dream holds a store, one at a time (dreams-service.ts): it
 * outlives the dream (a released hold names no dream) and goes with the store.
 */
export const dreamHoldKey = (ws: string, store: string) => `dreamhold#${ws}#${store}`;

/** Who wrote a version: the SDK's `api_actor` / `session_actor`. */
export const actorSchema = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.object({ type: z.literal("api_actor"), api_key_id: z.string() }),
    z.object({ type: z.literal("session_actor"), session_id: z.string() }),
  ]),
);
export type WriteActor = z.infer<typeof actorSchema>;

/**
 * Where a write came from beyond its actor (Reverie extension, shown on versions as `reverie`):
 * the `agent.tool_use` event that wrote it, whether untrusted content had entered the session's
 * context (taint, and from which sources), and whether hidden characters were stripped.
 */
export const provenanceSchema = lazySchema(() =>
  z.object({
    tool_use_event_id: z.string().nullable().default(null),
    /** The child thread that wrote (its parent session is the version's `session_actor`). */
    thread_id: z.string().nullable().default(null),
    tainted: z.boolean().default(false),
    taint_sources: z.array(z.string()).default([]),
    hidden_characters_stripped: z.number().int().default(0),
    instruction_like: z.boolean().default(false),
    restored_from: z.string().nullable().default(null),
    /** Dreams: the dream that wrote this version, and the `session#event,…` evidence it cited. */
    dream_id: z.string().nullable().default(null),
    citations: z.array(z.string()).default([]),
  }),
);
export type Provenance = z.infer<typeof provenanceSchema>;
export type ProvenanceInput = Partial<Provenance>;

export const operationSchema = lazySchema(() => z.enum(["created", "modified", "deleted"]));
export type VersionOperation = z.infer<typeof operationSchema>;

/** The head of a memory: its current state and the version that recorded it. */
export const headSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    rev: z.number().int(),
    memoryId: z.string(),
    storeId: z.string(),
    path: z.string(),
    content: z.string(),
    sha: z.string(),
    size: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    versionId: z.string(),
    operation: operationSchema,
    actor: actorSchema,
    provenance: provenanceSchema,
    /** Set by a delete before the path is released and the head removed. */
    deleted: z.boolean(),
    /**
     * Set by a create until its path is claimed: a pending head whose path entry names it is finished
     * by whoever reads it next (the create is rolled forward); one without is invisible.
     */
    pending: z.boolean().optional(),
  }),
);
export type MemoryHead = z.infer<typeof headSchema>;

/** One version, as stored. `content`/`path`/`sha`/`size` are null once redacted (or on `deleted`). */
export const versionSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    versionId: z.string(),
    memoryId: z.string(),
    storeId: z.string(),
    operation: operationSchema,
    createdAt: z.string(),
    path: z.string().nullable(),
    content: z.string().nullable(),
    sha: z.string().nullable(),
    size: z.number().int().nullable(),
    actor: actorSchema,
    provenance: provenanceSchema,
    redactedAt: z.string().nullable(),
    redactedBy: actorSchema.nullable(),
  }),
);
export type StoredVersion = z.infer<typeof versionSchema>;

/** A path index entry: the memory that owns `path`, claimed at `claimedAt` (ms). */
export const pathEntrySchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    rev: z.number().int(),
    memoryId: z.string(),
    claimedAt: z.number(),
  }),
);
export type PathEntry = z.infer<typeof pathEntrySchema>;

/** One memory of a snapshot: the version it had when the snapshot was taken. */
export const snapshotEntrySchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    memoryId: z.string(),
    versionId: z.string(),
    sha: z.string(),
  }),
);

/** The version record a head's current state stands for. */
export function versionOfHead(head: MemoryHead): StoredVersion {
  const deleted = head.operation === "deleted";
  return {
    schemaVersion: 1,
    versionId: head.versionId,
    memoryId: head.memoryId,
    storeId: head.storeId,
    operation: head.operation,
    createdAt: head.updatedAt,
    path: head.path,
    content: deleted ? null : head.content,
    sha: deleted ? null : head.sha,
    size: deleted ? null : head.size,
    actor: head.actor,
    provenance: head.provenance,
    redactedAt: null,
    redactedBy: null,
  };
}
