import { describe, expect, it } from "vitest";
import { InProcessNotifier } from "../../../shared/adapters/local/in-process-notifier.js";
import { MemoryDocumentStore } from "../../../shared/adapters/local/memory-document-store.js";
import {
  type Finding,
  prePassForSessions,
  prePassLimits,
  runPrePass,
  sessionSucceeded,
} from "../../../shared/core/dreams/pre-pass.js";
import { EventLog } from "../../../shared/core/events/event-log.js";
import { transcript, typicalSession } from "../../fixtures/dream-transcripts.js";

function ofKind<K extends Finding["kind"]>(findings: Finding[], kind: K): Extract<Finding, { kind: K }>[] {
  return findings.filter((f): f is Extract<Finding, { kind: K }> => f.kind === kind);
}

describe("dream pre-pass: tool retries", () => {
  it("finds a failed call fixed by a retry with different input, citing all four events", () => {
    const s = transcript("s1")
      .tool("read", { file_path: "/etc/x" }, { error: "ENOENT: no such file" })
      .tool("read", { file_path: "/workspace/x" }, { ok: "hello" })
      .idle()
      .build();
    const [retry] = ofKind(runPrePass([s]).findings, "tool_retry");
    expect(retry).toMatchObject({
      tool: "read",
      error: "ENOENT: no such file",
      failedInput: { file_path: "/etc/x" },
      retryInput: { file_path: "/workspace/x" },
      occurrences: 1,
      evidence: [{ sessionId: "s1", eventIds: ["s1:1", "s1:2", "s1:3", "s1:4"] }],
    });
  });

  it("ignores an identical retry, a retry that fails again, and a failure never retried", () => {
    const s = transcript("s1")
      .tool("read", { file_path: "a" }, { error: "transient" })
      .tool("read", { file_path: "a" }, { ok: "fine" })
      .tool("bash", { command: "x" }, { error: "bad" })
      .tool("bash", { command: "y" }, { error: "bad" })
      .tool("grep", { pattern: "q" }, { error: "nope" })
      .build();
    expect(ofKind(runPrePass([s]).findings, "tool_retry")).toEqual([
      // bash x → bash y failed; bash y has no later bash call; so nothing for bash, read, or grep.
    ]);
  });

  it("groups the same error across sessions (numbers blurred) and counts occurrences", () => {
    const sessions = [1, 2, 3].map((n) => typicalSession(`s${n}`, n));
    const [retry] = ofKind(runPrePass(sessions).findings, "tool_retry");
    expect(retry?.tool).toBe("grep");
    expect(retry?.occurrences).toBe(3);
    expect(retry?.evidence.map((e) => e.sessionId)).toEqual(["s1", "s2", "s3"]);
  });
});

describe("dream pre-pass: recurring grader feedback", () => {
  it("reports needs_revision sentences that recur in two or more sessions, not one-offs", () => {
    const a = transcript("a")
      .grade("needs_revision", "Missing a changelog entry. The title is vague.")
      .build();
    const b = transcript("b").grade("needs_revision", "Missing a changelog entry.").build();
    const c = transcript("c").grade("satisfied", "The title is vague.").build();
    const feedback = ofKind(runPrePass([a, b, c]).findings, "recurring_feedback");
    expect(feedback).toEqual([
      {
        kind: "recurring_feedback",
        feedback: "Missing a changelog entry.",
        sessions: 2,
        evidence: [
          { sessionId: "a", eventIds: ["a:1"] },
          { sessionId: "b", eventIds: ["b:1"] },
        ],
      },
    ]);
  });

  it("treats sentences that differ only in numbers as the same feedback", () => {
    const sessions = [1, 2].map((n) => typicalSession(`s${n}`, n));
    const texts = ofKind(runPrePass(sessions).findings, "recurring_feedback").map((f) => f.feedback);
    expect(texts).toEqual(
      expect.arrayContaining(["The change lacks a regression test.", "Line 1 is too long."]),
    );
  });
});

