/**
 * The grading core: scores work against a rubric in a fresh context. Machine-check lines are decided
 * by code first; the remaining criteria go to the grader model, which must answer through a forced
 * `submit_grade` tool call whose input is validated (tools/forced-tool-call.ts: a malformed call is
 * answered with its validation error and asked again, then reported as GraderOutputError) — never guessed. Reusable outside sessions (a dream's output against a memory
 * rubric):
 *
 * ```ts
 * const grade = await gradeAgainstRubric(
 *   { description: "Consolidate the notes", rubric: "- check: file index.md exists\n- No duplicates",
 *     output: "Done.", files: new Map([["index.md", "…"]]) },
 *   { model, modelId: "claude-sonnet-4-6" },
 * );
 * grade.result; // "satisfied" | "needs_revision" | "failed"; grade.criteria says how each was decided
 * ```
 */
import type Anthropic from "@anthropic-ai/sdk";
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { ModelProvider, ModelRequest } from "../ports.js";
import { forcedToolCall, StructuredAnswerError } from "../tools/forced-tool-call.js";
import { type CriterionFinding, clip, EVALUATION_LIMITS } from "./outcome-record.js";
import { parseRubric, type RubricCriterion, RubricSyntaxError, runMachineCheck } from "./rubric.js";

export interface GradingInput {
  /** What the work was meant to produce. */
  description: string;
  /** The rubric as written (free text; `check:` lines are machine checks). */
  rubric: string;
  /** The work's final output (e.g. the agent's last messages). */
  output: string;
  /** Files the work produced, path → content (paths relative to the workspace root). */
  files: ReadonlyMap<string, string>;
}

export interface GradingOptions {
  model: ModelProvider;
  modelId: string;
  /** Model calls allowed before malformed output is reported (default 3). */
  maxAttempts?: number;
  /** Limits on what of each file (and of all files) the grader model reads. */
  maxFileChars?: number;
  maxTotalFileChars?: number;
}

export interface GradeUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface Grade {
  result: "satisfied" | "needs_revision" | "failed";
  explanation: string;
  criteria: CriterionFinding[];
  usage: GradeUsage;
  modelCalls: number;
}

/** The grader model kept answering in a shape that cannot be read. */
export class GraderOutputError extends Error {
  override name = "GraderOutputError";
  constructor(
    message: string,
    readonly usage: GradeUsage,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const GRADE_TOOL_NAME = "submit_grade";

const GRADER_SYSTEM = [
  "You are an impartial grader. You judge a piece of work against a rubric, one criterion at a time,",
  "using only the task description, the rubric, the final output and the files given to you.",
  "Judge each listed criterion independently and say concretely what you found.",
  "If the rubric does not apply to the deliverables at all (they are about something else entirely),",
  "set rubric_applies to false. Answer only by calling the submit_grade tool.",
].join(" ");

const gradeToolSchema = {
  type: "object",
  properties: {
    rubric_applies: {
      type: "boolean",
      description: "false only when the rubric cannot apply to these deliverables",
    },
    criteria: {
      type: "array",
      items: {
        type: "object",
        properties: {
          index: { type: "integer", description: "the criterion's index as listed" },
          satisfied: { type: "boolean" },
          finding: { type: "string", description: "what you found, concretely" },
        },
        required: ["index", "satisfied", "finding"],
      },
    },
    explanation: { type: "string", description: "overall verdict: what is met and what is missing" },
  },
  required: ["rubric_applies", "criteria", "explanation"],
} as const;

const gradeAnswerSchema = lazySchema(() =>
  z.object({
    rubric_applies: z.boolean(),
    criteria: z.array(
      z.object({ index: z.number().int().min(0), satisfied: z.boolean(), finding: z.string() }),
    ),
    explanation: z.string().min(1),
  }),
);

const gradeTool: Anthropic.Messages.Tool = {
  name: GRADE_TOOL_NAME,
  description: "Submit the grade: one entry per criterion to grade, and an overall explanation.",
  input_schema: gradeToolSchema as unknown as Anthropic.Messages.Tool.InputSchema,
};

const zeroUsage = (): GradeUsage => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});

/** Grades `input`; throws GraderOutputError when the model's answers stay unreadable. */
export async function gradeAgainstRubric(input: GradingInput, options: GradingOptions): Promise<Grade> {
  let criteria: RubricCriterion[];
  try {
    criteria = parseRubric(input.rubric);
  } catch (error) {
    if (!(error instanceof RubricSyntaxError)) throw error;
    return { result: "failed", explanation: error.message, criteria: [], usage: zeroUsage(), modelCalls: 0 };
  }
  if (criteria.length === 0) {
    return {
      result: "failed",
      explanation: "the rubric has no criteria",
      criteria: [],
      usage: zeroUsage(),
      modelCalls: 0,
    };
  }
  const findings: Array<CriterionFinding | undefined> = criteria.map((c, index) =>
    c.check ? { index, method: "machine", ...runMachineCheck(c.check, input.files) } : undefined,
  );
  const forModel = criteria.map((c, index) => ({ c, index })).filter(({ c }) => !c.check);
  const usage = zeroUsage();
  let modelCalls = 0;
  let applies = true;
  let modelExplanation = "";
  if (forModel.length > 0) {
    const expected = forModel.map(({ index }) => index);
    let answer: z.infer<typeof gradeAnswerSchema>;
    try {
      const read = await forcedToolCall(options.model, {
        request: graderRequest(input, criteria, options),
        tool: gradeTool,
        schema: gradeAnswerSchema,
        check: (value) => coverageProblem(value, expected),
        maxAttempts: options.maxAttempts ?? 3,
      });
      answer = read.value;
      modelCalls = read.attempts;
      Object.assign(usage, read.usage);
    } catch (error) {
      if (!(error instanceof StructuredAnswerError)) throw error;
      throw new GraderOutputError(
        `the grader's output could not be read after ${error.attempts} attempts: ${error.problem}`,
        error.usage,
        { cause: error },
      );
    }
    applies = answer.rubric_applies;
    modelExplanation = answer.explanation;
    for (const item of answer.criteria) {
      findings[item.index] = {
        index: item.index,
        method: "model",
        satisfied: item.satisfied,
        finding: item.finding,
      };
    }
  }
  const decided = findings as CriterionFinding[];
  if (!applies) {
    return { result: "failed", explanation: modelExplanation, criteria: decided, usage, modelCalls };
  }
  const met = decided.every((f) => f.satisfied);
  return {
    result: met ? "satisfied" : "needs_revision",
    explanation: verdictExplanation(modelExplanation, criteria, decided),
    criteria: decided,
    usage,
    modelCalls,
  };
}

