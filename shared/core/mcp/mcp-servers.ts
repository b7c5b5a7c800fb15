/**
 * A run's MCP servers as one step uses them: connections opened on first use with the session's
 * vault credential (and opened again once, with `afterUnauthorized`, when the server answers 401),
 * each connection's tool list stored as it opens (a reconnect refreshes the list), all closed when
 * the step is done. Connections never outlive a step: a step on another process starts afresh.
 *
 * Before a step's model call, {@link offerMcpTools} makes sure every server has a stored tool list:
 * a server never listed (or whose listing failed more than {@link LIST_RETRY_MS} ago) is connected
 * and listed now; one that cannot be reached gets a `session.error` (`mcp_connection_failed_error`
 * or `mcp_authentication_failed_error`, `retrying`: a later step tries again) and the turn goes on
 * without its tools — a server that is down never fails or stalls the session.
 */

import { idPrefix } from "../../contract/ids.js";
import type { SessionEvent } from "../../contract/sdk-types.js";
import { emitOnce } from "../events/emit-once.js";
import type { EventLog } from "../events/event-log.js";
import {
  type Clock,
  type DocumentStore,
  type IdGenerator,
  type Logger,
  type McpConnection,
  type McpConnector,
  McpServerError,
} from "../ports.js";
import { loadMcpToolLists, type McpToolList, saveMcpListFailure, saveMcpToolList } from "./mcp-tool-lists.js";
import { mcpToolsets, type OfferedMcpTool, offeredMcpTools, usesMcp } from "./mcp-toolsets.js";

/** How long after a failed listing a server is tried again, ms. */
export const LIST_RETRY_MS = 30_000;

/** Bounds on talking to MCP servers, ms. */
export interface McpTimeouts {
  /** Connecting (initialize) and listing tools, each. */
  connectMs: number;
  /** One tool call (also kept inside the step's lease). */
  callMs: number;
}

export const DEFAULT_MCP_TIMEOUTS: McpTimeouts = { connectMs: 15_000, callMs: 60_000 };

/** Where an MCP server's Authorization comes from: the session's vaults (VaultCredentials). */
export interface McpCredentialSource {
  authorizationFor(
    workspace: string,
    vaultIds: readonly string[],
    mcpServerUrl: string,
    options?: { afterUnauthorized?: boolean },
  ): Promise<string | undefined>;
}

/** What MCP needs from a step's deps (StepDeps has it). */
export interface McpDeps {
  store: DocumentStore;
  events: EventLog;
  ids: IdGenerator;
  clock: Clock;
  logger: Logger;
  /** The connector (agent-step and the embedded stack wire one); without it every MCP server is unreachable. */
  mcp?: McpConnector;
  mcpTimeouts?: McpTimeouts;
  vaultCredentials?: McpCredentialSource;
  leaseMs: number;
}

/** The run whose servers these are. */
export interface McpRun {
  workspaceId: string;
  /** The session, or a child thread: its lists, intents and events. */
  runId: string;
  vaultIds: readonly string[];
  servers: ReadonlyArray<{ name: string; url: string }>;
}

const originOf = (url: string) => {
  try {
    return new URL(url).origin;
  } catch {
    return "the server";
  }
};

/** The open connections of one step, by server name. */
export class McpServers {
  private readonly open = new Map<string, Promise<McpConnection>>();
  private readonly listErrors = new Map<string, unknown>();
  /** What each server listed in this step (as stored), so a caller need not read it back. */
  private readonly listed = new Map<string, McpToolList>();

  constructor(
    private readonly deps: McpDeps,
    readonly run: McpRun,
  ) {}

  get timeouts(): McpTimeouts {
    return this.deps.mcpTimeouts ?? DEFAULT_MCP_TIMEOUTS;
  }

  server(name: string) {
    return this.run.servers.find((s) => s.name === name);
  }

  /** The step's connection to `name`, opened (and its tool list stored) on first use. */
  connection(name: string): Promise<McpConnection> {
    return this.open.get(name) ?? this.opening(name, false);
  }

  /** Drops the step's connection to `name` and opens a new one, telling the vault the last one got a 401. */
  async reconnectAfterUnauthorized(name: string): Promise<McpConnection> {
    const previous = this.open.get(name);
    this.open.delete(name);
    await previous?.then((c) => c.close()).catch(() => undefined);
    return this.opening(name, true);
  }

  private opening(name: string, afterUnauthorized: boolean): Promise<McpConnection> {
    const connection = this.connect(name, afterUnauthorized);
    // A failed attempt is not kept: the next call of the step tries again.
    connection.catch(() => this.open.delete(name));
    this.open.set(name, connection);
    return connection;
  }

  /** Drops (and closes) the step's connection to `name`: the next use connects again. */
  async discard(name: string): Promise<void> {
    const previous = this.open.get(name);
    this.open.delete(name);
    await previous?.then((c) => c.close()).catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    const open = [...this.open.values()];
    this.open.clear();
    await Promise.all(open.map((c) => c.then((x) => x.close()).catch(() => undefined)));
  }

  private async authorization(url: string, afterUnauthorized: boolean): Promise<string | undefined> {
    const source = this.deps.vaultCredentials;
    if (!source || this.run.vaultIds.length === 0) return undefined;
    return source.authorizationFor(
      this.run.workspaceId,
      this.run.vaultIds,
      url,
      afterUnauthorized ? { afterUnauthorized: true } : undefined,
    );
  }

  /** Why the last listing of `name` in this step failed (undefined: it did not). */
  listError(name: string): unknown {
    return this.listErrors.get(name);
  }

  /** The list `name` answered in this step, as stored (undefined: not listed in this step). */
  listedIn(name: string): McpToolList | undefined {
    return this.listed.get(name);
  }

