/**
 * The offline model behind `npm start` when no model key is configured: deterministic and honest
 * about being a stand-in. It is a small parser of explicit instructions, not a chatbot:
 *
 * - `write "hello" to notes.txt`, `create a file notes.txt containing hello` → `write {file_path, content}`
 * - `read notes.txt`, `show notes.txt` → `read {file_path}`
 * - `in notes.txt replace "a" with "b"`, `replace "a" with "b" in notes.txt` → `edit {file_path, old_string, new_string}`
 * - `list files [in dir]`, `glob **\/*.md` → `glob {pattern}`
 * - `search for TODO [in src]`, `grep TODO` → `grep {pattern, path?}`
 * - `fetch https://…` → `web_fetch {url}`
 * - `call <tool> [with {json}]` → that tool (custom tools included)
 *
 * An error that says `valid call: {json}` is retried once with that input, and recurring-error notes
 * read earlier in the turn change the next call of their tool (simulated-lessons.ts: the quirk gym's
 * mechanism check).
 *
 * Several instructions in one message (`write a to x.txt then read x.txt`) run one tool call per
 * turn, in order; progress is read back from the transcript's tool_use blocks, so the model keeps
 * no state. When they are all done it ends the turn with a summary of the tool results.
 */
import { createHash } from "node:crypto";
import type Anthropic from "@anthropic-ai/sdk";
import type { ModelProvider, ModelRequest, ModelResponse, ModelStreamObserver } from "../../core/ports.js";
import { isDreamerRequest, simulatedDreamerTurn } from "./simulated-dreamer.js";
import { isGradeRequest, simulatedGrade } from "./simulated-grader.js";
import { applyLessons, lessonsIn, retryHint } from "./simulated-lessons.js";

type MessageParam = Anthropic.Messages.MessageParam;
type ContentBlock = Anthropic.Messages.ContentBlock;
type ToolResultBlockParam = Anthropic.Messages.ToolResultBlockParam;

/** Every text reply starts with this, so nobody mistakes the stand-in for a model. */
export const SIMULATED_PREFIX = "[simulated model]";

/** A tool call the simulated model read from an instruction. */
export interface SimulatedToolCall {
  name: string;
  input: Record<string, unknown>;
}

// A value: a quoted string (any of "…", “…”, '…', `…`) or, failing that, the shortest unquoted run.
const VALUE = String.raw`("[^"]*"|“[^”]*”|'[^']*'|\x60[^\x60]*\x60|.+?)`;
const PATH = String.raw`(\S+)`;
const VERBS =
  "write|save|put|create|make|touch|read|cat|open|show|display|view|edit|replace|change|list|ls|glob|find|search|grep|look|fetch|get|call|invoke|use";

type Rule = [RegExp, (m: RegExpMatchArray) => SimulatedToolCall | undefined];
const rule = (pattern: string, build: Rule[1]): Rule => [new RegExp(`^${pattern}$`, "is"), build];
const g = (m: RegExpMatchArray, i: number) => m[i] ?? "";

