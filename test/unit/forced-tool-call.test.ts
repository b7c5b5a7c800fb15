import { describe, expect, it } from "vitest";
import * as z from "zod";
import { forcedToolCall, StructuredAnswerError } from "../../shared/core/tools/forced-tool-call.js";
import { ScriptedModel, text, toolUse } from "../fixtures/in-memory-runtime.js";

const tool = {
  name: "submit",
  description: "Submit the answer.",
  input_schema: {
    type: "object" as const,
    properties: { n: { type: "integer" } },
    required: ["n"],
  },
};
const schema = z.object({ n: z.number().int() });
const request = {
  model: "claude-sonnet-4-6",
  max_tokens: 100,
  messages: [{ role: "user" as const, content: "go" }],
};

describe("forcedToolCall", () => {
  it("forces the tool and returns the validated input", async () => {
    const model = new ScriptedModel([toolUse("submit", { n: 3 })]);
    const result = await forcedToolCall(model, { request, tool, schema });
    expect(result).toMatchObject({ value: { n: 3 }, attempts: 1 });
    expect(model.requests[0]?.tool_choice).toEqual({ type: "tool", name: "submit" });
    expect(model.requests[0]?.tools?.map((t) => ("name" in t ? t.name : ""))).toEqual(["submit"]);
  });

  it("answers a malformed call with its validation error, then accepts the corrected call", async () => {
    const model = new ScriptedModel([
      toolUse("submit", { n: "three" }, "toolu_bad"),
      toolUse("submit", { n: 3 }),
    ]);
    const result = await forcedToolCall(model, { request, tool, schema });
    expect(result.attempts).toBe(2);
    expect(result.usage.input_tokens).toBe(20);
    const retry = model.requests[1]?.messages ?? [];
    expect(retry).toHaveLength(3);
    const feedback = retry[2]?.content as Array<{
      type: string;
      tool_use_id: string;
      is_error: boolean;
      content: string;
    }>;
    expect(feedback[0]).toMatchObject({ type: "tool_result", tool_use_id: "toolu_bad", is_error: true });
    expect(feedback[0]?.content).toMatch(/invalid submit input: n: /);
  });

  it("applies the extra check, and fails clearly after the bounded attempts (prose is never parsed)", async () => {
    const model = new ScriptedModel([
      text('{"n": 3}'),
      toolUse("submit", { n: 1 }),
      toolUse("submit", { n: 1 }),
    ]);
    const failure = await forcedToolCall(model, {
      request,
      tool,
      schema,
      check: (v) => (v.n > 2 ? undefined : "n must be above 2"),
    }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(StructuredAnswerError);
    expect((failure as StructuredAnswerError).message).toBe(
      "the model's submit answer could not be read after 3 attempts: invalid submit input: n must be above 2",
    );
    expect((failure as StructuredAnswerError).usage.output_tokens).toBe(15);
    expect(model.requests[1]?.messages.at(-1)?.content).toBe("Answer by calling the submit tool.");
  });
});
