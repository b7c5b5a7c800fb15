/**
 * A small, explicit IAM evaluator for one principal's identity-policy statements — enough to say
 * whether Reverie's functions may make the calls they make, no more:
 * - an explicit Deny that matches wins; else an Allow that matches allows; else the call is denied
 *   (IAM's implicit deny);
 * - `Action` / `NotAction`: `service:Operation`, case-insensitive, with `*` and `?` wildcards;
 * - `Resource` / `NotResource`: ARNs, case-sensitive, with `*` and `?`; the partition, service,
 *   region and account segments match one by one (a wildcard stays in its segment), the resource
 *   part as a whole (`bucket/*` covers `bucket/a/b`);
 * - a call that names no resource (aws-request-actions.ts: task tokens) is allowed by any Allow of
 *   its action whatever its Resource — the state machine behind a token is invisible on the wire;
 * - conditions: the KMS encryption-context keys (`kms:EncryptionContextKeys`,
 *   `kms:EncryptionContext:<key>`) are evaluated from the request, with the operators the stack uses
 *   (`StringEquals`, `StringLike`, their `ForAllValues:` / `ForAnyValue:` forms, `Null`), because the
 *   vault and webhook grants depend on them. Any other condition key or operator throws
 *   {@link UnsupportedConditionError}: the stack's identity policies use none today, and a new one
 *   must be taught here rather than silently taken as met.
 *
 * Not modelled (none changes an answer for this stack; docs/aws-on-moto.md): resource-based
 * policies (the bucket's and queues' only statements deny non-TLS requests, `aws:SecureTransport`;
 * the KMS key policy delegates to the account's IAM policies), permission boundaries, SCPs, session
 * policies.
 */
import type { AwsAction } from "./aws-request-actions.js";
import type { PolicyStatement } from "./iam-policies.js";

/** A statement uses a condition this evaluator does not know. */
export class UnsupportedConditionError extends Error {
  override name = "UnsupportedConditionError";
}

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

const escapeRegExp = (text: string) => text.replace(/[.+^${}()|[\]\\]/g, "\\$&");

/** `*` and `?` as IAM reads them; `within` keeps them from crossing a character (an ARN's `:`). */
function glob(pattern: string, value: string, options: { caseInsensitive?: boolean; within?: string } = {}) {
  const any = options.within ? `[^${escapeRegExp(options.within)}]` : ".";
  const source = pattern
    .split("")
    .map((c) => (c === "*" ? `${any}*` : c === "?" ? any : escapeRegExp(c)))
    .join("");
  return new RegExp(`^${source}$`, options.caseInsensitive ? "is" : "s").test(value);
}

export const actionMatches = (pattern: string, action: string) =>
  glob(pattern, action, { caseInsensitive: true });

/** An ARN pattern against an ARN: segment by segment, the resource part (after the fifth `:`) whole. */
export function resourceMatches(pattern: string, arn: string): boolean {
  if (pattern === "*") return true;
  const split = (text: string) => {
    const parts = text.split(":");
    return [...parts.slice(0, 5), parts.slice(5).join(":")];
  };
  const p = split(pattern);
  const a = split(arn);
  if (p.length !== 6 || a.length !== 6 || !pattern.startsWith("arn:")) return glob(pattern, arn);
  return p.every((segment, i) =>
    i < 5 ? glob(segment, a[i] as string, { within: ":" }) : glob(segment, a[i] as string),
  );
}

/** The values a condition key has for `call` (undefined: the key is absent from the request). */
function keyValues(key: string, call: AwsAction): string[] | undefined {
  const context = call.context?.encryptionContext;
  if (key === "kms:EncryptionContextKeys") {
    const keys = Object.keys(context ?? {});
    return keys.length > 0 ? keys : undefined;
  }
  if (key.startsWith("kms:EncryptionContext:")) {
    const value = context?.[key.slice("kms:EncryptionContext:".length)];
    return value === undefined ? undefined : [value];
  }
  throw new UnsupportedConditionError(`condition key ${key} is not evaluated by iam-evaluator.ts`);
}