describe("dream pre-pass: repeated tool sequences", () => {
  it("finds the longest run of tools shared by successful sessions", () => {
    const sessions = [1, 2].map((n) => typicalSession(`s${n}`, n));
    const [sequence] = ofKind(runPrePass(sessions).findings, "repeated_sequence");
    expect(sequence?.tools).toEqual(["grep", "read", "edit", "bash"]);
    expect(sequence?.sessions).toBe(2);
    expect(sequence?.evidence[0]).toEqual({ sessionId: "s1", eventIds: ["s1:4", "s1:6", "s1:8", "s1:10"] });
  });

  it("does not learn from failed sessions", () => {
    const ok = transcript("ok").tool("read", { p: 1 }).tool("edit", { p: 1 }).idle().build();
    const failed = transcript("bad").tool("read", { p: 2 }).tool("edit", { p: 2 }).error().build();
    expect(sessionSucceeded(ok.events)).toBe(true);
    expect(sessionSucceeded(failed.events)).toBe(false);
    expect(ofKind(runPrePass([ok, failed]).findings, "repeated_sequence")).toEqual([]);
  });

  it("treats a session whose last verdict is needs_revision as unsuccessful", () => {
    const s = transcript("s").tool("read", {}).grade("needs_revision", "no").idle().build();
    expect(sessionSucceeded(s.events)).toBe(false);
  });
});

describe("dream pre-pass: user preferences", () => {
  it("extracts stated preferences with the message that stated them", () => {
    const s = transcript("s1")
      .user("Please fix the bug. I prefer tabs over spaces. Never push to main.")
      .build();
    const prefs = ofKind(runPrePass([s]).findings, "user_preference").map((p) => p.preference);
    expect(prefs.sort()).toEqual(["I prefer tabs over spaces.", "Never push to main."]);
    expect(ofKind(runPrePass([s]).findings, "user_preference")[0]?.evidence).toEqual([
      { sessionId: "s1", eventIds: ["s1:1"] },
    ]);
  });

  it("ranks a preference stated in more sessions first", () => {
    const sessions = [1, 2, 3].map((n) => typicalSession(`s${n}`, n));
    const [top] = ofKind(runPrePass(sessions).findings, "user_preference");
    expect(top).toMatchObject({ preference: "Always run the linter before committing.", sessions: 3 });
  });
});

describe("dream pre-pass: bounded output", () => {
  it("caps findings per kind and evidence per finding however many sessions there are", () => {
    const sessions = Array.from({ length: 100 }, (_, n) =>
      transcript(`s${n}`)
        .user(`Always use style ${String.fromCharCode(65 + (n % 26))}${Math.floor(n / 26)}x please.`)
        .tool(`tool${n}`, { a: 1 }, { error: `failure kind ${n}` })
        .tool(`tool${n}`, { a: 2 })
        .user("Never push to main.")
        .build(),
    );
    const result = runPrePass(sessions);
    expect(result.sessionsRead).toBe(100);
    for (const kind of ["tool_retry", "user_preference"] as const) {
      expect(ofKind(result.findings, kind)).toHaveLength(prePassLimits.findingsPerKind);
    }
    for (const finding of result.findings) {
      expect(finding.evidence.length).toBeLessThanOrEqual(prePassLimits.evidencePerFinding);
    }
  });

  it("is deterministic", () => {
    const sessions = [1, 2, 3].map((n) => typicalSession(`s${n}`, n));
    expect(JSON.stringify(runPrePass(sessions))).toBe(JSON.stringify(runPrePass(sessions)));
  });

  it("reads only the sessions it is given from the event log", async () => {
    const log = new EventLog(new MemoryDocumentStore(), new InProcessNotifier());
    for (const n of [1, 2, 3]) await log.append(`sesn_${n}`, [...typicalSession(`sesn_${n}`, n).events]);
    const read: string[] = [];
    const spy = {
      read: (id: string) => {
        read.push(id);
        return log.read(id);
      },
    };
    const result = await prePassForSessions(spy, ["sesn_1", "sesn_3"]);
    expect(read).toEqual(["sesn_1", "sesn_3"]);
    expect(result.sessionsRead).toBe(2);
    expect(ofKind(result.findings, "tool_retry")[0]?.evidence.map((e) => e.sessionId)).toEqual([
      "sesn_1",
      "sesn_3",
    ]);
  });
});