/** Instruction patterns, tried in order on each clause. */
const rules: Rule[] = [
  rule(
    String.raw`(?:call|invoke|use)\s+(?:the\s+)?(?:tool\s+)?[\x60"']?([\w.:-]+)[\x60"']?(?:\s+tool)?(?:\s+(?:with|on)\s+(?:input\s+|arguments\s+|args\s+)?(\{.*\}))?`,
    (m) => {
      if (!m[2] && /^use$/i.test(m[0].split(/\s/)[0] ?? "")) return undefined; // "use X" alone is too vague
      const input = m[2] ? parseJsonObject(m[2]) : {};
      return input ? { name: g(m, 1), input } : undefined;
    },
  ),
  rule(
    String.raw`(?:fetch|get|download|open|visit|browse(?:\s+to)?)\s+(?:the\s+)?(?:url\s+|page\s+)?(https?://\S+)`,
    (m) => ({
      name: "web_fetch",
      input: { url: cleanPath(g(m, 1)) },
    }),
  ),
  rule(
    String.raw`(?:create|make|write)\s+(?:an?\s+|the\s+)?(?:new\s+)?file\s+(?:called\s+|named\s+)?${PATH}\s+(?:containing|that\s+contains|with\s+(?:the\s+)?(?:content|contents|text)|with)\s*:?\s+(.+)`,
    (m) => write(g(m, 1), g(m, 2)),
  ),
  rule(
    String.raw`(?:touch|(?:create|make)\s+(?:an?\s+)?(?:empty\s+|new\s+)*file\s+(?:called\s+|named\s+)?)\s*${PATH}`,
    (m) => write(g(m, 1), ""),
  ),
  rule(
    String.raw`(?:write|save|put|store)\s+${VALUE}\s+(?:to|into|in|as)\s+(?:(?:the\s+)?file\s+)?${PATH}`,
    (m) => write(g(m, 2), g(m, 1)),
  ),
  rule(
    String.raw`(?:in|edit)\s+(?:the\s+file\s+)?${PATH},?\s+(?:replace|change)\s+${VALUE}\s+(?:with|to|by|into)\s+(.+)`,
    (m) => edit(g(m, 1), g(m, 2), g(m, 3)),
  ),
  rule(
    String.raw`(?:replace|change)\s+${VALUE}\s+(?:with|to|by|into)\s+${VALUE}\s+in\s+(?:the\s+file\s+)?${PATH}`,
    (m) => edit(g(m, 3), g(m, 1), g(m, 2)),
  ),
  rule(String.raw`(?:glob|(?:find|list)\s+(?:all\s+)?files\s+matching)\s+${PATH}`, (m) => ({
    name: "glob",
    input: { pattern: cleanPath(g(m, 1)) },
  })),
  rule(
    String.raw`(?:(?:list|show)\s+(?:me\s+)?(?:all\s+)?(?:the\s+)?files|ls)(?:\s+(?:in|under)\s+(?:the\s+)?(?:folder\s+|directory\s+)?${PATH})?`,
    (m) => {
      const dir = m[1] ? trimEndOf(cleanPath(m[1]), "/") : "";
      return { name: "glob", input: { pattern: dir ? `${dir}/**/*` : "**/*" } };
    },
  ),
  rule(
    String.raw`(?:read|cat|open|show(?:\s+me)?|display|print|view)\s+(?:the\s+)?(?:contents?\s+of\s+)?(?:the\s+)?(?:file\s+)?${PATH}`,
    (m) => ({
      name: "read",
      input: { file_path: cleanPath(g(m, 1)) },
    }),
  ),
  rule(String.raw`what(?:'s|’s|\s+is)\s+in\s+${PATH}`, (m) => ({
    name: "read",
    input: { file_path: cleanPath(g(m, 1)) },
  })),
  rule(String.raw`(?:search|grep|look)\s+(?:for\s+)?${VALUE}(?:\s+in\s+${PATH})?`, (m) =>
    grep(g(m, 1), m[2]),
  ),
  rule(
    String.raw`find\s+(?:occurrences\s+of\s+)?("[^"]*"|“[^”]*”|\x60[^\x60]*\x60)(?:\s+in\s+${PATH})?`,
    (m) => grep(g(m, 1), m[2]),
  ),
];

function write(path: string, content: string): SimulatedToolCall {
  return { name: "write", input: { file_path: cleanPath(path), content: unquote(content) } };
}

function edit(path: string, oldString: string, newString: string): SimulatedToolCall {
  return {
    name: "edit",
    input: { file_path: cleanPath(path), old_string: unquote(oldString), new_string: unquote(newString) },
  };
}

function grep(pattern: string, path: string | undefined): SimulatedToolCall {
  return { name: "grep", input: { pattern: unquote(pattern), ...(path ? { path: cleanPath(path) } : {}) } };
}

