/**
 * The dreamer's own tools, beside the file toolset on its two mounts. Each sees exactly the dream's
 * input sessions (a session id outside them is an error result, never a read), pages are bounded, and
 * long strings in an event (tool inputs and outputs above all) are cut with a marker saying so:
 *
 * - `list_dream_sessions` — the dream's sessions: id, title, status, how many events;
 * - `read_session_events` — one page of one session's events (`after_seq`, `limit` ≤ 50);
 * - `search_dream_sessions` — a case-insensitive text search over the sessions' events;
 * - `delete_memory` — removes a memory from the draft (the output mount), never from the input;
 * - `finish_dream` — the dreamer's structured answer: a summary and a cited entry per changed file,
 *   validated with zod; a malformed call is answered with the validation error, and after
 *   `maxMalformedFinishes` of them the dream fails saying why.
 *
 * Every tool here only reads, except `delete_memory` (a delete keyed by path: running it again after
 * a crash finds nothing left to delete) and `finish_dream` (puts of the same items).
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { BetaDream } from "@anthropic-ai/sdk/resources/beta/dreams";
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { MemoryStoreResource, SessionEvent } from "../../contract/sdk-types.js";
import { MemoriesService } from "../memory/memories-service.js";
import { MemoryStoresService } from "../memory/memory-stores-service.js";
import type { ExtensionTool } from "../runtime/run-extension.js";
import type { StepDeps } from "../runtime/step-deps.js";
import type { SessionRecord } from "../sessions/session-record.js";
import { describeIssues, validateToolInput } from "../tools/forced-tool-call.js";
import type { ToolOutcome } from "../tools/toolset.js";
import { DreamRepository } from "./dream-record.js";
import { DREAM_OUTPUT_MOUNT } from "./dreamer-agent.js";
import { normalisePath } from "./dreamer-answer.js";
import {
  type FinishDream,
  finishDreamInputSchema,
  finishDreamSchema,
  finishKey,
  readManifest,
} from "./dreamer-state.js";
import { sessionIdsOf } from "./dreams-service.js";

export const DREAMER_TOOL_NAMES = {
  list: "list_dream_sessions",
  read: "read_session_events",
  search: "search_dream_sessions",
  delete: "delete_memory",
  finish: "finish_dream",
} as const;

/** Bounds of what one dreamer tool call returns. */
export const DREAMER_TOOL_LIMITS = {
  /** Events per page (default and most). */
  pageEvents: 20,
  maxPageEvents: 50,
  /** A string in an event longer than this is cut, with a marker. */
  stringChars: 1_500,
  /** A tool input whose JSON is longer than this is shown as cut JSON text, with a marker. */
  inputChars: 1_000,
  searchResults: 30,
  snippetChars: 240,
} as const;

export interface DreamerToolOptions {
  /** Malformed finish_dream calls before the dream fails (default 3). */
  maxMalformedFinishes: number;
}

// The zod schemas validate; the JSON schemas below offer the same shapes to the model (written out:
// zod's converter would add ~40 KB to every bundle; dreamer-tools.test.ts keeps them in step).
const readSchema = lazySchema(() =>
  z
    .object({
      session_id: z.string().min(1),
      after_seq: z.number().int().min(0).default(0),
      limit: z
        .number()
        .int()
        .min(1)
        .max(DREAMER_TOOL_LIMITS.maxPageEvents)
        .default(DREAMER_TOOL_LIMITS.pageEvents),
    })
    .strict(),
);
const searchSchema = lazySchema(() =>
  z
    .object({
      query: z.string().min(1).max(200),
      session_ids: z.array(z.string().min(1)).max(100).optional(),
    })
    .strict(),
);
const deleteSchema = lazySchema(() =>
  z
    .object({
      path: z.string().min(1).max(1024),
      rationale: z.string().max(2000).optional(),
    })
    .strict(),
);

/** The dreamer tools' definitions, in a fixed order (they sit in the cached prefix). */
/** The zod schema behind each dreamer tool's input (for the test that keeps the JSON schemas in step). */
export const dreamerToolInputSchemas = {
  [DREAMER_TOOL_NAMES.read]: readSchema,
  [DREAMER_TOOL_NAMES.search]: searchSchema,
  [DREAMER_TOOL_NAMES.delete]: deleteSchema,
  [DREAMER_TOOL_NAMES.finish]: finishDreamSchema,
} as const;

