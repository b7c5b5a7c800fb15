/**
 * Memory stores, memories and memory versions: request schemas written to match the SDK's
 * `MemoryStore*Params`, `Memory*Params` and `MemoryVersion*Params` (resources/beta/memory-stores/**),
 * the documented limits, the path rules, and the two memory-specific 409 errors.
 */
import * as z from "zod";
import { ApiError, InvalidRequestError } from "./errors.js";
import { lazySchema } from "./lazy-schema.js";
import {
  metadataPatchSchema,
  metadataSchema,
  pageCursorSchema,
  pageLimit,
  pageLimitSchema,
  queryBooleanSchema,
  queryTimestampSchema,
} from "./validation.js";

/** The limits the SDK's doc comments state. */
export const MEMORY_LIMITS = {
  storeNameMaxLength: 255,
  storeDescriptionMaxLength: 1024,
  /** "The maximum size is 100 kB (102,400 bytes)." */
  contentMaxBytes: 102_400,
  /** ≤ 2,000 memories per store. */
  memoriesPerStore: 2000,
  pathMaxBytes: 1024,
  pathMaxSegments: 20,
  /** "With `full`, list operations return at most 20 items per page." */
  fullViewPageMax: 20,
  /** ≤ 8 memory stores per session. */
  storesPerSession: 8,
} as const;

// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is about control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Control (Cc), format (Cf) characters and the line/paragraph separators U+2028/U+2029. */
const FORBIDDEN_IN_PATH = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

/** Why `path` breaks the documented path rules, or undefined when it is a valid memory path. */
export function memoryPathProblem(path: string): string | undefined {
  if (!path.startsWith("/")) return "must start with /";
  if (Buffer.byteLength(path, "utf8") > MEMORY_LIMITS.pathMaxBytes)
    return `must be at most ${MEMORY_LIMITS.pathMaxBytes} bytes`;
  if (FORBIDDEN_IN_PATH.test(path))
    return "must not contain control characters, format characters, U+2028 or U+2029";
  if (path.normalize("NFC") !== path) return "must be in Unicode Normalization Form C";
  const segments = path.slice(1).split("/");
  if (segments.length > MEMORY_LIMITS.pathMaxSegments)
    return `must have at most ${MEMORY_LIMITS.pathMaxSegments} segments`;
  if (segments.some((s) => s === "")) return "must not have empty segments (no trailing or double /)";
  if (segments.some((s) => s === "." || s === "..")) return "must not have . or .. segments";
  return undefined;
}

const memoryPathSchema = lazySchema(() =>
  z.string().superRefine((path, ctx) => {
    const problem = memoryPathProblem(path);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  }),
);

const contentSchema = lazySchema(() =>
  z.string().refine((c) => Buffer.byteLength(c, "utf8") <= MEMORY_LIMITS.contentMaxBytes, {
    message: `must be at most ${MEMORY_LIMITS.contentMaxBytes} bytes (100 kB) of UTF-8`,
  }),
);

const storeName = lazySchema(() =>
  z
    .string()
    .min(1)
    .max(MEMORY_LIMITS.storeNameMaxLength)
    .refine((n) => !CONTROL.test(n), { message: "must not contain control characters" }),
);
const storeDescription = lazySchema(() => z.string().max(MEMORY_LIMITS.storeDescriptionMaxLength));

/** Body of `POST /v1/memory_stores` (MemoryStoreCreateParams minus header params). */
export const MemoryStoreCreateSchema = lazySchema(() =>
  z.strictObject({
    name: storeName,
    description: storeDescription.optional(),
    metadata: metadataSchema.optional(),
  }),
);
export type MemoryStoreCreate = z.infer<typeof MemoryStoreCreateSchema>;

/** Body of `POST /v1/memory_stores/{id}` (MemoryStoreUpdateParams minus header params). */
export const MemoryStoreUpdateSchema = lazySchema(() =>
  z.strictObject({
    name: storeName.nullish(),
    description: storeDescription.nullish(),
    metadata: metadataPatchSchema.nullish(),
  }),
);
export type MemoryStoreUpdate = z.infer<typeof MemoryStoreUpdateSchema>;

/** Query of `GET /v1/memory_stores`. */
export const MemoryStoreListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    "created_at[gte]": queryTimestampSchema.optional(),
    "created_at[lte]": queryTimestampSchema.optional(),
    include_archived: queryBooleanSchema,
  }),
);
export type MemoryStoreListQuery = z.infer<typeof MemoryStoreListQuerySchema>;

export const memoryViewSchema = lazySchema(() => z.enum(["basic", "full"]));
export type MemoryView = z.infer<typeof memoryViewSchema>;

/** `?view=` alone (retrieve, create, update, version retrieve). */
export const MemoryViewQuerySchema = lazySchema(() => z.object({ view: memoryViewSchema.optional() }));

/** Body of `POST /v1/memory_stores/{id}/memories` (`view` is a query param). */
export const MemoryCreateSchema = lazySchema(() =>
  z.strictObject({
    content: contentSchema.nullable(),
    path: memoryPathSchema,
  }),
);
export type MemoryCreate = z.infer<typeof MemoryCreateSchema>;

