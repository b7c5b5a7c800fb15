/**
 * The advisor (`multiagent_20261001` with `advisor: {type: "enabled", model}`): the session's primary
 * thread is offered an `advisor` tool; a call makes exactly one model call to the advisor model with
 * the conversation so far and returns its advice as the tool's result.
 *
 * As Anthropic documents it, each consultation is a platform thread named `anthropic.advisor` (its
 * `agent` is `{type: "advisor", model}`, its parent the primary thread) that ends once it answered:
 * the primary stream shows `session.thread_created`, `session.thread_status_running`,
 * `agent.thread_message_received` (the advice), `session.thread_status_idle` and
 * `session.thread_status_terminated`; the thread carries the consultation's usage, which counts into
 * the session's usage and budget at the advisor model's own list price (thread-spend.ts). Webhooks
 * `session.thread_created` and `session.thread_idled` are published for it, as for any thread.
 *
 * Exactly once per tool call: the consultation runs inside `runOnce` (tool-intents.ts), so a step
 * retried after a crash returns the recorded advice instead of calling the advisor again. A failed
 * consultation never fails the turn: the agent gets an error result and goes on.
 */
import type Anthropic from "@anthropic-ai/sdk";
import * as z from "zod";
import { idPrefix } from "../../contract/ids.js";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { SessionEvent, SessionUsage } from "../../contract/sdk-types.js";
import { emitOnce } from "../events/emit-once.js";
import type { ModelResponse } from "../ports.js";
import type { ExtensionTool } from "../runtime/run-extension.js";
import type { StepDeps } from "../runtime/step-deps.js";
import { usageOf } from "../runtime/step-record.js";
import { runOnce } from "../runtime/tool-intents.js";
import { buildTranscript } from "../runtime/transcript.js";
import { emptySessionUsage, newRunState, type SessionRecord } from "../sessions/session-record.js";
import { type ThreadMeta, threadRepository } from "../threads/thread-record.js";
import { describeFailure, type ToolOutcome } from "../tools/toolset.js";

export const ADVISOR_TOOL_NAME = "advisor";
/** The reserved name advisor threads carry (`agent_name`, `from_agent_name`). */
export const ADVISOR_THREAD_NAME = "anthropic.advisor";
/** The advice's token limit (Anthropic: typically 400–700 text tokens). */
const ADVICE_MAX_TOKENS = 2048;
/** The transcript the advisor reads is cut to its most recent characters beyond this. */
const TRANSCRIPT_MAX_CHARS = 200_000;
const TOOL_TEXT_MAX_CHARS = 4_000;

const AdvisorInputSchema = lazySchema(() =>
  z.object({ question: z.string().max(10_000).optional() }).loose(),
);

const ADVISOR_SYSTEM = [
  "You are the advisor of an AI agent that is working on a task. The agent consulted you mid-task.",
  "Read the conversation so far and give the agent concise strategic guidance: a plan, a course correction, or what to check before it finishes.",
  "You cannot use tools; the agent acts on your advice. Address the agent, not the end user. Be brief and concrete.",
].join("\n");

/** The tool definition the primary thread is offered. */
export function advisorToolDefinition(model: string): Anthropic.Messages.Tool {
  return {
    name: ADVISOR_TOOL_NAME,
    description: `Consult your advisor, a stronger model (${model}), for strategic guidance: before committing to an approach, when stuck, or before you finish. It reads this whole conversation; you may add a specific question. Call it on its own, not together with other tools.`,
    input_schema: {
      type: "object",
      properties: {
        question: { type: "string", description: "What you want advice on (optional)." },
      },
    },
  };
}

/** The advisor tool of a run whose agent may consult `model`. */
export function advisorTool(model: string): ExtensionTool {
  return {
    definition: advisorToolDefinition(model),
    run: (deps, run, call) =>
      runOnce(deps, run.session.id, call.toolUseEventId, ADVISOR_TOOL_NAME, () =>
        consult(
          deps,
          run,
          call.toolUseEventId,
          model,
          AdvisorInputSchema.safeParse(call.input).data?.question,
        ),
      ),
  };
}

