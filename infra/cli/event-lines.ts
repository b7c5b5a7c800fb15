/**
 * A session event as lines a person can read in a terminal (`reverie sessions tail`): who spoke,
 * what a tool was asked and what it answered (folded to one line), model calls with their tokens,
 * status changes and outcome verdicts. Pure: the tail command decides where the lines go.
 */
import type Anthropic from "@anthropic-ai/sdk";

export type StreamEvent = Anthropic.Beta.Sessions.Events.BetaManagedAgentsStreamSessionEvents;

/** Longest line a folded tool input or result gets before it is cut with `…`. */
const FOLD = 160;

const clock = (iso: string | undefined) => (iso ? new Date(iso).toISOString().slice(11, 19) : "--:--:--");

/** One line of text: whitespace runs collapsed, cut to `max` characters. */
export function fold(text: string, max = FOLD): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The text blocks of a content array, joined (other blocks named in brackets). */
export function textOf(content: ReadonlyArray<{ type: string; text?: string }> | undefined): string {
  return (content ?? []).map((b) => (b.type === "text" ? (b.text ?? "") : `[${b.type}]`)).join("");
}

const json = (value: unknown) => {
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return String(value);
  }
};

/**
 * The lines for one event (empty for events that say nothing to a reader, like `session.usage`).
 * `agent.message` keeps its line breaks: it is what the agent said.
 */
export function eventLines(event: StreamEvent): string[] {
  const at = clock((event as { processed_at?: string }).processed_at);
  const line = (text: string) => [`${at}  ${text}`];
  switch (event.type) {
    case "user.message":
      return line(`user     ${fold(textOf(event.content), 400)}`);
    case "agent.message": {
      const [first = "", ...rest] = textOf(event.content).split("\n");
      return [`${at}  agent    ${first}`, ...rest.map((r) => `${" ".repeat(19)}${r}`)];
    }
    case "agent.thinking":
      return line("thinking");
    case "agent.tool_use":
      return line(`tool     ${event.name} ${fold(json(event.input))}`);
    case "agent.mcp_tool_use":
      return line(`mcp      ${event.mcp_server_name}/${event.name} ${fold(json(event.input))}`);
    case "agent.custom_tool_use":
      return line(`custom   ${event.name} ${fold(json(event.input))} (waits for your result)`);
    case "agent.tool_result":
    case "agent.mcp_tool_result":
    case "user.tool_result":
    case "user.custom_tool_result": {
      const result = event as { is_error?: boolean | null; content?: Array<{ type: string; text?: string }> };
      return line(`  ${result.is_error ? "✗ error" : "↳"} ${fold(textOf(result.content)) || "(empty)"}`);
    }
    case "user.tool_confirmation":
      return line(`confirm  ${event.result} ${event.tool_use_id}`);
    case "user.interrupt":
      return line("interrupt");
    case "user.define_outcome":
      return line(`outcome  defined: ${fold(event.description)}`);
    case "span.model_request_start":
      return [];
    case "span.model_request_end": {
      const u = event.model_usage;
      return line(
        `model    ${u.input_tokens} in / ${u.output_tokens} out${event.is_error ? " (failed)" : ""}`,
      );
    }
    case "span.outcome_evaluation_start":
      return line(`grader   evaluating (iteration ${event.iteration})`);
    case "span.outcome_evaluation_ongoing":
      return [];
    case "span.outcome_evaluation_end":
      return line(`grader   ${event.result} (iteration ${event.iteration}): ${fold(event.explanation)}`);
    case "session.status_running":
      return line("— running");
    case "session.status_idle":
      return line(`— idle (${event.stop_reason?.type ?? "end_turn"})`);
    case "session.status_rescheduled":
      return line("— rescheduled (retrying the model call)");
    case "session.status_terminated":
      return line("— terminated");
    case "session.error":
      return line(
        `error    ${event.error.type}: ${fold(event.error.message)} (${event.error.retry_status?.type ?? "terminal"})`,
      );
    case "session.thread_created":
      return line(`thread   ${event.session_thread_id} started (${event.agent_name})`);
    case "session.thread_status_idle":
      return line(`thread   ${event.session_thread_id} idle (${event.stop_reason?.type ?? "end_turn"})`);
    case "session.thread_status_running":
    case "session.thread_status_rescheduled":
    case "session.thread_status_terminated":
      return line(`thread   ${event.session_thread_id} ${event.type.slice("session.thread_status_".length)}`);
    case "agent.thread_message_sent":
      return line(`→ ${event.to_session_thread_id}  ${fold(textOf(event.content))}`);
    case "agent.thread_message_received":
      return line(`← ${event.from_session_thread_id}  ${fold(textOf(event.content))}`);
    case "session.usage":
    case "event_start":
    case "event_delta":
      return [];
    default:
      return line(`${(event as { type: string }).type}`);
  }
}

/** How a tailed turn ended, from its idle or terminated event (undefined: it has not ended). */
export function turnEnd(event: StreamEvent): "idle" | "error" | undefined {
  if (event.type === "session.status_terminated") return "error";
  if (event.type !== "session.status_idle") return undefined;
  return event.stop_reason?.type === "retries_exhausted" ? "error" : "idle";
}
