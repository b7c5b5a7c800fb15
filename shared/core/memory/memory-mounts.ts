/**
 * Memory stores mounted into a session at `/mnt/memory/<name>/`: each store is a WorkspaceStore the
 * ordinary file tools use, writing through the memory write path as the session (`session_actor`),
 * with Reverie's provenance (the `agent.tool_use` event that wrote it) and taint. Also the system
 * prompt note that tells the agent about its mounts.
 */

import { ApiError } from "../../contract/errors.js";
import {
  MEMORY_LIMITS,
  MemoryPreconditionFailedError,
  memoryPathProblem,
} from "../../contract/memory-stores.js";
import type { MemoryStoreResource, Session } from "../../contract/sdk-types.js";
import type { EventLog, LoggedEvent } from "../events/event-log.js";
import type { WorkspaceFile } from "../ports.js";
import { FileToolError, type FileToolStore, type MountedStore } from "../tools/file-tools.js";
import { instructionLike, stripHiddenCharacters, type TaintSource, taintSources } from "./content-safety.js";
import { MemoriesService, type WriteContext } from "./memories-service.js";
import type { MemoryHead } from "./memory-records.js";
import { type MemoryDeps, MemoryStoresService } from "./memory-stores-service.js";

/** Where memory stores are mounted. */
export const MEMORY_MOUNT_ROOT = "/mnt/memory";

/** What one tool call needs to write to memory as its session. */
export interface MountWriter {
  workspaceId: string;
  /** The session the version is attributed to (`session_actor`): a thread's parent session. */
  sessionId: string;
  /** The child thread that wrote, recorded in the provenance (`reverie.thread_id`). */
  threadId?: string;
  /** The `agent.tool_use` event being executed: recorded on every version it writes. */
  toolUseEventId?: string;
  /** The session's events (read only when the call writes to memory, to compute taint). */
  readLog: () => Promise<readonly LoggedEvent[]>;
  /** A child thread's log, to carry the taint of a thread's reply into the coordinator's writes. */
  readThreadLog?: (threadId: string) => Promise<readonly LoggedEvent[]>;
  /**
   * Sources the writing call itself brings: what a `bash` command writes into a mount may come from
   * what it read or fetched, so its write-backs are tainted by `bash` whatever came before.
   */
  ownTaint?: readonly TaintSource[];
}

/** A memory store seen as a flat file store: key `a/b.md` is the memory at path `/a/b.md`. */
export class MemoryStoreFiles implements FileToolStore {
  /** The hash of what this tool call read, so an `edit` only lands on the content it edited. */
  private readonly readShas = new Map<string, string>();

  constructor(
    private readonly memories: MemoriesService,
    private readonly stores: MemoryStoresService,
    private readonly storeId: string,
    private readonly writer: MountWriter,
  ) {}

  /** What `list` read, so a `grep` over the listing doesn't read every memory a second time. */
  private listed: Map<string, MemoryHead> | undefined;

  async read(_id: string, key: string): Promise<string | undefined> {
    const head = this.listed?.get(key) ?? (await this.memories.findByPath(this.storeId, `/${key}`));
    if (head) this.readShas.set(key, head.sha);
    return head?.content;
  }

  async list(_id: string): Promise<WorkspaceFile[]> {
    const heads = await this.memories.listAll(this.storeId);
    this.listed = new Map(heads.map((head) => [head.path.slice(1), head]));
    return heads.map((head) => ({
      path: head.path.slice(1),
      size: head.size,
      modifiedAt: Date.parse(head.updatedAt),
    }));
  }

  /** The memory as it would be stored: hidden characters stripped, path and size checked. */
  storedForm(key: string, content: string): string {
    return this.clean(key, content).text;
  }

  /** Writes on the content this tool call read, if it read the memory (`content_sha256` precondition). */
  async write(_id: string, key: string, content: string): Promise<void> {
    await this.put(key, content, this.readShas.get(key));
  }

  /**
   * Writes only if the memory's content hashes to `expectedSha` (the `content_sha256` precondition),
   * or with `null` only if there is no memory at the path (a create, which never overwrites).
   */
  async writeIfUnchanged(
    _id: string,
    key: string,
    content: string,
    expectedSha: string | null,
  ): Promise<void> {
    await this.put(key, content, expectedSha);
  }

  private clean(key: string, content: string): { text: string; removed: number } {
    const problem = memoryPathProblem(`/${key}`);
    if (problem)
      throw new FileToolError(`${MEMORY_MOUNT_ROOT}/…/${key}: not a valid memory path (${problem})`);
    const clean = stripHiddenCharacters(content);
    if (Buffer.byteLength(clean.text, "utf8") > MEMORY_LIMITS.contentMaxBytes)
      throw new FileToolError(
        `a memory holds at most ${MEMORY_LIMITS.contentMaxBytes} bytes (100 kB); split it into several files`,
      );
    return clean;
  }

  private async put(key: string, content: string, expectedSha: string | null | undefined): Promise<void> {
    const path = `/${key}`;
    const clean = this.clean(key, content);
    try {
      await this.stores.writable(this.writer.workspaceId, this.storeId);
      const context = await this.context(clean);
      if (expectedSha === null)
        await this.memories.createMemory(this.storeId, { path, content: clean.text }, context);
      else await this.memories.writeAtPath(this.storeId, path, clean.text, { ...context, expectedSha });
    } catch (error) {
      if (error instanceof MemoryPreconditionFailedError)
        throw new FileToolError(`${path} changed in memory since it was read; read it again and retry`);
      if (error instanceof ApiError) throw new FileToolError(error.message);
      throw error;
    }
  }

