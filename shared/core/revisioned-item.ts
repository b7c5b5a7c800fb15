/** Read-modify-write of one stored item under optimistic concurrency on its `rev`. */
import { ConditionFailedError, type DocumentStore, type StoredItem, type TableName } from "./ports.js";

/**
 * Applies `change` to the document held in `attribute` of an item and writes it back if nobody wrote
 * in between, retrying on a concurrent change. `change` returns undefined to leave the item as it is.
 * `load` reads the item (and throws its own not-found error).
 */
export async function changeRevisioned<T>(
  store: DocumentStore,
  table: TableName,
  attribute: string,
  load: () => Promise<StoredItem>,
  change: (current: T) => T | undefined,
): Promise<T> {
  for (;;) {
    const item = await load();
    const next = change(item[attribute] as T);
    if (next === undefined) return item[attribute] as T;
    try {
      await store.put(
        table,
        { ...item, rev: Number(item.rev) + 1, [attribute]: next },
        { expectedRev: Number(item.rev) },
      );
      return next;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
}

/**
 * The first write of a delete that must survive a crash: marks the item `deletingAt` (rev-checked,
 * retried on a concurrent change) so that every reader treats it as gone while the caller purges what
 * hangs off it and deletes the item last; a retried delete finds the mark and carries on. Returns the
 * marked item (also when an earlier, interrupted delete had marked it); `notFound` when it is absent.
 */
export async function markDeleting(
  store: DocumentStore,
  table: TableName,
  key: { pk: string; sk: string },
  deletingAt: string,
  notFound: () => Error,
): Promise<StoredItem> {
  for (;;) {
    const item = await store.get(table, key.pk, key.sk);
    if (!item) throw notFound();
    if (item.deletingAt) return item;
    const marked = { ...item, rev: Number(item.rev) + 1, deletingAt };
    try {
      await store.put(table, marked, { expectedRev: Number(item.rev) });
      return marked;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
}