const sha256Hex = lazySchema(() =>
  z.string().regex(/^[0-9a-f]{64}$/, { message: "must be 64 lowercase hexadecimal characters" }),
);

export const preconditionSchema = lazySchema(() =>
  z.strictObject({
    type: z.literal("content_sha256"),
    content_sha256: sha256Hex.optional(),
  }),
);

/** Body of `POST /v1/memory_stores/{store}/memories/{id}` (`view` is a query param). */
export const MemoryUpdateSchema = lazySchema(() =>
  z.strictObject({
    content: contentSchema.nullish(),
    path: memoryPathSchema.nullish(),
    precondition: preconditionSchema.optional(),
  }),
);
export type MemoryUpdate = z.infer<typeof MemoryUpdateSchema>;

/** Query of `GET /v1/memory_stores/{id}/memories`. */
export const MemoryListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    depth: pageLimit({ min: 0, max: MEMORY_LIMITS.pathMaxSegments, fallback: 0 }),
    path_prefix: z
      .string()
      .refine((p) => p === "/" || (p.endsWith("/") && memoryPathProblem(p.slice(0, -1)) === undefined), {
        message: "must start and end with / and otherwise follow the memory path rules",
      })
      .optional(),
    view: memoryViewSchema.optional(),
  }),
);
export type MemoryListQuery = z.infer<typeof MemoryListQuerySchema>;

/** Query of `DELETE /v1/memory_stores/{store}/memories/{id}`. */
export const MemoryDeleteQuerySchema = lazySchema(() =>
  z.object({ expected_content_sha256: sha256Hex.optional() }),
);

export const memoryVersionOperationSchema = lazySchema(() => z.enum(["created", "modified", "deleted"]));

/** Query of `GET /v1/memory_stores/{id}/memory_versions`. */
export const MemoryVersionListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    api_key_id: z.string().min(1).optional(),
    "created_at[gte]": queryTimestampSchema.optional(),
    "created_at[lte]": queryTimestampSchema.optional(),
    memory_id: z.string().min(1).optional(),
    operation: memoryVersionOperationSchema.optional(),
    service_account_id: z.string().min(1).optional(),
    session_id: z.string().min(1).optional(),
    view: memoryViewSchema.optional(),
  }),
);
export type MemoryVersionListQuery = z.infer<typeof MemoryVersionListQuerySchema>;

/** Body of `POST /v1/memory_stores/{id}/snapshots` (Reverie extension). */
export const MemoryStoreSnapshotCreateSchema = lazySchema(() =>
  z.strictObject({
    name: storeName,
    description: storeDescription.nullish(),
  }),
);

/** Body of `POST /v1/memory_stores/{id}/restore` (Reverie extension): a snapshot or a point in time. */
export const MemoryStoreRestoreSchema = lazySchema(() =>
  z
    .strictObject({
      snapshot_id: z.string().min(1).max(128).nullish(),
      point_in_time: z.iso.datetime({ offset: true }).nullish(),
    })
    .refine((b) => Boolean(b.snapshot_id) !== Boolean(b.point_in_time), {
      message: "give exactly one of snapshot_id and point_in_time",
    }),
);

/** Query of the snapshot list (Reverie extension). */
export const MemoryStoreSnapshotListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
  }),
);

/** The page size a list really uses: `view=full` caps it at 20, as the SDK documents. */
export function effectiveLimit(limit: number, view: MemoryView | undefined): number {
  return view === "full" ? Math.min(limit, MEMORY_LIMITS.fullViewPageMax) : limit;
}

/**
 * The directory name of a store under `/mnt/memory/`: the name lowercased, every run of characters
 * other than ASCII letters and digits one hyphen (leading/trailing hyphens dropped; `store` if
 * nothing is left).
 */
export function mountSlug(name: string): string {
  const slug = name
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  return slug || "store";
}

/** 409 `memory_path_conflict_error`: the path is taken by, or overlaps, another memory's path. */
export class MemoryPathConflictError extends ApiError {
  override name = "MemoryPathConflictError";
  constructor(conflictingPath: string, conflictingMemoryId: string) {
    super(
      "memory_path_conflict_error",
      `path ${conflictingPath} is already used by memory ${conflictingMemoryId || "(unknown)"}, or overlaps its path`,
      { extra: { conflicting_path: conflictingPath, conflicting_memory_id: conflictingMemoryId } },
    );
  }
}

/** 409 `memory_precondition_failed_error`: the memory's content hash is not the one the request expected. */
export class MemoryPreconditionFailedError extends ApiError {
  override name = "MemoryPreconditionFailedError";
  constructor(memoryId: string) {
    super(
      "memory_precondition_failed_error",
      `memory ${memoryId}: content_sha256 precondition failed; retrieve the memory and retry`,
    );
  }
}

/** A store that was archived takes no memory writes and no store updates. */
export class MemoryStoreArchivedError extends InvalidRequestError {
  override name = "MemoryStoreArchivedError";
  constructor(storeId: string) {
    super(`memory store ${storeId} is archived: its memories can be read and deleted, not written`);
  }
}
