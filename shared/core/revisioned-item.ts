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
