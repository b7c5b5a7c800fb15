/**
 * Environments: request schemas (`POST /v1/environments`, `POST /v1/environments/{id}`,
 * `GET /v1/environments`) written to match the SDK's `EnvironmentCreateParams` /
 * `EnvironmentUpdateParams` / `EnvironmentListParams`, and the normalisation from request params to
 * the stored/response fields of `BetaEnvironment`.
 *
 * Errors the SDK knows by code carry `error.details.error_code`: `invalid_metadata` (metadata too
 * big) → `BetaInvalidMetadataError`, `invalid_config_type_change` → `BetaInvalidConfigTypeChangeError`.
 */
import type {
  BetaCloudConfig,
  BetaEnvironment,
  BetaLimitedNetwork,
  BetaPackages,
  BetaUnrestrictedNetwork,
  EnvironmentCreateParams,
  EnvironmentUpdateParams,
} from "@anthropic-ai/sdk/resources/beta/environments/environments";
import * as z from "zod";
import { lazySchema } from "./lazy-schema.js";
import {
  applyMetadataPatch,
  CodedInvalidRequestError,
  type FieldProblem,
  metadataPatchSchema,
  metadataSchema,
  pageCursorSchema,
  pageLimitSchema,
  parseBody,
  queryBooleanSchema,
  throwProblems,
} from "./validation.js";

export const ENVIRONMENT_LIMITS = {
  /** Not stated by the SDK; Reverie's bound. */
  nameMaxLength: 256,
  /** Not stated by the SDK; Reverie's bound. */
  descriptionMaxLength: 2048,
  /** Not stated by the SDK; Reverie's bound per package list and for allowed_hosts. */
  maxListEntries: 256,
  /** Not stated by the SDK; Reverie's bound on one package spec or host. */
  maxEntryLength: 512,
} as const;

/** `error.details.error_code` values the SDK maps to its environment error classes. */
export const ENVIRONMENT_ERROR_CODES = {
  invalidMetadata: "invalid_metadata",
  invalidConfigTypeChange: "invalid_config_type_change",
  environmentArchived: "environment_archived",
} as const;

export const PACKAGE_MANAGERS = ["apt", "cargo", "gem", "go", "npm", "pip"] as const;
export type PackageManager = (typeof PACKAGE_MANAGERS)[number];

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

/** A package spec such as `pandas==2.2.0`, `express@4`, `github.com/x/y@latest`: no whitespace, no leading `-`. */
const packageSpec = lazySchema(() =>
  z
    .string()
    .min(1)
    .max(ENVIRONMENT_LIMITS.maxEntryLength)
    .regex(/^[^\s-]\S*$/, { message: "must be a package name (no whitespace, not starting with -)" }),
);
const packageList = lazySchema(() => z.array(packageSpec).max(ENVIRONMENT_LIMITS.maxListEntries));

const HOST_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
const ALLOWED_HOST = new RegExp(`^(?:\\*\\.)?${HOST_LABEL}(?:\\.${HOST_LABEL})*(?::\\d{1,5})?$`);
const allowedHost = lazySchema(() =>
  z.string().max(253).regex(ALLOWED_HOST, {
    message: "must be a host like api.example.com or *.example.com (no scheme or path)",
  }),
);

const unrestrictedNetworkSchema = lazySchema(() => z.strictObject({ type: z.literal("unrestricted") }));
const limitedNetworkParams = lazySchema(() =>
  z.strictObject({
    type: z.literal("limited"),
    allow_mcp_servers: z.boolean().nullish(),
    allow_package_managers: z.boolean().nullish(),
    allowed_hosts: z.array(allowedHost).max(ENVIRONMENT_LIMITS.maxListEntries).nullish(),
  }),
);
const networkingParams = lazySchema(() =>
  z.discriminatedUnion("type", [unrestrictedNetworkSchema, limitedNetworkParams]),
);

const packagesParams = lazySchema(() =>
  z.strictObject({
    type: z.literal("packages").optional(),
    apt: packageList.nullish(),
    cargo: packageList.nullish(),
    gem: packageList.nullish(),
    go: packageList.nullish(),
    npm: packageList.nullish(),
    pip: packageList.nullish(),
  }),
);

const cloudConfigParams = lazySchema(() =>
  z.strictObject({
    type: z.literal("cloud"),
    networking: networkingParams.nullish(),
    packages: packagesParams.nullish(),
  }),
);
const selfHostedConfigParams = lazySchema(() => z.strictObject({ type: z.literal("self_hosted") }));
const configParams = lazySchema(() =>
  z.discriminatedUnion("type", [cloudConfigParams, selfHostedConfigParams]),
);

