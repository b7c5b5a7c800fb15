/**
 * Every regex in the code that ships (`shared/`, `functions/`, `infra/`) matches in linear time
 * (Hardening issue, item 1): one message with 250,000 letters froze the embedded stack for over a
 * minute because `/[a-z]+_[0-9a-z]{10,}/g` retried a run of letters from each of its letters.
 *
 * The test finds the regexes with the TypeScript compiler, not with a regex over the source: every
 * regex literal, and every `RegExp(…)` / `new RegExp(…)` whose pattern is a constant (string and
 * template literals, `String.raw`, constants of the same file, folded). It asks recheck
 * (https://makenowjust-labs.github.io/recheck/, the native `recheck-linux-x64` binary when present)
 * whether each can backtrack super-linearly, first with its automaton checker (exact), then, for what
 * that checker does not support (look-behind, back-references) or cannot finish in time, with its
 * fuzzer, whose polynomial verdicts count only if V8 is slow on the attack it found (it calls bounded
 * windows like `.{0,60}` polynomial). A super-linear verdict fails the test unless the regex is in
 * {@link TRUSTED_INPUT_ONLY}; no verdict at all fails it too. A cold run takes about half a minute on two cores; the
 * patterns found linear are cached under node_modules/.cache, so a warm run takes seconds.
 *
 * A `RegExp` built from a value only known at run time cannot be checked here; each such site must be
 * listed, with what it is built from, in {@link RUNTIME_PATTERNS}, so a new one is a review, not a
 * surprise.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { type AttackPattern, check } from "recheck";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");
const SCANNED = ["shared", "functions", "infra"];

/**
 * Regexes the checker flags that provably never see untrusted text, by `file` then pattern source,
 * each with the reason. Empty today: every flagged regex was rewritten instead.
 */
const TRUSTED_INPUT_ONLY: Record<string, Record<string, string>> = {};

/**
 * Every `RegExp` whose pattern is only known at run time: its file, a piece of the pattern expression
 * as written that identifies it, and what builds it. recheck cannot check these.
 */
const RUNTIME_PATTERNS: Array<{ file: string; includes: string; builtFrom: string }> = [
  {
    file: "shared/adapters/model/simulated-model.ts",
    includes: "pattern}$",
    builtFrom:
      "the simulated model's instruction rules (String.raw literals handed to rule()): polynomial on long runs of " +
      "spaces, so they only see clauses within SIMULATED_INSTRUCTION_LIMITS (2,000 characters, 8,000 per message)",
  },
  {
    file: "shared/adapters/aws/sandbox-runner.ts",
    includes: "escapeRegExp(root)",
    builtFrom:
      "a sandbox root path escaped to a literal, between one-character classes: linear in the command",
  },
  {
    file: "shared/adapters/aws/sandbox-runner.ts",
    includes: "name}:",
    builtFrom: "a constant field name of /proc/<pid>/status, matched against that kernel-written file",
  },
  {
    file: "shared/core/tools/file-tools.ts",
    includes: "source",
    builtFrom:
      "the grep tool's pattern, written by the agent: user-controlled by design (to do: a linear engine or a deadline)",
  },
  {
    file: "shared/core/outcomes/json-schema-subset.ts",
    includes: "schema.pattern",
    builtFrom:
      "a `pattern` in an outcome's JSON schema, written by the API caller: user-controlled by design (same to do as grep)",
  },
];

interface FoundRegex {
  /** `file:line`. */
  where: string;
  file: string;
  source: string;
  flags: string;
}

interface RuntimePattern {
  where: string;
  file: string;
  expression: string;
}

function tsFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts") && !name.endsWith(".d.ts"))
    .map((name) => join(dir, name))
    .sort();
}

