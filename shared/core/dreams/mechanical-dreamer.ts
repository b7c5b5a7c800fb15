/**
 * Dreaming without intelligence: what the simulated model does with a dream so the offline demo
 * shows a real before/after. It merges memories whose content is the same (up to case, spacing and
 * punctuation), drops repeated lines inside a memory, and writes one note per pre-pass finding that
 * has evidence from at least two sessions (recurring errors and their workarounds, shared workflows,
 * recurring grader feedback, shared preferences), each citing the events it came from.
 */
import type { DreamedFile, StoreFile } from "./dream-guards.js";
import { type Evidence, evidenceSessions, type Finding, normalise, stableJson } from "./pre-pass.js";

/** Where the notes a dream writes live in the output store. */
export const DREAM_NOTES_DIR = "/dreams";

/** The mechanical dream's output: the whole output store (unchanged files included). */
export function dreamMechanically(store: readonly StoreFile[], findings: readonly Finding[]): DreamedFile[] {
  const output: DreamedFile[] = [];
  const byKey = new Map<string, DreamedFile>();
  const sorted = [...store].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const file of sorted) {
    const key = normalise(file.content);
    const twin = key === "" ? undefined : byKey.get(key);
    if (twin) {
      twin.derivedFrom = [...(twin.derivedFrom ?? [twin.path]), file.path];
      twin.rationale = `merged duplicate memories: ${twin.derivedFrom.join(", ")}`;
      twin.tainted = twin.tainted || file.tainted;
      continue;
    }
    const deduped = dedupeLines(file.content);
    const kept: DreamedFile = { ...file, content: deduped };
    if (deduped !== file.content) kept.rationale = "removed repeated lines";
    output.push(kept);
    if (key !== "") byKey.set(key, kept);
  }
  for (const finding of findings) {
    if (evidenceSessions(finding).length < 2) continue;
    const note = noteFor(finding);
    if (output.some((f) => f.path === note.path)) continue;
    output.push(note);
  }
  return output;
}

function noteFor(finding: Finding): DreamedFile {
  const cite = citations(finding.evidence);
  switch (finding.kind) {
    case "tool_retry":
      return {
        path: `${DREAM_NOTES_DIR}/recurring-errors/${slug(finding.tool)}-${shortHash(finding.error)}.md`,
        content: [
          `# Recurring error: ${finding.tool}`,
          "",
          `Seen ${finding.occurrences} times: \`${oneLine(finding.error)}\``,
          `Failing input: \`${stableJson(finding.failedInput)}\``,
          `Workaround that succeeded: \`${stableJson(finding.retryInput)}\``,
          "",
          `Evidence: ${cite}`,
          "",
        ].join("\n"),
        rationale: `tool ${finding.tool} failed and a retry with different input succeeded in ${evidenceSessions(finding).length} sessions`,
        evidence: finding.evidence,
        // The error text is tool output: untrusted by definition.
        tainted: true,
      };
    case "recurring_feedback":
      return {
        path: `${DREAM_NOTES_DIR}/grader-feedback/${shortHash(finding.feedback)}.md`,
        content: [
          "# Recurring grader feedback",
          "",
          `In ${finding.sessions} sessions the grader asked for a revision because: ${oneLine(finding.feedback)}`,
          "",
          `Evidence: ${cite}`,
          "",
        ].join("\n"),
        rationale: `the same grader feedback recurred in ${finding.sessions} sessions`,
        evidence: finding.evidence,
        // The grader judged work that may quote untrusted content.
        tainted: true,
      };
    case "repeated_sequence":
      return {
        path: `${DREAM_NOTES_DIR}/workflows/${finding.tools.map(slug).join("-")}.md`,
        content: [
          "# Workflow that succeeded",
          "",
          `${finding.sessions} successful sessions used: ${finding.tools.join(" → ")}`,
          "",
          `Evidence: ${cite}`,
          "",
        ].join("\n"),
        rationale: `the tool sequence recurred in ${finding.sessions} successful sessions`,
        evidence: finding.evidence,
        tainted: false,
      };
    case "user_preference":
      return {
        path: `${DREAM_NOTES_DIR}/preferences/${shortHash(finding.preference)}.md`,
        content: [
          "# User preference",
          "",
          `Stated by users in ${finding.sessions} sessions: ${oneLine(finding.preference)}`,
          "",
          `Evidence: ${cite}`,
          "",
        ].join("\n"),
        rationale: `users stated this preference in ${finding.sessions} sessions`,
        evidence: finding.evidence,
        tainted: false,
      };
  }
}

/** `sesn_a#sevt_1,sevt_2; sesn_b#sevt_9`: the form notes cite evidence in. */
export function citations(evidence: readonly Evidence[]): string {
  return evidence.map((e) => `${e.sessionId}#${e.eventIds.join(",")}`).join("; ");
}

function dedupeLines(content: string): string {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const line of content.split("\n")) {
    const key = normalise(line);
    if (key !== "" && seen.has(key)) continue;
    if (key !== "") seen.add(key);
    out.push(line);
  }
  return out.join("\n");
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "")
      .slice(0, 40) || "note"
  );
}

/** FNV-1a, enough to give notes stable distinct names without pulling in crypto. */
function shortHash(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}