  private async connect(name: string, afterUnauthorized: boolean): Promise<McpConnection> {
    const server = this.server(name);
    if (!server) throw new McpServerError("unreachable", `the agent has no MCP server named ${name}`);
    const connector = this.deps.mcp;
    if (!connector)
      throw new McpServerError("unreachable", "MCP servers cannot be reached from this process");
    let authorization = await this.authorization(server.url, afterUnauthorized);
    const open = () =>
      connector.connect(server.url, {
        headers: authorization ? { authorization } : {},
        timeoutMs: this.timeouts.connectMs,
      });
    let connection: McpConnection;
    try {
      connection = await open();
    } catch (error) {
      // A 401 to a credential: ask the vault again (an OAuth token is refreshed) and try once more.
      const unauthorized = error instanceof McpServerError && error.kind === "unauthorized";
      if (afterUnauthorized || !unauthorized || authorization === undefined) throw error;
      authorization = await this.authorization(server.url, true);
      connection = await open();
    }
    try {
      await this.refreshList(server, connection);
    } catch (error) {
      await connection.close().catch(() => undefined);
      throw error;
    }
    return connection;
  }

  /**
   * A (re)connect refreshes the stored tool list. A server that lists garbage may still answer
   * calls, so that failure only costs the refresh; one that does not answer (or refuses) fails the
   * connection.
   */
  private async refreshList(server: { name: string; url: string }, connection: McpConnection) {
    try {
      const tools = await connection.listTools({ timeoutMs: this.timeouts.connectMs });
      this.listed.set(
        server.name,
        await saveMcpToolList(this.deps, this.run.runId, server, tools, this.deps.clock.now()),
      );
      this.listErrors.delete(server.name);
    } catch (error) {
      this.listErrors.set(server.name, error);
      this.deps.logger.warn("listing an MCP server's tools failed", {
        runId: this.run.runId,
        server: server.name,
        error: String((error as Error)?.message ?? error),
      });
      if (!(error instanceof McpServerError) || error.kind !== "protocol") throw error;
    }
  }
}

/** The run of a session (or thread) record, for {@link McpServers}. */
export function mcpRunOf(record: {
  workspaceId: string;
  session: { id: string; vault_ids?: readonly string[] | null; agent: Parameters<typeof usesMcp>[0] };
}): McpRun {
  const agent = record.session.agent;
  const named = new Set(mcpToolsets(agent).map((t) => t.mcp_server_name));
  return {
    workspaceId: record.workspaceId,
    runId: record.session.id,
    vaultIds: record.session.vault_ids ?? [],
    servers: agent.mcp_servers.filter((s) => named.has(s.name)).map((s) => ({ name: s.name, url: s.url })),
  };
}

/** The `session.error` of a server that could not be listed. */
function listFailureEvent(deps: McpDeps, server: string, error: unknown): SessionEvent {
  const unauthorized = error instanceof McpServerError && error.kind === "unauthorized";
  const reason = error instanceof McpServerError ? error.message : String((error as Error)?.message ?? error);
  return {
    type: "session.error",
    id: deps.ids.next(idPrefix.event),
    processed_at: new Date(deps.clock.now()).toISOString(),
    error: {
      type: unauthorized ? "mcp_authentication_failed_error" : "mcp_connection_failed_error",
      mcp_server_name: server,
      message: unauthorized
        ? `MCP server ${server} refused the session's credentials; its tools are not available (${reason})`
        : `MCP server ${server} could not be reached; its tools are not available until it can be (${reason})`,
      retry_status: { type: "retrying" },
    },
  };
}

/**
 * The MCP tools to offer at this step (see the module comment): stored lists, servers without one
 * listed now. `reserved` holds the names of the request's other tools; `stepSeq` keys the one
 * `session.error` per unreachable server and step.
 */
export async function offerMcpTools(
  deps: McpDeps,
  record: Parameters<typeof mcpRunOf>[0],
  stepSeq: number,
  reserved: ReadonlySet<string>,
): Promise<OfferedMcpTool[]> {
  const agent = record.session.agent;
  if (!usesMcp(agent)) return [];
  const run = mcpRunOf(record);
  const stored = await loadMcpToolLists(deps.store, run.runId, run.servers);
  const now = deps.clock.now();
  const due = run.servers.filter((s) => {
    const list = stored.get(s.name);
    if (list?.tools) return false;
    return list?.failedAt === undefined || now - list.failedAt >= LIST_RETRY_MS;
  });
  if (due.length > 0) {
    const servers = new McpServers(deps, run);
    try {
      await Promise.all(
        due.map(async (server) => {
          try {
            await servers.connection(server.name);
            if (servers.listError(server.name)) throw servers.listError(server.name);
            const fresh = servers.listedIn(server.name);
            if (!fresh?.tools) throw new McpServerError("protocol", `${originOf(server.url)}: no tool list`);
            stored.set(server.name, fresh);
          } catch (error) {
            deps.logger.warn("an MCP server could not be listed", {
              runId: run.runId,
              server: server.name,
              error: String((error as Error)?.message ?? error),
            });
            const previous: McpToolList | undefined = stored.get(server.name);
            stored.set(server.name, await saveMcpListFailure(deps.store, run.runId, server, previous, now));
            await emitOnce(deps.store, deps.events, run.runId, `mcp#${server.name}#${stepSeq}`, [
              listFailureEvent(deps, server.name, error),
            ]);
          }
        }),
      );
    } finally {
      await servers.closeAll();
    }
  }
  const lists = new Map<string, NonNullable<McpToolList["tools"]>>();
  for (const [name, list] of stored) if (list.tools) lists.set(name, list.tools);
  return offeredMcpTools(agent, lists, reserved);
}
