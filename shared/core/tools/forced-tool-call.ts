/**
 * Structured answers from a model, the one way Reverie asks for them: a forced tool call whose input
 * is validated with zod. A malformed call is answered with the validation error (as the tool's
 * `is_error` result, so the model sees what was wrong with its own call) and asked for again, a
 * bounded number of times; then the job fails with a clear error. Prose is never parsed.
 *
 * ```ts
 * const { value } = await forcedToolCall(model, {
 *   request: { model: "claude-sonnet-4-6", max_tokens: 4096, messages },
 *   tool: { name: "submit_grade", description: "…", input_schema },
 *   schema: gradeSchema,
 * });
 * ```
 *
 * Used by the outcome grader (`submit_grade`) and the dreamer's closing call (`finish_dream`).
 */
import type Anthropic from "@anthropic-ai/sdk";
import type * as z from "zod";
import type { ModelProvider, ModelRequest } from "../ports.js";

/** Token counts of the calls a structured answer took. */
export interface CallUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export const zeroCallUsage = (): CallUsage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});

/** Adds a response's usage into `total`. */
export function addCallUsage(total: CallUsage, usage: Partial<Anthropic.Messages.Usage> | CallUsage): void {
  total.input_tokens += usage.input_tokens ?? 0;
  total.output_tokens += usage.output_tokens ?? 0;
  total.cache_creation_input_tokens += usage.cache_creation_input_tokens ?? 0;
  total.cache_read_input_tokens += usage.cache_read_input_tokens ?? 0;
}

export interface ForcedToolCallOptions<T> {
  /** The request without `tool_choice`; `tools` may list other tools (they are kept, for caching). */
  request: ModelRequest;
  /** The tool the model must call. */
  tool: Anthropic.Messages.Tool;
  /** Validates the call's input. */
  schema: z.ZodType<T>;
  /** Checks beyond the schema (cross-field rules); returns what is wrong, or undefined. */
  check?: (value: T) => string | undefined;
  /** Model calls allowed before the answer is reported unreadable (default 3). */
  maxAttempts?: number;
}

export interface ForcedToolCallResult<T> {
  value: T;
  usage: CallUsage;
  /** Model calls made (1 when the first answer was valid). */
  attempts: number;
}

/** The model kept answering a forced tool call with input that does not validate. */
export class StructuredAnswerError extends Error {
  override name = "StructuredAnswerError";
  constructor(
    message: string,
    readonly tool: string,
    readonly attempts: number,
    /** What was wrong with the last answer. */
    readonly problem: string,
    readonly usage: CallUsage,
  ) {
    super(message);
  }
}

/** What is wrong with a zod result, in a line the model can act on. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 8)
    .map((issue) => `${issue.path.length ? issue.path.join(".") : "(input)"}: ${issue.message}`)
    .join("; ");
}

/** Reads one tool call's input against a schema and optional check: the value, or what is wrong. */
export function validateToolInput<T>(
  input: unknown,
  schema: z.ZodType<T>,
  check?: (value: T) => string | undefined,
): { ok: true; value: T } | { ok: false; problem: string } {
  const parsed = schema.safeParse(input);
  if (!parsed.success) return { ok: false, problem: describeIssues(parsed.error) };
  const problem = check?.(parsed.data);
  return problem ? { ok: false, problem } : { ok: true, value: parsed.data };
}

/** Asks for a forced call of `tool` until its input validates, at most `maxAttempts` times. */
export async function forcedToolCall<T>(
  model: ModelProvider,
  options: ForcedToolCallOptions<T>,
): Promise<ForcedToolCallResult<T>> {
  const name = options.tool.name;
  const maxAttempts = options.maxAttempts ?? 3;
  const usage = zeroCallUsage();
  const tools = [...(options.request.tools ?? [])];
  if (!tools.some((t) => "name" in t && t.name === name)) tools.push(options.tool);
  const messages = [...options.request.messages];
  let problem = "";
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const response = await model.createMessage({
      ...options.request,
      messages,
      tools,
      tool_choice: { type: "tool", name },
    });
    addCallUsage(usage, response.usage);
    const call = response.content.find(
      (b): b is Anthropic.Messages.ToolUseBlock => b.type === "tool_use" && b.name === name,
    );
    if (!call) {
      problem = `no ${name} tool call`;
      messages.push(
        { role: "assistant", content: asParams(response.content, "(no answer)") },
        { role: "user", content: `Answer by calling the ${name} tool.` },
      );
      continue;
    }
    const read = validateToolInput(call.input, options.schema, options.check);
    if (read.ok) return { value: read.value, usage, attempts: attempt };
    problem = `invalid ${name} input: ${read.problem}`;
    messages.push(
      { role: "assistant", content: asParams(response.content, "") },
      {
        role: "user",
        content: [
          {
            type: "tool_result",
            tool_use_id: call.id,
            is_error: true,
            content: `${problem}. Call ${name} again with input that matches its schema.`,
          },
        ],
      },
    );
  }
  throw new StructuredAnswerError(
    `the model's ${name} answer could not be read after ${maxAttempts} attempts: ${problem}`,
    name,
    maxAttempts,
    problem,
    usage,
  );
}

/** A response's blocks as the next request's assistant turn (text and tool calls; others dropped). */
function asParams(
  content: readonly Anthropic.Messages.ContentBlock[],
  fallback: string,
): Anthropic.Messages.ContentBlockParam[] {
  const blocks: Anthropic.Messages.ContentBlockParam[] = [];
  for (const block of content) {
    if (block.type === "text" && block.text !== "") blocks.push({ type: "text", text: block.text });
    if (block.type === "tool_use")
      blocks.push({ type: "tool_use", id: block.id, name: block.name, input: block.input });
  }
  if (blocks.length === 0) blocks.push({ type: "text", text: fallback || "(empty)" });
  return blocks;
}
