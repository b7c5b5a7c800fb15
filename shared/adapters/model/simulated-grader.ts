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
  const output = unescapeXml(/<final_output>\n([\s\S]*?)\n<\/final_output>/.exec(text)?.[1] ?? "");
  const files = new Map<string, string>();
  for (const m of text.matchAll(/<file path="([^"]+)"[^>]*>\n([\s\S]*?)\n<\/file>/g)) {
    files.set(m[1] ?? "", unescapeXml(m[2] ?? ""));
  }
  const haystacks = [output, ...files.values()];
  const criteria = [...text.matchAll(/<criterion index="(\d+)">([\s\S]*?)<\/criterion>/g)].map((m) => {
    const index = Number(m[1]);
    const criterion = unescapeXml(m[2] ?? "");
    const phrases = [...criterion.matchAll(/"([^"]+)"|“([^”]+)”/g)].map((q) => q[1] ?? q[2] ?? "");
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
    const named = /\b([\w./-]+\.[a-z0-9]{1,5})\b/i.exec(criterion)?.[1];
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