function unquote(value: string): string {
  const v = value.trim();
  const pairs = ['""', "“”", "''", "``"];
  return v.length >= 2 && pairs.includes(`${v[0]}${v.at(-1)}`) ? v.slice(1, -1) : v;
}

function cleanPath(value: string): string {
  return unquote(trimEndOf(value, ".,;:!?)"));
}

/**
 * `value` without its trailing characters from `chars`. (Not `/[…]+$/`: that retries from every
 * character of a run that does not reach the end, quadratic in the run.)
 */
function trimEndOf(value: string, chars: string): string {
  let end = value.length;
  while (end > 0 && chars.includes(value[end - 1] ?? "")) end--;
  return value.slice(0, end);
}

function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Splits a message into clauses at newlines, `;`, sentence ends and `then` / `and <verb>`, but never
 * inside quotes or JSON braces (those characters are masked before the separators are searched).
 */
function splitClauses(text: string): string[] {
  let mask = "";
  let closing: string | undefined;
  let depth = 0;
  const quotes: Record<string, string> = { '"': '"', "“": "”", "`": "`" };
  for (const ch of text) {
    if (closing) {
      mask += ch === closing ? ch : "\u0001".repeat(ch.length);
      if (ch === closing) closing = undefined;
    } else if (depth > 0) {
      if (ch === "{" || ch === "[") depth++;
      else if (ch === "}" || ch === "]") depth--;
      mask += "\u0001".repeat(ch.length);
    } else {
      if (quotes[ch]) closing = quotes[ch];
      if (ch === "{") depth = 1;
      mask += ch;
    }
  }
  // Linear: a run of whitespace that separates nothing is consumed whole by the last alternative (a
  // separator only if it holds a line break), so no later position re-scans it; and the verb after
  // "and" / "," is captured rather than looked ahead at, and handed back to the next clause.
  const separator = new RegExp(
    String.raw`[;\n]+|\.\s+|,?\s+(?:and\s+)?then\s+|,?\s+and\s+((?:${VERBS})\b)|,\s+((?:${VERBS.replace("replace|change|", "")})\b)|(\s+)`,
    "gi",
  );
  const clauses: string[] = [];
  let start = 0;
  for (const match of mask.matchAll(separator)) {
    if (match[3] !== undefined && !match[3].includes("\n")) continue;
    clauses.push(text.slice(start, match.index));
    start = match.index + match[0].length - (match[1] ?? match[2] ?? "").length;
  }
  clauses.push(text.slice(start));
  return clauses.map(cleanClause).filter((c) => c.length > 0);
}

function cleanClause(clause: string): string {
  const opened = clause
    .trim()
    .replace(/^(?:[-*•]|\d+[.)])\s+/, "")
    .replace(
      /^(?:(?:please|now|first(?:ly)?|second(?:ly)?|next|finally|lastly|also|and|then|after\s+that|afterwards|can\s+you|could\s+you|would\s+you|kindly)\b[,:]?\s*)+/i,
      "",
    );
  return withoutClosingPlease(opened).trim();
}

/** What `.replace(/(?:[\s,]+please)?[.!?]*$/i, "")` did, without re-scanning runs of whitespace. */
function withoutClosingPlease(clause: string): string {
  let end = trimEndOf(clause, ".!?").length;
  const word = end - "please".length;
  if (word > 0 && clause.slice(word, end).toLowerCase() === "please") {
    let start = word;
    while (start > 0 && /[\s,]/.test(clause[start - 1] ?? "")) start--;
    if (start < word) end = start;
  }
  return clause.slice(0, end);
}

/**
 * How much of a message the simulated model reads as instructions. Its rules put lazy values next to
 * whitespace (`.+?\s+`), which backtracks polynomially on a long run of spaces, and on the embedded
 * stack it runs in the process that answers every request: a pasted text must not stall it. An
 * instruction is a short clause, so longer clauses are not tried, nor clauses past `messageChars`.
 */
export const SIMULATED_INSTRUCTION_LIMITS = { clauseChars: 2_000, messageChars: 8_000 } as const;