/** Reverie is an API organization: only `organization` scope exists ("'account' is rejected"). */
const scopeParams = lazySchema(() =>
  z
    .enum(["organization", "account"])
    .refine((s) => s === "organization", {
      message: "only 'organization' is supported; 'account' scope is not available for API organizations",
    })
    .nullish(),
);

/** Body of `POST /v1/environments` (matches `EnvironmentCreateParams` minus the header params). */
export const EnvironmentCreateSchema = lazySchema(() =>
  z.strictObject({
    name: z.string().min(1).max(ENVIRONMENT_LIMITS.nameMaxLength),
    config: configParams.nullish(),
    description: z.string().max(ENVIRONMENT_LIMITS.descriptionMaxLength).nullish(),
    metadata: metadataSchema.optional(),
    scope: scopeParams,
  }),
);
export type EnvironmentCreate = z.infer<typeof EnvironmentCreateSchema>;

/** Body of `POST /v1/environments/{id}` (matches `EnvironmentUpdateParams` minus the header params). */
export const EnvironmentUpdateSchema = lazySchema(() =>
  z.strictObject({
    config: configParams.nullish(),
    description: z.string().max(ENVIRONMENT_LIMITS.descriptionMaxLength).nullish(),
    metadata: metadataPatchSchema.optional(),
    name: z.string().min(1).max(ENVIRONMENT_LIMITS.nameMaxLength).nullish(),
    scope: scopeParams,
  }),
);
export type EnvironmentUpdate = z.infer<typeof EnvironmentUpdateSchema>;

/** Query of `GET /v1/environments`. Unknown parameters are ignored (the SDK adds `beta=true`). */
export const EnvironmentListQuerySchema = lazySchema(() =>
  z.object({
    limit: pageLimitSchema,
    page: pageCursorSchema,
    include_archived: queryBooleanSchema,
  }),
);
export type EnvironmentListQuery = z.infer<typeof EnvironmentListQuerySchema>;

const metadataOnly = (problems: ReadonlyArray<FieldProblem>) =>
  problems.length > 0 && problems.every((p) => p.path[0] === "metadata")
    ? ENVIRONMENT_ERROR_CODES.invalidMetadata
    : undefined;

/** `parseBody(EnvironmentCreateSchema, …)`, with `invalid_metadata` when only metadata is wrong. */
export function parseEnvironmentCreate(body: unknown): EnvironmentCreate {
  return parseBody(EnvironmentCreateSchema, body, { errorCode: metadataOnly });
}

/** `parseBody(EnvironmentUpdateSchema, …)`, with `invalid_metadata` when only metadata is wrong. */
export function parseEnvironmentUpdate(body: unknown): EnvironmentUpdate {
  return parseBody(EnvironmentUpdateSchema, body, { errorCode: metadataOnly });
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/** The stored/response fields of an environment, minus id, type and timestamps. */
export type EnvironmentFields = Pick<BetaEnvironment, "name" | "description" | "config" | "metadata"> & {
  scope: NonNullable<BetaEnvironment["scope"]>;
};

type ConfigParams = z.infer<typeof configParams>;
type NetworkingParams = z.infer<typeof networkingParams>;
type PackagesParams = z.infer<typeof packagesParams>;

function emptyPackages(): BetaPackages {
  return { type: "packages", apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] };
}

/** The configuration of an environment created without `config`: cloud, unrestricted, no packages. */
export function defaultCloudConfig(): BetaCloudConfig {
  return { type: "cloud", networking: { type: "unrestricted" }, packages: emptyPackages() };
}

/** Omitted keeps `stored` (update) or takes the default (create); null takes the default. */
function normalizeNetworking(
  p: NetworkingParams | null | undefined,
  stored: BetaCloudConfig["networking"] | undefined,
): BetaUnrestrictedNetwork | BetaLimitedNetwork {
  if (p === undefined && stored) return stored;
  if (p == null || p.type === "unrestricted") return { type: "unrestricted" };
  const base = stored?.type === "limited" ? stored : undefined;
  const pick = (sent: boolean | null | undefined, kept: boolean | undefined) =>
    sent === undefined ? (kept ?? false) : (sent ?? false);
  return {
    type: "limited",
    allow_mcp_servers: pick(p.allow_mcp_servers, base?.allow_mcp_servers),
    allow_package_managers: pick(p.allow_package_managers, base?.allow_package_managers),
    allowed_hosts:
      p.allowed_hosts === undefined ? [...(base?.allowed_hosts ?? [])] : [...(p.allowed_hosts ?? [])],
  };
}

