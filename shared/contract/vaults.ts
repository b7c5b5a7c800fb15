/**
 * Vaults and credentials: request schemas written to match the SDK's `Vault*Params` and
 * `Credential*Params` (resources/beta/vaults/**), the documented limits, and the SDK's response
 * types under short names. Secrets (`token`, `access_token`, `refresh_token`, `client_secret`,
 * `secret_value`) are accepted here and never appear in a response type.
 */
import type {
  BetaManagedAgentsCredential,
  BetaManagedAgentsCredentialValidation,
  BetaManagedAgentsDeletedCredential,
  BetaManagedAgentsRefreshHTTPResponse,
} from "@anthropic-ai/sdk/resources/beta/vaults/credentials";
import type {
  BetaManagedAgentsDeletedVault,
  BetaManagedAgentsVault,
} from "@anthropic-ai/sdk/resources/beta/vaults/vaults";
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import {
  metadataPatchSchema,
  metadataSchema,
  pageCursorSchema,
  pageLimitSchema,
  queryBooleanSchema,
} from "./validation.js";

export type Vault = BetaManagedAgentsVault;
export type DeletedVault = BetaManagedAgentsDeletedVault;
export type Credential = BetaManagedAgentsCredential;
export type CredentialAuth = Credential["auth"];
export type DeletedCredential = BetaManagedAgentsDeletedCredential;
export type CredentialValidation = BetaManagedAgentsCredentialValidation;
export type CapturedHttpResponse = BetaManagedAgentsRefreshHTTPResponse;

/** The id prefixes, as the SDK's examples show them. */
export const vaultIdPrefix = { vault: "vlt", credential: "vcrd" } as const;

/** The limits the SDK's doc comments and Anthropic's vaults guide state. */
export const VAULT_LIMITS = {
  /** "Human-readable name for the vault. 1-255 characters." (credentials: "Up to 255 characters"). */
  displayNameMaxLength: 255,
  /** At most 20 credentials in a vault (archived ones included: they keep their record). */
  credentialsPerVault: 20,
  /** `vault_ids` on a session: at most 20, no duplicates, in priority order. */
  vaultsPerSession: 20,
  /** Tokens, refresh tokens and secret values: 1–8,192 characters. */
  secretMaxLength: 8192,
  /** `mcp_server_url`, `token_endpoint`: 1–2,047 characters. */
  urlMaxLength: 2047,
  /** `client_id`: 1–1,024 characters. */
  clientIdMaxLength: 1024,
  /** `scope`, `resource`. */
  oauthFieldMaxLength: 2048,
  /** `networking.allowed_hosts`: "The list can have up to 16 entries." */
  allowedHostsMax: 16,
  /** `secret_name`. */
  secretNameMaxLength: 128,
} as const;

// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is about control characters
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

const displayName = lazySchema(() =>
  z
    .string()
    .min(1)
    .max(VAULT_LIMITS.displayNameMaxLength)
    .refine((n) => !CONTROL.test(n), { message: "must not contain control characters" }),
);

const secret = lazySchema(() => z.string().min(1).max(VAULT_LIMITS.secretMaxLength));

/** An http(s) URL of at most 2,047 characters (`mcp_server_url`, `token_endpoint`). */
const httpUrl = lazySchema(() =>
  z
    .string()
    .min(1)
    .max(VAULT_LIMITS.urlMaxLength)
    .refine(
      (u) => {
        try {
          const url = new URL(u);
          return (url.protocol === "https:" || url.protocol === "http:") && url.hostname !== "";
        } catch {
          return false;
        }
      },
      { message: "must be an http or https URL" },
    ),
);

/** RFC 3339 with an offset; "must be in the future" is checked against the server clock. */
const expiresAt = lazySchema(() => z.iso.datetime({ offset: true, error: "expected an RFC 3339 timestamp" }));

const HOSTNAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Why `host` is not an `allowed_hosts` entry (bare hostname, IPv4 address or `*.` wildcard). */
export function allowedHostProblem(host: string): string | undefined {
  if (host.length === 0 || host.length > 253) return "must be 1-253 characters";
  if (IPV4.test(host)) return undefined;
  if (/[/:@?#[\]\s]/.test(host))
    return "must be a bare hostname, an IPv4 address or a *. wildcard: URLs, ports, paths and IPv6 addresses aren't accepted";
  if (!HOSTNAME.test(host)) return "must be a bare hostname, an IPv4 address or a *. wildcard";
  return undefined;
}

const networkingParams = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("unrestricted") }),
    z.strictObject({
      type: z.literal("limited"),
      allowed_hosts: z
        .array(
          z.string().superRefine((h, ctx) => {
            const problem = allowedHostProblem(h);
            if (problem) ctx.addIssue({ code: "custom", message: problem });
          }),
        )
        .min(1)
        .max(VAULT_LIMITS.allowedHostsMax),
    }),
  ]),
);

const injectionLocation = lazySchema(() =>
  z.strictObject({ body: z.boolean().optional(), header: z.boolean().optional() }),
);

/** A POSIX environment variable name. */
const secretName = lazySchema(() =>
  z
    .string()
    .min(1)
    .max(VAULT_LIMITS.secretNameMaxLength)
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      message: "must be an environment variable name: letters, digits and _, not starting with a digit",
    }),
);