/** One consultation: the model call, then the advisor thread that records it. */
async function consult(
  deps: StepDeps,
  run: SessionRecord,
  toolUseEventId: string,
  model: string,
  question: string | undefined,
): Promise<ToolOutcome> {
  const sessionId = run.session.id;
  const log = await deps.events.read(sessionId);
  const request = {
    model,
    max_tokens: ADVICE_MAX_TOKENS,
    system: ADVISOR_SYSTEM,
    messages: [
      {
        role: "user" as const,
        content: [
          {
            type: "text" as const,
            text: advisorPrompt(renderTranscript(buildTranscript(log, deps.extensions ?? [])), question),
          },
        ],
      },
    ],
  };
  let response: ModelResponse;
  try {
    response = await deps.model.createMessage(request);
  } catch (error) {
    deps.logger.warn("advisor consultation failed", { sessionId, toolUseEventId, error: String(error) });
    return {
      isError: true,
      content: `The advisor could not be consulted (${describeFailure(error)}). Go on with your own judgment.`,
    };
  }
  const advice =
    response.content
      .flatMap((b) => (b.type === "text" ? [b.text] : []))
      .join("\n")
      .trim() || "(the advisor gave no advice)";
  await recordConsultation(deps, run, toolUseEventId, model, question, advice, usageOf(response));
  return { isError: false, content: advice };
}

