import type { BetaManagedAgentsSessionThreadAgent } from "@anthropic-ai/sdk/resources/beta/agents/agents";
import type { BetaManagedAgentsSessionMultiagent20261001 } from "@anthropic-ai/sdk/resources/beta/sessions/sessions";
import type { BetaManagedAgentsInlineAgent } from "@anthropic-ai/sdk/resources/beta/sessions/threads/threads";
import { describe, expectTypeOf, test } from "vitest";
import type { SessionAgent } from "../../shared/contract/sdk-types.js";
import type { presentInlineAgent } from "../../shared/core/multiagent/inline-agents.js";
import type {
  pinSessionMultiagent,
  sessionMultiagent,
  threadAgentOf,
} from "../../shared/core/multiagent/session-multiagent.js";

describe("multiagent_20261001 shapes are the SDK's", () => {
  test("a session's resolved copy is BetaManagedAgentsSessionMultiagent20261001", () => {
    expectTypeOf<Awaited<ReturnType<typeof pinSessionMultiagent>>>().toEqualTypeOf<SessionAgent>();
    expectTypeOf<
      NonNullable<ReturnType<typeof sessionMultiagent>>
    >().toEqualTypeOf<BetaManagedAgentsSessionMultiagent20261001>();
  });

  test("thread agents are served as the SDK types them (saved and inline)", () => {
    expectTypeOf<ReturnType<typeof threadAgentOf>>().toEqualTypeOf<BetaManagedAgentsSessionThreadAgent>();
    expectTypeOf<ReturnType<typeof presentInlineAgent>>().toEqualTypeOf<BetaManagedAgentsInlineAgent>();
  });
});
