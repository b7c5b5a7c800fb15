/**
 * Request parsing: zod schemas in, plain-words 400s out.
 *
 * `parseBody` / `parseQuery` turn every zod issue into one line `path: problem` (paths joined with
 * dots, array indexes as numbers), so a client sees which field is wrong and why, e.g.
 * `tools.0.type: expected one of agent_toolset_20260401, mcp_toolset, custom`.
 */
import * as z from "zod";
import { InvalidRequestError } from "./errors.js";
import { lazySchema } from "./lazy-schema.js";

/**
 * An `invalid_request_error` that also carries `error.details.error_code`, which the SDK maps to its
 * specific error classes (e.g. `invalid_metadata` → `BetaInvalidMetadataError`).
 */
export class CodedInvalidRequestError extends InvalidRequestError {
  override name = "CodedInvalidRequestError";
  override readonly extra: Record<string, unknown> | undefined;
  constructor(
    message: string,
    readonly errorCode: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.extra = { details: { error_code: errorCode } };
  }
}

/** One validation problem, located by a path into the request. */
export interface FieldProblem {
  path: ReadonlyArray<PropertyKey>;
  message: string;
}

/** `a.0.b` for `["a", 0, "b"]`; `body` (or the given root) for the empty path. */
export function formatPath(path: ReadonlyArray<PropertyKey>, root = "body"): string {
  if (path.length === 0) return root;
  return path.map((p) => (typeof p === "symbol" ? p.toString() : String(p))).join(".");
}

/** Renders problems as `path: message; path: message` (deduplicated, in order). */
export function formatProblems(problems: ReadonlyArray<FieldProblem>, root = "body"): string {
  const lines: string[] = [];
  for (const p of problems) {
    const line = `${formatPath(p.path, root)}: ${p.message}`;
    if (!lines.includes(line)) lines.push(line);
  }
  return lines.join("; ");
}

function describeValue(input: unknown): string {
  if (input === null) return "null";
  if (Array.isArray(input)) return "array";
  return typeof input;
}

function listOf(values: ReadonlyArray<unknown>): string {
  return values.map((v) => (typeof v === "string" ? v : JSON.stringify(v))).join(", ");
}

function sizeWord(origin: string | undefined, n: number | bigint): string {
  switch (origin) {
    case "string":
      return `${n} character${n === 1 ? "" : "s"}`;
    case "array":
    case "set":
      return `${n} item${n === 1 ? "" : "s"}`;
    case "record":
    case "object":
    case "map":
      return `${n} key${n === 1 ? "" : "s"}`;
    default:
      return String(n);
  }
}

const ZOD_DEFAULT_MESSAGE = /^(Invalid|Too (big|small)|Unrecognized key)/;

