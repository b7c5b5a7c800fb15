/**
 * `npm run demo` end to end: the embedded stack on a free port with the offline simulated model (what
 * `npm start` runs with no model key), and the demo's own `runDemo` talking to it through the SDK.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmbeddedStack, startEmbeddedStack } from "../../infra/local/embedded-stack.js";
import { loadConfig } from "../../shared/runtime/config.js";
import { DEMO_FILE, DEMO_TEXT, DemoError, runDemo } from "../demo/demo.js";
import { quietLogger } from "../fixtures/reverie-harness.js";

let stack: EmbeddedStack;
beforeAll(async () => {
  stack = await startEmbeddedStack({ config: loadConfig({ PORT: "0" }), logger: quietLogger });
});
afterAll(async () => stack.stop());

function capture() {
  let text = "";
  return {
    out: {
      write(chunk: string) {
        text += chunk;
        return true;
      },
    },
    get text() {
      return text;
    },
  };
}

describe("npm run demo", () => {
  it("runs a session with the simulated model and prints events, usage and the file", async () => {
    expect(stack.services.deps.model.name).toBe("simulated");
    const output = capture();
    const result = await runDemo({ baseURL: stack.url, apiKey: stack.apiKey, out: output.out });
    const text = output.text;

    // the resources it made
    expect(result.environmentId).toMatch(/^env_/);
    expect(result.agentId).toMatch(/^agent_/);
    expect(result.sessionId).toMatch(/^sesn_/);
    expect(text).toContain(result.sessionId);

    // every event, in order, from the user's message to idle
    const types = result.events.map((e) => e.type);
    expect(types[0]).toBe("user.message");
    expect(types.at(-1)).toBe("session.status_idle");
    expect(types.filter((t) => t === "agent.tool_use")).toHaveLength(2);
    expect(types.filter((t) => t === "agent.tool_result")).toHaveLength(2);

    // readable lines: time offset, type, summary (tool name and input, result snippet, usage)
    expect(text).toMatch(/\+\d+\.\d\ds\s+user\.message\s+write "hello from Reverie" to hello\.txt/);
    expect(text).toMatch(
      /agent\.tool_use\s+write \{"file_path":"hello\.txt","content":"hello from Reverie"\}/,
    );
    expect(text).toMatch(/agent\.tool_use\s+read \{"file_path":"hello\.txt"\}/);
    expect(text).toMatch(/agent\.tool_result\s+.*hello from Reverie/);
    expect(text).toMatch(/agent\.message\s+\[simulated model\]/);
    expect(text).toMatch(/span\.model_request_end\s+[\d,]+ in \/ [\d,]+ out tokens/);
    expect(text).toMatch(/… \d+\.\ds · 3 model calls · 2 tool calls/); // the progress line
    expect(text).toMatch(/session\.status_idle\s+stop reason: end_turn/);
    expect(text).not.toContain("\x1b["); // no terminal escapes when the output is not a TTY

    // usage and the file content
    expect(result.usage.input_tokens).toBeGreaterThan(0);
    expect(result.usage.output_tokens).toBeGreaterThan(0);
    expect(text).toMatch(/Session usage\n\s+input tokens\s+[1-9][\d,]*\n\s+output tokens\s+[1-9][\d,]*/);
    expect(result.fileContent?.trimEnd()).toBe(DEMO_TEXT);
    expect(text).toContain(`Workspace file ${DEMO_FILE}`);
    expect(text).toContain(`  │ ${DEMO_TEXT}\n`);
  });

  it("tells the user to run npm start when nothing listens", async () => {
    const output = capture();
    const error = await runDemo({
      baseURL: "http://127.0.0.1:9",
      apiKey: "x".repeat(32),
      out: output.out,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DemoError);
    expect((error as Error).message).toContain("npm start");
    expect((error as Error).message).toContain("127.0.0.1:9");
  });

  it("explains a rejected API key", async () => {
    const error = await runDemo({
      baseURL: stack.url,
      apiKey: "sk-wrong-key-0123456789",
      out: capture().out,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DemoError);
    expect((error as Error).message).toContain("REVERIE_API_KEY");
  });
});