function conditionHolds(operator: string, key: string, expected: unknown, call: AwsAction): boolean {
  const values = keyValues(key, call);
  const wanted = list(expected as string | string[]).map(String);
  const [qualifier, base] = operator.includes(":") ? operator.split(":") : [undefined, operator];
  if (base === "Null") {
    // Null: "true" holds when the key is absent, "false" when it is present.
    return (values === undefined) === (wanted[0] === "true");
  }
  const test =
    base === "StringEquals"
      ? (v: string) => wanted.includes(v)
      : base === "StringLike"
        ? (v: string) => wanted.some((w) => glob(w, v))
        : undefined;
  if (!test) throw new UnsupportedConditionError(`condition operator ${operator} is not evaluated here`);
  if (qualifier === "ForAllValues") return (values ?? []).every(test);
  if (qualifier === "ForAnyValue") return (values ?? []).some(test);
  if (qualifier) throw new UnsupportedConditionError(`condition operator ${operator} is not evaluated here`);
  // A single-valued operator on an absent key does not match.
  return values !== undefined && values.length === 1 && test(values[0] as string);
}

/** Whether `statement` applies to `call` (its Effect aside). */
export function statementMatches(statement: PolicyStatement, call: AwsAction): boolean {
  const actions = list(statement.Action);
  const notActions = list(statement.NotAction);
  const actionOk =
    statement.Action !== undefined
      ? actions.some((p) => actionMatches(p, call.action))
      : !notActions.some((p) => actionMatches(p, call.action));
  if (!actionOk) return false;
  if (call.resource !== undefined) {
    const resourceOk =
      statement.Resource !== undefined
        ? list(statement.Resource).some((p) => resourceMatches(p, call.resource as string))
        : !list(statement.NotResource).some((p) => resourceMatches(p, call.resource as string));
    if (!resourceOk) return false;
  }
  for (const [operator, keys] of Object.entries(statement.Condition ?? {})) {
    for (const [key, expected] of Object.entries(keys)) {
      if (!conditionHolds(operator, key, expected, call)) return false;
    }
  }
  return true;
}

/** IAM's answer for `call` under `statements`. */
export function evaluate(
  statements: readonly PolicyStatement[],
  call: AwsAction,
): "allowed" | "explicitly denied" | "implicitly denied" {
  if (statements.some((s) => s.Effect === "Deny" && statementMatches(s, call))) return "explicitly denied";
  return statements.some((s) => s.Effect === "Allow" && statementMatches(s, call))
    ? "allowed"
    : "implicitly denied";
}

/** A call its function's role does not allow, for the report. */
export interface DeniedCall {
  fn: string;
  action: string;
  resource: string | undefined;
  verdict: "explicitly denied" | "implicitly denied";
  /** How many recorded calls asked for exactly this. */
  count: number;
}

/**
 * Every distinct (function, action, resource) among `calls` that its function's statements do not
 * allow. A function with no policy here is a harness function the stack does not know: all denied.
 */
export function deniedCalls(
  calls: ReadonlyArray<AwsAction & { fn: string }>,
  statementsOf: (fn: string) => readonly PolicyStatement[] | undefined,
): DeniedCall[] {
  const seen = new Map<string, DeniedCall | null>();
  for (const call of calls) {
    const key = JSON.stringify([call.fn, call.action, call.resource, call.context ?? null]);
    const known = seen.get(key);
    if (known !== undefined) {
      if (known) known.count++;
      continue;
    }
    const verdict = evaluate(statementsOf(call.fn) ?? [], call);
    seen.set(
      key,
      verdict === "allowed"
        ? null
        : { fn: call.fn, action: call.action, resource: call.resource, verdict, count: 1 },
    );
  }
  return [...seen.values()].filter((d): d is DeniedCall => d !== null);
}

/** One line per denied call: `api-workspace: s3:PutObject on arn:aws:s3:::b/skills/… (implicitly denied, 2×)`. */
export const describeDenied = (denied: readonly DeniedCall[]): string =>
  denied
    .map(
      (d) =>
        `${d.fn}: ${d.action} on ${d.resource ?? "(the resource behind a task token)"} (${d.verdict}${d.count > 1 ? `, ${d.count}×` : ""})`,
    )
    .join("\n");