export const dreamerToolDefinitions: Anthropic.Messages.Tool[] = [
  {
    name: DREAMER_TOOL_NAMES.list,
    description: "List the past sessions this dream covers: id, title, status and number of events.",
    input_schema: { type: "object", properties: {}, additionalProperties: false },
  },
  {
    name: DREAMER_TOOL_NAMES.read,
    description: `Read one page of a dream session's events, oldest first, after sequence number after_seq (default 0). At most ${DREAMER_TOOL_LIMITS.maxPageEvents} events per page (default ${DREAMER_TOOL_LIMITS.pageEvents}); long inputs and outputs are cut and marked. The answer's next_after_seq reads the next page (null at the end).`,
    input_schema: {
      type: "object",
      properties: {
        session_id: { type: "string", minLength: 1 },
        after_seq: {
          type: "integer",
          minimum: 0,
          description: "read events after this sequence (default 0)",
        },
        limit: { type: "integer", minimum: 1, maximum: DREAMER_TOOL_LIMITS.maxPageEvents },
      },
      required: ["session_id"],
      additionalProperties: false,
    },
  },
  {
    name: DREAMER_TOOL_NAMES.search,
    description: `Search the dream's sessions (or some of them) for text, case-insensitively; returns up to ${DREAMER_TOOL_LIMITS.searchResults} matching events with their session, sequence and id.`,
    input_schema: {
      type: "object",
      properties: {
        query: { type: "string", minLength: 1, maxLength: 200 },
        session_ids: { type: "array", maxItems: 100, items: { type: "string", minLength: 1 } },
      },
      required: ["query"],
      additionalProperties: false,
    },
  },
  {
    name: DREAMER_TOOL_NAMES.delete,
    description: `Delete a memory from your draft (${DREAM_OUTPUT_MOUNT}/). Give its memory path (e.g. /notes/old.md). List the deletion in finish_dream.`,
    input_schema: {
      type: "object",
      properties: {
        path: { type: "string", minLength: 1, maxLength: 1024 },
        rationale: { type: "string", maxLength: 2000 },
      },
      required: ["path"],
      additionalProperties: false,
    },
  },
  {
    name: DREAMER_TOOL_NAMES.finish,
    description:
      "Finish the dream: a summary, and one entry per file you wrote, edited or deleted in the draft, with its rationale and the session and event ids it rests on. Call it once, when you are done.",
    input_schema: finishDreamInputSchema as Anthropic.Messages.Tool.InputSchema,
  },
];

/** The dream a dreamer session works for (its record), or undefined. */
async function dreamOf(deps: StepDeps, run: SessionRecord): Promise<BetaDream | undefined> {
  const dreamId = run.session.metadata?.reverie_dream_id;
  if (!dreamId) return undefined;
  return (await new DreamRepository(deps.store).get(run.workspaceId, dreamId))?.dream;
}

const ok = (value: unknown): ToolOutcome => ({ isError: false, content: JSON.stringify(value, null, 1) });
const fail = (message: string): ToolOutcome => ({ isError: true, content: message });

/** The dreamer tools, run against the dream of the calling session. */
export function dreamerTools(options: DreamerToolOptions): ExtensionTool[] {
  const byName = new Map<string, ExtensionTool["run"]>([
    [DREAMER_TOOL_NAMES.list, listSessions],
    [DREAMER_TOOL_NAMES.read, readEvents],
    [DREAMER_TOOL_NAMES.search, searchSessions],
    [DREAMER_TOOL_NAMES.delete, deleteMemory],
    [DREAMER_TOOL_NAMES.finish, (deps, run, call) => finishDream(deps, run, call, options)],
  ]);
  return dreamerToolDefinitions.map((definition) => ({
    definition,
    run: byName.get(definition.name) as ExtensionTool["run"],
  }));
}

const listSessions: ExtensionTool["run"] = async (deps, run) => {
  const dream = await dreamOf(deps, run);
  if (!dream) return fail("this session is not a dream's");
  const sessions = [];
  for (const id of sessionIdsOf(dream)) {
    const record = await deps.sessions.get(run.workspaceId, id);
    sessions.push({
      session_id: id,
      title: record?.session.title ?? null,
      status: record?.session.status ?? "deleted",
      events: await deps.events.lastAllocated(id),
    });
  }
  return ok({ sessions });
};

