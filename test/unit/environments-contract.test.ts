import { describe, expect, test } from "vitest";
import {
  applyEnvironmentUpdate,
  type EnvironmentFields,
  EnvironmentListQuerySchema,
  normalizeEnvironmentFields,
  parseEnvironmentCreate,
  parseEnvironmentUpdate,
} from "../../shared/contract/environments.js";
import { InvalidRequestError } from "../../shared/contract/errors.js";
import { CodedInvalidRequestError, parseQuery } from "../../shared/contract/validation.js";

function errorOf(fn: () => unknown): InvalidRequestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRequestError);
    return e as InvalidRequestError;
  }
  throw new Error("expected an InvalidRequestError");
}

const create = (body: unknown) => normalizeEnvironmentFields(parseEnvironmentCreate(body));
const update = (current: EnvironmentFields, body: unknown) =>
  applyEnvironmentUpdate(current, parseEnvironmentUpdate(body));

const emptyPackages = { type: "packages" as const, apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] };

describe("EnvironmentCreateSchema: valid bodies", () => {
  test("name only: a cloud environment with unrestricted networking and no packages", () => {
    expect(create({ name: "python-dev" })).toEqual({
      name: "python-dev",
      description: null,
      config: { type: "cloud", networking: { type: "unrestricted" }, packages: emptyPackages },
      metadata: {},
      scope: "organization",
    } satisfies EnvironmentFields);
  });

  test("docs example: cloud with packages and unrestricted networking", () => {
    const fields = create({
      name: "data-analysis",
      config: {
        type: "cloud",
        packages: { pip: ["pandas", "numpy", "scikit-learn==1.5.0"], npm: ["express"] },
        networking: { type: "unrestricted" },
      },
    });
    expect(fields.config).toEqual({
      type: "cloud",
      networking: { type: "unrestricted" },
      packages: { ...emptyPackages, pip: ["pandas", "numpy", "scikit-learn==1.5.0"], npm: ["express"] },
    });
  });

  test("limited networking: omitted fields take their defaults", () => {
    expect(
      create({ name: "locked", config: { type: "cloud", networking: { type: "limited" } } }).config,
    ).toEqual({
      type: "cloud",
      networking: {
        type: "limited",
        allow_mcp_servers: false,
        allow_package_managers: false,
        allowed_hosts: [],
      },
      packages: emptyPackages,
    });
    expect(
      create({
        name: "locked",
        config: {
          type: "cloud",
          networking: {
            type: "limited",
            allowed_hosts: ["api.example.com", "*.internal.example.com"],
            allow_package_managers: true,
          },
          packages: { apt: ["ripgrep"] },
        },
        description: "d",
        metadata: { team: "data" },
        scope: "organization",
      }),
    ).toMatchObject({
      description: "d",
      metadata: { team: "data" },
      config: {
        networking: {
          allowed_hosts: ["api.example.com", "*.internal.example.com"],
          allow_package_managers: true,
        },
        packages: { apt: ["ripgrep"] },
      },
    });
  });

  test("self_hosted is stored as typed; config null means the default", () => {
    expect(create({ name: "mine", config: { type: "self_hosted" } }).config).toEqual({ type: "self_hosted" });
    expect(create({ name: "default", config: null }).config.type).toBe("cloud");
  });
});

describe("EnvironmentCreateSchema: invalid bodies", () => {
  test.each<[string, unknown, string]>([
    ["missing name", {}, "name: required"],
    ["empty name", { name: "" }, "name: must not be empty"],
    ["unknown field", { name: "e", region: "eu" }, "region: unknown field"],
    [
      "unknown config type",
      { name: "e", config: { type: "docker" } },
      "config.type: expected one of cloud, self_hosted",
    ],
    [
      "extra field on self_hosted",
      { name: "e", config: { type: "self_hosted", image: "x" } },
      "config.image: unknown field",
    ],
    [
      "unknown networking type",
      { name: "e", config: { type: "cloud", networking: { type: "open" } } },
      "config.networking.type: expected one of unrestricted, limited",
    ],
    [
      "allowed host with a scheme",
      {
        name: "e",
        config: { type: "cloud", networking: { type: "limited", allowed_hosts: ["https://a.com/x"] } },
      },
      "config.networking.allowed_hosts.0: must be a host like api.example.com",
    ],
    [
      "package list of the wrong type",
      { name: "e", config: { type: "cloud", packages: { pip: "pandas" } } },
      "config.packages.pip: expected array, received string",
    ],
    [
      "package that looks like an option",
      { name: "e", config: { type: "cloud", packages: { pip: ["--index-url=http://evil"] } } },
      "config.packages.pip.0: must be a package name (no whitespace, not starting with -)",
    ],
    [
      "unknown package manager",
      { name: "e", config: { type: "cloud", packages: { brew: ["x"] } } },
      "config.packages.brew: unknown field",
    ],
    ["account scope", { name: "e", scope: "account" }, "scope: only 'organization' is supported"],
    ["bad scope", { name: "e", scope: "global" }, "scope: expected one of organization, account"],
    [
      "packages under limited networking without package managers",
      {
        name: "e",
        config: { type: "cloud", networking: { type: "limited" }, packages: { pip: ["pandas"] } },
      },
      "config.packages: under limited networking, packages require networking.allow_package_managers to be true",
    ],
  ])("%s", (_name, body, message) => {
    const error = errorOf(() => create(body));
    expect(error.status).toBe(400);
    expect(error.message).toContain(message);
  });

  test("metadata problems carry error_code invalid_metadata (the SDK's BetaInvalidMetadataError)", () => {
    const error = errorOf(() =>
      create({
        name: "e",
        metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"])),
      }),
    );
    expect(error).toBeInstanceOf(CodedInvalidRequestError);
    expect(error.message).toBe("metadata: must have at most 16 keys (got 17)");
    expect(error.toBody("req_1")).toEqual({
      type: "error",
      error: {
        type: "invalid_request_error",
        message: "metadata: must have at most 16 keys (got 17)",
        details: { error_code: "invalid_metadata" },
      },
      request_id: "req_1",
    });
    expect(
      errorOf(() => create({ name: "e", metadata: { k: "v".repeat(513) } })).toBody("r").error,
    ).toMatchObject({
      details: { error_code: "invalid_metadata" },
    });
  });

  test("mixed problems are a plain invalid_request_error", () => {
    const error = errorOf(() => create({ metadata: { k: 1 } }));
    expect(error).not.toBeInstanceOf(CodedInvalidRequestError);
    expect(error.message).toBe("name: required; metadata.k: expected string, received number");
  });
});

