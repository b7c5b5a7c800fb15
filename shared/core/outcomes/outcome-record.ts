/**
 * Outcomes as stored. The SDK-visible state of each outcome lives in the session document's
 * `outcome_evaluations` (so a step's rev-checked commit decides "grade or go idle" atomically); the
 * definition (rubric, limit), each evaluation's findings and the markers of published verdicts are
 * separate items under `outcome#<sessionId>`, written once and never changed.
 */
import * as z from "zod";
import { lazySchema } from "../../contract/lazy-schema.js";
import type { Session } from "../../contract/sdk-types.js";
import type { DocumentStore } from "../ports.js";

export type OutcomeEvaluation = Session["outcome_evaluations"][number];

/** Results that end an outcome; `needs_revision` is intermediate and shows as `running` again. */
export const terminalResults = ["satisfied", "max_iterations_reached", "failed", "interrupted"] as const;
export type TerminalResult = (typeof terminalResults)[number];
export type EvaluationResult = TerminalResult | "needs_revision";

export const outcomeDefinitionSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    outcomeId: z.string(),
    description: z.string(),
    rubric: z.string(),
    maxIterations: z.number().int().min(1),
    /** Sequence of the `user.define_outcome` echo in the session's log. */
    definedSeq: z.number().int(),
  }),
);
export type OutcomeDefinition = z.infer<typeof outcomeDefinitionSchema>;

/**
 * How one criterion was decided: by code (a machine check) or by the grader model. `index` is the
 * criterion's position among the rubric's criteria (`parseRubric` of the pinned definition), so a
 * record does not repeat the rubric's text.
 */
export const criterionFindingSchema = lazySchema(() =>
  z.object({
    index: z.number().int().min(0),
    method: z.enum(["machine", "model"]),
    satisfied: z.boolean(),
    finding: z.string(),
  }),
);
export type CriterionFinding = z.infer<typeof criterionFindingSchema>;

/**
 * What one evaluation pins, at most, so that its item stays well under the 400 KB item limit
 * (DynamoDB's; the SQLite store enforces it too) whatever the rubric: a 256 KiB rubric can hold
 * thousands of criteria, and how much the grader model writes is its own choice. The explanation
 * is also copied into the session document and the `span.outcome_evaluation_end` event. Worst case
 * (3 UTF-8 bytes a character): ~24 KB of explanation + 200 KB of findings.
 */
export const EVALUATION_LIMITS = {
  explanationChars: 8_000,
  findingChars: 1_000,
  criteriaBytes: 200_000,
} as const;

const TRUNCATED = "… [truncated]";

/** `text` cut to at most `max` characters, marked as cut, never inside a surrogate pair. */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let end = Math.max(0, max - TRUNCATED.length);
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end -= 1;
  return text.slice(0, end) + TRUNCATED;
}

/**
 * The most an outcome's explanation takes on the session's record (its `outcome_evaluations`), in
 * bytes as the record is stored (JSON, escapes included): the grader clips it there to this, and
 * `checkOutcomesFit` counts on it.
 */
export const SESSION_EXPLANATION_BYTES = 8_000;

/** The bytes `text` takes in a stored record: UTF-8 of its JSON string, quotes and escapes included. */
export const storedBytes = (text: string): number => Buffer.byteLength(JSON.stringify(text), "utf8");

/** `text` cut to at most `maxBytes` as stored ({@link storedBytes}; marked as cut, never inside a character). */
export function clipStoredBytes(text: string, maxBytes: number): string {
  if (storedBytes(text) <= maxBytes) return text;
  let fits = 0;
  let over = text.length;
  while (fits + 1 < over) {
    const mid = (fits + over) >> 1;
    if (storedBytes(clip(text, mid)) <= maxBytes) fits = mid;
    else over = mid;
  }
  return clip(text, fits);
}

const usageSchema = () =>
  z.object({
    input_tokens: z.number(),
    output_tokens: z.number(),
    cache_creation_input_tokens: z.number(),
    cache_read_input_tokens: z.number(),
  });
const resultSchema = () =>
  z.enum(["satisfied", "needs_revision", "max_iterations_reached", "failed", "interrupted"]);

const currentEvaluationSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(2),
    outcomeId: z.string(),
    iteration: z.number().int().min(0),
    result: resultSchema(),
    explanation: z.string(),
    criteria: z.array(criterionFindingSchema),
    /** Findings left out, past `EVALUATION_LIMITS.criteriaBytes` (the last ones, in rubric order). */
    omittedCriteria: z.number().int().min(1).optional(),
    usage: usageSchema(),
    gradedAt: z.string(),
  }),
);
export type EvaluationRecord = z.infer<typeof currentEvaluationSchema>;

