/**
 * The step record: what one model call produced, stored before any of its events are written.
 * A step that is retried (redelivered message, crashed Lambda) finds the record and replays it
 * instead of calling the model again, so the events of a step are the same however often it runs.
 */
import type Anthropic from "@anthropic-ai/sdk";
import * as z from "zod";
import { idPrefix } from "../../contract/ids.js";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { AgentToolset, SessionEvent, SessionUsage } from "../../contract/sdk-types.js";
import type { EventLog, LoggedEvent } from "../events/event-log.js";
import { evaluateMcpPermission, type OfferedMcpTool } from "../mcp/mcp-toolsets.js";
import {
  type Clock,
  ConditionFailedError,
  type DocumentStore,
  type IdGenerator,
  type ModelResponse,
} from "../ports.js";
import type { SessionRecord } from "../sessions/session-record.js";
import { isBuiltinTool, toolPolicy } from "../tools/toolset.js";
import { isWorkerTool, servedByWorker } from "./worker-tools.js";

/** What the step record needs of a step's deps (StepDeps has it). */
interface RecordDeps {
  store: DocumentStore;
  events: EventLog;
  ids: IdGenerator;
  clock: Clock;
}

const toolRunSchema = lazySchema(() =>
  z.object({
    toolUseEventId: z.string(),
    toolUseId: z.string(),
    name: z.string(),
    input: z.unknown(),
    resultSeq: z.number(),
    resultEventId: z.string(),
    /** An MCP tool call: the server and the server's name for the tool (`name` is the offered name). */
    mcp: z.object({ server: z.string(), tool: z.string() }).optional(),
  }),
);
export type ToolRun = z.infer<typeof toolRunSchema>;

export const stepRecordSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    stepSeq: z.number(),
    /** Highest event sequence the model saw. */
    watermark: z.number(),
    entries: z.array(z.object({ seq: z.number(), event: z.any(), internals: z.any() })),
    /** Builtin tool calls to run now, each with its reserved result slot. */
    toolRuns: z.array(toolRunSchema),
    /** Event ids the session must wait on (custom tool uses, tool uses awaiting confirmation). */
    awaiting: z.array(z.string()),
    /** Tool uses a self-hosted worker answers (the next step waits for their `user.tool_result`s). */
    workerCalls: z.array(z.string()).default([]),
    stopReason: z.string().nullable(),
    usage: z.record(z.string(), z.any()),
  }),
);
export type StepRecord = z.infer<typeof stepRecordSchema> & { entries: LoggedEvent[]; usage: SessionUsage };

/** The partition of a run's (session's or thread's) step records. */
export const stepRecordKey = (sessionId: string) => `step#${sessionId}`;
const recordKey = stepRecordKey;

export async function loadStepRecord(deps: RecordDeps, sessionId: string, stepSeq: number) {
  const item = await deps.store.get("resources", recordKey(sessionId), stepSeq.toString().padStart(10, "0"));
  return item ? (stepRecordSchema.parse(item.record) as StepRecord) : undefined;
}

/**
 * Stores a record unless one exists for the step, with its events in the same group of writes (one
 * transaction where the store has them); returns whichever record is stored, its events written.
 */
export async function saveStepRecord(
  deps: RecordDeps,
  sessionId: string,
  record: StepRecord,
): Promise<StepRecord> {
  const sk = record.stepSeq.toString().padStart(10, "0");
  try {
    await deps.events.write(sessionId, record.entries, {
      table: "resources",
      item: { pk: recordKey(sessionId), sk, record },
      options: { ifNotExists: true },
    });
    return record;
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    const stored = (await loadStepRecord(deps, sessionId, record.stepSeq)) as StepRecord;
    await deps.events.write(sessionId, stored.entries);
    return stored;
  }
}

export function usageOf(response: ModelResponse): SessionUsage {
  return {
    input_tokens: response.usage.input_tokens,
    output_tokens: response.usage.output_tokens,
    cache_read_input_tokens: response.usage.cache_read_input_tokens ?? 0,
    cache_creation: {
      ephemeral_5m_input_tokens:
        response.usage.cache_creation?.ephemeral_5m_input_tokens ??
        response.usage.cache_creation_input_tokens ??
        0,
      ephemeral_1h_input_tokens: response.usage.cache_creation?.ephemeral_1h_input_tokens ?? 0,
    },
  };
}

