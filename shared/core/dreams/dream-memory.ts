/**
 * What dreams need from memory stores, and nothing more: see a store, read all of it, create the
 * output store under an id chosen in advance (so a retried dream never makes two), and write or
 * delete one memory under a `content_sha256` precondition (DESIGN.md §5: a dream never clobbers a
 * concurrent write). The memory context implements it; unit tests use an in-memory one.
 */

/** A memory as a dream reads it. */
export interface DreamMemoryFile {
  path: string;
  content: string;
  /** SHA-256 (hex) of `content`: the precondition a later write of this path is made under. */
  sha256: string;
  /** The memory's current version was written after untrusted content entered its writer's context. */
  tainted: boolean;
}

export interface DreamMemoryStoreInfo {
  id: string;
  name: string;
  archived: boolean;
}

/** Who a dream's write is attributed to: the dream's session, or the key that applied a review. */
export type DreamWriteActor =
  | { type: "session_actor"; session_id: string }
  | { type: "api_actor"; api_key_id: string };

/** Where a dream's write came from: shown on the version the write creates. */
export interface DreamWriteProvenance {
  actor: DreamWriteActor;
  dreamId: string;
  /** `session#event,event` citations the change rests on. */
  citations: string[];
  tainted: boolean;
}

/**
 * A write precondition: the SHA-256 the memory must have now, `null` for "must not exist", or
 * undefined for none (only for the dream's own output store, which nobody else writes).
 */
export type ExpectedSha = string | null | undefined;

export type DreamWriteOutcome = "written" | "conflict";

export interface DreamMemory {
  /** The store, or undefined when the workspace has no such store. */
  describe(workspaceId: string, storeId: string): Promise<DreamMemoryStoreInfo | undefined>;
  /** Every memory of the store. */
  readAll(workspaceId: string, storeId: string): Promise<DreamMemoryFile[]>;
  /** Creates an empty store with this id; does nothing when it exists (a retried dream). */
  createStore(
    workspaceId: string,
    store: { id: string; name: string; description: string; metadata: Record<string, string> },
  ): Promise<void>;
  /** Deletes a store and its memories; does nothing when it is gone (a dream's draft). */
  deleteStore(workspaceId: string, storeId: string): Promise<void>;
  write(
    workspaceId: string,
    storeId: string,
    path: string,
    content: string,
    expected: ExpectedSha,
    provenance: DreamWriteProvenance,
  ): Promise<DreamWriteOutcome>;
  delete(
    workspaceId: string,
    storeId: string,
    path: string,
    expected: ExpectedSha,
    provenance: DreamWriteProvenance,
  ): Promise<DreamWriteOutcome>;
}
