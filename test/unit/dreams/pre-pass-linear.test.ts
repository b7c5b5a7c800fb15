/**
 * The pre-pass's text work is linear and bounded (Hardening issue, item 1): a user message of
 * "I always " + 250,000 × "a" followed by a dream froze every request of the embedded stack for over a
 * minute (195 s on a 2-core machine), and a 102 KB memory of "a" for 25–50 s, because `normalise`'s
 * `/[a-z]+_[0-9a-z]{10,}/g` retried a run of letters from each of its letters.
 */
import { describe, expect, it } from "vitest";
import { dreamMechanically } from "../../../shared/core/dreams/mechanical-dreamer.js";
import {
  type Finding,
  normalise,
  PRE_PASS_TEXT_LIMITS,
  prePassLimits,
  runPrePass,
} from "../../../shared/core/dreams/pre-pass.js";
import { transcript } from "../../fixtures/dream-transcripts.js";

/** Generous: the linear code takes milliseconds; the quadratic one took minutes. */
const QUICK_MS = 1000;

function timed<T>(work: () => T): { value: T; ms: number } {
  const started = performance.now();
  const value = work();
  return { value, ms: performance.now() - started };
}

const preferences = (findings: Finding[]) =>
  findings.filter((f): f is Extract<Finding, { kind: "user_preference" }> => f.kind === "user_preference");

describe("dream pre-pass: linear in the text it reads", () => {
  const message = `I always ${"a".repeat(250_000)}`;

  it('normalises "I always " + 250,000 × "a" quickly', () => {
    const { value, ms } = timed(() => normalise(message));
    expect(ms).toBeLessThan(QUICK_MS);
    expect(value).toBe(`i always ${"a".repeat(250_000)}`);
  });

  it("runs over a session holding that message quickly, and still reports the preference", () => {
    const session = transcript("s1").user(message).idle().build();
    const { value, ms } = timed(() => runPrePass([session]));
    expect(ms).toBeLessThan(QUICK_MS);
    const [preference] = preferences(value.findings);
    expect(preference?.preference).toBe(`I always ${"a".repeat(prePassLimits.textChars - 10)}…`);
    expect(preference?.evidence).toEqual([{ sessionId: "s1", eventIds: ["s1:1"] }]);
  });

  it("normalises and dreams over a 102 KB memory of one letter quickly", () => {
    const memory = "a".repeat(102_400);
    expect(timed(() => normalise(memory)).ms).toBeLessThan(QUICK_MS);
    const { value, ms } = timed(() =>
      dreamMechanically(
        [
          { path: "/a.md", content: memory },
          { path: "/b.md", content: memory.toUpperCase() },
        ],
        [],
      ),
    );
    expect(ms).toBeLessThan(QUICK_MS);
    // Still merges the two (same up to case).
    expect(value.map((f) => f.path)).toEqual(["/a.md"]);
  });

  it("still blurs ids and numbers as before", () => {
    expect(normalise("Session sesn_01abcdefghij failed at line 12; retry sesn_02klmnopqrst.")).toBe(
      "session #id failed at line # retry #id",
    );
    // An id tail right after a digit, several ids in one word, a short tail that is no id.
    expect(normalise("9ab_0123456789xy_q abc_def x_0123456789_y_0123456789 ab_123")).toBe(
      "##id q abc def #id #id ab #",
    );
  });

  it("normalises exactly like the former regex (random short texts)", () => {
    const reference = (text: string) =>
      text
        .toLowerCase()
        .replace(/[a-z]+_[0-9a-z]{10,}/g, "#id")
        .replace(/\d+/g, "#")
        .replace(/[^\p{L}#]+/gu, " ")
        .trim();
    const pieces = ["a", "Q", "_", "0", "7", " ", ".", "é", "-", "x_", "abc_0123456789", "_abcdefghij", "12"];
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    for (let n = 0; n < 3000; n++) {
      let text = "";
      for (let i = Math.floor(random() * 30); i > 0; i--)
        text += pieces[Math.floor(random() * pieces.length)];
      expect(normalise(text), JSON.stringify(text)).toBe(reference(text));
    }
  });
});

describe("dream pre-pass: bounded reading", () => {
  it(`reads at most ${PRE_PASS_TEXT_LIMITS.eventTextChars} characters of one event`, () => {
    const filler = "Some context here. ".repeat(Math.ceil(PRE_PASS_TEXT_LIMITS.eventTextChars / 19));
    const early = transcript("s1").user("Never push to main. And more.").build();
    const late = transcript("s2").user(`${filler}Never force-push.`).build();
    const found = preferences(runPrePass([early, late]).findings).map((f) => f.preference);
    expect(found).toEqual(["Never push to main."]);
  });

  it(`reads at most ${PRE_PASS_TEXT_LIMITS.totalTextChars} characters in total per kind of finding`, () => {
    const perMessage = PRE_PASS_TEXT_LIMITS.eventTextChars;
    const filler = `${"x".repeat(perMessage - 1)}\n`;
    const messages = Math.ceil(PRE_PASS_TEXT_LIMITS.totalTextChars / perMessage);
    let builder = transcript("s1");
    for (let i = 0; i < messages; i++) builder = builder.user(filler);
    const session = builder.user("Always run the linter.").build();
    const { value, ms } = timed(() => runPrePass([session]));
    expect(ms).toBeLessThan(QUICK_MS);
    // The budget was spent on the filler before the preference came.
    expect(preferences(value.findings)).toEqual([]);
    // Without the filler it is found.
    const short = transcript("s1").user("Always run the linter.").build();
    expect(preferences(runPrePass([short]).findings).map((f) => f.preference)).toEqual([
      "Always run the linter.",
    ]);
  });
});