/** A pinned evaluation as read: the current version, or version 1 brought up to it. */
export const evaluationRecordSchema = lazySchema(() =>
  z.union([
    currentEvaluationSchema,
    // Version 1 repeated each criterion's text (and could outgrow the item limit); its findings are
    // one per criterion in rubric order, so a finding's position is its index.
    z
      .object({
        schemaVersion: z.literal(1),
        outcomeId: z.string(),
        iteration: z.number().int().min(0),
        result: resultSchema(),
        explanation: z.string(),
        criteria: z.array(
          z.object({
            criterion: z.string(),
            method: z.enum(["machine", "model"]),
            satisfied: z.boolean(),
            finding: z.string(),
          }),
        ),
        usage: usageSchema(),
        gradedAt: z.string(),
      })
      .transform(
        ({ criteria, ...v1 }): EvaluationRecord =>
          fitEvaluation({
            ...v1,
            schemaVersion: 2,
            criteria: criteria.map(({ method, satisfied, finding }, index) => ({
              index,
              method,
              satisfied,
              finding,
            })),
          }),
      ),
  ]),
);

/** `record` within {@link EVALUATION_LIMITS}: the explanation and each finding clipped, findings past the budget left out. */
export function fitEvaluation(record: EvaluationRecord): EvaluationRecord {
  let budget = EVALUATION_LIMITS.criteriaBytes;
  const criteria: CriterionFinding[] = [];
  for (const finding of record.criteria) {
    const kept = { ...finding, finding: clip(finding.finding, EVALUATION_LIMITS.findingChars) };
    budget -= Buffer.byteLength(JSON.stringify(kept), "utf8");
    if (budget < 0) break;
    criteria.push(kept);
  }
  const omitted = (record.omittedCriteria ?? 0) + record.criteria.length - criteria.length;
  const { omittedCriteria: _, ...rest } = record;
  return {
    ...rest,
    explanation: clip(record.explanation, EVALUATION_LIMITS.explanationChars),
    criteria,
    ...(omitted > 0 ? { omittedCriteria: omitted } : {}),
  };
}

/** The partition of a session's outcome definitions and evaluations. */
export const outcomeKey = (sessionId: string) => `outcome#${sessionId}`;
const pad = (n: number) => String(n).padStart(4, "0");

/** Reads and writes outcome definitions and evaluation records. */
export class OutcomeStore {
  constructor(private readonly store: DocumentStore) {}

  async putDefinition(sessionId: string, definition: OutcomeDefinition): Promise<void> {
    await this.store.put("resources", {
      pk: outcomeKey(sessionId),
      sk: `def#${definition.outcomeId}`,
      ...definition,
    });
  }

  async definition(sessionId: string, outcomeId: string): Promise<OutcomeDefinition | undefined> {
    const item = await this.store.get("resources", outcomeKey(sessionId), `def#${outcomeId}`);
    return item ? outcomeDefinitionSchema.parse(item) : undefined;
  }

  /**
   * Pins an evaluation's verdict: the first writer wins and every retry or duplicate reads the
   * same verdict back, so one (outcome, iteration) has exactly one result. What is pinned (and
   * returned) is `proposed` within {@link EVALUATION_LIMITS}: a record over the item limit would
   * fail the same way on every retry.
   */
  async pinEvaluation(sessionId: string, proposed: EvaluationRecord): Promise<EvaluationRecord> {
    const record = fitEvaluation(proposed);
    const sk = `eval#${record.outcomeId}#${pad(record.iteration)}`;
    try {
      await this.store.put("resources", { pk: outcomeKey(sessionId), sk, ...record }, { ifNotExists: true });
      return record;
    } catch (error) {
      if ((error as Error).name !== "ConditionFailedError") throw error;
      return (await this.evaluation(sessionId, record.outcomeId, record.iteration)) as EvaluationRecord;
    }
  }

  async evaluation(
    sessionId: string,
    outcomeId: string,
    iteration: number,
  ): Promise<EvaluationRecord | undefined> {
    const item = await this.store.get(
      "resources",
      outcomeKey(sessionId),
      `eval#${outcomeId}#${pad(iteration)}`,
    );
    return item ? evaluationRecordSchema.parse(item) : undefined;
  }

  async evaluations(sessionId: string, outcomeId: string): Promise<EvaluationRecord[]> {
    const items = await this.store.query("resources", outcomeKey(sessionId), {
      beginsWith: `eval#${outcomeId}#`,
    });
    return items.map((i) => evaluationRecordSchema.parse(i));
  }
}
