import type {
  AgentCreateParams,
  AgentListParams,
  AgentUpdateParams,
  BetaManagedAgentsAgent,
} from "@anthropic-ai/sdk/resources/beta/agents/agents";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import {
  type AgentCreateSchema,
  type AgentFields,
  type AgentListQuerySchema,
  type AgentUpdateSchema,
  type applyAgentUpdate,
  normalizeAgentFields,
} from "../../shared/contract/agents.js";

type Body<T> = Omit<T, "betas" | "workspace_id">;

describe("agent request schemas match the SDK params", () => {
  test("create body is assignable to AgentCreateParams", () => {
    expectTypeOf<z.infer<typeof AgentCreateSchema>>().toExtend<AgentCreateParams>();
  });

  test("every create body field exists in AgentCreateParams (no invented fields)", () => {
    expectTypeOf<keyof z.infer<typeof AgentCreateSchema>>().toEqualTypeOf<keyof Body<AgentCreateParams>>();
  });

  test("update body is assignable to AgentUpdateParams", () => {
    expectTypeOf<z.infer<typeof AgentUpdateSchema>>().toExtend<AgentUpdateParams>();
    expectTypeOf<keyof z.infer<typeof AgentUpdateSchema>>().toEqualTypeOf<keyof Body<AgentUpdateParams>>();
  });

  test("list query covers exactly the SDK's query params", () => {
    expectTypeOf<keyof z.infer<typeof AgentListQuerySchema>>().toEqualTypeOf<keyof Body<AgentListParams>>();
  });
});

describe("normalised fields match the response type", () => {
  test("AgentFields is the matching part of BetaManagedAgentsAgent", () => {
    expectTypeOf<AgentFields>().toExtend<
      Omit<BetaManagedAgentsAgent, "id" | "type" | "version" | "created_at" | "updated_at" | "archived_at">
    >();
  });

  test("normalizeAgentFields and applyAgentUpdate return AgentFields", () => {
    expectTypeOf(normalizeAgentFields).returns.toEqualTypeOf<AgentFields>();
    expectTypeOf<ReturnType<typeof applyAgentUpdate>["fields"]>().toEqualTypeOf<AgentFields>();
    expectTypeOf<
      AgentFields & {
        id: string;
        type: "agent";
        version: number;
        created_at: string;
        updated_at: string;
        archived_at: null;
      }
    >().toExtend<BetaManagedAgentsAgent>();
  });
});