/** Turns a model response into the step's events, tool runs and waits (no I/O but sequence allocation). */
export async function recordFromResponse(
  deps: RecordDeps,
  session: SessionRecord,
  watermark: number,
  response: ModelResponse,
  mcpTools: readonly OfferedMcpTool[] = [],
  /** Event ids already shown in previews (`event_deltas`), by content-block index: the events keep them. */
  previewIds: ReadonlyMap<number, string> = new Map(),
  /** When the model request was sent (epoch ms): `span.model_request_start` carries it. */
  requestedAt?: number,
): Promise<StepRecord> {
  const now = new Date(deps.clock.now()).toISOString();
  const sentAt = requestedAt === undefined ? now : new Date(requestedAt).toISOString();
  const id = () => deps.ids.next(idPrefix.event);
  const toolset = session.session.agent.tools.find((t) => t.type === "agent_toolset_20260401") as
    | AgentToolset
    | undefined;
  const customNames = new Set(
    session.session.agent.tools.filter((t) => t.type === "custom").map((t) => (t as { name: string }).name),
  );

  const startId = id();
  const events: Array<{ event: SessionEvent; internals: LoggedEvent["internals"] }> = [
    { event: { type: "span.model_request_start", id: startId, processed_at: sentAt }, internals: {} },
  ];
  const pendingRuns: Omit<ToolRun, "resultSeq" | "resultEventId">[] = [];
  const awaiting: string[] = [];
  const workerCalls: string[] = [];
  const byWorker = servedByWorker(session);
  const mcpByName = new Map(mcpTools.map((t) => [t.modelName, t]));

  for (const [index, block] of response.content.entries()) {
    if (block.type === "thinking" || block.type === "redacted_thinking") {
      const eventId = previewIds.get(index) ?? id();
      events.push({ event: { type: "agent.thinking", id: eventId, processed_at: now }, internals: {} });
    } else if (block.type === "text") {
      events.push({
        event: {
          type: "agent.message",
          id: previewIds.get(index) ?? id(),
          processed_at: now,
          content: [{ type: "text", text: block.text }],
        },
        internals: {},
      });
    } else if (block.type === "tool_use") {
      const eventId = id();
      const input = toolInput(block.input);
      if (customNames.has(block.name)) {
        events.push({
          event: { type: "agent.custom_tool_use", id: eventId, processed_at: now, name: block.name, input },
          internals: { toolUseId: block.id },
        });
        awaiting.push(eventId);
        continue;
      }
      const mcp = mcpByName.get(block.name);
      if (mcp) {
        // Server-side on every environment (a self-hosted worker never sees MCP calls).
        const { permission, evaluation } = evaluateMcpPermission(mcp);
        events.push({
          event: {
            type: "agent.mcp_tool_use",
            id: eventId,
            processed_at: now,
            name: mcp.tool.name,
            mcp_server_name: mcp.server,
            input,
            evaluated_permission: permission,
            evaluation,
          },
          internals: { toolUseId: block.id },
        });
        if (permission === "ask") awaiting.push(eventId);
        else
          pendingRuns.push({
            toolUseEventId: eventId,
            toolUseId: block.id,
            name: block.name,
            input,
            mcp: { server: mcp.server, tool: mcp.tool.name },
          });
        continue;
      }
      const worker = byWorker && isWorkerTool(block.name);
      const policy =
        toolset && (isBuiltinTool(block.name) || worker) ? toolPolicy(toolset, block.name) : undefined;
      const ask = policy === "always_ask";
      events.push({
        event: {
          type: "agent.tool_use",
          id: eventId,
          processed_at: now,
          name: block.name,
          input,
          evaluated_permission: ask ? "ask" : "allow",
          // which policy decided (SDK 1.15); `auto` has no risk classifier here and allows
          ...(policy && {
            evaluation:
              policy === "auto"
                ? { type: "auto" as const, evaluated_permission: { type: "allow" as const } }
                : { type: policy },
          }),
        },
        internals: { toolUseId: block.id },
      });
      if (ask) awaiting.push(eventId);
      else if (worker) workerCalls.push(eventId);
      else pendingRuns.push({ toolUseEventId: eventId, toolUseId: block.id, name: block.name, input });
    }
  }

  const usage = usageOf(response);
  events.push({
    event: {
      type: "span.model_request_end",
      id: id(),
      processed_at: now,
      is_error: false,
      model_request_start_id: startId,
      model_usage: {
        input_tokens: response.usage.input_tokens,
        output_tokens: response.usage.output_tokens,
        cache_read_input_tokens: response.usage.cache_read_input_tokens ?? 0,
        cache_creation_input_tokens: response.usage.cache_creation_input_tokens ?? 0,
      },
    },
    internals: { assistantContent: asParams(response.content) },
  });

  const first = await deps.events.allocate(session.session.id, events.length + pendingRuns.length);
  const entries: LoggedEvent[] = events.map((e, i) => ({
    seq: first + i,
    event: e.event,
    internals: { ...e.internals, stepSeq: session.run.stepSeq },
  }));
  const toolRuns = pendingRuns.map((run, i) => ({
    ...run,
    resultSeq: first + events.length + i,
    resultEventId: id(),
  }));
  return {
    schemaVersion: 1,
    stepSeq: session.run.stepSeq,
    watermark,
    entries,
    toolRuns,
    awaiting,
    workerCalls,
    stopReason: response.stop_reason,
    usage,
  };
}

/** The response's content as request params: only the fields the Messages API accepts back. */
function asParams(content: ModelResponse["content"]): Anthropic.Messages.ContentBlockParam[] {
  const params: Anthropic.Messages.ContentBlockParam[] = [];
  for (const block of content) {
    if (block.type === "text") params.push({ type: "text", text: block.text });
    else if (block.type === "tool_use")
      params.push({ type: "tool_use", id: block.id, name: block.name, input: block.input });
    else if (block.type === "thinking")
      params.push({ type: "thinking", thinking: block.thinking, signature: block.signature });
    else if (block.type === "redacted_thinking") params.push({ type: "redacted_thinking", data: block.data });
  }
  return params;
}

/**
 * A tool call's input as the SDK types it on `agent.tool_use` (an object). A model that sends a JSON
 * string gets it parsed; anything else that is not an object becomes `{}`, and the tool's own input
 * check then tells the model what is missing.
 */
function toolInput(raw: unknown): Record<string, unknown> {
  let value = raw;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      value = undefined;
    }
  }
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}