const readEvents: ExtensionTool["run"] = async (deps, run, call) => {
  const input = readSchema.safeParse(call.input);
  if (!input.success) return fail(`invalid input: ${describeIssues(input.error)}`);
  const dream = await dreamOf(deps, run);
  if (!dream) return fail("this session is not a dream's");
  const { session_id, after_seq, limit } = input.data;
  if (!sessionIdsOf(dream).includes(session_id))
    return fail(`session ${session_id} is not one of this dream's sessions; list_dream_sessions names them`);
  const page = await deps.events.read(session_id, { after: after_seq, limit: limit + 1 });
  const shown = page.slice(0, limit);
  return ok({
    session_id,
    events: shown.map((e) => ({ seq: e.seq, ...compactEvent(e.event) })),
    next_after_seq: page.length > limit ? (shown.at(-1)?.seq ?? null) : null,
  });
};

const searchSessions: ExtensionTool["run"] = async (deps, run, call) => {
  const input = searchSchema.safeParse(call.input);
  if (!input.success) return fail(`invalid input: ${describeIssues(input.error)}`);
  const dream = await dreamOf(deps, run);
  if (!dream) return fail("this session is not a dream's");
  const allowed = sessionIdsOf(dream);
  const outside = (input.data.session_ids ?? []).filter((id) => !allowed.includes(id));
  if (outside.length > 0) return fail(`not this dream's sessions: ${outside.join(", ")}`);
  const needle = input.data.query.toLowerCase();
  const matches = [];
  for (const sessionId of input.data.session_ids ?? allowed) {
    for (const { seq, event } of await deps.events.read(sessionId)) {
      const text = JSON.stringify(compactEvent(event));
      const at = text.toLowerCase().indexOf(needle);
      if (at < 0) continue;
      const from = Math.max(0, at - DREAMER_TOOL_LIMITS.snippetChars / 2);
      matches.push({
        session_id: sessionId,
        seq,
        event_id: event.id,
        type: event.type,
        snippet: text.slice(from, from + DREAMER_TOOL_LIMITS.snippetChars),
      });
      if (matches.length >= DREAMER_TOOL_LIMITS.searchResults) return ok({ matches, truncated: true });
    }
  }
  return ok({ matches, truncated: false });
};

const deleteMemory: ExtensionTool["run"] = async (deps, run, call) => {
  const input = deleteSchema.safeParse(call.input);
  if (!input.success) return fail(`invalid input: ${describeIssues(input.error)}`);
  const draft = draftStoreOf(run);
  if (!draft) return fail("this session has no draft store");
  const path = memoryPathOf(input.data.path);
  const stores = new MemoryStoresService(deps);
  const memories = new MemoriesService(deps, stores);
  const head = await memories.findByPath(draft, path);
  if (!head) {
    // Gone already: a call re-run after a crash (or a second delete) finds nothing left to do.
    const dreamId = run.session.metadata?.reverie_dream_id ?? "";
    if ((await readManifest(deps.store, dreamId)).has(path))
      return { isError: false, content: `deleted ${path} from the draft` };
    return fail(`no memory at ${path} in the draft (${DREAM_OUTPUT_MOUNT}${path})`);
  }
  await memories.deleteMemory(draft, head.memoryId, undefined, {
    actor: { type: "session_actor", session_id: run.session.id },
    provenance: { tool_use_event_id: call.toolUseEventId, tainted: false, taint_sources: [] },
  });
  return { isError: false, content: `deleted ${path} from the draft` };
};

