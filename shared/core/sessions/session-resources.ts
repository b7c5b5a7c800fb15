/**
 * Session resources: what a session mounts. Memory stores are attached at creation (`resources[]`)
 * and mounted at `/mnt/memory/<name>`; `/v1/sessions/{id}/resources` lists, retrieves, adds,
 * updates and detaches them. Each resource type has its own resolver (params → stored resource), so
 * `file` and `github_repository` can be supported by adding theirs.
 *
 * The resources live in the session record (`session.resources`), the one item a step reads
 * anyway, so mounting costs no extra read.
 */
import { InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { mountSlug } from "../../contract/memory-stores.js";
import type { MemoryStoreResource, SessionResource } from "../../contract/sdk-types.js";
import type {
  FileResourceParams,
  MemoryStoreResourceParams,
  SessionResourceParams,
} from "../../contract/session-resources.js";
import {
  type FileMountTarget,
  fileMountTarget,
  fileResources,
  MAX_FILES_PER_SESSION,
  type StoredFileResource,
} from "../files/file-mounts.js";
import { copyFileToWorkspace, type FilesService } from "../files/files-service.js";
import { MEMORY_MOUNT_ROOT } from "../memory/memory-mounts.js";
import type { MemoryStoresService } from "../memory/memory-stores-service.js";
import { decodeCursor, encodeCursor, type PageCursorBody } from "../paging.js";
import type { StepDeps } from "../runtime/step-deps.js";

/** Session resource ids (`sesrsc_…`): Reverie gives every resource one, memory stores included. */
export const sessionResourceIdPrefix = "sesrsc";

/** A memory store resource as stored and returned: the SDK's shape plus the id the endpoints take. */
export type StoredMemoryStoreResource = MemoryStoreResource & { id: string };

type Resolver<P> = (workspaceId: string, params: P, taken: Set<string>) => Promise<SessionResource>;

export class SessionResourcesService {
  constructor(
    private readonly deps: Pick<StepDeps, "sessions" | "ids" | "clock" | "workspace">,
    private readonly memoryStores: MemoryStoresService,
    /** The Files API; without it (no blob store) file resources are a 400. */
    private readonly files?: FilesService,
  ) {}

  private readonly resolvers: {
    [T in SessionResourceParams["type"]]: Resolver<Extract<SessionResourceParams, { type: T }>>;
  } = {
    memory_store: (ws, params, taken) => this.resolveMemoryStore(ws, params, taken),
    file: async (ws, params, taken) => {
      const { resource } = await this.resolveFile(ws, params, taken, (fileId) => {
        throw new InvalidRequestError(`resources: file ${fileId} not found`);
      });
      return resource;
    },
    github_repository: async () => {
      throw new InvalidRequestError("resources: github_repository resources are not supported");
    },
  };

  /** Resolves `resources[]` of a new session into the resources it is created with. */
  async resolve(workspaceId: string, params: readonly SessionResourceParams[]): Promise<SessionResource[]> {
    const taken = new Set<string>();
    const out: SessionResource[] = [];
    for (const p of params) {
      const resolver = this.resolvers[p.type] as Resolver<SessionResourceParams>;
      out.push(await resolver(workspaceId, p, taken));
    }
    return out;
  }

  private async resolveMemoryStore(
    workspaceId: string,
    params: MemoryStoreResourceParams,
    taken: Set<string>,
  ): Promise<StoredMemoryStoreResource> {
    let store: Awaited<ReturnType<MemoryStoresService["retrieve"]>>;
    try {
      store = await this.memoryStores.retrieve(workspaceId, params.memory_store_id);
    } catch (error) {
      if (error instanceof NotFoundError)
        throw new InvalidRequestError(`resources: memory store ${params.memory_store_id} not found`);
      throw error;
    }
    if (store.archived_at)
      throw new InvalidRequestError(`resources: memory store ${store.id} is archived and can't be attached`);
    const slug = mountSlug(store.name);
    let mountPath = `${MEMORY_MOUNT_ROOT}/${slug}`;
    for (let n = 2; taken.has(mountPath); n++) mountPath = `${MEMORY_MOUNT_ROOT}/${slug}-${n}`;
    taken.add(mountPath);
    return {
      id: this.deps.ids.next(sessionResourceIdPrefix),
      type: "memory_store",
      memory_store_id: store.id,
      access: params.access ?? "read_write",
      instructions: params.instructions ?? null,
      description: store.description,
      name: store.name,
      mount_path: mountPath,
    };
  }

  /**
   * A file resource for `params`: the file must exist in the caller's workspace (another workspace's
   * file is as unknown as a missing one) and its mount path must be free (`taken`).
   */
  private async resolveFile(
    workspaceId: string,
    params: FileResourceParams,
    taken: Set<string>,
    missing: (fileId: string) => never,
  ): Promise<{ resource: StoredFileResource; target: FileMountTarget }> {
    if (!this.files) throw new InvalidRequestError("resources: this server has no Files API configured");
    try {
      await this.files.retrieve(workspaceId, params.file_id);
    } catch (error) {
      if (error instanceof NotFoundError) missing(params.file_id);
      throw error;
    }
    const target = fileMountTarget(params.file_id, params.mount_path);
    if (taken.has(target.mountPath))
      throw new InvalidRequestError(`mount_path: ${target.mountPath} is already mounted in this session`);
    taken.add(target.mountPath);
    const now = new Date(this.deps.clock.now()).toISOString();
    return {
      resource: {
        id: this.deps.ids.next(sessionResourceIdPrefix),
        type: "file",
        file_id: params.file_id,
        mount_path: target.mountPath,
        created_at: now,
        updated_at: now,
      },
      target,
    };
  }

  /**
   * Copies the content of a new session's file resources into its stores. Runs before the session
   * record is written: a crash in between leaves copies no session refers to, never a session
   * whose mounted file is missing.
   */
  async mount(workspaceId: string, sessionId: string, resources: readonly SessionResource[]): Promise<void> {
    for (const r of fileResources([...resources])) await this.copy(workspaceId, sessionId, r);
  }

  private async copy(workspaceId: string, sessionId: string, resource: StoredFileResource): Promise<void> {
    if (!this.files) throw new InvalidRequestError("resources: this server has no Files API configured");
    const target = fileMountTarget(resource.file_id, resource.mount_path);
    await copyFileToWorkspace(this.files, this.deps.workspace, {
      workspaceId,
      fileId: resource.file_id,
      sessionWorkspaceId: target.storeId(sessionId),
      path: target.key,
    });
  }

  private async resources(workspaceId: string, sessionId: string): Promise<SessionResource[]> {
    const record = await this.deps.sessions.get(workspaceId, sessionId);
    if (!record) throw new NotFoundError("session", sessionId);
    return record.session.resources;
  }

  async list(
    workspaceId: string,
    sessionId: string,
    query: { limit: number; page?: string },
  ): Promise<PageCursorBody<SessionResource>> {
    const all = await this.resources(workspaceId, sessionId);
    const after = decodeCursor(query.page);
    const start = after === undefined ? 0 : all.findIndex((r) => idOf(r) === after) + 1;
    const data = all.slice(start, start + query.limit);
    const more = start + query.limit < all.length;
    return {
      data,
      next_page: more && data.length ? encodeCursor(idOf(data.at(-1) as SessionResource) ?? "") : null,
    };
  }

  async retrieve(workspaceId: string, sessionId: string, resourceId: string): Promise<SessionResource> {
    const found = (await this.resources(workspaceId, sessionId)).find((r) => idOf(r) === resourceId);
    if (!found) throw new NotFoundError("session resource", resourceId);
    return found;
  }

  /**
   * Mounts a file into a running session. Idempotent: adding the same file at the same mount path
   * again (a retried request) returns the resource already there instead of a second one. The copy
   * is written before the session record names it, so the resource never points at a missing copy.
   */
  async add(workspaceId: string, sessionId: string, body: FileResourceParams): Promise<SessionResource> {
    const record = await this.deps.sessions.get(workspaceId, sessionId);
    if (!record) throw new NotFoundError("session", sessionId);
    if (record.session.archived_at) throw new InvalidRequestError("session is archived");
    const current = record.session.resources;
    const wanted = fileMountTarget(body.file_id, body.mount_path).mountPath;
    const same = (r: StoredFileResource) => r.file_id === body.file_id && r.mount_path === wanted;
    const existing = fileResources(current).find(same);
    if (existing) return existing;
    const taken = new Set(current.map((r) => r.mount_path).filter((p): p is string => Boolean(p)));
    const { resource } = await this.resolveFile(workspaceId, body, taken, (fileId) => {
      throw new NotFoundError("file", fileId);
    });
    await this.copy(workspaceId, sessionId, resource);
    let result: StoredFileResource = resource;
    const saved = await this.deps.sessions.mutate(workspaceId, sessionId, (record) => {
      const files = fileResources(record.session.resources);
      const raced = files.find(same);
      if (raced) {
        result = raced;
        return undefined;
      }
      if (record.session.resources.some((r) => r.mount_path === wanted))
        throw new InvalidRequestError(`mount_path: ${wanted} is already mounted in this session`);
      if (files.length >= MAX_FILES_PER_SESSION)
        throw new InvalidRequestError(`a session mounts at most ${MAX_FILES_PER_SESSION} files`);
      record.session.resources.push(resource);
      record.session.updated_at = resource.updated_at;
      return record;
    });
    if (!saved) throw new NotFoundError("session", sessionId);
    return result;
  }

  /** Only `github_repository` resources take a new authorization token. */
  async update(workspaceId: string, sessionId: string, resourceId: string): Promise<SessionResource> {
    const resource = await this.retrieve(workspaceId, sessionId, resourceId);
    throw new InvalidRequestError(
      `session resource ${resourceId} is a ${resource.type} resource: only github_repository resources take an authorization_token`,
    );
  }

  /**
   * Detaches a resource; a memory store or a file under /mnt/session is unmounted from the session's
   * next tool call on (a file copied under /workspace stays in the workspace, as the agent's copy).
   */
  async delete(
    workspaceId: string,
    sessionId: string,
    resourceId: string,
  ): Promise<{ id: string; type: "session_resource_deleted" }> {
    let found = false;
    const result = await this.deps.sessions.mutate(workspaceId, sessionId, (current) => {
      const kept = current.session.resources.filter((r) => idOf(r) !== resourceId);
      found = kept.length !== current.session.resources.length;
      if (!found) return undefined;
      current.session.resources = kept;
      return current;
    });
    if (!result) throw new NotFoundError("session", sessionId);
    if (!found) throw new NotFoundError("session resource", resourceId);
    return { id: resourceId, type: "session_resource_deleted" };
  }
}

function idOf(resource: SessionResource): string | undefined {
  return (resource as { id?: string }).id;
}