  private async context(clean: { text: string; removed: number }): Promise<WriteContext> {
    const log = await this.writer.readLog();
    const found = new Set([
      ...taintSources(log, this.writer.toolUseEventId),
      ...(this.writer.ownTaint ?? []),
    ]);
    // A thread's reply may carry what the thread read: its sources count for the coordinator
    // (conservatively, all of the thread's, also those after its reply).
    if (this.writer.readThreadLog)
      for (const threadId of repliesBefore(log, this.writer.toolUseEventId))
        for (const source of taintSources(await this.writer.readThreadLog(threadId))) found.add(source);
    const sources = [...found];
    return {
      actor: { type: "session_actor", session_id: this.writer.sessionId },
      provenance: {
        tool_use_event_id: this.writer.toolUseEventId ?? null,
        thread_id: this.writer.threadId ?? null,
        tainted: sources.length > 0,
        taint_sources: sources,
        hidden_characters_stripped: clean.removed,
        instruction_like: instructionLike(clean.text),
      },
    };
  }
}

/** The memory store resources of a session. */
export function memoryResources(resources: Session["resources"]): MemoryStoreResource[] {
  return resources.filter((r): r is MemoryStoreResource => r.type === "memory_store");
}

/** The mounts of a session's memory stores for one tool call (read-only ones refuse writes). */
export function memoryMounts(
  resources: Session["resources"],
  services: { memories: MemoriesService; stores: MemoryStoresService },
  writer: MountWriter,
): MountedStore[] {
  let log: Promise<readonly LoggedEvent[]> | undefined;
  const once: MountWriter = { ...writer, readLog: () => (log ??= writer.readLog()) };
  return memoryResources(resources).map((resource) => ({
    mount: {
      kind: "memory_store",
      root: resource.mount_path ?? `${MEMORY_MOUNT_ROOT}/${resource.memory_store_id}`,
      readOnly: resource.access === "read_only",
    },
    store: new MemoryStoreFiles(services.memories, services.stores, resource.memory_store_id, once),
    id: resource.memory_store_id,
  }));
}

/**
 * The system-prompt section that describes a session's memory mounts (name, description, access,
 * instructions), or undefined without any. It depends only on the session's resources, which are
 * fixed at creation, so it sits in the cached prefix of every step.
 */
export function memoryPromptNote(resources: Session["resources"]): string | undefined {
  const mounted = memoryResources(resources);
  if (mounted.length === 0) return undefined;
  const lines = [
    "# Memory",
    "These memory stores are mounted as directories. Use the file tools (read, write, edit, glob, grep) on them; what you write there persists across sessions. Keep each memory small and focused (at most 100 kB); read a memory before you edit it.",
  ];
  for (const r of mounted) {
    lines.push("");
    lines.push(
      `## ${r.mount_path}/ — ${r.name ?? r.memory_store_id} (${r.access === "read_only" ? "read-only: you can read it but not write it" : "read-write"})`,
    );
    if (r.description) lines.push(`Description: ${r.description}`);
    if (r.instructions) lines.push(`Instructions: ${r.instructions}`);
  }
  return lines.join("\n");
}

/**
 * The memory mounts of a session for the tool call `toolUseEventId`, built from the step's
 * dependencies (the memory services are stateless, so building them per call costs nothing).
 */
export function sessionMemoryMounts(
  deps: MemoryDeps & { events: EventLog },
  session: {
    workspaceId: string;
    sessionId: string;
    resources: Session["resources"];
    /** A child thread's parent session (the thread writes as it). */
    owner?: string;
    /** A child thread's dispatching `send_to_agent` tool use in the parent's log. */
    dispatchedBy?: string;
  },
  toolUseEventId: string | undefined,
  ownTaint?: readonly TaintSource[],
): MountedStore[] {
  // A child thread writes as its parent session; its taint is what entered its own context.
  const thread = session.owner && session.owner !== session.sessionId ? session.sessionId : undefined;
  if (memoryResources(session.resources).length === 0) return [];
  const stores = new MemoryStoresService(deps);
  return memoryMounts(
    session.resources,
    { memories: new MemoriesService(deps, stores), stores },
    {
      workspaceId: session.workspaceId,
      sessionId: session.owner ?? session.sessionId,
      threadId: thread,
      toolUseEventId,
      readLog: () => (thread ? threadContextLog(deps.events, session) : deps.events.read(session.sessionId)),
      readThreadLog: thread ? undefined : (threadId) => deps.events.read(threadId),
      ownTaint,
    },
  );
}

/**
 * What entered a child thread's context: the coordinator's log up to the `send_to_agent` call that
 * sent the thread its message (which the coordinator may have written from untrusted content, so
 * that content's taint carries over), then the thread's own log.
 */
async function threadContextLog(
  events: EventLog,
  session: { sessionId: string; owner?: string; dispatchedBy?: string },
): Promise<LoggedEvent[]> {
  const [parent, own] = await Promise.all([
    events.read(session.owner as string),
    events.read(session.sessionId),
  ]);
  const cut = session.dispatchedBy ? parent.findIndex((e) => e.event.id === session.dispatchedBy) : -1;
  return [...(cut >= 0 ? parent.slice(0, cut) : parent), ...own];
}

/** The child threads whose replies reached a log before the event `beforeEventId`. */
function repliesBefore(log: readonly LoggedEvent[], beforeEventId?: string): Set<string> {
  const threads = new Set<string>();
  for (const { event } of log) {
    if (beforeEventId && event.id === beforeEventId) break;
    if (event.type === "agent.thread_message_received") threads.add(event.from_session_thread_id);
  }
  return threads;
}
