import type { BetaDream, DreamCreateParams, DreamListParams } from "@anthropic-ai/sdk/resources/beta/dreams";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type { DreamCreateSchema, DreamListQuerySchema } from "../../shared/contract/dreams.js";
import type { DreamsService } from "../../shared/core/dreams/dreams-service.js";

type Body<T> = Omit<T, "betas" | "workspace_id">;

describe("dream request schemas match the SDK params", () => {
  test("create body is assignable to DreamCreateParams", () => {
    expectTypeOf<z.infer<typeof DreamCreateSchema>>().toExtend<DreamCreateParams>();
  });

  test("every create body field exists in DreamCreateParams (no invented fields)", () => {
    expectTypeOf<keyof z.infer<typeof DreamCreateSchema>>().toEqualTypeOf<keyof Body<DreamCreateParams>>();
  });

  test("list query is assignable to DreamListParams", () => {
    expectTypeOf<z.infer<typeof DreamListQuerySchema>>().toExtend<DreamListParams>();
  });

  test("every list query field exists in DreamListParams", () => {
    expectTypeOf<keyof z.infer<typeof DreamListQuerySchema>>().toEqualTypeOf<keyof Body<DreamListParams>>();
  });

  test("the service answers with the SDK's BetaDream", () => {
    expectTypeOf<Awaited<ReturnType<DreamsService["retrieve"]>>>().toEqualTypeOf<BetaDream>();
    expectTypeOf<Awaited<ReturnType<DreamsService["create"]>>>().toEqualTypeOf<BetaDream>();
  });
});
