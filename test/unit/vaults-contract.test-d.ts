import type { SessionCreateParams } from "@anthropic-ai/sdk/resources/beta/sessions/sessions";
import type {
  CredentialCreateParams,
  CredentialListParams,
  CredentialUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/vaults/credentials";
import type {
  VaultCreateParams,
  VaultListParams,
  VaultUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/vaults/vaults";
import { describe, expectTypeOf, test } from "vitest";
import type { z } from "zod";
import type {
  CredentialCreateSchema,
  CredentialListQuerySchema,
  CredentialUpdateSchema,
  sessionVaultIdsSchema,
  VaultCreateSchema,
  VaultListQuerySchema,
  VaultUpdateSchema,
} from "../../shared/contract/vaults.js";

type Body<T> = Omit<T, "betas" | "workspace_id">;
/** The vault id of a credential route travels in the path. */
type CredentialBody<T> = Omit<Body<T>, "vault_id">;

describe("vault and credential request schemas match the SDK params", () => {
  test("vault create/update bodies", () => {
    expectTypeOf<z.infer<typeof VaultCreateSchema>>().toExtend<VaultCreateParams>();
    expectTypeOf<keyof z.infer<typeof VaultCreateSchema>>().toEqualTypeOf<keyof Body<VaultCreateParams>>();
    expectTypeOf<z.infer<typeof VaultUpdateSchema>>().toExtend<VaultUpdateParams>();
    expectTypeOf<keyof z.infer<typeof VaultUpdateSchema>>().toEqualTypeOf<keyof Body<VaultUpdateParams>>();
  });

  test("credential create/update bodies, every auth type", () => {
    expectTypeOf<z.infer<typeof CredentialCreateSchema>>().toExtend<CredentialBody<CredentialCreateParams>>();
    expectTypeOf<keyof z.infer<typeof CredentialCreateSchema>>().toEqualTypeOf<
      keyof CredentialBody<CredentialCreateParams>
    >();
    expectTypeOf<z.infer<typeof CredentialCreateSchema>["auth"]["type"]>().toEqualTypeOf<
      CredentialCreateParams["auth"]["type"]
    >();
    expectTypeOf<z.infer<typeof CredentialUpdateSchema>>().toExtend<CredentialBody<CredentialUpdateParams>>();
    expectTypeOf<keyof z.infer<typeof CredentialUpdateSchema>>().toEqualTypeOf<
      keyof CredentialBody<CredentialUpdateParams>
    >();
    expectTypeOf<NonNullable<z.infer<typeof CredentialUpdateSchema>["auth"]>["type"]>().toEqualTypeOf<
      NonNullable<CredentialUpdateParams["auth"]>["type"]
    >();
  });

  test("list queries cover exactly the SDK's query params", () => {
    expectTypeOf<keyof z.infer<typeof VaultListQuerySchema>>().toEqualTypeOf<keyof Body<VaultListParams>>();
    expectTypeOf<keyof z.infer<typeof CredentialListQuerySchema>>().toEqualTypeOf<
      keyof Body<CredentialListParams>
    >();
  });

  test("session vault_ids", () => {
    expectTypeOf<z.infer<typeof sessionVaultIdsSchema>>().toExtend<
      NonNullable<SessionCreateParams["vault_ids"]>
    >();
  });
});
