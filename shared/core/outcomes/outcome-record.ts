/**
 * Outcomes as stored. The SDK-visible state of each outcome lives in the session document's
 * `outcome_evaluations` (so a step's rev-checked commit decides "grade or go idle" atomically); the
 * definition (rubric, limit) and each evaluation's findings are separate items under
 * `outcome#<sessionId>`, written once and never changed.
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

/** How one criterion was decided: by code (a machine check) or by the grader model. */
export const criterionFindingSchema = lazySchema(() =>
  z.object({
    criterion: z.string(),
    method: z.enum(["machine", "model"]),
    satisfied: z.boolean(),
    finding: z.string(),
  }),
);
export type CriterionFinding = z.infer<typeof criterionFindingSchema>;

export const evaluationRecordSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    outcomeId: z.string(),
    iteration: z.number().int().min(0),
    result: z.enum(["satisfied", "needs_revision", "max_iterations_reached", "failed", "interrupted"]),
    explanation: z.string(),
    criteria: z.array(criterionFindingSchema),
    usage: z.object({
      input_tokens: z.number(),
      output_tokens: z.number(),
      cache_creation_input_tokens: z.number(),
      cache_read_input_tokens: z.number(),
    }),
    gradedAt: z.string(),
  }),
);
export type EvaluationRecord = z.infer<typeof evaluationRecordSchema>;

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
   * same verdict back, so one (outcome, iteration) has exactly one result.
   */
  async pinEvaluation(sessionId: string, record: EvaluationRecord): Promise<EvaluationRecord> {
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