/**
 * The model's overall view, then each unmet criterion: its index, the start of its text (enough
 * for the agent to find the line in the rubric it was shown) and the finding. The list stops where
 * the pinned record's explanation limit would cut it; the evaluation's findings have the rest.
 */
function verdictExplanation(
  modelExplanation: string,
  criteria: RubricCriterion[],
  decided: CriterionFinding[],
): string {
  const unmet = decided.filter((f) => !f.satisfied);
  const head =
    unmet.length === 0
      ? `All ${decided.length} criteria are met.`
      : `${unmet.length} of ${decided.length} criteria are not met:`;
  const lines = modelExplanation ? [clip(modelExplanation, 2_000), "", head] : [head];
  // Room for the list, keeping some for the line that says how many were left out.
  let room = EVALUATION_LIMITS.explanationChars - lines.join("\n").length - 100;
  for (const [shown, f] of unmet.entries()) {
    const text = (criteria[f.index] as RubricCriterion).text;
    const line = `- [${f.index}] ${clip(text, 200)}: ${clip(f.finding, 500)}`;
    room -= line.length + 1;
    if (room < 0) {
      lines.push(`- … and ${unmet.length - shown} more (see this evaluation's findings)`);
      break;
    }
    lines.push(line);
  }
  return lines.join("\n");
}

/** Whether a `submit_grade` answer grades exactly the `expected` criteria; what is wrong, if not. */
function coverageProblem(answer: z.infer<typeof gradeAnswerSchema>, expected: number[]): string | undefined {
  const seen = answer.criteria.map((c) => c.index).sort((a, b) => a - b);
  const want = [...expected].sort((a, b) => a - b);
  if (seen.length !== want.length || seen.some((v, i) => v !== want[i])) {
    return `graded criteria [${seen.join(",")}] instead of [${want.join(",")}]`;
  }
  return undefined;
}

const escapeXml = (s: string) => s.replaceAll("</", "<\\/");

/** The grader's whole context: no system prompt, transcript or reasoning of the work's author. */
export function graderRequest(
  input: GradingInput,
  criteria: RubricCriterion[],
  options: Pick<GradingOptions, "modelId" | "maxFileChars" | "maxTotalFileChars">,
): ModelRequest {
  const perFile = options.maxFileChars ?? 20_000;
  let budget = options.maxTotalFileChars ?? 150_000;
  const files: string[] = [];
  for (const [path, content] of input.files) {
    if (budget <= 0) {
      files.push(`<file path="${path}" omitted="true"/>`);
      continue;
    }
    const shown = content.slice(0, Math.min(perFile, budget));
    budget -= shown.length;
    const cut = shown.length < content.length ? ` truncated_from="${content.length}"` : "";
    files.push(`<file path="${path}"${cut}>\n${escapeXml(shown)}\n</file>`);
  }
  const listed = criteria
    .map((c, index) => ({ c, index }))
    .filter(({ c }) => !c.check)
    .map(({ c, index }) => `<criterion index="${index}">${escapeXml(c.text)}</criterion>`);
  const machine = criteria
    .map((c, index) => ({ c, index }))
    .filter(({ c }) => c.check)
    .map(({ c }) => `- ${c.text}`);
  const text = [
    `<task_description>\n${escapeXml(input.description)}\n</task_description>`,
    `<rubric>\n${escapeXml(input.rubric)}\n</rubric>`,
    `<criteria_to_grade>\n${listed.join("\n")}\n</criteria_to_grade>`,
    machine.length > 0
      ? `<checked_by_code>\nThese rubric lines are checked by code; do not grade them:\n${machine.join("\n")}\n</checked_by_code>`
      : "",
    `<final_output>\n${escapeXml(input.output)}\n</final_output>`,
    `<workspace_files>\n${files.join("\n")}\n</workspace_files>`,
    "Grade every criterion listed in criteria_to_grade by calling submit_grade.",
  ]
    .filter(Boolean)
    .join("\n\n");
  return {
    model: options.modelId,
    max_tokens: 4096,
    system: GRADER_SYSTEM,
    messages: [{ role: "user", content: [{ type: "text", text }] }],
    tools: [gradeTool],
    tool_choice: { type: "tool", name: GRADE_TOOL_NAME },
  };
}
