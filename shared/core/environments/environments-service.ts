/** /v1/environments: create, retrieve, update, list, delete, archive. */
import {
  applyEnvironmentUpdate,
  type EnvironmentCreate,
  type EnvironmentListQuery,
  type EnvironmentUpdate,
  normalizeEnvironmentFields,
} from "../../contract/environments.js";
import { InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { idPrefix } from "../../contract/ids.js";
import type { Environment } from "../../contract/sdk-types.js";
import { collectPage, decodeCursor, type PageCursorBody } from "../paging.js";
import type { Clock, DocumentStore, IdGenerator, StoredItem } from "../ports.js";
import { changeRevisioned } from "../revisioned-item.js";

const envKey = (ws: string) => `ws#${ws}#env`;

export class EnvironmentsService {
  constructor(
    private readonly store: DocumentStore,
    private readonly ids: IdGenerator,
    private readonly clock: Clock,
  ) {}

  async create(workspaceId: string, body: EnvironmentCreate): Promise<Environment> {
    const now = new Date(this.clock.now()).toISOString();
    const fields = normalizeEnvironmentFields(body);
    refuseUninstallablePackages(fields.config);
    const environment: Environment = {
      ...fields,
      id: this.ids.next(idPrefix.environment),
      type: "environment",
      created_at: now,
      updated_at: now,
      archived_at: null,
    };
    await this.store.put(
      "resources",
      { pk: envKey(workspaceId), sk: environment.id, rev: 1, environment },
      { expectedRev: 0 },
    );
    return environment;
  }

  private async item(workspaceId: string, id: string): Promise<StoredItem> {
    const item = await this.store.get("resources", envKey(workspaceId), id);
    if (!item) throw new NotFoundError("environment", id);
    return item;
  }

  async retrieve(workspaceId: string, id: string): Promise<Environment> {
    return (await this.item(workspaceId, id)).environment as Environment;
  }

  /** The config type sessions check (`cloud` or `self_hosted`); archived environments take no sessions. */
  async configType(workspaceId: string, id: string): Promise<string> {
    const environment = await this.retrieve(workspaceId, id);
    if (environment.archived_at) throw new InvalidRequestError(`environment ${id} is archived`);
    return environment.config.type;
  }

  private change(workspaceId: string, id: string, apply: (e: Environment) => Environment | undefined) {
    return changeRevisioned<Environment>(
      this.store,
      "resources",
      "environment",
      () => this.item(workspaceId, id),
      apply,
    );
  }

  async update(workspaceId: string, id: string, body: EnvironmentUpdate): Promise<Environment> {
    return this.change(workspaceId, id, (current) => {
      if (current.archived_at) throw new InvalidRequestError(`environment ${id} is archived`);
      const { fields, changed } = applyEnvironmentUpdate(
        { ...current, scope: current.scope ?? "organization" },
        body,
      );
      if (changed) refuseUninstallablePackages(fields.config);
      return changed
        ? { ...current, ...fields, updated_at: new Date(this.clock.now()).toISOString() }
        : undefined;
    });
  }

  async archive(workspaceId: string, id: string): Promise<Environment> {
    return this.change(workspaceId, id, (current) =>
      current.archived_at ? undefined : { ...current, archived_at: new Date(this.clock.now()).toISOString() },
    );
  }

  async delete(workspaceId: string, id: string): Promise<{ id: string; type: "environment_deleted" }> {
    await this.item(workspaceId, id);
    await this.store.delete("resources", envKey(workspaceId), id);
    return { id, type: "environment_deleted" };
  }

  async list(workspaceId: string, query: EnvironmentListQuery): Promise<PageCursorBody<Environment>> {
    return collectPage<StoredItem, Environment>({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, limit) =>
        this.store.query("resources", envKey(workspaceId), { after, limit, order: "asc" }),
      keyOf: (i) => i.sk,
      keep: (i) => query.include_archived || !(i.environment as Environment).archived_at,
      map: (i) => i.environment as Environment,
    });
  }
}

/**
 * `packages` on a cloud environment are refused rather than stored and silently not installed: no
 * sandbox here installs packages when it starts yet (the bubblewrap root and the AWS sandbox
 * Lambda are read-only images). An agent can still install what it needs with `bash` where the
 * environment's networking allows the registries.
 */
function refuseUninstallablePackages(config: Environment["config"] | undefined) {
  if (config?.type !== "cloud" || !config.packages) return;
  const asked = Object.entries(config.packages).filter(
    ([manager, list]) => manager !== "type" && Array.isArray(list) && list.length > 0,
  );
  if (asked.length === 0) return;
  throw new InvalidRequestError(
    `config.packages: this deployment's sandbox does not preinstall packages (${asked
      .map(([manager]) => manager)
      .join(
        ", ",
      )}); leave packages empty and have the agent install them with bash (networking must allow the package registries)`,
  );
}
