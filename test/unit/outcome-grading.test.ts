import { describe, expect, it } from "vitest";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import { GraderOutputError, gradeAgainstRubric } from "../../shared/core/outcomes/grading.js";
import {
  EVALUATION_LIMITS,
  type EvaluationRecord,
  evaluationRecordSchema,
  fitEvaluation,
} from "../../shared/core/outcomes/outcome-record.js";
import { parseRubric, RubricSyntaxError, runMachineCheck } from "../../shared/core/outcomes/rubric.js";
import { ScriptedModel, text, toolUse } from "../fixtures/in-memory-runtime.js";

const files = (entries: Record<string, string>) => new Map(Object.entries(entries));
const answer = (criteria: Array<[number, boolean]>, applies = true) =>
  toolUse("submit_grade", {
    rubric_applies: applies,
    criteria: criteria.map(([index, satisfied]) => ({ index, satisfied, finding: `finding ${index}` })),
    explanation: "graded",
  });

describe("parseRubric", () => {
  it("splits lines into criteria, strips bullets and headings, and reads machine checks", () => {
    const criteria = parseRubric(
      [
        "# Rubric",
        "- check: file report.md exists",
        '* check: file /workspace/report.md contains "## Summary"',
        '1. check: file report.md does not contain "TODO"',
        '- [ ] check: json out/data.json matches {"type":"object","required":["total"]}',
        "",
        "- The summary is clear",
      ].join("\n"),
    );
    expect(criteria.map((c) => c.check?.kind ?? "model")).toEqual([
      "exists",
      "contains",
      "contains",
      "json_schema",
      "model",
    ]);
    expect(criteria[1]?.check).toEqual({
      kind: "contains",
      path: "report.md",
      phrase: "## Summary",
      negate: false,
    });
    expect(criteria[2]?.check).toMatchObject({ negate: true, phrase: "TODO" });
    expect(criteria[4]?.text).toBe("The summary is clear");
  });

  it("rejects a check line that does not follow the syntax", () => {
    expect(() => parseRubric("- check: the report is good")).toThrow(RubricSyntaxError);
    expect(() => parseRubric("- check: json a.json matches {not json}")).toThrow(RubricSyntaxError);
  });
});

describe("runMachineCheck", () => {
  const workspace = files({
    "report.md": "## Summary\nTotal: 6",
    "data.json": '{"total": 6}',
    "bad.json": "{",
  });
  it("decides existence, phrases and JSON schemas deterministically", () => {
    expect(runMachineCheck({ kind: "exists", path: "report.md" }, workspace).satisfied).toBe(true);
    expect(runMachineCheck({ kind: "exists", path: "missing.md" }, workspace)).toEqual({
      satisfied: false,
      finding: "missing.md does not exist",
    });
    expect(
      runMachineCheck({ kind: "contains", path: "report.md", phrase: "Total", negate: false }, workspace)
        .satisfied,
    ).toBe(true);
    expect(
      runMachineCheck({ kind: "contains", path: "report.md", phrase: "Total", negate: true }, workspace)
        .satisfied,
    ).toBe(false);
    const schema = {
      type: "object",
      required: ["total"],
      properties: { total: { type: "integer", minimum: 10 } },
    };
    const tooSmall = runMachineCheck({ kind: "json_schema", path: "data.json", schema }, workspace);
    expect(tooSmall.satisfied).toBe(false);
    expect(tooSmall.finding).toMatch(/does not match the schema: \(root\)\.total: below 10/);
    expect(runMachineCheck({ kind: "json_schema", path: "bad.json", schema }, workspace).finding).toMatch(
      /not valid JSON/,
    );
    expect(
      runMachineCheck(
        { kind: "json_schema", path: "data.json", schema: { type: "object", required: ["total"] } },
        workspace,
      ).satisfied,
    ).toBe(true);
  });
});

