/**
 * Turns a session's event log into Messages API turns. Assistant turns come from the raw model
 * content kept on `span.model_request_end`; tool results from `agent.tool_result`, `agent.mcp_tool_result`, a self-hosted
 * worker's `user.tool_result` and `user.custom_tool_result`; user turns from `user.message`. A tool call that never got a result
 * (interrupted, or the user moved on) gets an explicit error result so the transcript stays valid.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { LoggedEvent } from "../events/event-log.js";
import type { RunExtension } from "./run-extension.js";

type MessageParam = Anthropic.Messages.MessageParam;
type UserBlock = Anthropic.Messages.ContentBlockParam;

/**
 * @param extensions what plug-ins render their own events as (`contextText`): the first text an
 *   extension gives for an event joins the user turn.
 */
export function buildTranscript(
  log: LoggedEvent[],
  extensions: readonly Pick<RunExtension, "contextText">[] = [],
): MessageParam[] {
  const toolUseIdByEventId = new Map<string, string>();
  for (const { event, internals } of log) {
    if (
      (event.type === "agent.tool_use" ||
        event.type === "agent.custom_tool_use" ||
        event.type === "agent.mcp_tool_use") &&
      internals.toolUseId
    ) {
      toolUseIdByEventId.set(event.id, internals.toolUseId);
    }
  }

  const messages: MessageParam[] = [];
  let pendingUser: UserBlock[] = [];
  let openToolUses: string[] = [];

  const flushUser = () => {
    const answered = new Set(
      pendingUser
        .filter((b) => b.type === "tool_result")
        .map((b) => (b as Anthropic.Messages.ToolResultBlockParam).tool_use_id),
    );
    const missing = openToolUses.filter((id) => !answered.has(id));
    const results: UserBlock[] = [
      ...pendingUser.filter((b) => b.type === "tool_result"),
      ...missing.map((id) => ({
        type: "tool_result" as const,
        tool_use_id: id,
        is_error: true,
        content: "This tool call was not executed (the turn was interrupted or the user moved on).",
      })),
    ];
    const rest = pendingUser.filter((b) => b.type !== "tool_result");
    const content = [...results, ...rest];
    openToolUses = [];
    pendingUser = [];
    if (content.length > 0) messages.push({ role: "user", content });
  };

  const renderers = extensions.filter((e) => e.contextText);
  for (const logged of log) {
    const { event, internals } = logged;
    switch (event.type) {
      case "user.message":
        pendingUser.push(...(event.content as UserBlock[]));
        break;
      case "agent.tool_result":
      case "agent.mcp_tool_result":
      case "user.tool_result":
      case "user.custom_tool_result": {
        const eventId =
          event.type === "user.custom_tool_result"
            ? event.custom_tool_use_id
            : event.type === "agent.mcp_tool_result"
              ? event.mcp_tool_use_id
              : event.tool_use_id;
        const toolUseId = toolUseIdByEventId.get(eventId);
        if (!toolUseId || !openToolUses.includes(toolUseId)) break;
        // The first result answers the call; the Messages API refuses a second one for the same id
        // (two sends of one result that raced past the session's awaiting check both got logged).
        if (pendingUser.some((b) => b.type === "tool_result" && b.tool_use_id === toolUseId)) break;
        pendingUser.push({
          type: "tool_result",
          tool_use_id: toolUseId,
          is_error: event.is_error ?? false,
          content: (event.content ?? []) as Anthropic.Messages.ToolResultBlockParam["content"],
        });
        break;
      }
      case "span.model_request_end": {
        const content = internals.assistantContent as Anthropic.Messages.ContentBlockParam[] | undefined;
        if (!content || content.length === 0) break;
        flushUser();
        messages.push({ role: "assistant", content });
        openToolUses = content
          .filter((b) => b.type === "tool_use")
          .map((b) => (b as Anthropic.Messages.ToolUseBlockParam).id);
        break;
      }
      default: {
        for (const extension of renderers) {
          const text = extension.contextText?.(logged);
          if (text === undefined) continue;
          pendingUser.push({ type: "text", text });
          break;
        }
        break;
      }
    }
  }
  // Open tool calls at the end stay open only if nothing else was said after them.
  if (pendingUser.length > 0) flushUser();
  return messages;
}
