/**
 * Tool results as stored in the event log: an event is one store item (DynamoDB's 400 KB), so a
 * result — a server-side tool's or a self-hosted worker's — is cut to a documented size first.
 */

/**
 * The most a tool result may take in the event log, as stored (JSON-escaped): an event is one store
 * item (DynamoDB's 400 KB), and control characters escape to six bytes each, so a 119 KB file of them
 * would otherwise fail every retry of the step that read it.
 */
export const MAX_TOOL_RESULT_STORED_BYTES = 100_000;

/** `text`, cut (with a marker saying so) to fit {@link MAX_TOOL_RESULT_STORED_BYTES} once escaped. */
export function capToolResultText(text: string): string {
  const stored = (t: string) => Buffer.byteLength(JSON.stringify(t), "utf8");
  const size = stored(text);
  if (size <= MAX_TOOL_RESULT_STORED_BYTES) return text;
  const marker = `\n[output truncated: the result was ${size} bytes stored; at most ${MAX_TOOL_RESULT_STORED_BYTES} are kept]`;
  let keep = Math.floor((text.length * (MAX_TOOL_RESULT_STORED_BYTES - 200)) / size);
  while (keep > 0 && stored(text.slice(0, keep) + marker) > MAX_TOOL_RESULT_STORED_BYTES)
    keep = Math.floor(keep * 0.9);
  return text.slice(0, keep) + marker;
}

/**
 * A worker's `user.tool_result` as stored: its text cut like a server-side result; images and
 * documents that would not fit replaced by a note (an event is one store item).
 */
export function capToolResultEvent<E extends { content?: ReadonlyArray<{ type: string }> | null }>(
  event: E,
): E {
  if (!event.content) return event;
  const content = event.content.map((block) =>
    block.type === "text"
      ? { ...block, text: capToolResultText((block as unknown as { text: string }).text) }
      : block,
  );
  if (Buffer.byteLength(JSON.stringify(content), "utf8") <= MAX_TOOL_RESULT_STORED_BYTES)
    return { ...event, content };
  let kept = content.filter((b) => b.type === "text");
  if (Buffer.byteLength(JSON.stringify(kept), "utf8") > MAX_TOOL_RESULT_STORED_BYTES) kept = kept.slice(0, 1);
  const note = {
    type: "text",
    text: `[${content.length - kept.length} image/document block(s) left out: the result was over ${MAX_TOOL_RESULT_STORED_BYTES} bytes]`,
  };
  return { ...event, content: [...kept, note] };
}