/** The value of a constant string expression, or undefined when it is not one. */
function constantFolder(sf: ts.SourceFile): (node: ts.Expression) => string | undefined {
  const consts = new Map<string, ts.Expression | null>();
  const collect = (node: ts.Node) => {
    if (
      ts.isVariableDeclaration(node) &&
      ts.isIdentifier(node.name) &&
      node.initializer &&
      ts.isVariableDeclarationList(node.parent) &&
      node.parent.flags & ts.NodeFlags.Const
    ) {
      // A name declared twice (in different scopes) is ambiguous: leave it unresolved.
      consts.set(node.name.text, consts.has(node.name.text) ? null : node.initializer);
    }
    ts.forEachChild(node, collect);
  };
  collect(sf);
  const unwrap = (node: ts.Expression): ts.Expression =>
    ts.isParenthesizedExpression(node) || ts.isAsExpression(node) || ts.isSatisfiesExpression(node)
      ? unwrap(node.expression)
      : node;
  const fold = (input: ts.Expression, depth = 0): string | undefined => {
    if (depth > 20) return undefined;
    const node = unwrap(input);
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node) || ts.isNumericLiteral(node)) {
      return node.text;
    }
    if (ts.isTemplateExpression(node)) {
      let text = node.head.text;
      for (const span of node.templateSpans) {
        const value = fold(span.expression, depth + 1);
        if (value === undefined) return undefined;
        text += value + span.literal.text;
      }
      return text;
    }
    if (ts.isTaggedTemplateExpression(node) && node.tag.getText(sf) === "String.raw") {
      const template = node.template;
      if (ts.isNoSubstitutionTemplateLiteral(template)) return template.rawText;
      let text = template.head.rawText ?? "";
      for (const span of template.templateSpans) {
        const value = fold(span.expression, depth + 1);
        if (value === undefined) return undefined;
        text += value + (span.literal.rawText ?? "");
      }
      return text;
    }
    if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const left = fold(node.left, depth + 1);
      const right = fold(node.right, depth + 1);
      return left === undefined || right === undefined ? undefined : left + right;
    }
    if (ts.isIdentifier(node)) {
      const init = consts.get(node.text);
      return init ? fold(init, depth + 1) : undefined;
    }
    if (ts.isPropertyAccessExpression(node) && ts.isIdentifier(node.expression)) {
      const init = consts.get(node.expression.text);
      const object = init ? unwrap(init) : undefined;
      if (!object || !ts.isObjectLiteralExpression(object)) return undefined;
      const property = object.properties.find(
        (p): p is ts.PropertyAssignment =>
          ts.isPropertyAssignment(p) && p.name.getText(sf) === node.name.text,
      );
      return property ? fold(property.initializer, depth + 1) : undefined;
    }
    if (ts.isCallExpression(node) && ts.isPropertyAccessExpression(node.expression)) {
      const callee = node.expression;
      const args = node.arguments.map((a) => fold(a, depth + 1));
      if (args.some((a) => a === undefined)) return undefined;
      const values = args as string[];
      if (callee.getText(sf) === "String.fromCharCode") {
        return String.fromCharCode(...values.map(Number));
      }
      const receiver = fold(callee.expression, depth + 1);
      if (receiver === undefined || values.length !== 2) return undefined;
      if (callee.name.text === "replace") return receiver.replace(values[0] ?? "", values[1] ?? "");
      if (callee.name.text === "replaceAll") return receiver.replaceAll(values[0] ?? "", values[1] ?? "");
    }
    return undefined;
  };
  return fold;
}

