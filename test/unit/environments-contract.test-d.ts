import type {
  BetaEnvironment,
  EnvironmentCreateParams,
  EnvironmentListParams,
  EnvironmentUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/environments/environments";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import {
  type applyEnvironmentUpdate,
  type EnvironmentCreateSchema,
  type EnvironmentFields,
  type EnvironmentListQuerySchema,
  type EnvironmentUpdateSchema,
  normalizeEnvironmentFields,
} from "../../shared/contract/environments.js";

type Body<T> = Omit<T, "betas" | "workspace_id">;

describe("environment request schemas match the SDK params", () => {
  test("create body is assignable to EnvironmentCreateParams", () => {
    expectTypeOf<z.infer<typeof EnvironmentCreateSchema>>().toExtend<EnvironmentCreateParams>();
    expectTypeOf<keyof z.infer<typeof EnvironmentCreateSchema>>().toEqualTypeOf<
      keyof Body<EnvironmentCreateParams>
    >();
  });

  test("update body is assignable to EnvironmentUpdateParams", () => {
    expectTypeOf<z.infer<typeof EnvironmentUpdateSchema>>().toExtend<EnvironmentUpdateParams>();
    expectTypeOf<keyof z.infer<typeof EnvironmentUpdateSchema>>().toEqualTypeOf<
      keyof Body<EnvironmentUpdateParams>
    >();
  });

  test("list query covers exactly the SDK's query params", () => {
    expectTypeOf<keyof z.infer<typeof EnvironmentListQuerySchema>>().toEqualTypeOf<
      keyof Body<EnvironmentListParams>
    >();
  });
});

describe("normalised fields match the response type", () => {
  test("EnvironmentFields is the matching part of BetaEnvironment", () => {
    expectTypeOf<EnvironmentFields>().toExtend<
      Omit<BetaEnvironment, "id" | "type" | "created_at" | "updated_at" | "archived_at">
    >();
    expectTypeOf(normalizeEnvironmentFields).returns.toEqualTypeOf<EnvironmentFields>();
    expectTypeOf<ReturnType<typeof applyEnvironmentUpdate>["fields"]>().toEqualTypeOf<EnvironmentFields>();
  });
});
