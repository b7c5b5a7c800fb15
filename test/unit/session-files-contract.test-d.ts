import type {
  BetaManagedAgentsFileResource,
  ResourceAddParams,
} from "@anthropic-ai/sdk/resources/beta/sessions/resources";
import type { BetaManagedAgentsFileResourceParams } from "@anthropic-ai/sdk/resources/beta/sessions/sessions";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type { fileResourceParamsSchema, ResourceAddSchema } from "../../shared/contract/session-resources.js";
import type { StoredFileResource } from "../../shared/core/files/file-mounts.js";

type Body<T> = Omit<T, "betas" | "workspace_id">;

describe("session file resources match the SDK", () => {
  test("resources[] file params are assignable to BetaManagedAgentsFileResourceParams", () => {
    expectTypeOf<z.infer<typeof fileResourceParamsSchema>>().toExtend<BetaManagedAgentsFileResourceParams>();
  });

  test("the resources.add body is assignable to ResourceAddParams", () => {
    expectTypeOf<z.infer<typeof ResourceAddSchema>>().toExtend<Body<ResourceAddParams>>();
  });

  test("a stored file resource is served as the SDK's BetaManagedAgentsFileResource", () => {
    expectTypeOf<StoredFileResource>().toEqualTypeOf<BetaManagedAgentsFileResource>();
  });
});
