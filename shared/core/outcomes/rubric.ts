/**
 * Rubrics as criteria. Every non-empty line of a rubric (list bullets and numbering stripped,
 * markdown headings skipped) is one criterion. A line written as a machine check is decided by code,
 * deterministically, before the grader model sees the rest (a Reverie extension; see README
 * "Hybrid rubrics"):
 *
 * ```text
 * - check: file report.md exists
 * - check: file report.md contains "## Summary"
 * - check: file report.md does not contain "TODO"
 * - check: json data/result.json matches {"type":"object","required":["total"]}
 * - The summary explains the trade-offs in plain language.   ← graded by the model
 * ```
 *
 * Paths are relative to the workspace root (`/workspace/` may be written out).
 */
import { unsupportedSchemaParts, validateJsonSchema } from "./json-schema-subset.js";

export type MachineCheck =
  | { kind: "exists"; path: string }
  | { kind: "contains"; path: string; phrase: string; negate: boolean }
  | { kind: "json_schema"; path: string; schema: Record<string, unknown> };

export interface RubricCriterion {
  /** The criterion as written (bullet stripped). */
  text: string;
  check?: MachineCheck;
}

/** A `check:` line that does not follow the syntax; reported as a 400 when the outcome is defined. */
export class RubricSyntaxError extends Error {
  override name = "RubricSyntaxError";
}

const QUOTED = String.raw`"((?:[^"\\]|\\.)*)"`;
const PATH = String.raw`\x60?([^\s\x60"]+)\x60?`;
const checkPatterns: Array<[RegExp, (m: RegExpMatchArray) => MachineCheck]> = [
  [new RegExp(`^file\\s+${PATH}\\s+exists$`, "i"), (m) => ({ kind: "exists", path: normalizePath(m[1]) })],
  [new RegExp(`^exists\\s+${PATH}$`, "i"), (m) => ({ kind: "exists", path: normalizePath(m[1]) })],
  [
    new RegExp(`^file\\s+${PATH}\\s+(does\\s+not\\s+contain|contains)\\s+${QUOTED}$`, "i"),
    (m) => ({
      kind: "contains",
      path: normalizePath(m[1]),
      negate: /not/i.test(m[2] ?? ""),
      phrase: JSON.parse(`"${m[3] ?? ""}"`) as string,
    }),
  ],
  [
    new RegExp(`^json\\s+${PATH}\\s+matches\\s+(\\{.*\\})$`, "i"),
    (m) => ({ kind: "json_schema", path: normalizePath(m[1]), schema: parseSchema(m[2] ?? "") }),
  ],
];

function normalizePath(raw: string | undefined): string {
  return (raw ?? "").replace(/^\/?workspace\//, "").replace(/^\.?\//, "");
}

function parseSchema(raw: string): Record<string, unknown> {
  let schema: unknown;
  try {
    schema = JSON.parse(raw);
  } catch {
    throw new RubricSyntaxError(`not valid JSON: ${raw}`);
  }
  const unsupported = unsupportedSchemaParts(schema);
  if (unsupported.length > 0) {
    throw new RubricSyntaxError(`not a JSON schema this server can check: ${unsupported.join(", ")}`);
  }
  return schema as Record<string, unknown>;
}

/** Splits a rubric into criteria; throws RubricSyntaxError for a malformed `check:` line. */
export function parseRubric(rubric: string): RubricCriterion[] {
  const criteria: RubricCriterion[] = [];
  for (const rawLine of rubric.split(/\r?\n/)) {
    const line = rawLine
      .trim()
      .replace(/^(?:[-*+]|\d+[.)])\s+/, "")
      .replace(/^\[[ xX]?\]\s+/, "")
      .trim();
    if (line === "" || line.startsWith("#")) continue;
    // `(\S.*)?`, not `(.*)`: the body starts after the spaces, so no split of them is retried.
    const check = /^check:\s*(\S.*)?$/i.exec(line);
    if (!check) {
      criteria.push({ text: line });
      continue;
    }
    const body = (check[1] ?? "").trim();
    const match = checkPatterns.map(([re, build]) => [re.exec(body), build] as const).find(([m]) => m);
    if (!match?.[0]) {
      throw new RubricSyntaxError(
        `"${line}" is not a machine check: use "check: file <path> exists", "check: file <path> contains \\"…\\"", "check: file <path> does not contain \\"…\\"" or "check: json <path> matches {schema}"`,
      );
    }
    criteria.push({ text: line, check: match[1](match[0]) });
  }
  return criteria;
}

/** Decides a machine check against the files given (path → content). */
export function runMachineCheck(
  check: MachineCheck,
  files: ReadonlyMap<string, string>,
): { satisfied: boolean; finding: string } {
  const content = files.get(check.path);
  if (content === undefined) {
    return { satisfied: false, finding: `${check.path} does not exist` };
  }
  switch (check.kind) {
    case "exists":
      return { satisfied: true, finding: `${check.path} exists (${content.length} characters)` };
    case "contains": {
      const found = content.includes(check.phrase);
      const satisfied = check.negate ? !found : found;
      return {
        satisfied,
        finding: `${check.path} ${found ? "contains" : "does not contain"} ${JSON.stringify(check.phrase)}`,
      };
    }
    case "json_schema": {
      let value: unknown;
      try {
        value = JSON.parse(content);
      } catch (error) {
        return { satisfied: false, finding: `${check.path} is not valid JSON: ${(error as Error).message}` };
      }
      const issues = validateJsonSchema(check.schema, value);
      if (issues.length === 0) return { satisfied: true, finding: `${check.path} matches the schema` };
      const problems = issues.slice(0, 5).join("; ");
      return { satisfied: false, finding: `${check.path} does not match the schema: ${problems}` };
    }
  }
}