/** Validates and records the dreamer's answer; a malformed one is counted and answered with why. */
async function finishDream(
  deps: StepDeps,
  run: SessionRecord,
  call: { toolUseEventId: string; input: unknown },
  options: DreamerToolOptions,
): Promise<ToolOutcome> {
  const dream = await dreamOf(deps, run);
  if (!dream) return fail("this session is not a dream's");
  const draft = draftStoreOf(run);
  const uncited = async (answer: FinishDream) => {
    if (!draft) return undefined;
    const changed = await changedDraftPaths(deps, dream.id, draft);
    const listed = new Set(answer.changes.map((c) => memoryPathOf(c.path)));
    const missing = changed.filter((p) => !listed.has(p));
    return missing.length
      ? `every file changed in the draft needs an entry in changes; missing: ${missing.slice(0, 20).join(", ")}`
      : undefined;
  };
  const read = validateToolInput(call.input, finishDreamSchema, (answer) => {
    const outside = answer.changes
      .flatMap((c) => c.evidence.map((e) => e.session_id))
      .filter((id) => !sessionIdsOf(dream).includes(id));
    return outside.length
      ? `evidence cites sessions outside this dream: ${[...new Set(outside)].join(", ")}`
      : undefined;
  });
  const problem = read.ok ? await uncited(read.value) : read.problem;
  if (read.ok && !problem) {
    await deps.store.put("resources", { pk: finishKey(dream.id), sk: "finish", value: read.value });
    return {
      isError: false,
      content: `Dream answer recorded: ${read.value.changes.length} change(s). You are done; end your turn.`,
    };
  }
  await deps.store.put("resources", {
    pk: finishKey(dream.id),
    sk: `bad#${call.toolUseEventId}`,
    problem,
  });
  const count = (await deps.store.query("resources", finishKey(dream.id), { beginsWith: "bad#", limit: 100 }))
    .length;
  const left = options.maxMalformedFinishes - count;
  return fail(
    left > 0
      ? `invalid finish_dream input: ${problem}. Call finish_dream again with input that matches its schema (${left} attempt(s) left).`
      : `invalid finish_dream input: ${problem}. No attempts left: the dream fails.`,
  );
}

/** Memory paths of the draft whose content differs from what was copied from the input (or is new or gone). */
export async function changedDraftPaths(
  deps: Pick<StepDeps, "store">,
  dreamId: string,
  draftStoreId: string,
) {
  const manifest = await readManifest(deps.store, dreamId);
  const stores = new MemoryStoresService(deps as StepDeps);
  const heads = await new MemoriesService(deps as StepDeps, stores).listAll(draftStoreId);
  const changed: string[] = [];
  const present = new Set<string>();
  for (const head of heads) {
    present.add(head.path);
    if (manifest.get(head.path)?.sha256 !== head.sha) changed.push(head.path);
  }
  for (const path of manifest.keys()) if (!present.has(path)) changed.push(path);
  return changed.sort();
}

/** The draft store a dream session writes (its read-write memory resource). */
export function draftStoreOf(run: SessionRecord): string | undefined {
  const draft = run.session.resources.find(
    (r): r is MemoryStoreResource => r.type === "memory_store" && r.access === "read_write",
  );
  return draft?.memory_store_id;
}

/** A path as the dreamer may write it (a memory path, or the same under the output mount). */
export function memoryPathOf(path: string): string {
  const trimmed = path.startsWith(`${DREAM_OUTPUT_MOUNT}/`) ? path.slice(DREAM_OUTPUT_MOUNT.length) : path;
  return normalisePath(trimmed);
}

/**
 * One event as the dreamer reads it: the SDK event with every string longer than the limit cut (and
 * marked), and a tool input too long as JSON shown as cut JSON text (marked).
 */
export function compactEvent(event: SessionEvent): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === "processed_at") continue;
    if (key === "input" && value !== null && typeof value === "object") {
      const json = JSON.stringify(value);
      out[key] =
        json.length > DREAMER_TOOL_LIMITS.inputChars
          ? `${json.slice(0, DREAMER_TOOL_LIMITS.inputChars)}…[truncated: ${json.length - DREAMER_TOOL_LIMITS.inputChars} more characters of JSON]`
          : value;
      continue;
    }
    out[key] = cut(value);
  }
  return out;
}

function cut(value: unknown): unknown {
  if (typeof value === "string")
    return value.length > DREAMER_TOOL_LIMITS.stringChars
      ? `${value.slice(0, DREAMER_TOOL_LIMITS.stringChars)}…[truncated: ${value.length - DREAMER_TOOL_LIMITS.stringChars} more characters]`
      : value;
  if (Array.isArray(value)) return value.map(cut);
  if (value !== null && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, cut(v)]));
  return value;
}
