/**
 * The DreamMemory port over the memory context's services: what a dream reads is the store's live
 * memories (with their versions' taint), and every write goes through the memory service's own
 * content_sha256 preconditions, so a dream can never clobber a concurrent write.
 */
import { ApiError, NotFoundError } from "../../contract/errors.js";
import { MemoryPathConflictError, MemoryPreconditionFailedError } from "../../contract/memory-stores.js";
import type { MemoriesService, WriteContext } from "../memory/memories-service.js";
import type { MemoryStoresService } from "../memory/memory-stores-service.js";
import type {
  DreamMemory,
  DreamMemoryFile,
  DreamMemoryStoreInfo,
  DreamWriteOutcome,
  DreamWriteProvenance,
  ExpectedSha,
} from "./dream-memory.js";

export class MemoryStoreDreamMemory implements DreamMemory {
  constructor(
    private readonly stores: MemoryStoresService,
    private readonly memories: MemoriesService,
  ) {}

  async describe(workspaceId: string, storeId: string): Promise<DreamMemoryStoreInfo | undefined> {
    try {
      const store = await this.stores.retrieve(workspaceId, storeId);
      return { id: store.id, name: store.name, archived: store.archived_at !== null };
    } catch (error) {
      if (error instanceof NotFoundError) return undefined;
      throw error;
    }
  }

  async readAll(workspaceId: string, storeId: string): Promise<DreamMemoryFile[]> {
    await this.stores.retrieve(workspaceId, storeId);
    const heads = await this.memories.listAll(storeId);
    return heads.map((head) => ({
      path: head.path,
      content: head.content,
      sha256: head.sha,
      tainted: head.provenance.tainted,
    }));
  }

  /** Creates the store under the id the dream chose up front (idempotent, so a retried run is safe). */
  async createStore(
    workspaceId: string,
    store: { id: string; name: string; description: string; metadata: Record<string, string> },
  ): Promise<void> {
    const { id, ...body } = store;
    await this.stores.create(workspaceId, body, { id });
  }

  async deleteStore(workspaceId: string, storeId: string): Promise<void> {
    try {
      await this.stores.delete(workspaceId, storeId);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }

  async write(
    workspaceId: string,
    storeId: string,
    path: string,
    content: string,
    expected: ExpectedSha,
    provenance: DreamWriteProvenance,
  ): Promise<DreamWriteOutcome> {
    await this.stores.writable(workspaceId, storeId);
    const context = contextOf(provenance);
    try {
      if (expected === undefined) {
        await this.memories.writeAtPath(storeId, path, content, context);
      } else if (expected === null) {
        await this.memories.createMemory(storeId, { path, content }, context);
      } else {
        const head = await this.memories.findByPath(storeId, path);
        if (!head) return "conflict";
        await this.memories.updateMemory(storeId, head.memoryId, { content, expectedSha: expected }, context);
      }
      return "written";
    } catch (error) {
      if (isConflict(error)) return "conflict";
      throw error;
    }
  }

  async delete(
    workspaceId: string,
    storeId: string,
    path: string,
    expected: ExpectedSha,
    provenance: DreamWriteProvenance,
  ): Promise<DreamWriteOutcome> {
    await this.stores.retrieve(workspaceId, storeId);
    const head = await this.memories.findByPath(storeId, path);
    if (!head) return expected === undefined ? "written" : "conflict";
    try {
      await this.memories.deleteMemory(storeId, head.memoryId, expected ?? undefined, contextOf(provenance));
      return "written";
    } catch (error) {
      if (isConflict(error)) return "conflict";
      throw error;
    }
  }
}

function contextOf(provenance: DreamWriteProvenance): WriteContext {
  return {
    actor: provenance.actor,
    provenance: {
      tainted: provenance.tainted,
      taint_sources: provenance.tainted ? ["dream"] : [],
      dream_id: provenance.dreamId,
      citations: provenance.citations,
    },
  };
}

function isConflict(error: unknown): boolean {
  return (
    error instanceof MemoryPreconditionFailedError ||
    error instanceof MemoryPathConflictError ||
    error instanceof NotFoundError ||
    (error instanceof ApiError && error.status === 409)
  );
}
