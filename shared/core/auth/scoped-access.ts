/**
 * What a narrower credential may reach. An environment key works only its own environment's queue;
 * a sessions token serves only its work item's session — that session's events, the memory stores
 * mounted in it (writes only where it is mounted `read_write`), the skill versions its agent names and
 * its own work item — and only while its lease generation is current. Anything else is refused before
 * a handler runs: a route the credential may not call is a 403, a resource outside its scope a 404
 * (as another workspace's is).
 */
import { ApiError, NotFoundError } from "../../contract/errors.js";
import type { Session } from "../../contract/sdk-types.js";
import type { CredentialScope, Principal } from "./api-keys.js";

type SessionScope = Extract<CredentialScope, { kind: "session" }>;

export interface ScopedAccessDeps {
  /** The session's resources (memory stores it mounts), or undefined if it does not exist. */
  sessionResources(workspaceId: string, sessionId: string): Promise<Session["resources"] | undefined>;
  /** Whether the token's lease generation still holds its (unstopped) work item. */
  tokenIsCurrent(workspaceId: string, scope: SessionScope): Promise<boolean>;
  /** The skills the session's agent names, pinned (what its worker downloads); absent: none reachable. */
  sessionSkills?(
    workspaceId: string,
    sessionId: string,
  ): Promise<ReadonlyArray<{ type: string; skill_id: string; version: string }> | undefined>;
}

/** The parts of a matched route the check needs. */
export interface ScopedRoute {
  scopes: ReadonlyArray<CredentialScope["kind"]>;
  ownLeaseCheck: boolean;
}

const describe = (scope: CredentialScope) =>
  scope.kind === "environment" ? "an environment key" : "a work item's sessions token";

export class ScopedAccess {
  constructor(private readonly deps: ScopedAccessDeps) {}

  /** Throws unless `principal` (a scoped one) may make this call; a workspace key always may. */
  async check(
    principal: Principal,
    route: ScopedRoute,
    params: Record<string, string>,
    method: string,
  ): Promise<void> {
    const scope = principal.scope;
    if (!scope) return;
    if (!route.scopes.includes(scope.kind))
      throw new ApiError("permission_error", `${describe(scope)} may not call this endpoint`);
    if (params.environment_id !== undefined && params.environment_id !== scope.environmentId)
      throw new NotFoundError("environment", params.environment_id);
    if (scope.kind === "environment") return;

    if (params.work_id !== undefined && params.work_id !== scope.workId)
      throw new NotFoundError("work", params.work_id);
    if (params.session_id !== undefined && params.session_id !== scope.sessionId)
      throw new NotFoundError("session", params.session_id);
    if (!route.ownLeaseCheck && !(await this.deps.tokenIsCurrent(principal.workspaceId, scope)))
      throw new ApiError(
        "authentication_error",
        "this sessions token no longer holds its work item's lease (stopped, or handed to another worker)",
      );
    const skillId = params.skill_id;
    if (skillId !== undefined) {
      // Only the pinned versions of the skills its session's agent names (the SDK's setupSkills).
      const skills = await this.deps.sessionSkills?.(principal.workspaceId, scope.sessionId);
      const named = skills?.some(
        (s) => s.type === "custom" && s.skill_id === skillId && (params.version ?? s.version) === s.version,
      );
      if (!named) throw new NotFoundError("skill", skillId);
    }
    const storeId = params.memory_store_id;
    if (storeId !== undefined) {
      const resources = await this.deps.sessionResources(principal.workspaceId, scope.sessionId);
      const mounted = resources?.find((r) => r.type === "memory_store" && r.memory_store_id === storeId) as
        | { access?: string }
        | undefined;
      if (!mounted) throw new NotFoundError("memory_store", storeId);
      if (method !== "GET" && mounted.access === "read_only")
        throw new ApiError(
          "permission_error",
          `memory store ${storeId} is mounted read_only in this session`,
        );
    }
  }
}