const tokenEndpointAuthParams = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("none") }),
    z.strictObject({ type: z.literal("client_secret_basic"), client_secret: secret }),
    z.strictObject({ type: z.literal("client_secret_post"), client_secret: secret }),
  ]),
);

const oauthField = lazySchema(() => z.string().max(VAULT_LIMITS.oauthFieldMaxLength));

const refreshParams = lazySchema(() =>
  z.strictObject({
    client_id: z.string().min(1).max(VAULT_LIMITS.clientIdMaxLength),
    refresh_token: secret,
    token_endpoint: httpUrl,
    token_endpoint_auth: tokenEndpointAuthParams,
    resource: oauthField.nullish(),
    scope: oauthField.nullish(),
  }),
);

const mcpOAuthCreate = lazySchema(() =>
  z.strictObject({
    type: z.literal("mcp_oauth"),
    access_token: secret,
    mcp_server_url: httpUrl,
    expires_at: expiresAt.nullish(),
    refresh: refreshParams.nullish(),
  }),
);

const staticBearerCreate = lazySchema(() =>
  z.strictObject({
    type: z.literal("static_bearer"),
    token: secret,
    mcp_server_url: httpUrl,
  }),
);

const environmentVariableCreate = lazySchema(() =>
  z.strictObject({
    type: z.literal("environment_variable"),
    networking: networkingParams,
    secret_name: secretName,
    secret_value: secret,
    injection_location: injectionLocation.optional(),
  }),
);

/** Body of `POST /v1/vaults` (VaultCreateParams minus header params). */
export const VaultCreateSchema = lazySchema(() =>
  z.strictObject({
    display_name: displayName,
    metadata: metadataSchema.optional(),
  }),
);
export type VaultCreate = z.infer<typeof VaultCreateSchema>;

/** Body of `POST /v1/vaults/{vault_id}` (VaultUpdateParams minus header params). */
export const VaultUpdateSchema = lazySchema(() =>
  z.strictObject({
    display_name: displayName.nullish(),
    metadata: metadataPatchSchema.nullish(),
  }),
);
export type VaultUpdate = z.infer<typeof VaultUpdateSchema>;

/** Query of `GET /v1/vaults` and `GET /v1/vaults/{vault_id}/credentials`. */
export const VaultListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    include_archived: queryBooleanSchema,
  }),
);
export type VaultListQuery = z.infer<typeof VaultListQuerySchema>;
export const CredentialListQuerySchema = lazySchema(() => VaultListQuerySchema);
export type CredentialListQuery = VaultListQuery;

/** Body of `POST /v1/vaults/{vault_id}/credentials` (CredentialCreateParams minus header params). */
export const CredentialCreateSchema = lazySchema(() =>
  z.strictObject({
    auth: z.discriminatedUnion("type", [mcpOAuthCreate, staticBearerCreate, environmentVariableCreate]),
    display_name: z.string().max(VAULT_LIMITS.displayNameMaxLength).nullish(),
    metadata: metadataSchema.optional(),
  }),
);
export type CredentialCreate = z.infer<typeof CredentialCreateSchema>;

const tokenEndpointAuthUpdate = lazySchema(() =>
  z.discriminatedUnion("type", [
    z.strictObject({ type: z.literal("client_secret_basic"), client_secret: secret.nullish() }),
    z.strictObject({ type: z.literal("client_secret_post"), client_secret: secret.nullish() }),
  ]),
);

const mcpOAuthUpdate = lazySchema(() =>
  z.strictObject({
    type: z.literal("mcp_oauth"),
    access_token: secret.nullish(),
    expires_at: expiresAt.nullish(),
    refresh: z
      .strictObject({
        refresh_token: secret.nullish(),
        scope: oauthField.nullish(),
        token_endpoint_auth: tokenEndpointAuthUpdate.optional(),
      })
      .nullish(),
  }),
);

const staticBearerUpdate = lazySchema(() =>
  z.strictObject({ type: z.literal("static_bearer"), token: secret.nullish() }),
);

const environmentVariableUpdate = lazySchema(() =>
  z.strictObject({
    type: z.literal("environment_variable"),
    injection_location: injectionLocation.optional(),
    networking: networkingParams.nullish(),
    secret_value: secret.nullish(),
  }),
);

/** Body of `POST /v1/vaults/{vault_id}/credentials/{credential_id}` (minus path and header params). */
export const CredentialUpdateSchema = lazySchema(() =>
  z.strictObject({
    auth: z
      .discriminatedUnion("type", [mcpOAuthUpdate, staticBearerUpdate, environmentVariableUpdate])
      .optional(),
    display_name: displayName.nullish(),
    metadata: metadataPatchSchema.nullish(),
  }),
);
export type CredentialUpdate = z.infer<typeof CredentialUpdateSchema>;

/** `vault_ids` of `POST /v1/sessions`: at most 20 distinct ids, in priority order. */
export const sessionVaultIdsSchema = lazySchema(() =>
  z
    .array(z.string().min(1).max(128))
    .max(VAULT_LIMITS.vaultsPerSession)
    .refine((ids) => new Set(ids).size === ids.length, { message: "must not contain the same vault twice" }),
);

/**
 * The form of an MCP server URL that credentials are matched on: parsed and re-serialised, so that
 * `HTTPS://Example.com` and `https://example.com/` name the same server.
 */
export function normalizeServerUrl(url: string): string {
  try {
    return new URL(url).href;
  } catch {
    return url;
  }
}
