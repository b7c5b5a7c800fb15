/**
 * `npm run demo:dream` end to end: the embedded stack with the offline simulated model, and the
 * demo's own `runDreamDemo` talking to it through the SDK — a real before/after of a dream.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedStack, startEmbeddedStack } from "../../infra/local/embedded-stack.js";
import { loadConfig } from "../../shared/runtime/config.js";
import { runDreamDemo, SEED_NOTES } from "../demo/dream-demo.js";
import { quietLogger } from "../fixtures/reverie-harness.js";

let stack: EmbeddedStack;
beforeAll(async () => {
  stack = await startEmbeddedStack({ config: loadConfig({ PORT: "0" }), logger: quietLogger });
});
afterAll(async () => stack.stop());

describe("npm run demo:dream", () => {
  it("dreams over three sessions and shows the store before and after, the input unchanged", async () => {
    let text = "";
    const result = await runDreamDemo({
      baseURL: stack.url,
      apiKey: stack.apiKey,
      out: { write: (chunk: string) => (text += chunk) },
    });
    expect(result.before).toEqual(SEED_NOTES);
    expect(result.inputAfter).toEqual(SEED_NOTES);
    expect(result.outputStoreId).not.toBe(result.inputStoreId);
    // The duplicate note is merged away, and the dream wrote notes from what the sessions showed.
    expect(Object.keys(result.after)).not.toContain("/notes/build.md");
    expect(Object.keys(result.after)).toContain("/notes/people.md");
    const learned = Object.keys(result.after).filter((p) => p.startsWith("/dreams/"));
    expect(learned.some((p) => p.startsWith("/dreams/recurring-errors/"))).toBe(true);
    expect(learned.some((p) => p.startsWith("/dreams/preferences/"))).toBe(true);
    expect(result.changes.map((c) => c.path)).toEqual(expect.arrayContaining(learned));
    expect(text).toContain(`dream ${result.dreamId} completed`);
    expect(text).toContain("the input store is unchanged");
  });
});
