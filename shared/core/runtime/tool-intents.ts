/**
 * Tool effects exactly once. A step runs each builtin tool whose result slot is still empty, so a
 * crash after a tool took effect but before its result was written runs the tool again on the
 * retry. To make that harmless, every tool call that changes something records an **intent** under
 * its run and its `agent.tool_use` event id before it changes anything:
 *
 * - `write` / `edit` (workspace and memory mounts alike) record the one file change they make —
 *   path, hash before, hash after, result — and apply it as a compare-and-swap (`file-tools.ts`):
 *   a re-run that finds the file at the "after" hash returns the recorded result without writing,
 *   one that finds the "before" hash applies the change (the crash came before the write), and one
 *   that finds neither answers with an `is_error` conflict — never a second application.
 * - Tools whose effects cannot be compared (a shell command) go through {@link runOnce}: an intent
 *   without a recorded outcome means the tool may have run, so it is not run again.
 *
 * Items (`resources` table): pk `intent#<runId>`, sk the `agent.tool_use` event id, written with
 * `ifNotExists` (single-item conditional writes; no transactions). A session delete purges the
 * partition with the run's other data (`sessions/session-purge.ts`).
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import { ConditionFailedError, type DocumentStore, type Logger, type StoredItem } from "../ports.js";
import type { FileChangeIntent, WriteIntentLog } from "../tools/file-tools.js";
import type { ToolOutcome } from "../tools/toolset.js";

/** The partition of a run's (a session's or a thread's) tool intents. */
export const toolIntentKey = (runId: string) => `intent#${runId}`;

const outcomeSchema = lazySchema(() =>
  z.object({
    content: z.string(),
    isError: z.boolean(),
    /** An MCP result's content blocks (text, images, documents), when it has more than text. */
    blocks: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
);

const fileChangeSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    kind: z.literal("file_change"),
    tool: z.string(),
    path: z.string(),
    before: z.string().nullable(),
    after: z.string(),
    result: z.string(),
  }),
);

const runOnceSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    kind: z.literal("run_once"),
    tool: z.string(),
    /** What the tool returned, once it returned; absent while it may still be (or have been) running. */
    outcome: outcomeSchema.optional(),
  }),
);

/** A stored intent (the item's attributes beyond its keys). */
export const toolIntentSchema = lazySchema(() =>
  z.discriminatedUnion("kind", [fileChangeSchema, runOnceSchema]),
);
export type ToolIntent = z.infer<typeof toolIntentSchema>;

/** What recording intents needs: the document store (StepDeps has it), and a logger if there is one. */
export interface ToolIntentDeps {
  store: DocumentStore;
  logger?: Logger;
}

async function loadIntent(
  store: DocumentStore,
  runId: string,
  toolUseEventId: string,
): Promise<ToolIntent | undefined> {
  const item = await store.get("resources", toolIntentKey(runId), toolUseEventId);
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, ...intent } = item;
  return toolIntentSchema.parse(intent);
}

/** Puts an intent unless one exists; returns the one that exists in that case. */
async function putIntent(
  store: DocumentStore,
  runId: string,
  toolUseEventId: string,
  intent: ToolIntent,
): Promise<ToolIntent | undefined> {
  const item: StoredItem = { pk: toolIntentKey(runId), sk: toolUseEventId, ...intent };
  try {
    await store.put("resources", item, { ifNotExists: true });
    return undefined;
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    return loadIntent(store, runId, toolUseEventId);
  }
}

/**
 * The intent log of one `write` / `edit` call, for `withWriteIntents` (file-tools.ts).
 *
 * @param options.fresh the step runs for the first time (its first claim), so no earlier attempt can
 *   have recorded anything: the read of the intent is skipped (the conditional put still guards).
 */
