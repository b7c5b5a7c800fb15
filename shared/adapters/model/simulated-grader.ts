/**
 * The simulated model as an outcome grader: it answers the grader's forced `submit_grade` call for
 * the criteria it can check mechanically — a quoted phrase that must appear in the output or a
 * file, or a file name that must exist — and honestly marks every other criterion unmet, saying it
 * cannot judge it. It is a stand-in for tests and offline use, not a judge of quality.
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { ModelRequest } from "../../core/ports.js";

type ContentBlock = Anthropic.Messages.ContentBlock;

/** Whether a request is a grader's forced `submit_grade` call. */
export function isGradeRequest(request: ModelRequest): boolean {
  const choice = request.tool_choice as { type?: string; name?: string } | undefined;
  return choice?.type === "tool" && choice.name === "submit_grade";
}

const unescapeXml = (s: string) => s.replaceAll("<\\/", "</");

export function simulatedGrade(request: ModelRequest, prefix: string): ContentBlock[] {
  const text = request.messages
    .flatMap(
      (m): Array<string | Anthropic.Messages.ContentBlockParam> =>
        typeof m.content === "string" ? [m.content] : m.content,
    )
    .map((b) => (typeof b === "string" ? b : b.type === "text" ? b.text : ""))
    .join("\n");
  // Each pattern below that could fail at an opening tag also matches "the rest of the text" (`|$`),
  // so no later opening tag rescans it: the prompt quotes outputs and files, which may hold anything.
  const finalOutput = /<final_output>\n([\s\S]*?)(\n<\/final_output>|$)/.exec(text);
  const output = finalOutput?.[2] ? unescapeXml(finalOutput[1] ?? "") : "";
  const files = new Map<string, string>();
  for (const [path, content] of fileBlocks(text)) files.set(path, unescapeXml(content));
  const haystacks = [output, ...files.values()];
  const closed = [...text.matchAll(/<criterion index="(\d+)">([\s\S]*?)(<\/criterion>|$)/g)].filter(
    (m) => m[3],
  );
  const criteria = closed.map((m) => {
    const index = Number(m[1]);
    const criterion = unescapeXml(m[2] ?? "");
    const phrases = quotedPhrases(criterion);
    if (phrases.length > 0) {
      const missing = phrases.filter((p) => !haystacks.some((h) => h.includes(p)));
      return {
        index,
        satisfied: missing.length === 0,
        finding:
          missing.length === 0
            ? `found ${phrases.map((p) => JSON.stringify(p)).join(", ")}`
            : `missing ${missing.map((p) => JSON.stringify(p)).join(", ")}`,
      };
    }
    const named = fileNameIn(criterion);
    if (named) {
      const exists = files.has(named.replace(/^\/?workspace\//, ""));
      return { index, satisfied: exists, finding: `${named} ${exists ? "exists" : "does not exist"}` };
    }
    return {
      index,
      satisfied: false,
      finding:
        "the simulated grader cannot judge this criterion; quote the phrase that must appear or write it as a check: line",
    };
  });
  const unmet = criteria.filter((c) => !c.satisfied).length;
  return [
    {
      type: "tool_use",
      id: "toolu_sim_grade",
      name: "submit_grade",
      input: {
        rubric_applies: true,
        criteria,
        explanation: `${prefix} ${unmet === 0 ? "every criterion it could check is met" : `${unmet} criteria unmet or not checkable`}.`,
      },
      caller: { type: "direct" },
    } as ContentBlock,
  ];
}

/**
 * `indexOf` for several needles over one text, called with non-decreasing `from` per needle: each
 * needle's scans never overlap, so any number of calls costs one pass over the text per needle.
 */
function forwardFinder(text: string): (needle: string, from: number) => number {
  const found = new Map<string, number>();
  return (needle, from) => {
    const known = found.get(needle);
    if (known !== undefined && (known === -1 || known >= from)) return known;
    const at = text.indexOf(needle, from);
    found.set(needle, at);
    return at;
  };
}

/**
 * The `<file path="…"…>\n…\n</file>` blocks of the grader prompt, as
 * `/<file path="([^"]+)"[^>]*>\n([\s\S]*?)\n<\/file>/g` finds them, in one pass.
 */
function fileBlocks(text: string): Array<[path: string, content: string]> {
  const open = '<file path="';
  const close = "\n</file>";
  const next = forwardFinder(text);
  const blocks: Array<[string, string]> = [];
  let at = next(open, 0);
  while (at !== -1) {
    const pathStart = at + open.length;
    const quote = next('"', pathStart);
    const gt = quote > pathStart ? next(">", quote + 1) : -1;
    const end = gt !== -1 && text[gt + 1] === "\n" ? next(close, gt + 2) : -1;
    if (end === -1) {
      at = next(open, at + 1);
      continue;
    }
    blocks.push([text.slice(pathStart, quote), text.slice(gt + 2, end)]);
    at = next(open, end + close.length);
  }
  return blocks;
}

/** The phrases quoted in `"…"` or `“…”`, as `/"([^"]+)"|“([^”]+)”/g` finds them, in one pass. */
function quotedPhrases(text: string): string[] {
  const next = forwardFinder(text);
  const phrases: string[] = [];
  for (let i = 0; i < text.length; i++) {
    const closing = text[i] === '"' ? '"' : text[i] === "“" ? "”" : undefined;
    if (!closing) continue;
    const end = next(closing, i + 1);
    if (end <= i + 1) continue;
    phrases.push(text.slice(i + 1, end));
    i = end;
  }
  return phrases;
}

const isWordChar = (ch: string | undefined) => ch !== undefined && /\w/.test(ch);

/**
 * The first file name in a criterion, as `/\b([\w./-]+\.[a-z0-9]{1,5})\b/i` finds it, in one pass:
 * in each run of `[\w./-]`, the name ends at the run's last `.` followed by 1–5 letters or digits
 * and then a non-word character, and starts at the run's first word boundary before that dot.
 */
function fileNameIn(text: string): string | undefined {
  for (const run of text.matchAll(/[\w./-]+/g)) {
    const s = run.index;
    const e = s + run[0].length;
    let nameEnd = -1;
    let dot = -1;
    for (let d = e - 1; d > s && nameEnd === -1; d--) {
      if (text[d] !== ".") continue;
      let k = d + 1;
      while (k < e && /[a-z0-9]/i.test(text[k] ?? "")) k++;
      if (k - d - 1 >= 1 && k - d - 1 <= 5 && !isWordChar(text[k])) {
        nameEnd = k;
        dot = d;
      }
    }
    if (nameEnd === -1) continue;
    for (let p = s; p < dot; p++) {
      if (isWordChar(text[p]) !== isWordChar(text[p - 1])) return text.slice(p, nameEnd);
    }
  }
  return undefined;
}
