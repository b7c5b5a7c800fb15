/**
 * Memory poisoning defences (OWASP ASI06) that are pure functions: stripping the invisible and
 * bidirectional-control characters that hide a payload from a human reviewer, spotting text that
 * reads like instructions to an agent, and deciding whether a session's context holds untrusted
 * content (taint) at the moment it writes to memory.
 */
import type { LoggedEvent } from "../events/event-log.js";

/**
 * Invisible characters: every format character (zero-width space/joiners, word joiner, BOM, soft
 * hyphen, bidi embeddings/overrides/isolates, LRM/RLM/ALM, Unicode tag characters used for "ASCII
 * smuggling"), plus the invisible fillers that are not format characters.
 */
const HIDDEN = /\p{Cf}|\u034f|\u115f|\u1160|\u3164|\uffa0|\u180e/gu;

/** Removes invisible and bidi control characters; returns the clean text and how many were removed. */
export function stripHiddenCharacters(text: string): { text: string; removed: number } {
  let removed = 0;
  const clean = text.replace(HIDDEN, () => {
    removed++;
    return "";
  });
  return { text: clean, removed };
}

const SIGNALS: ReadonlyArray<[string, RegExp]> = [
  [
    "override",
    /\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(instructions?|rules?|prompts?|guidelines|previous|above)\b/i,
  ],
  [
    "standing_order",
    /\b(always|never|from now on|in (all|every) future|every time|whenever)\b[^.\n]{0,80}\b(send|forward|email|post|upload|share|include|add|copy|cc|bcc|reply|respond|tell|say|use|run|execute|call|visit|click|trust|approve|transfer|pay)\b/i,
  ],
  [
    "exfiltration",
    /\b(send|forward|email|post|upload|leak|exfiltrate|transmit|cc|bcc)\b[^\n]{0,80}?\b(to|into|via)\s+([\w.+-]+@[\w-]+\.[\w.]+|https?:\/\/\S+)/i,
  ],
  [
    "addressed_to_agent",
    /\b(you (must|should|are required to|will now)|as an? (ai|assistant|agent)|note to (the )?(ai|assistant|agent|model)|assistant:|system:)/i,
  ],
  [
    "prompt_markup",
    /<\/?(system|instructions?|prompt|admin|im_start|im_end)>|\[\/?(INST|SYS)\]|###\s*(system|instruction)/i,
  ],
  [
    "secrecy",
    /\b(do not|don't|never)\b[^.\n]{0,40}\b(tell|inform|mention|reveal|disclose|alert)\b[^.\n]{0,40}\b(user|anyone|human|operator)\b/i,
  ],
  [
    "tool_directive",
    /\b(call|invoke|use|run|execute)\b[^.\n]{0,30}\b(tool|function|command|web_fetch|curl|bash)\b/i,
  ],
];

/**
 * Why `text` reads like instructions aimed at an agent (empty when it does not). A heuristic: it
 * flags phrasing ("always send the report to …", "ignore previous instructions", prompt markup),
 * not intent. Dreams use it to keep tainted, instruction-like memory from being promoted unreviewed.
 */
export function instructionSignals(text: string): string[] {
  const visible = stripHiddenCharacters(text).text;
  return SIGNALS.filter(([, pattern]) => pattern.test(visible)).map(([name]) => name);
}

/** Whether `text` reads like instructions aimed at an agent (see {@link instructionSignals}). */
export function instructionLike(text: string): boolean {
  return instructionSignals(text).length > 0;
}

/** Where untrusted content came from. */
export type TaintSource = "web_fetch" | "file" | "bash" | "custom_tool_result" | "mcp_tool_result";

const MEMORY_MOUNT_ROOT = "/mnt/memory/";

/**
 * The untrusted sources that entered a session's context before the event `beforeEventId` (the
 * `agent.tool_use` that writes to memory): `web_fetch` results, reads and greps of workspace files
 * (which may hold uploaded or fetched content), `bash` output (whatever a command printed: files,
 * downloads), custom and MCP tool results — whether a server-side tool (`agent.tool_result`) or a
 * self-hosted worker (`user.tool_result`) answered. Reads of memory mounts
 * do not taint: memory carries its own per-version taint. User messages are the principal speaking.
 */
export function taintSources(log: readonly LoggedEvent[], beforeEventId?: string): TaintSource[] {
  const toolUses = new Map<string, { name: string; input: Record<string, unknown> }>();
  const sources = new Set<TaintSource>();
  for (const { event } of log) {
    if (beforeEventId && event.id === beforeEventId) break;
    const e = event as { type: string; id: string; name?: string; input?: unknown; tool_use_id?: string };
    if (e.type === "agent.tool_use") {
      toolUses.set(e.id, { name: e.name ?? "", input: (e.input ?? {}) as Record<string, unknown> });
    } else if (e.type === "agent.tool_result" || e.type === "user.tool_result") {
      const use = toolUses.get(e.tool_use_id ?? "");
      if (!use) continue;
      if (use.name === "web_fetch") sources.add("web_fetch");
      if (use.name === "bash") sources.add("bash");
      if (use.name === "read" || use.name === "grep") {
        const path = String(use.input.file_path ?? use.input.path ?? ".");
        if (!path.startsWith(MEMORY_MOUNT_ROOT)) sources.add("file");
      }
    } else if (e.type === "user.custom_tool_result") {
      sources.add("custom_tool_result");
    } else if (e.type === "agent.mcp_tool_result") {
      sources.add("mcp_tool_result");
    }
  }
  return [...sources];
}