describe("applyEnvironmentUpdate", () => {
  const current = () =>
    create({
      name: "env",
      description: "d",
      metadata: { a: "1", b: "2" },
      config: {
        type: "cloud",
        networking: { type: "limited", allowed_hosts: ["api.example.com"], allow_package_managers: true },
        packages: { pip: ["pandas"], npm: ["express"] },
      },
    });

  test("SDK example: an empty update changes nothing", () => {
    const before = current();
    expect(update(before, {})).toEqual({ fields: before, changed: false });
  });

  test("description: omitted keeps, null clears, empty string is stored as is", () => {
    expect(update(current(), { name: "renamed" }).fields.description).toBe("d");
    expect(update(current(), { description: null }).fields.description).toBeNull();
    expect(update(current(), { description: "" }).fields.description).toBe("");
  });

  test("name and scope: null keeps the stored value", () => {
    expect(update(current(), { name: null, scope: null })).toMatchObject({
      changed: false,
      fields: { name: "env" },
    });
    expect(update(current(), { name: "renamed" })).toMatchObject({
      changed: true,
      fields: { name: "renamed" },
    });
  });

  test("metadata: null or empty string deletes a key", () => {
    expect(update(current(), { metadata: { a: null, b: "", c: "3" } }).fields.metadata).toEqual({ c: "3" });
    const many = Object.fromEntries(Array.from({ length: 15 }, (_, i) => [`k${i}`, "v"]));
    const error = errorOf(() => update(current(), { metadata: many }));
    expect(error.toBody("r").error).toMatchObject({ details: { error_code: "invalid_metadata" } });
  });

  test("cloud config merges: omitted fields keep, sent fields replace, null resets", () => {
    const { fields, changed } = update(current(), {
      config: {
        type: "cloud",
        networking: { type: "limited", allow_mcp_servers: true },
        packages: { pip: ["numpy"], npm: null },
      },
    });
    expect(changed).toBe(true);
    expect(fields.config).toEqual({
      type: "cloud",
      networking: {
        type: "limited",
        allow_mcp_servers: true,
        allow_package_managers: true,
        allowed_hosts: ["api.example.com"],
      },
      packages: { ...emptyPackages, pip: ["numpy"] },
    });
    expect(update(current(), { config: { type: "cloud" } }).changed).toBe(false);
    expect(
      update(current(), { config: { type: "cloud", networking: null, packages: null } }).fields.config,
    ).toEqual({
      type: "cloud",
      networking: { type: "unrestricted" },
      packages: emptyPackages,
    });
  });

  test("the merged config is validated", () => {
    expect(
      errorOf(() =>
        update(current(), {
          config: { type: "cloud", networking: { type: "limited", allow_package_managers: false } },
        }),
      ).message,
    ).toBe(
      "config.packages: under limited networking, packages require networking.allow_package_managers to be true",
    );
  });

  test("the config type cannot change (invalid_config_type_change)", () => {
    const error = errorOf(() => update(current(), { config: { type: "self_hosted" } }));
    expect(error).toBeInstanceOf(CodedInvalidRequestError);
    expect(error.message).toBe(
      "config.type: cannot change from cloud to self_hosted; the type of an environment is fixed at creation",
    );
    expect(error.toBody("r").error).toMatchObject({ details: { error_code: "invalid_config_type_change" } });
  });

  test("update bodies are validated like create bodies", () => {
    expect(errorOf(() => parseEnvironmentUpdate({ name: "" })).message).toBe("name: must not be empty");
    expect(errorOf(() => parseEnvironmentUpdate({ colour: "red" })).message).toBe("colour: unknown field");
    expect(errorOf(() => parseEnvironmentUpdate({ metadata: null })).message).toBe(
      "metadata: expected object, received null",
    );
  });
});

describe("EnvironmentListQuerySchema", () => {
  const list = (query: Record<string, string>) => parseQuery(EnvironmentListQuerySchema, query);

  test("defaults and values", () => {
    expect(list({})).toEqual({ limit: 20, include_archived: false });
    expect(list({ limit: "1", page: "p", include_archived: "true", beta: "true" })).toEqual({
      limit: 1,
      page: "p",
      include_archived: true,
    });
  });

  test("bad values are 400s naming the parameter", () => {
    expect(errorOf(() => list({ limit: "500" })).message).toBe("limit: must be at most 100");
    expect(errorOf(() => list({ include_archived: "1" })).message).toBe(
      "include_archived: expected one of true, false",
    );
  });
});