export function fileIntentLog(
  deps: ToolIntentDeps,
  runId: string,
  toolUseEventId: string,
  tool: string,
  options: { fresh?: boolean } = {},
): WriteIntentLog {
  const asFileChange = (intent: ToolIntent | undefined): FileChangeIntent | undefined => {
    if (!intent) return undefined;
    // Another kind under this tool use (cannot happen for one call): treat it as a change to nothing.
    if (intent.kind !== "file_change") return { path: "", before: null, after: "", result: "" };
    return { path: intent.path, before: intent.before, after: intent.after, result: intent.result };
  };
  return {
    async recorded() {
      if (options.fresh) return undefined;
      return asFileChange(await loadIntent(deps.store, runId, toolUseEventId));
    },
    async record(change) {
      const intent: ToolIntent = { schemaVersion: 1, kind: "file_change", tool, ...change };
      return asFileChange(await putIntent(deps.store, runId, toolUseEventId, intent));
    },
  };
}

/** The result of a {@link runOnce} tool whose earlier attempt was cut off by a restart. */
export function interruptedOutcome(tool: string): ToolOutcome {
  return {
    isError: true,
    content:
      `The ${tool} call was interrupted by a restart of the agent runtime and may or may not have taken effect. ` +
      "It was not run again: check its effects before running it again.",
  };
}

/**
 * Runs a tool call that cannot be made a compare-and-swap (a sandboxed `bash` command, anything with
 * effects outside the file tools) at most once per `agent.tool_use` event, however often its step is
 * retried.
 *
 * Before `run` starts, an intent `{kind: "run_once", tool}` is put under `intent#<runId>` /
 * `<toolUseEventId>` with `ifNotExists`; when `run` resolves, its outcome is added to the intent.
 * A later call for the same tool use therefore finds:
 *
 * - an intent with an outcome: the tool ran to the end, its result was just not written yet — that
 *   outcome is returned and `run` is not called;
 * - an intent without an outcome: the tool may have run (a crash, or `run` threw): `run` is **not**
 *   called again, and the result is {@link interruptedOutcome} (`is_error`: the call was interrupted
 *   by a restart and may or may not have taken effect), so the model checks before it retries;
 * - no intent: `run` runs.
 *
 * Call it only where the result slot of the tool run is still empty (the step runner does); its
 * result is what the slot should hold. Recording the outcome is best-effort (the result slot is the
 * record that counts), so a store failure there does not turn a finished run into an error. Only
 * `content` and `isError` are recorded: whatever else the tool does with its result (writing a
 * sandbox's mount changes back into their stores) belongs inside `run`, or a re-run that returns the
 * recorded outcome would skip it. (`blocks`, an MCP result's content, are recorded with it.)
 *
 * @param deps the document store (and optionally a logger): `StepDeps` will do.
 * @param runId the run the tool use belongs to: the session id, or a child thread's id.
 * @param toolUseEventId the id of the `agent.tool_use` event (not the model's `toolu_…` id).
 * @param tool the tool's name, for the record and the interrupted message.
 * @param run runs the tool; an exception propagates (and leaves the intent without an outcome).
 * @returns the tool's outcome, the outcome an earlier attempt recorded, or the interrupted result.
 */
export async function runOnce(
  deps: ToolIntentDeps,
  runId: string,
  toolUseEventId: string,
  tool: string,
  run: () => Promise<ToolOutcome>,
): Promise<ToolOutcome> {
  const started: ToolIntent = { schemaVersion: 1, kind: "run_once", tool };
  const earlier = await putIntent(deps.store, runId, toolUseEventId, started);
  if (earlier) {
    if (earlier.kind === "run_once" && earlier.outcome) return earlier.outcome as ToolOutcome;
    return interruptedOutcome(tool);
  }
  const outcome = await run();
  try {
    await deps.store.put("resources", {
      pk: toolIntentKey(runId),
      sk: toolUseEventId,
      ...started,
      outcome: {
        content: outcome.content,
        isError: outcome.isError,
        ...(outcome.blocks ? { blocks: outcome.blocks } : {}),
      },
    });
  } catch (error) {
    deps.logger?.warn("could not record a tool outcome", {
      runId,
      toolUseEventId,
      tool,
      error: String(error),
    });
  }
  return outcome;
}
