import type {
  BetaManagedAgentsDeploymentRun,
  DeploymentRunListParams,
} from "@anthropic-ai/sdk/resources/beta/deployment-runs";
import type {
  BetaManagedAgentsDeployment,
  DeploymentCreateParams,
  DeploymentListParams,
  DeploymentUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/deployments";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type {
  Deployment,
  DeploymentCreateSchema,
  DeploymentListQuerySchema,
  DeploymentRun,
  DeploymentRunListQuerySchema,
  DeploymentUpdateSchema,
} from "../../shared/contract/deployments.js";
import type { StoredDeployment } from "../../shared/core/deployments/deployment-record.js";

type Body<T> = Omit<T, "betas" | "workspace_id">;

describe("deployment request schemas match the SDK params", () => {
  test("create body is assignable to DeploymentCreateParams, with exactly its fields", () => {
    expectTypeOf<z.infer<typeof DeploymentCreateSchema>>().toExtend<DeploymentCreateParams>();
    expectTypeOf<keyof z.infer<typeof DeploymentCreateSchema>>().toEqualTypeOf<
      keyof Body<DeploymentCreateParams>
    >();
  });

  test("update body is assignable to DeploymentUpdateParams, with exactly its fields", () => {
    expectTypeOf<z.infer<typeof DeploymentUpdateSchema>>().toExtend<DeploymentUpdateParams>();
    expectTypeOf<keyof z.infer<typeof DeploymentUpdateSchema>>().toEqualTypeOf<
      keyof Body<DeploymentUpdateParams>
    >();
  });

  test("list queries cover exactly the SDK's query params", () => {
    expectTypeOf<keyof z.infer<typeof DeploymentListQuerySchema>>().toEqualTypeOf<
      keyof Body<DeploymentListParams>
    >();
    expectTypeOf<keyof z.infer<typeof DeploymentRunListQuerySchema>>().toEqualTypeOf<
      keyof Body<DeploymentRunListParams>
    >();
  });
});

describe("responses are the SDK's own types", () => {
  test("Deployment and DeploymentRun are the SDK's", () => {
    expectTypeOf<Deployment>().toEqualTypeOf<BetaManagedAgentsDeployment>();
    expectTypeOf<DeploymentRun>().toEqualTypeOf<BetaManagedAgentsDeploymentRun>();
  });

  test("a stored deployment differs from the response only in its schedule's computed fields", () => {
    expectTypeOf<Omit<StoredDeployment, "schedule">>().toEqualTypeOf<
      Omit<BetaManagedAgentsDeployment, "schedule">
    >();
    expectTypeOf<NonNullable<StoredDeployment["schedule"]>>().toExtend<
      Omit<NonNullable<BetaManagedAgentsDeployment["schedule"]>, "upcoming_runs_at">
    >();
  });
});