function collectRegexes(): { regexes: FoundRegex[]; runtime: RuntimePattern[]; files: number } {
  const regexes: FoundRegex[] = [];
  const runtime: RuntimePattern[] = [];
  const files = SCANNED.flatMap(tsFiles);
  for (const file of files) {
    const sf = ts.createSourceFile(
      file,
      readFileSync(join(ROOT, file), "utf8"),
      ts.ScriptTarget.Latest,
      true,
    );
    const fold = constantFolder(sf);
    const where = (node: ts.Node) =>
      `${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
    const visit = (node: ts.Node) => {
      if (ts.isRegularExpressionLiteral(node)) {
        const slash = node.text.lastIndexOf("/");
        regexes.push({
          where: where(node),
          file,
          source: node.text.slice(1, slash),
          flags: node.text.slice(slash + 1),
        });
      } else if (
        (ts.isNewExpression(node) || ts.isCallExpression(node)) &&
        ts.isIdentifier(node.expression) &&
        node.expression.text === "RegExp"
      ) {
        const [pattern, flagsArg] = node.arguments ?? [];
        const source = pattern ? fold(pattern) : undefined;
        const flags = flagsArg ? fold(flagsArg) : "";
        if (pattern && source !== undefined && flags !== undefined) {
          regexes.push({ where: where(node), file, source, flags });
        } else {
          runtime.push({ where: where(node), file, expression: pattern?.getText(sf) ?? "" });
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
  return { regexes, runtime, files: files.length };
}

/** What the test concludes about one pattern. */
type Outcome =
  | { status: "linear"; by: string }
  | { status: "super-linear"; by: string; attack: string }
  | { status: "undecided"; why: string };

const RECHECK_VERSION = (
  JSON.parse(readFileSync(join(ROOT, "node_modules", "recheck", "package.json"), "utf8")) as {
    version: string;
  }
).version;
/** Bump when the way a verdict is reached changes: cached outcomes of the old way are dropped. */
const POLICY = 1;
/**
 * Outcomes already reached, so a warm run takes a second rather than the half minute recheck needs for
 * every pattern. Keyed by recheck version, this policy and the pattern, and only `linear` outcomes are
 * kept: a pure function's result, cached like any build tool's (delete the file to recheck everything).
 */
const CACHE_FILE = join(ROOT, "node_modules", ".cache", "reverie-regex-safety", "linear.json");
const cacheKey = (source: string, flags: string) => `${RECHECK_VERSION}/${POLICY} /${source}/${flags}`;

function readCache(): Set<string> {
  try {
    return new Set(JSON.parse(readFileSync(CACHE_FILE, "utf8")) as string[]);
  } catch {
    return new Set();
  }
}

function writeCache(keys: Set<string>): void {
  mkdirSync(dirname(CACHE_FILE), { recursive: true });
  writeFileSync(CACHE_FILE, JSON.stringify([...keys].sort(), null, 1));
}

/** The attack string recheck proposed, its pumps repeated until it is about `length` long. */
function attackOfLength(attack: AttackPattern, length: number): string {
  const fixed = attack.pumps.reduce((n, p) => n + p.prefix.length, 0) + attack.suffix.length;
  const pumped = attack.pumps.reduce((n, p) => n + p.pump.length, 0) || 1;
  const times = Math.max(1, Math.ceil((length - fixed) / pumped));
  return attack.pumps.map((p) => p.prefix + p.pump.repeat(times)).join("") + attack.suffix;
}

/**
 * Whether V8 itself is slow on the attack recheck's fuzzer found: ≥ 150 ms on at most 64 K characters
 * (a quadratic regex takes seconds there). The fuzzer reports a bounded window such as `.{0,60}` as
 * polynomial because its cost grows until the window is full; V8 answers those in milliseconds.
 */
function slowInV8(source: string, flags: string, attack: AttackPattern): boolean {
  const regex = new RegExp(source, flags.replace(/[gy]/g, ""));
  for (const length of [4_000, 16_000, 64_000]) {
    const input = attackOfLength(attack, length);
    const started = performance.now();
    regex.exec(input);
    if (performance.now() - started >= 150) return true;
  }
  return false;
}

/**
 * recheck's automaton checker first: exact, and it expands bounded repeats instead of handing them to
 * the fuzzer. What it does not support (look-around, back-references) or cannot finish in time goes to
 * the fuzzer, whose polynomial verdicts are then confirmed (or not) by timing V8 on the attack.
 */
async function outcome(source: string, flags: string): Promise<Outcome> {
  const exact = await check(source, flags, { checker: "automaton", maxRepeatCount: 1000, timeout: 3000 });
  if (exact.status === "safe") return { status: "linear", by: "automaton" };
  if (exact.status === "vulnerable") {
    return {
      status: "super-linear",
      by: `automaton: ${exact.complexity.summary}`,
      attack: exact.attack.pattern,
    };
  }
  const fuzz = await check(source, flags, { checker: "fuzz", timeout: 15_000, randomSeed: 1 });
  if (fuzz.status === "safe") return { status: "linear", by: "fuzz" };
  if (fuzz.status === "unknown")
    return { status: "undecided", why: `${exact.error.kind}, then ${fuzz.error.kind}` };
  if (fuzz.complexity.type === "exponential" || slowInV8(source, flags, fuzz.attack)) {
    return {
      status: "super-linear",
      by: `fuzz: ${fuzz.complexity.summary}, slow in V8`,
      attack: fuzz.attack.pattern,
    };
  }
  return {
    status: "linear",
    by: `fuzz: ${fuzz.complexity.summary}, but V8 is fast on its attack (a bounded window)`,
  };
}

/** Runs `task` over `items`, `width` at a time (recheck's native agent checks on a thread each). */
async function pool<T, R>(items: readonly T[], width: number, task: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
  return results;
}

describe("regex safety: every regex in shared/, functions/ and infra/ is linear", () => {
  const { regexes, runtime, files } = collectRegexes();

  it("finds the regexes through the compiler (literals and constant RegExp patterns)", () => {
    expect(files).toBeGreaterThan(100);
    expect(regexes.length).toBeGreaterThan(80);
    expect(regexes.some((r) => r.file === "shared/core/dreams/pre-pass.ts")).toBe(true);
    // A constant pattern given to new RegExp is folded and checked like a literal.
    expect(
      regexes.some((r) => r.file === "shared/contract/agents.ts" && r.source.startsWith("^(?=.{1,253}$)")),
    ).toBe(true);
  });

  it("recheck flags the pre-pass regex that froze the stack (the checker works here)", async () => {
    const old = await outcome("[a-z]+_[0-9a-z]{10,}", "g");
    expect(old.status).toBe("super-linear");
  });

  it("no regex can backtrack super-linearly", { timeout: 300_000 }, async () => {
    const sitesOf = new Map<string, FoundRegex[]>();
    for (const r of regexes) {
      const key = cacheKey(r.source, r.flags);
      sitesOf.set(key, [...(sitesOf.get(key) ?? []), r]);
    }
    const cache = readCache();
    const toCheck = [...sitesOf.keys()].filter((key) => !cache.has(key));
    const outcomes = await pool(toCheck, Math.max(1, Math.min(4, availableParallelism())), (key) => {
      const [first] = sitesOf.get(key) ?? [];
      return outcome(first?.source ?? "", first?.flags ?? "");
    });

    const problems: string[] = [];
    const undecided: string[] = [];
    const allowed = new Set<string>();
    const linear = new Set([...cache].filter((key) => sitesOf.has(key)));
    toCheck.forEach((key, i) => {
      const result = outcomes[i];
      const sites = sitesOf.get(key) ?? [];
      const pattern = key.slice(key.indexOf(" ") + 1);
      if (!result) return;
      if (result.status === "linear") {
        linear.add(key);
        if (result.by !== "automaton") console.info(`${pattern} at ${sites[0]?.where}: ${result.by}`);
      } else if (result.status === "undecided") {
        undecided.push(`${sites.map((site) => site.where).join(", ")} ${pattern}: ${result.why}`);
      } else {
        for (const site of sites) {
          if (TRUSTED_INPUT_ONLY[site.file]?.[site.source] !== undefined) {
            allowed.add(`${site.file}\u0000${site.source}`);
          } else {
            problems.push(`${site.where} ${pattern}: ${result.by}, e.g. ${result.attack}`);
          }
        }
      }
    });
    writeCache(linear);

    expect(problems).toEqual([]);
    expect(undecided).toEqual([]);
    // An allowlist entry whose regex is gone (or no longer flagged) must go too.
    const stale = Object.entries(TRUSTED_INPUT_ONLY).flatMap(([file, bySource]) =>
      Object.keys(bySource)
        .filter((source) => !allowed.has(`${file}\u0000${source}`))
        .map((source) => `${file}: /${source}/`),
    );
    expect(stale).toEqual([]);
  });

  it("every RegExp built from a run-time value is listed in RUNTIME_PATTERNS", () => {
    const unlisted = runtime
      .filter((r) => !RUNTIME_PATTERNS.some((p) => p.file === r.file && r.expression.includes(p.includes)))
      .map((r) => `${r.where}: new RegExp(${r.expression})`);
    const stale = RUNTIME_PATTERNS.filter(
      (p) => !runtime.some((r) => p.file === r.file && r.expression.includes(p.includes)),
    ).map((p) => `${p.file}: ${p.includes}`);
    expect(unlisted).toEqual([]);
    expect(stale).toEqual([]);
  });
});