/** The tool calls an instruction message asks for, in order; clauses that match no pattern are ignored. */
export function parseInstructions(text: string): SimulatedToolCall[] {
  const calls: SimulatedToolCall[] = [];
  let read = 0;
  for (const clause of splitClauses(text)) {
    read += clause.length;
    if (read > SIMULATED_INSTRUCTION_LIMITS.messageChars) break;
    if (clause.length > SIMULATED_INSTRUCTION_LIMITS.clauseChars) continue;
    for (const [pattern, build] of rules) {
      const match = clause.match(pattern);
      const call = match ? build(match) : undefined;
      if (call) {
        calls.push(call);
        break;
      }
    }
  }
  return calls;
}

function textOf(message: MessageParam): string {
  if (typeof message.content === "string") return message.content;
  return message.content
    .flatMap((block) => (block.type === "text" ? [block.text] : []))
    .join("\n")
    .trim();
}

function resultText(block: ToolResultBlockParam): string {
  const content = block.content;
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((part) => (part.type === "text" ? part.text : `[${part.type}]`)).join("\n");
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}… (${text.length - max} more characters)` : text;
}

function label(name: string, input: unknown): string {
  const fields = (input ?? {}) as Record<string, unknown>;
  const target = fields.file_path ?? fields.pattern ?? fields.url ?? fields.path;
  return typeof target === "string"
    ? `${name} ${target}`
    : `${name} ${truncate(JSON.stringify(input ?? {}), 80)}`;
}

function hash(value: unknown): string {
  return createHash("sha256").update(JSON.stringify(value)).digest("hex");
}

/** What the simulated model does next, as content blocks (ids still to be filled in). */
function decide(request: ModelRequest): ContentBlock[] {
  // The dreamer agent: a mechanical procedure over its tools (simulated-dreamer.ts).
  if (isDreamerRequest(request)) return simulatedDreamerTurn(request, SIMULATED_PREFIX);
  const { messages } = request;
  const offered = new Map<string, string>();
  for (const tool of request.tools ?? []) {
    if ("name" in tool) offered.set(tool.name.toLowerCase(), tool.name);
  }
  const instructionIndex = messages.findLastIndex((m) => m.role === "user" && textOf(m) !== "");
  if (instructionIndex < 0) return [text(`${SIMULATED_PREFIX} No instruction found in the conversation.`)];
  const instruction = textOf(messages[instructionIndex] as MessageParam);

  const wanted = parseInstructions(instruction);
  const runnable = wanted.flatMap((call) => {
    const name = offered.get(call.name.toLowerCase());
    return name ? [{ ...call, name }] : [];
  });
  const missing = [...new Set(wanted.filter((c) => !offered.has(c.name.toLowerCase())).map((c) => c.name))];

  const later = messages.slice(instructionIndex + 1);
  const calls = later.flatMap((m) =>
    m.role === "assistant" && typeof m.content !== "string"
      ? m.content.flatMap((b) => (b.type === "tool_use" ? [b] : []))
      : [],
  );
  const results = new Map<string, ToolResultBlockParam>();
  for (const m of later) {
    if (m.role !== "user" || typeof m.content === "string") continue;
    for (const block of m.content) if (block.type === "tool_result") results.set(block.tool_use_id, block);
  }
  // A call retried with the input its error suggested (simulated-lessons.ts) is not a new step.
  const hintOf = (i: number) => {
    const call = calls[i];
    const result = call && results.get(call.id);
    return result?.is_error ? retryHint(resultText(result)) : undefined;
  };
  const isRetry = (i: number) =>
    i > 0 && calls[i]?.name === calls[i - 1]?.name && hintOf(i - 1) !== undefined;
  const last = calls.length - 1;
  const hint = last >= 0 && !isRetry(last) ? hintOf(last) : undefined;
  if (hint && calls[last]) {
    return [
      text(
        `${SIMULATED_PREFIX} ${label(calls[last].name, hint)} (retrying with the input the error suggests).`,
      ),
      { type: "tool_use", id: "", name: calls[last].name, input: hint, caller: { type: "direct" } },
    ];
  }
  const planned = runnable[calls.filter((_, i) => !isRetry(i)).length];
  // Lessons read earlier in this turn (recurring-error notes) change the next call of their tool.
  const lessons = lessonsIn([...results.values()].map(resultText));
  const next = planned && { ...planned, input: applyLessons(planned.name, planned.input, lessons) };
  if (next) {
    const step = runnable.length > 1 ? ` (step ${calls.length + 1} of ${runnable.length})` : "";
    return [
      text(`${SIMULATED_PREFIX} ${label(next.name, next.input)}${step}.`),
      {
        type: "tool_use",
        id: "",
        name: next.name,
        input: next.input,
        caller: { type: "direct" },
      },
    ];
  }

  const notAvailable = missing.length > 0 ? ` Not available here: ${missing.join(", ")}.` : "";
  if (calls.length === 0) {
    if (wanted.length > 0) return [text(`${SIMULATED_PREFIX} I cannot do that.${notAvailable}`)];
    return [
      text(
        `${SIMULATED_PREFIX} Received: "${truncate(instruction, 80)}". I am an offline stand-in, not a language model; ` +
          `I only follow explicit instructions such as: write "text" to notes.txt, read notes.txt, list files, ` +
          `search for TODO, call <tool> with {json}.`,
      ),
    ];
  }

  const lines = calls.map((call) => {
    const result = results.get(call.id);
    if (!result) return `- ${label(call.name, call.input)}: no result`;
    const body = truncate(resultText(result), 2_000);
    const status = result.is_error ? "failed" : "returned";
    return body.includes("\n") || body.length > 60
      ? `- ${label(call.name, call.input)} ${status}:\n${body}`
      : `- ${label(call.name, call.input)} ${status}: ${body === "" ? "(empty)" : body}`;
  });
  return [text(`${SIMULATED_PREFIX} Done.${notAvailable}\n${lines.join("\n")}`)];
}

function text(value: string): ContentBlock {
  return { type: "text", text: value, citations: null };
}

/** An offline, deterministic {@link ModelProvider}: same request, same response. */
export class SimulatedModel implements ModelProvider {
  readonly name = "simulated";

  async createMessage(request: ModelRequest, observer?: ModelStreamObserver): Promise<ModelResponse> {
    const digest = hash(request);
    const content = (
      isGradeRequest(request) ? simulatedGrade(request, SIMULATED_PREFIX) : decide(request)
    ).map((block) =>
      block.type === "tool_use"
        ? { ...block, id: `toolu_sim_${hash([digest, "tool_use"]).slice(0, 24)}` }
        : block,
    );
    if (observer) await streamTo(observer, content);
    const inputChars = JSON.stringify({
      system: request.system,
      messages: request.messages,
      tools: request.tools,
    });
    return {
      id: `msg_sim_${digest.slice(0, 24)}`,
      type: "message",
      role: "assistant",
      model: request.model,
      content,
      container: null,
      diagnostics: null,
      stop_details: null,
      stop_reason: content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn",
      stop_sequence: null,
      usage: {
        input_tokens: Math.ceil(inputChars.length / 4),
        output_tokens: Math.ceil(JSON.stringify(content).length / 4),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        inference_geo: null,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: "standard",
        speed: null,
      },
    };
  }
}

/**
 * An observed call "streams" like the real API would: each block opens, and a text block's words
 * arrive a few at a time (a few milliseconds apart, so a stream sees them as separate previews).
 */
async function streamTo(observer: ModelStreamObserver, content: readonly { type: string; text?: string }[]) {
  for (const [index, block] of content.entries()) {
    observer.blockStart(index, block.type);
    if (block.type !== "text" || !block.text) continue;
    const pieces = block.text.match(/\S+\s*|\s+/g) ?? [];
    for (let i = 0; i < pieces.length; i += 4) {
      observer.textDelta(index, pieces.slice(i, i + 4).join(""));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}
