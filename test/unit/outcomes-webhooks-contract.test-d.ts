import type {
  WebhookCreateParams,
  WebhookUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/organization/webhooks";
import type { BetaManagedAgentsUserDefineOutcomeEventParams } from "@anthropic-ai/sdk/resources/beta/sessions/events";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type { defineOutcomeParamsSchema } from "../../shared/contract/outcomes.js";
import type { WebhookCreateSchema, WebhookUpdateSchema } from "../../shared/contract/webhooks.js";

type Body<T> = Omit<T, "betas">;

describe("outcome and webhook request schemas match the SDK params", () => {
  test("user.define_outcome is assignable to the SDK's params", () => {
    expectTypeOf<
      z.infer<typeof defineOutcomeParamsSchema>
    >().toExtend<BetaManagedAgentsUserDefineOutcomeEventParams>();
  });

  // The SDK's enabled_events enum names organization events only; endpoints here also take session
  // events, so the check runs the other way: every body the SDK can send is accepted.
  test("every webhook create body the SDK sends is accepted", () => {
    expectTypeOf<Body<WebhookCreateParams>>().toExtend<z.input<typeof WebhookCreateSchema>>();
  });

  test("every webhook update body the SDK sends is accepted", () => {
    expectTypeOf<Body<WebhookUpdateParams>>().toExtend<z.input<typeof WebhookUpdateSchema>>();
  });
});
