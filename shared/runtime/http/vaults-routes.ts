/** Routes of /v1/vaults and /v1/vaults/{vault_id}/credentials, bound to the vaults services. */
import { parseBody } from "../../contract/validation.js";
import {
  CredentialCreateSchema,
  type CredentialListQuery,
  CredentialListQuerySchema,
  CredentialUpdateSchema,
  VaultCreateSchema,
  type VaultListQuery,
  VaultListQuerySchema,
  VaultUpdateSchema,
} from "../../contract/vaults.js";
import type { CredentialValidator } from "../../core/vaults/credential-validation.js";
import type { CredentialsService } from "../../core/vaults/credentials-service.js";
import type { VaultsService } from "../../core/vaults/vaults-service.js";
import { json, jsonBody, parseListQuery, workspaceOf as ws } from "./request-parsing.js";
import type { Router } from "./router.js";

export interface VaultRouteServices {
  vaults: VaultsService;
  credentials: CredentialsService;
  validator: CredentialValidator;
}

const vault = "/v1/vaults/{vault_id}";
const credential = `${vault}/credentials/{credential_id}`;

/** Adds the 13 vault and credential routes to `router`. */
export function addVaultRoutes(
  router: Router,
  { vaults, credentials, validator }: VaultRouteServices,
): Router {
  return router
    .add("POST", "/v1/vaults", async (r) =>
      json(await vaults.create(ws(r), parseBody(VaultCreateSchema, jsonBody(r)))),
    )
    .add("GET", "/v1/vaults", async (r) =>
      json(await vaults.list(ws(r), parseListQuery(VaultListQuerySchema, r) as VaultListQuery)),
    )
    .add("GET", vault, async (r, p) => json(await vaults.retrieve(ws(r), p.vault_id as string)))
    .add("POST", vault, async (r, p) =>
      json(await vaults.update(ws(r), p.vault_id as string, parseBody(VaultUpdateSchema, jsonBody(r)))),
    )
    .add("DELETE", vault, async (r, p) => json(await vaults.delete(ws(r), p.vault_id as string)))
    .add("POST", `${vault}/archive`, async (r, p) => json(await vaults.archive(ws(r), p.vault_id as string)))
    .add("POST", `${vault}/credentials`, async (r, p) =>
      json(
        await credentials.create(ws(r), p.vault_id as string, parseBody(CredentialCreateSchema, jsonBody(r))),
      ),
    )
    .add("GET", `${vault}/credentials`, async (r, p) =>
      json(
        await credentials.list(
          ws(r),
          p.vault_id as string,
          parseListQuery(CredentialListQuerySchema, r) as CredentialListQuery,
        ),
      ),
    )
    .add("GET", credential, async (r, p) =>
      json(await credentials.retrieve(ws(r), p.vault_id as string, p.credential_id as string)),
    )
    .add("POST", credential, async (r, p) =>
      json(
        await credentials.update(
          ws(r),
          p.vault_id as string,
          p.credential_id as string,
          parseBody(CredentialUpdateSchema, jsonBody(r)),
        ),
      ),
    )
    .add("DELETE", credential, async (r, p) =>
      json(await credentials.delete(ws(r), p.vault_id as string, p.credential_id as string)),
    )
    .add("POST", `${credential}/archive`, async (r, p) =>
      json(await credentials.archive(ws(r), p.vault_id as string, p.credential_id as string)),
    )
    .add("POST", `${credential}/mcp_oauth_validate`, async (r, p) =>
      json(await validator.validate(ws(r), p.vault_id as string, p.credential_id as string)),
    );
}