/** Flattens zod issues into plain-words problems with absolute paths. */
export function issuesToProblems(
  issues: ReadonlyArray<z.core.$ZodIssue>,
  prefix: ReadonlyArray<PropertyKey> = [],
): FieldProblem[] {
  const out: FieldProblem[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    // A message written in the schema (not one of zod's defaults) is already in plain words.
    if (issue.code !== "invalid_union" && issue.code !== "invalid_key" && issue.code !== "invalid_element") {
      if (issue.code === "custom" || !ZOD_DEFAULT_MESSAGE.test(issue.message)) {
        out.push({ path, message: issue.message });
        continue;
      }
    }
    switch (issue.code) {
      case "invalid_type": {
        const received = describeValue(issue.input);
        out.push({
          path,
          message:
            issue.input === undefined
              ? "required"
              : `expected ${issue.expected === "record" ? "object" : issue.expected}, received ${received}`,
        });
        break;
      }
      case "unrecognized_keys":
        for (const key of issue.keys) out.push({ path: [...path, key], message: "unknown field" });
        break;
      case "invalid_value":
        out.push({
          path,
          message:
            issue.values.length === 1
              ? `expected ${listOf(issue.values)}`
              : `expected one of ${listOf(issue.values)}`,
        });
        break;
      case "too_big":
        out.push({
          path,
          message:
            issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint"
              ? `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}`
              : `must have at most ${sizeWord(issue.origin, issue.maximum)}`,
        });
        break;
      case "too_small":
        out.push({
          path,
          message:
            issue.origin === "number" || issue.origin === "int" || issue.origin === "bigint"
              ? `must be ${issue.inclusive ? "at least" : "greater than"} ${issue.minimum}`
              : issue.origin === "string" && issue.minimum === 1
                ? "must not be empty"
                : `must have at least ${sizeWord(issue.origin, issue.minimum)}`,
        });
        break;
      case "invalid_format":
        out.push({
          path,
          message: issue.message.startsWith("Invalid") ? `invalid ${issue.format}` : issue.message,
        });
        break;
      case "not_multiple_of":
        out.push({ path, message: `must be a multiple of ${issue.divisor}` });
        break;
      case "invalid_key":
        out.push(...issuesToProblems(issue.issues, path).map((p) => ({ ...p, message: `key ${p.message}` })));
        break;
      case "invalid_element":
        out.push(...issuesToProblems(issue.issues, path));
        break;
      case "invalid_union": {
        if ("note" in issue && issue.note === "No matching discriminator") {
          const options = (issue as { options?: unknown[] }).options ?? [];
          out.push({
            path,
            message: options.length ? `expected one of ${listOf(options)}` : "unknown discriminator value",
          });
          break;
        }
        if (issue.input === undefined) {
          out.push({ path, message: "required" });
          break;
        }
        // Prefer the branch that got furthest (its problems are below the union's own path): that is
        // the one the client meant. Otherwise use the schema's message, or list what the union accepts.
        const branches = issue.errors;
        const shallow = (i: z.core.$ZodIssue) =>
          i.path.length === 0 && (i.code === "invalid_type" || i.code === "invalid_value");
        const deep = branches.filter((b) => !b.every(shallow));
        if (deep.length === 1 && deep[0]) {
          out.push(...issuesToProblems(deep[0], path));
          break;
        }
        if (issue.message && !issue.message.startsWith("Invalid input")) {
          out.push({ path, message: issue.message });
          break;
        }
        const expected = branches.flatMap((b) =>
          b.flatMap((i) =>
            i.path.length !== 0
              ? []
              : i.code === "invalid_type"
                ? [i.expected as string]
                : i.code === "invalid_value"
                  ? [`one of ${listOf(i.values)}`]
                  : [],
          ),
        );
        out.push({
          path,
          message: expected.length
            ? `expected ${[...new Set(expected)].join(" or ")}, received ${describeValue(issue.input)}`
            : "invalid value",
        });
        break;
      }
      default:
        out.push({ path, message: (issue as { message: string }).message });
    }
  }
  return out;
}

export interface ParseOptions {
  /** Root name used when the problem is with the whole input. */
  root?: string;
  /** Returns an `error.details.error_code` to attach, given all problems. */
  errorCode?: (problems: ReadonlyArray<FieldProblem>) => string | undefined;
}

function fail(problems: FieldProblem[], options: ParseOptions | undefined, cause: unknown): never {
  const message = formatProblems(problems, options?.root);
  const code = options?.errorCode?.(problems);
  if (code) throw new CodedInvalidRequestError(message, code, { cause });
  throw new InvalidRequestError(message, { cause });
}

/** Validates a JSON request body against `schema`; throws InvalidRequestError naming each bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, options?: ParseOptions): z.infer<S> {
  const result = schema.safeParse(body, { reportInput: true });
  if (result.success) return result.data as z.infer<S>;
  fail(issuesToProblems(result.error.issues), options, result.error);
}

/** What an HTTP layer hands over as the query string. */
export type QueryInput =
  | URLSearchParams
  | Record<string, string | ReadonlyArray<string> | undefined | null>
  | null
  | undefined;

/**
 * Validates query-string parameters (all strings) against `schema`. Repeated parameters are a 400;
 * unknown parameters are left to the schema (use non-strict objects: the SDK adds `beta=true`).
 */
export function parseQuery<S extends z.ZodType>(
  schema: S,
  query: QueryInput,
  options?: ParseOptions,
): z.infer<S> {
  const flat: Record<string, string> = {};
  const problems: FieldProblem[] = [];
  const put = (key: string, value: string) => {
    if (key in flat) problems.push({ path: [key], message: "must be given at most once" });
    else flat[key] = value;
  };
  if (query instanceof URLSearchParams) {
    for (const [k, v] of query) put(k, v);
  } else if (query) {
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null) continue;
      if (typeof v === "string") put(k, v);
      else if (v.length === 1 && typeof v[0] === "string") put(k, v[0]);
      else if (v.length > 1) problems.push({ path: [k], message: "must be given at most once" });
    }
  }
  if (problems.length) fail(problems, { root: "query", ...options }, undefined);
  const result = schema.safeParse(flat, { reportInput: true });
  if (result.success) return result.data as z.infer<S>;
  fail(issuesToProblems(result.error.issues), { root: "query", ...options }, result.error);
}

