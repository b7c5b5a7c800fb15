import { describe, expect, it } from "vitest";
import * as z from "zod";
import type { SessionEvent } from "../../../shared/contract/sdk-types.js";
import { dreamerAgent } from "../../../shared/core/dreams/dreamer-agent.js";
import { budgetSpent, dreamerExtension } from "../../../shared/core/dreams/dreamer-extension.js";
import {
  compactEvent,
  DREAMER_TOOL_LIMITS,
  dreamerToolDefinitions,
  dreamerToolInputSchemas,
} from "../../../shared/core/dreams/dreamer-tools.js";
import { builtinToolDefinitions } from "../../../shared/core/tools/toolset.js";
import { inMemoryDeps, ScriptedModel, sessionFixture } from "../../fixtures/in-memory-runtime.js";

describe("dreamer tools", () => {
  it("offer JSON schemas in step with the zod schemas that validate them", () => {
    for (const [name, schema] of Object.entries(dreamerToolInputSchemas)) {
      const offered = dreamerToolDefinitions.find((t) => t.name === name)?.input_schema as {
        properties: Record<string, unknown>;
        required?: string[];
      };
      const derived = z.toJSONSchema(schema, { io: "input" }) as {
        properties: Record<string, unknown>;
        required?: string[];
      };
      expect(Object.keys(offered.properties).sort(), name).toEqual(Object.keys(derived.properties).sort());
      expect([...(offered.required ?? [])].sort(), name).toEqual([...(derived.required ?? [])].sort());
    }
  });

  it("show an event with long strings and long tool inputs cut, and say so", () => {
    const event = {
      type: "agent.tool_use",
      id: "sevt_1",
      name: "write",
      input: { content: "x".repeat(5_000) },
      processed_at: "2026-01-01T00:00:00Z",
    } as unknown as SessionEvent;
    const shown = compactEvent(event);
    expect(String(shown.input)).toMatch(/…\[truncated: \d+ more characters of JSON\]$/);
    expect(String(shown.input).length).toBeLessThan(DREAMER_TOOL_LIMITS.inputChars + 80);
    const result = compactEvent({
      type: "agent.tool_result",
      id: "sevt_2",
      tool_use_id: "sevt_1",
      content: [{ type: "text", text: "y".repeat(10_000) }],
    } as unknown as SessionEvent) as { content: Array<{ text: string }> };
    expect(result.content[0]?.text).toMatch(/…\[truncated: 8500 more characters\]$/);
  });

  it("the dreamer's toolset enables only the file tools: no bash, no web_fetch", () => {
    const toolset = dreamerAgent("claude-sonnet-4-6").tools[0] as Parameters<
      typeof builtinToolDefinitions
    >[0];
    const names = builtinToolDefinitions(toolset, { bash: true }).map((t) => t.name);
    expect(names.sort()).toEqual(["edit", "glob", "grep", "read", "write"]);
  });
});

describe("the dreamer extension", () => {
  const extension = dreamerExtension({ budget: { maxTokens: 1000, maxSteps: 10 }, maxMalformedFinishes: 3 });

  it("adds nothing to a session that is not a dream's", async () => {
    const { deps } = inMemoryDeps(new ScriptedModel([]));
    const run = { workspaceId: "ws", session: sessionFixture("sesn_1"), run: {} } as never;
    expect(await extension.tools?.(deps, run)).toEqual([]);
    expect(await extension.systemNote?.(deps, run)).toBeUndefined();
    expect(await extension.overBudget?.(deps, run, {})).toBeUndefined();
  });

  it("spends a budget by tokens, list-price USD or steps, whichever comes first", () => {
    const budget = { maxTokens: 1000, maxUsd: 0.001, maxSteps: 10 };
    expect(budgetSpent(budget, "claude-sonnet-4-6", { input_tokens: 100 }, 1)).toBeUndefined();
    expect(budgetSpent(budget, "claude-sonnet-4-6", { input_tokens: 600, output_tokens: 400 }, 1)).toBe(
      "tokens",
    );
    expect(budgetSpent(budget, "claude-sonnet-4-6", { output_tokens: 100 }, 1)).toBe("usd");
    expect(budgetSpent(budget, "claude-sonnet-4-6", {}, 10)).toBe("steps");
  });
});