describe("JSON schema checks", () => {
  const check = (schema: object, content: string) =>
    runMachineCheck(
      { kind: "json_schema", path: "d.json", schema: schema as Record<string, unknown> },
      files({ "d.json": content }),
    );
  it("covers types, required, nested properties, items, enum, bounds, patterns and additionalProperties", () => {
    const schema = {
      type: "object",
      required: ["rows"],
      additionalProperties: false,
      properties: {
        rows: {
          type: "array",
          minItems: 1,
          items: {
            type: "object",
            required: ["price"],
            properties: { price: { type: "number", minimum: 0 } },
          },
        },
        currency: { enum: ["USD", "EUR"] },
        code: { type: "string", pattern: "^[A-Z]{3}$" },
      },
    };
    expect(check(schema, '{"rows":[{"price":1.5}],"currency":"USD","code":"ABC"}').satisfied).toBe(true);
    expect(check(schema, '{"rows":[]}').finding).toMatch(/fewer than 1 items/);
    expect(check(schema, '{"rows":[{"price":-1}]}').finding).toMatch(/rows\[0\]\.price: below 0/);
    expect(check(schema, '{"rows":[{"price":"x"}]}').finding).toMatch(/expected number, got string/);
    expect(check(schema, '{"rows":[{"price":1}],"currency":"GBP"}').finding).toMatch(/not one of/);
    expect(check(schema, '{"rows":[{"price":1}],"code":"abc"}').finding).toMatch(/does not match/);
    expect(check(schema, '{"rows":[{"price":1}],"extra":1}').finding).toMatch(/unexpected property "extra"/);
    expect(check({ type: "integer" }, "1.5").satisfied).toBe(false);
  });

  it("refuses schemas with keywords it does not check, when the outcome is defined", () => {
    expect(() => parseRubric('- check: json a.json matches {"oneOf":[{"type":"string"}]}')).toThrow(
      /keyword "oneOf"/,
    );
    expect(() => parseRubric('- check: json a.json matches {"type":"date"}')).toThrow(/type "date"/);
  });
});

describe("gradeAgainstRubric", () => {
  const input = (rubric: string, workspace: Record<string, string> = {}) => ({
    description: "Write a report",
    rubric,
    output: "Done: report.md",
    files: files(workspace),
  });

  it("grades a rubric of machine checks without a model call", async () => {
    const model = new ScriptedModel([]);
    const grade = await gradeAgainstRubric(input("- check: file report.md exists", { "report.md": "x" }), {
      model,
      modelId: "m",
    });
    expect(grade).toMatchObject({ result: "satisfied", modelCalls: 0 });
    expect(grade.criteria).toEqual([expect.objectContaining({ method: "machine", satisfied: true })]);
    expect(model.requests).toHaveLength(0);
  });

  it("sends only the other criteria to the model and records how each was decided", async () => {
    const model = new ScriptedModel([answer([[1, true]])]);
    const grade = await gradeAgainstRubric(
      input("- check: file report.md exists\n- The tone is friendly", { "report.md": "x" }),
      { model, modelId: "grader-model" },
    );
    expect(grade.result).toBe("satisfied");
    expect(grade.criteria.map((c) => [c.method, c.satisfied])).toEqual([
      ["machine", true],
      ["model", true],
    ]);
    const request = model.requests[0];
    expect(request?.model).toBe("grader-model");
    expect(request?.tool_choice).toEqual({ type: "tool", name: "submit_grade" });
    const sent = JSON.stringify(request?.messages);
    expect(sent).toContain('<criterion index=\\"1\\">The tone is friendly</criterion>');
    expect(sent).not.toContain('<criterion index=\\"0\\">');
  });

  it("a machine check that fails makes the verdict needs_revision even when the model is satisfied", async () => {
    const model = new ScriptedModel([answer([[1, true]])]);
    const grade = await gradeAgainstRubric(input("- check: file report.md exists\n- The tone is friendly"), {
      model,
      modelId: "m",
    });
    expect(grade.result).toBe("needs_revision");
    expect(grade.explanation).toContain("report.md does not exist");
  });

  it("retries malformed answers, then reports them instead of guessing", async () => {
    const recovered = new ScriptedModel([text("I think it is fine"), answer([[0, false]])]);
    const grade = await gradeAgainstRubric(input("- The tone is friendly"), {
      model: recovered,
      modelId: "m",
    });
    expect(grade).toMatchObject({ result: "needs_revision", modelCalls: 2 });

    const broken = new ScriptedModel([answer([[3, true]]), text("?"), answer([])]);
    await expect(
      gradeAgainstRubric(input("- The tone is friendly"), { model: broken, modelId: "m" }),
    ).rejects.toThrow(GraderOutputError);
    expect(broken.requests).toHaveLength(3);
  });

  it("is failed when the model says the rubric does not apply, or the rubric is malformed", async () => {
    const model = new ScriptedModel([answer([[0, false]], false)]);
    expect((await gradeAgainstRubric(input("- The tone is friendly"), { model, modelId: "m" })).result).toBe(
      "failed",
    );
    const malformed = await gradeAgainstRubric(input("- check: nonsense"), { model, modelId: "m" });
    expect(malformed.result).toBe("failed");
  });

  it("the simulated model grades quoted phrases and file names, and says what it cannot judge", async () => {
    const model = new SimulatedModel();
    const met = await gradeAgainstRubric(
      input('- The report mentions "Total: 6"\n- summary.md is written', {
        "report.md": "Total: 6",
        "summary.md": "s",
      }),
      { model, modelId: "m" },
    );
    expect(met.result).toBe("satisfied");
    const unjudged = await gradeAgainstRubric(input("- The tone is friendly"), { model, modelId: "m" });
    expect(unjudged.result).toBe("needs_revision");
    expect(unjudged.criteria[0]?.finding).toMatch(/cannot judge/);
  });
});