/** Throws InvalidRequestError for problems found outside zod (cross-field or post-merge checks). */
export function throwProblems(problems: ReadonlyArray<FieldProblem>, errorCode?: string): void {
  if (problems.length === 0) return;
  const message = formatProblems(problems);
  if (errorCode) throw new CodedInvalidRequestError(message, errorCode);
  throw new InvalidRequestError(message);
}

// ---------------------------------------------------------------------------------------------
// Reusable pieces
// ---------------------------------------------------------------------------------------------

/** Documented metadata limits: at most 16 pairs, keys up to 64 chars, values up to 512 chars. */
export const METADATA_LIMITS = { maxKeys: 16, maxKeyLength: 64, maxValueLength: 512 } as const;

const metadataKey = lazySchema(() => z.string().min(1).max(METADATA_LIMITS.maxKeyLength));

function checkKeyCount(value: Record<string, unknown>, ctx: z.core.$RefinementCtx<unknown>) {
  const n = Object.keys(value).length;
  if (n > METADATA_LIMITS.maxKeys) {
    ctx.addIssue({ code: "custom", message: `must have at most ${METADATA_LIMITS.maxKeys} keys (got ${n})` });
  }
}

/** `metadata` on create: string → string, ≤ 16 keys, keys 1–64 chars, values ≤ 512 chars. */
export const metadataSchema = lazySchema(() =>
  z.record(metadataKey, z.string().max(METADATA_LIMITS.maxValueLength)).superRefine(checkKeyCount),
);

/**
 * `metadata` on update: a patch of string (upsert) or null (delete) values. The 16-key limit
 * applies to the stored bag after the patch: see `applyMetadataPatch`.
 */
export const metadataPatchSchema = lazySchema(() =>
  z.record(metadataKey, z.string().max(METADATA_LIMITS.maxValueLength).nullable()),
);

/**
 * Applies a metadata patch: a string upserts, null deletes (and, with `emptyDeletes`, so does "").
 * Throws InvalidRequestError when the resulting bag breaks the key-count limit.
 */
export function applyMetadataPatch(
  current: Readonly<Record<string, string>>,
  patch: Readonly<Record<string, string | null>> | null | undefined,
  options?: { emptyDeletes?: boolean; errorCode?: string },
): Record<string, string> {
  const next: Record<string, string> = { ...current };
  if (!patch) return next;
  for (const [key, value] of Object.entries(patch)) {
    if (value === null || (options?.emptyDeletes && value === "")) delete next[key];
    else next[key] = value;
  }
  const n = Object.keys(next).length;
  if (n > METADATA_LIMITS.maxKeys) {
    throwProblems(
      [
        {
          path: ["metadata"],
          message: `must have at most ${METADATA_LIMITS.maxKeys} keys after the update (would have ${n})`,
        },
      ],
      options?.errorCode,
    );
  }
  return next;
}

/**
 * A string that may arrive as null or be missing, read as absent (a Step Functions Catch's
 * `Error` / `Cause`: moto sends a null Cause). A function: it builds its schema where it is used.
 */
export const nullAsAbsentString = () =>
  z
    .string()
    .nullish()
    .transform((v) => v ?? undefined);

/** Builds a query-string page-size schema: digits only, `min`..`max`, default `fallback`. */
export function pageLimit(options: { max: number; fallback: number; min?: number }) {
  const min = options.min ?? 1;
  return z
    .string()
    .regex(/^\d+$/, { message: "must be an integer" })
    .transform(Number)
    .pipe(z.number().int().min(min).max(options.max))
    .optional()
    .transform((v) => v ?? options.fallback);
}

/** `limit` for list endpoints: 1–100, default 20. */
export const pageLimitSchema = lazySchema(() => pageLimit({ max: 100, fallback: 20 }));

/** Opaque page cursor (`page`), as returned in `next_page`. */
export const pageCursorSchema = lazySchema(() => z.string().min(1).optional());

/** Query-string boolean: `true` or `false` (what the SDK sends), default false. */
export const queryBooleanSchema = lazySchema(() =>
  z
    .enum(["true", "false"])
    .optional()
    .transform((v) => v === "true"),
);

/** Query-string RFC 3339 timestamp (or a plain date), e.g. `created_at[gte]`. */
export const queryTimestampSchema = lazySchema(() =>
  z.union([z.iso.datetime({ offset: true }), z.iso.date()], {
    error: "expected an RFC 3339 timestamp",
  }),
);
