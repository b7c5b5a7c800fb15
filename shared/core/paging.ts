/** Opaque page cursors (`next_page`) over sort keys, and the SDK's PageCursor response shape. */
import { InvalidRequestError } from "../contract/errors.js";

export interface PageCursorBody<T> {
  data: T[];
  next_page: string | null;
}

/** A page of a bidirectional list (`prev_page` goes back towards the first page). */
export interface BidirectionalPageBody<T> extends PageCursorBody<T> {
  prev_page: string | null;
}

/** A cursor: the sort key to continue from, and whether it leads back (`prev`) or on. */
export function encodeCursor(sortKey: string | number, direction: "next" | "prev" = "next"): string {
  return Buffer.from(
    JSON.stringify(direction === "prev" ? { k: sortKey, d: "prev" } : { k: sortKey }),
  ).toString("base64url");
}

/** Longest sort key a cursor may carry (DynamoDB sort keys are at most 1,024 bytes). */
const MAX_CURSOR_KEY_LENGTH = 512;

/**
 * Decodes a cursor whose sort key must be of type `keyType` (a list's keys are all strings, or all
 * sequence numbers): anything else — garbage, a key of the wrong type or size — is a 400, never a
 * query the store would reject.
 */
export function decodeDirectedCursor(
  cursor: string | undefined,
  keyType: "string" | "number" = "string",
): { key: string | number; direction: "next" | "prev" } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as {
      k?: unknown;
      d?: unknown;
    };
    const direction = parsed.d === "prev" ? "prev" : "next";
    if (keyType === "string" && typeof parsed.k === "string" && parsed.k.length <= MAX_CURSOR_KEY_LENGTH)
      return { key: parsed.k, direction };
    if (keyType === "number" && Number.isSafeInteger(parsed.k) && (parsed.k as number) >= 0)
      return { key: parsed.k as number, direction };
  } catch {
    // fall through to the error below
  }
  throw new InvalidRequestError("page: not a cursor this API returned");
}

export function decodeCursor(
  cursor: string | undefined,
  keyType: "string" | "number" = "string",
): string | number | undefined {
  return decodeDirectedCursor(cursor, keyType)?.key;
}

/**
 * Collects up to `limit` matching items from a sorted source read in batches, and the cursor of
 * the next page (null when exhausted).
 */
export async function collectPage<Item, Out>(options: {
  limit: number;
  start: string | number | undefined;
  read: (after: string | number | undefined, batch: number) => Promise<Item[]>;
  keyOf: (item: Item) => string | number;
  keep: (item: Item) => boolean;
  map: (item: Item) => Out;
}): Promise<PageCursorBody<Out>> {
  const out: Out[] = [];
  let cursor = options.start;
  let lastKey: string | number | undefined;
  const batchSize = Math.max(options.limit + 1, 50);
  for (;;) {
    const batch = await options.read(cursor, batchSize);
    for (const item of batch) {
      if (!options.keep(item)) {
        lastKey = options.keyOf(item);
        continue;
      }
      if (out.length === options.limit)
        return { data: out, next_page: encodeCursor(lastKey as string | number) };
      out.push(options.map(item));
      lastKey = options.keyOf(item);
    }
    if (batch.length < batchSize) return { data: out, next_page: null };
    cursor = options.keyOf(batch[batch.length - 1] as Item);
  }
}

/** The `created_at[gt|gte|lt|lte]` query bounds of a list endpoint. */
export interface CreatedAtBounds {
  "created_at[gt]"?: string;
  "created_at[gte]"?: string;
  "created_at[lt]"?: string;
  "created_at[lte]"?: string;
}

/** A predicate over a timestamp (RFC 3339) that holds when it is within the query's bounds. */
export function createdAtFilter(query: CreatedAtBounds): (timestamp: string | undefined) => boolean {
  const bound = (key: keyof CreatedAtBounds) => (query[key] ? Date.parse(query[key] as string) : undefined);
  const [gt, gte, lt, lte] = [
    bound("created_at[gt]"),
    bound("created_at[gte]"),
    bound("created_at[lt]"),
    bound("created_at[lte]"),
  ];
  const unbounded = gt === undefined && gte === undefined && lt === undefined && lte === undefined;
  return (timestamp) => {
    const at = Date.parse(timestamp ?? "");
    if (Number.isNaN(at)) return unbounded;
    return (
      (gt === undefined || at > gt) &&
      (gte === undefined || at >= gte) &&
      (lt === undefined || at < lt) &&
      (lte === undefined || at <= lte)
    );
  };
}
