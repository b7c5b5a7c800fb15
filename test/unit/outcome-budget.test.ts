/**
 * What a session's record keeps of its outcomes must stay under the store's 400 KB item limit:
 * `checkOutcomesFit` refuses an outcome that could take it past its budget — counting the
 * explanations open outcomes may still get — and the grader clips what it keeps of one to its share.
 */
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../shared/contract/errors.js";
import type { DefineOutcomeParams } from "../../shared/contract/outcomes.js";
import {
  checkOutcomesFit,
  SESSION_OUTCOMES_BUDGET_BYTES,
} from "../../shared/core/outcomes/outcome-lifecycle.js";
import type { OutcomeEvaluation } from "../../shared/core/outcomes/outcome-record.js";
import {
  clipStoredBytes,
  SESSION_EXPLANATION_BYTES,
  storedBytes,
} from "../../shared/core/outcomes/outcome-record.js";

const outcome = (description: string): DefineOutcomeParams =>
  ({
    type: "user.define_outcome",
    description,
    rubric: { type: "text", content: "- done" },
  }) as DefineOutcomeParams;

const entry = (
  result: OutcomeEvaluation["result"],
  explanation: string | null = null,
): OutcomeEvaluation => ({
  type: "outcome_evaluation",
  outcome_id: "outc_1",
  description: "d",
  result,
  iteration: 0,
  explanation,
  completed_at: null,
});

describe("checkOutcomesFit", () => {
  it("counts the explanations open outcomes may still get, not only the record as it is", () => {
    // Prepare: 35 outcomes defined, none graded yet: small now, ~280 KB once each is explained.
    const session = { outcome_evaluations: Array.from({ length: 35 }, () => entry("pending")) };
    expect(JSON.stringify(session).length).toBeLessThan(10_000);
    // Act
    const another = () => checkOutcomesFit(session, [outcome("x".repeat(8_000))], "events");
    // Assess
    expect(another).toThrow(InvalidRequestError);
    expect(another).toThrow(/events\.0\.description: this session cannot hold/);
  });

  it("counts nothing more for outcomes that ended, and lets a session hold many short ones", () => {
    const ended = { outcome_evaluations: Array.from({ length: 35 }, () => entry("satisfied", "Met.")) };
    expect(() => checkOutcomesFit(ended, [outcome("x".repeat(8_000))], "events")).not.toThrow();
    const open = { outcome_evaluations: Array.from({ length: 20 }, () => entry("pending")) };
    expect(() => checkOutcomesFit(open, [outcome("Write the report.")], "events")).not.toThrow();
  });

  it("refuses new outcomes that alone would take the budget, counting their bytes as stored, not characters", () => {
    const empty = { outcome_evaluations: [] };
    // 100,000 characters of CJK are ~300 KB of UTF-8.
    expect(() => checkOutcomesFit(empty, [outcome("報".repeat(100_000))], "initial_events")).toThrow(
      /initial_events\.0\.description/,
    );
    expect(() => checkOutcomesFit(empty, [outcome("x".repeat(100_000))], "initial_events")).not.toThrow();
    // And as stored: 100,000 control characters are 600 KB of JSON.
    expect(() => checkOutcomesFit(empty, [outcome("\u0001".repeat(100_000))], "initial_events")).toThrow(
      /initial_events\.0\.description/,
    );
    expect(SESSION_OUTCOMES_BUDGET_BYTES).toBeLessThan(400 * 1024);
  });
});

describe("clipStoredBytes", () => {
  it("keeps an explanation within the session's share in bytes as stored, never splitting a character", () => {
    const cjk = clipStoredBytes("報".repeat(8_000), SESSION_EXPLANATION_BYTES);
    expect(storedBytes(cjk)).toBeLessThanOrEqual(SESSION_EXPLANATION_BYTES);
    expect(cjk.length).toBeGreaterThan(2_000);
    const emoji = clipStoredBytes("😀".repeat(5_000), SESSION_EXPLANATION_BYTES);
    expect(storedBytes(emoji)).toBeLessThanOrEqual(SESSION_EXPLANATION_BYTES);
    expect(emoji).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
    expect(clipStoredBytes("short", SESSION_EXPLANATION_BYTES)).toBe("short");
    // As stored: a control character takes six bytes of JSON, a quote two.
    const escaped = clipStoredBytes('\u001b[31m"'.repeat(3_000), SESSION_EXPLANATION_BYTES);
    expect(storedBytes(escaped)).toBeLessThanOrEqual(SESSION_EXPLANATION_BYTES);
  });
});
