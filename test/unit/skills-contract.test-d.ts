import type {
  BetaSkill,
  SkillCreateParams,
  SkillListParams,
} from "@anthropic-ai/sdk/resources/beta/skills/skills";
import type { BetaSkillVersion, VersionListParams } from "@anthropic-ai/sdk/resources/beta/skills/versions";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type {
  SkillCreateFieldsSchema,
  SkillListQuerySchema,
  SkillVersionListQuerySchema,
} from "../../shared/contract/skills.js";
import type { SkillsService, StoredSkillVersion } from "../../shared/core/skills/skills-service.js";

type Body<T> = Omit<T, "betas" | "workspace_id">;

describe("skills match the SDK", () => {
  test("the create upload's fields are assignable to SkillCreateParams (files come as parts)", () => {
    expectTypeOf<z.infer<typeof SkillCreateFieldsSchema>>().toExtend<
      Omit<Body<SkillCreateParams>, "files">
    >();
  });

  test("list queries are assignable to SkillListParams and VersionListParams", () => {
    expectTypeOf<z.infer<typeof SkillListQuerySchema>>().toExtend<Body<SkillListParams>>();
    expectTypeOf<z.infer<typeof SkillVersionListQuerySchema>>().toExtend<Body<VersionListParams>>();
  });

  test("responses are the SDK's types", () => {
    expectTypeOf<Awaited<ReturnType<SkillsService["retrieve"]>>>().toEqualTypeOf<BetaSkill>();
    expectTypeOf<StoredSkillVersion["version"]>().toEqualTypeOf<BetaSkillVersion>();
    expectTypeOf<
      Awaited<ReturnType<SkillsService["listVersions"]>>["data"][number]
    >().toEqualTypeOf<BetaSkillVersion>();
  });
});