function normalizePackages(
  p: PackagesParams | null | undefined,
  stored: BetaPackages | undefined,
): BetaPackages {
  if (p === undefined && stored) return stored;
  const out = emptyPackages();
  if (p == null) return out;
  for (const manager of PACKAGE_MANAGERS) {
    const sent = p[manager];
    out[manager] = sent === undefined ? [...(stored?.[manager] ?? [])] : [...(sent ?? [])];
  }
  return out;
}

function configProblems(config: EnvironmentFields["config"]): FieldProblem[] {
  if (config.type !== "cloud") return [];
  const hasPackages = PACKAGE_MANAGERS.some((m) => config.packages[m].length > 0);
  if (config.networking.type === "limited" && hasPackages && !config.networking.allow_package_managers) {
    return [
      {
        path: ["config", "packages"],
        message: "under limited networking, packages require networking.allow_package_managers to be true",
      },
    ];
  }
  return [];
}

/**
 * Config params → the stored configuration. With `stored` (an update) the type cannot change
 * (`invalid_config_type_change`), and cloud fields merge: omitted keeps, null takes the default.
 */
export function normalizeEnvironmentConfig(
  p: ConfigParams | null | undefined,
  stored?: EnvironmentFields["config"],
): EnvironmentFields["config"] {
  let out: EnvironmentFields["config"];
  if (p == null) {
    out = stored ?? defaultCloudConfig();
  } else {
    if (stored && stored.type !== p.type) {
      throw new CodedInvalidRequestError(
        `config.type: cannot change from ${stored.type} to ${p.type}; the type of an environment is fixed at creation`,
        ENVIRONMENT_ERROR_CODES.invalidConfigTypeChange,
      );
    }
    if (p.type === "self_hosted") {
      out = { type: "self_hosted" };
    } else {
      const base = stored?.type === "cloud" ? stored : undefined;
      out = {
        type: "cloud",
        networking: normalizeNetworking(p.networking, base?.networking),
        packages: normalizePackages(p.packages, base?.packages),
      };
    }
  }
  throwProblems(configProblems(out));
  return out;
}

/** Validated create params → the stored/response fields, with documented defaults. */
export function normalizeEnvironmentFields(params: EnvironmentCreate): EnvironmentFields {
  return {
    name: params.name,
    description: params.description ?? null,
    config: normalizeEnvironmentConfig(params.config),
    metadata: { ...(params.metadata ?? {}) },
    scope: params.scope ?? "organization",
  };
}

export interface EnvironmentUpdateResult {
  fields: EnvironmentFields;
  /** False when nothing differs (the service can skip the write and keep `updated_at`). */
  changed: boolean;
}

/**
 * Applies validated update params: omitted preserves; `description: null` clears (an empty string
 * is stored as is); `name`/`scope`/`config` null preserve (they cannot be cleared); metadata is a
 * patch where null or "" deletes a key; config merges as `normalizeEnvironmentConfig` describes.
 */
export function applyEnvironmentUpdate(
  current: EnvironmentFields,
  params: EnvironmentUpdate,
): EnvironmentUpdateResult {
  const next: EnvironmentFields = { ...current };
  if (params.name != null) next.name = params.name;
  if (params.description !== undefined) next.description = params.description;
  if (params.scope != null) next.scope = params.scope;
  if (params.config != null) next.config = normalizeEnvironmentConfig(params.config, current.config);
  if (params.metadata !== undefined) {
    next.metadata = applyMetadataPatch(current.metadata, params.metadata, {
      emptyDeletes: true,
      errorCode: ENVIRONMENT_ERROR_CODES.invalidMetadata,
    });
  }
  return { fields: next, changed: !deepEqual(current, next) };
}

export type { EnvironmentCreateParams, EnvironmentUpdateParams };

/**
 * `node:util`'s `isDeepStrictEqual`, taken on first use: importing `node:util` as an ES module
 * builds its ESM facade (every export read), ~5–10 ms of every Lambda cold start.
 */
function deepEqual(a: unknown, b: unknown): boolean {
  return process.getBuiltinModule("node:util").isDeepStrictEqual(a, b);
}
