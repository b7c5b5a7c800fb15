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
import type { MemoryStoreResourceParams, SessionResourceParams } from "../../contract/session-resources.js";
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
    private readonly deps: Pick<StepDeps, "sessions" | "ids">,
    private readonly memoryStores: MemoryStoresService,
  ) {}

  private readonly resolvers: {
    [T in SessionResourceParams["type"]]: Resolver<Extract<SessionResourceParams, { type: T }>>;
  } = {
    memory_store: (ws, params, taken) => this.resolveMemoryStore(ws, params, taken),
    file: async () => {
      throw new InvalidRequestError(
        "resources: file resources are not supported yet (this server has no Files API yet)",
      );
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

  /** Adding resources to a running session is only defined for files, which are not supported yet. */
  async add(workspaceId: string, sessionId: string, body: SessionResourceParams): Promise<SessionResource> {
    await this.resources(workspaceId, sessionId);
    const resolver = this.resolvers[body.type] as Resolver<SessionResourceParams>;
    return resolver(workspaceId, body, new Set());
  }

  /** Only `github_repository` resources take a new authorization token. */
  async update(workspaceId: string, sessionId: string, resourceId: string): Promise<SessionResource> {
    const resource = await this.retrieve(workspaceId, sessionId, resourceId);
    throw new InvalidRequestError(
      `session resource ${resourceId} is a ${resource.type} resource: only github_repository resources take an authorization_token`,
    );
  }

  /** Detaches a resource; a memory store is unmounted from the session's next tool call on. */
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