function advisorPrompt(transcript: string, question: string | undefined): string {
  return [
    "<conversation>",
    transcript,
    "</conversation>",
    question ? `The agent asks: ${question}` : "The agent asks for your guidance on how to proceed.",
  ].join("\n");
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** The conversation as text (the advisor has no tools, so it reads tool calls as text). */
export function renderTranscript(messages: Anthropic.Messages.MessageParam[]): string {
  const lines: string[] = [];
  for (const message of messages) {
    const who = message.role === "user" ? "User" : "Agent";
    const blocks =
      typeof message.content === "string" ? [{ type: "text", text: message.content }] : message.content;
    for (const block of blocks as Array<Record<string, unknown>>) {
      if (block.type === "text") lines.push(`${who}: ${block.text}`);
      else if (block.type === "tool_use")
        lines.push(
          `Agent called ${block.name}: ${clip(JSON.stringify(block.input ?? {}), TOOL_TEXT_MAX_CHARS)}`,
        );
      else if (block.type === "tool_result") {
        const content = block.content;
        const text = Array.isArray(content)
          ? content
              .map((c: { type?: string; text?: string }) => (c.type === "text" ? c.text : `[${c.type}]`))
              .join("")
          : String(content ?? "");
        lines.push(`Tool result${block.is_error ? " (error)" : ""}: ${clip(text, TOOL_TEXT_MAX_CHARS)}`);
      } else if (block.type === "image" || block.type === "document") lines.push(`${who}: [${block.type}]`);
    }
  }
  const text = lines.join("\n");
  return text.length > TRANSCRIPT_MAX_CHARS ? `…${text.slice(-TRANSCRIPT_MAX_CHARS)}` : text;
}

/**
 * The advisor thread: created terminated (it only answered), with the consultation's usage; its
 * lifecycle on the primary stream; its usage in the session's thread usage. Runs once per tool call
 * (inside runOnce); the events are keyed by the tool call, so a partial retry adds nothing twice.
 */
async function recordConsultation(
  deps: StepDeps,
  run: SessionRecord,
  toolUseEventId: string,
  model: string,
  question: string | undefined,
  advice: string,
  usage: SessionUsage,
) {
  const sessionId = run.session.id;
  const threadId = deps.ids.next(idPrefix.thread);
  const now = new Date(deps.clock.now()).toISOString();
  const meta: ThreadMeta = {
    schemaVersion: 1,
    sessionId,
    agentName: ADVISOR_THREAD_NAME,
    agentKind: "advisor",
    parentThreadId: null,
    archivedAt: null,
  };
  const parentAgent = run.session.agent;
  await threadRepository(deps.store, sessionId).create({
    workspaceId: run.workspaceId,
    session: {
      ...run.session,
      id: threadId,
      agent: {
        ...parentAgent,
        name: ADVISOR_THREAD_NAME,
        description: null,
        model: { id: model, speed: "standard" },
        system: ADVISOR_SYSTEM,
        tools: [],
        mcp_servers: [],
        skills: [],
        multiagent: null,
      },
      created_at: now,
      updated_at: now,
      status: "terminated",
      usage: { ...emptySessionUsage(), ...usage },
      outcome_evaluations: [],
      metadata: {},
    },
    run: newRunState(),
    thread: meta,
  });
  const text = (t: string) => [{ type: "text" as const, text: t }];
  const id = () => deps.ids.next(idPrefix.event);
  const startId = id();
  // The thread's own log: the question, the model call (with its usage on the advisor's model), the advice.
  await emitOnce(deps.store, deps.events, threadId, "consultation", [
    { type: "user.message", id: id(), processed_at: now, content: text(question ?? "How should I proceed?") },
    { type: "span.model_request_start", id: startId, processed_at: now },
    {
      type: "span.model_request_end",
      id: id(),
      processed_at: now,
      is_error: false,
      model_request_start_id: startId,
      model_usage: {
        input_tokens: usage.input_tokens ?? 0,
        output_tokens: usage.output_tokens ?? 0,
        cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
        cache_creation_input_tokens:
          (usage.cache_creation?.ephemeral_5m_input_tokens ?? 0) +
          (usage.cache_creation?.ephemeral_1h_input_tokens ?? 0),
      },
    },
    { type: "agent.message", id: id(), processed_at: now, content: text(advice) },
  ]);
  const lifecycle = { agent_name: ADVISOR_THREAD_NAME, session_thread_id: threadId, processed_at: now };
  const events: SessionEvent[] = [
    { type: "session.thread_created", id: id(), ...lifecycle, workflow_run_id: null },
    { type: "session.thread_status_running", id: id(), ...lifecycle },
    {
      type: "agent.thread_message_received",
      id: id(),
      processed_at: now,
      content: text(advice),
      from_session_thread_id: threadId,
      from_agent_name: ADVISOR_THREAD_NAME,
    },
    {
      type: "session.thread_status_idle",
      id: id(),
      ...lifecycle,
      stop_reason: { type: "end_turn" },
      stop_details: null,
    },
    { type: "session.thread_status_terminated", id: id(), ...lifecycle },
  ];
  await emitOnce(deps.store, deps.events, sessionId, `advisor#${toolUseEventId}`, events);
  // Webhooks in the SDK's shape, as for any thread (`data.id` the session); stable ids dedupe.
  for (const [type, key, extra] of [
    ["session.thread_created", "created", { agent_name: ADVISOR_THREAD_NAME }],
    ["session.thread_idled", "idle", { stop_reason: "end_turn" }],
  ] as const)
    await deps.domainEvents
      .publish({
        type,
        id: `dev_${threadId}#${key}`,
        workspaceId: run.workspaceId,
        createdAt: now,
        data: { id: sessionId, session_id: sessionId, session_thread_id: threadId, ...extra },
      })
      .catch((error) => deps.logger.warn("domain event not published", { type, error: String(error) }));
  // Counted into the session's usage (and its budget) like any thread's.
  await deps.sessions.mutate(run.workspaceId, sessionId, (current) => {
    if (current.run.threadUsage?.[threadId]) return undefined;
    current.run.threadUsage = { ...current.run.threadUsage, [threadId]: usage };
    return current;
  });
}
