/**
 * Routes of /v1/memory_stores (stores, memories, memory versions) and Reverie's snapshot/restore
 * extension, bound to the memory services.
 */
import {
  MemoryCreateSchema,
  MemoryDeleteQuerySchema,
  MemoryListQuerySchema,
  MemoryStoreCreateSchema,
  MemoryStoreListQuerySchema,
  MemoryStoreRestoreSchema,
  MemoryStoreSnapshotCreateSchema,
  MemoryStoreSnapshotListQuerySchema,
  MemoryStoreUpdateSchema,
  MemoryUpdateSchema,
  MemoryVersionListQuerySchema,
  MemoryViewQuerySchema,
} from "../../contract/memory-stores.js";
import { parseBody } from "../../contract/validation.js";
import type { Principal } from "../../core/auth/api-keys.js";
import type { MemoriesService, WriteContext } from "../../core/memory/memories-service.js";
import type { MemorySnapshotsService } from "../../core/memory/memory-snapshots-service.js";
import type { MemoryStoresService } from "../../core/memory/memory-stores-service.js";
import type { HttpRequest } from "./http-types.js";
import { json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import { type Router, SESSION_SCOPE } from "./router.js";

export interface MemoryRouteServices {
  memoryStores: MemoryStoresService;
  memories: MemoriesService;
  memorySnapshots: MemorySnapshotsService;
  /**
   * The write context of a self-hosted worker syncing a session's mounted store with its sessions
   * token: the session as actor, with the session's taint (as for mount writes in the cloud toolset).
   */
  sessionWrite?: (workspaceId: string, sessionId: string) => Promise<WriteContext>;
}

/** A write through the API is attributed to the API key that authenticated it. */
const apiWrite = (r: HttpRequest): WriteContext => ({
  actor: { type: "api_actor", api_key_id: (r.principal as Principal).apiKeyId },
});

/** The write context of a memory write: a worker's sessions token writes as its session. */
function writerOf(r: HttpRequest, sessionWrite: MemoryRouteServices["sessionWrite"]): Promise<WriteContext> {
  const scope = (r.principal as Principal).scope;
  if (scope?.kind === "session" && sessionWrite) return sessionWrite(ws(r), scope.sessionId);
  return Promise.resolve(apiWrite(r));
}

const viewOf = (r: HttpRequest) =>
  parseListQuery(MemoryViewQuerySchema, r).view as "basic" | "full" | undefined;

/** Adds the memory store, memory and memory version routes to `router`. */
export function addMemoryRoutes(
  router: Router,
  { memoryStores, memories, memorySnapshots, sessionWrite }: MemoryRouteServices,
): Router {
  return (
    router
      // memory stores
      .add("POST", "/v1/memory_stores", async (r) =>
        json(await memoryStores.create(ws(r), parseBody(MemoryStoreCreateSchema, jsonBody(r)))),
      )
      .add("GET", "/v1/memory_stores", async (r) =>
        json(await memoryStores.list(ws(r), parseListQuery(MemoryStoreListQuerySchema, r) as never)),
      )
      .add("GET", "/v1/memory_stores/{memory_store_id}", async (r, p) =>
        json(await memoryStores.retrieve(ws(r), p.memory_store_id as string)),
      )
      .add("POST", "/v1/memory_stores/{memory_store_id}", async (r, p) =>
        json(
          await memoryStores.update(
            ws(r),
            p.memory_store_id as string,
            parseBody(MemoryStoreUpdateSchema, jsonBody(r)),
          ),
        ),
      )
      .add("DELETE", "/v1/memory_stores/{memory_store_id}", async (r, p) =>
        json(await memoryStores.delete(ws(r), p.memory_store_id as string)),
      )
      .add("POST", "/v1/memory_stores/{memory_store_id}/archive", async (r, p) =>
        json(await memoryStores.archive(ws(r), p.memory_store_id as string)),
      )
      // memories (also a self-hosted worker's memory sync, with its sessions token)
      .add(
        "POST",
        "/v1/memory_stores/{memory_store_id}/memories",
        async (r, p) =>
          json(
            await memories.create(
              ws(r),
              p.memory_store_id as string,
              parseBody(MemoryCreateSchema, jsonBody(r)),
              await writerOf(r, sessionWrite),
              viewOf(r),
            ),
          ),
        SESSION_SCOPE,
      )
      .add(
        "GET",
        "/v1/memory_stores/{memory_store_id}/memories",
        async (r, p) =>
          json(
            await memories.list(
              ws(r),
              p.memory_store_id as string,
              parseListQuery(MemoryListQuerySchema, r) as never,
            ),
          ),
        SESSION_SCOPE,
      )
      .add(
        "GET",
        "/v1/memory_stores/{memory_store_id}/memories/{memory_id}",
        async (r, p) =>
          json(await memories.retrieve(ws(r), p.memory_store_id as string, p.memory_id as string, viewOf(r))),
        SESSION_SCOPE,
      )
      .add(
        "POST",
        "/v1/memory_stores/{memory_store_id}/memories/{memory_id}",
        async (r, p) =>
          json(
            await memories.update(
              ws(r),
              p.memory_store_id as string,
              p.memory_id as string,
              parseBody(MemoryUpdateSchema, jsonBody(r)),
              await writerOf(r, sessionWrite),
              viewOf(r),
            ),
          ),
        SESSION_SCOPE,
      )
      .add(
        "DELETE",
        "/v1/memory_stores/{memory_store_id}/memories/{memory_id}",
        async (r, p) =>
          json(
            await memories.delete(
              ws(r),
              p.memory_store_id as string,
              p.memory_id as string,
              parseListQuery(MemoryDeleteQuerySchema, r).expected_content_sha256 as string | undefined,
              await writerOf(r, sessionWrite),
            ),
          ),
        SESSION_SCOPE,
      )
      .add("GET", "/v1/memory_stores/{memory_store_id}/memory_versions", async (r, p) =>
        json(
          await memories.listVersions(
            ws(r),
            p.memory_store_id as string,
            parseListQuery(MemoryVersionListQuerySchema, r) as never,
          ),
        ),
      )
      .add("GET", "/v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}", async (r, p) =>
        json(
          await memories.retrieveVersion(
            ws(r),
            p.memory_store_id as string,
            p.memory_version_id as string,
            viewOf(r),
          ),
        ),
      )
      .add(
        "POST",
        "/v1/memory_stores/{memory_store_id}/memory_versions/{memory_version_id}/redact",
        async (r, p) =>
          json(
            await memories.redactVersion(
              ws(r),
              p.memory_store_id as string,
              p.memory_version_id as string,
              apiWrite(r).actor,
            ),
          ),
      )
      // snapshots and restore (Reverie extensions)
      .add("POST", "/v1/memory_stores/{memory_store_id}/snapshots", async (r, p) =>
        json(
          await memorySnapshots.create(
            ws(r),
            p.memory_store_id as string,
            parseBody(MemoryStoreSnapshotCreateSchema, jsonBody(r)),
            apiWrite(r).actor,
          ),
        ),
      )
      .add("GET", "/v1/memory_stores/{memory_store_id}/snapshots", async (r, p) =>
        json(
          await memorySnapshots.list(
            ws(r),
            p.memory_store_id as string,
            parseListQuery(MemoryStoreSnapshotListQuerySchema, r) as { limit: number; page?: string },
          ),
        ),
      )
      .add("GET", "/v1/memory_stores/{memory_store_id}/snapshots/{snapshot_id}", async (r, p) =>
        json(await memorySnapshots.retrieve(ws(r), p.memory_store_id as string, p.snapshot_id as string)),
      )
      .add("POST", "/v1/memory_stores/{memory_store_id}/restore", async (r, p) =>
        json(
          await memorySnapshots.restore(
            ws(r),
            p.memory_store_id as string,
            parseBody(MemoryStoreRestoreSchema, jsonBody(r)),
            apiWrite(r).actor,
          ),
        ),
      )
  );
}