describe("pinned evaluation records", () => {
  const usage = {
    input_tokens: 1,
    output_tokens: 1,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
  const record = (criteria: EvaluationRecord["criteria"], explanation = "e"): EvaluationRecord => ({
    schemaVersion: 2,
    outcomeId: "outc_1",
    iteration: 0,
    result: "needs_revision",
    explanation,
    criteria,
    usage,
    gradedAt: new Date(0).toISOString(),
  });

  it("stay well under the 400 KB item limit whatever the rubric and the grader wrote", async () => {
    // A 256 KiB rubric of short check lines is ~12,000 machine-checked criteria.
    const rubric = "- check: file a.md exists\n".repeat(Math.floor(262_144 / 26));
    const grade = await gradeAgainstRubric(
      { description: "d", rubric, output: "o", files: files({}) },
      { model: new ScriptedModel([]), modelId: "m" },
    );
    const fitted = fitEvaluation(record(grade.criteria, grade.explanation));
    expect(Buffer.byteLength(JSON.stringify(fitted))).toBeLessThan(250_000);
    expect(fitted.explanation.length).toBeLessThanOrEqual(EVALUATION_LIMITS.explanationChars);
    expect(fitted.criteria.length + (fitted.omittedCriteria ?? 0)).toBe(grade.criteria.length);
    expect(fitted.omittedCriteria).toBeGreaterThan(0);

    const wordy = fitEvaluation(
      record(
        [{ index: 0, method: "model", satisfied: false, finding: "x".repeat(50_000) }],
        "😀".repeat(50_000),
      ),
    );
    expect(wordy.criteria[0]?.finding).toHaveLength(EVALUATION_LIMITS.findingChars);
    expect(wordy.explanation.length).toBeLessThanOrEqual(EVALUATION_LIMITS.explanationChars);
    expect(wordy.explanation).toMatch(/^(😀)+… \[truncated\]$/u);
    expect(wordy.omittedCriteria).toBeUndefined();
  });

  it("written as version 1 (each criterion's text repeated) still read, as indexes", () => {
    const v1 = {
      ...record([]),
      schemaVersion: 1,
      criteria: [
        { criterion: "report.md exists", method: "machine", satisfied: true, finding: "ok" },
        { criterion: "The tone is friendly", method: "model", satisfied: false, finding: "curt" },
      ],
    };
    expect(evaluationRecordSchema.parse(v1)).toEqual(
      record([
        { index: 0, method: "machine", satisfied: true, finding: "ok" },
        { index: 1, method: "model", satisfied: false, finding: "curt" },
      ]),
    );
  });
});
