/**
 * /v1/environments through the official SDK against the embedded stack: create (cloud by default),
 * retrieve, update, list, archive, delete, self-hosted configs, and what sessions accept.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Environment = Anthropic.Beta.Environments.BetaEnvironment;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

async function listIds(params: Anthropic.Beta.Environments.EnvironmentListParams = {}) {
  const ids: string[] = [];
  for await (const e of h.client.beta.environments.list({ limit: 50, ...params })) ids.push(e.id);
  return ids;
}

describe("environments", () => {
  it("creates a cloud environment by default, with unrestricted networking and no packages", async () => {
    const env = await h.client.beta.environments.create({ name: "default-env" });
    expect(env.id).toMatch(/^env_/);
    expect(env.type).toBe("environment");
    expect(env.name).toBe("default-env");
    expect(env.description).toBeNull();
    expect(env.metadata).toEqual({});
    expect(env.archived_at).toBeNull();
    expect(Date.parse(env.created_at)).not.toBeNaN();
    expect(env.config.type).toBe("cloud");
    const config = env.config as Anthropic.Beta.Environments.BetaCloudConfig;
    expect(config.networking).toEqual({ type: "unrestricted" });
    expect(config.packages).toMatchObject({ apt: [], cargo: [], gem: [], go: [], npm: [], pip: [] });
    expect(await h.client.beta.environments.retrieve(env.id)).toEqual(env);
  });

  it("stores a full cloud config, description and metadata", async () => {
    const env = await h.client.beta.environments.create({
      name: "configured",
      description: "for data work",
      metadata: { owner: "data" },
      config: {
        type: "cloud",
        networking: { type: "limited", allowed_hosts: ["api.example.com"], allow_package_managers: true },
        packages: { pip: [], npm: [] },
      },
    });
    expect(env.description).toBe("for data work");
    expect(env.metadata).toEqual({ owner: "data" });
    const config = env.config as Anthropic.Beta.Environments.BetaCloudConfig;
    expect(config.networking).toMatchObject({
      type: "limited",
      allowed_hosts: ["api.example.com"],
      allow_package_managers: true,
    });
    expect(config.packages).toMatchObject({ pip: [], npm: [], apt: [] });
    expect(await h.client.beta.environments.retrieve(env.id)).toEqual(env);
  });

  it("refuses packages it would not install, with a clear 400 (at create and update)", async () => {
    const error = await rejection(
      h.client.beta.environments.create({
        name: "wants-pandas",
        config: { type: "cloud", networking: { type: "unrestricted" }, packages: { pip: ["pandas"] } },
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toMatch(/config\.packages: .*does not preinstall packages \(pip\)/);
    const env = await h.client.beta.environments.create({ name: "plain" });
    await rejection(
      h.client.beta.environments.update(env.id, {
        config: { type: "cloud", packages: { npm: ["left-pad"] } },
      }),
      Anthropic.BadRequestError,
    );
  });

  it("stores a self_hosted config", async () => {
    const env = await h.client.beta.environments.create({ name: "on-prem", config: { type: "self_hosted" } });
    expect(env.config).toEqual({ type: "self_hosted" });
    expect((await h.client.beta.environments.retrieve(env.id)).config).toEqual({ type: "self_hosted" });
  });

  it("updates name, description and metadata (null deletes a key); omitted fields are preserved", async () => {
    const env = await h.client.beta.environments.create({
      name: "before",
      description: "d",
      metadata: { a: "1", b: "2" },
    });
    const updated = await h.client.beta.environments.update(env.id, {
      name: "after",
      metadata: { a: null, c: "3" },
    });
    expect(updated.id).toBe(env.id);
    expect(updated.name).toBe("after");
    expect(updated.description).toBe("d");
    expect(updated.metadata).toEqual({ b: "2", c: "3" });
    expect(updated.created_at).toBe(env.created_at);
    expect(Date.parse(updated.updated_at)).toBeGreaterThanOrEqual(Date.parse(env.updated_at));
    expect(await h.client.beta.environments.retrieve(env.id)).toEqual(updated);

    const cleared = await h.client.beta.environments.update(env.id, { description: null });
    expect(cleared.description).toBeNull();
    expect(cleared.name).toBe("after");
  });

  it("lists with pagination and hides archived environments unless asked", async () => {
    const mine: Environment[] = [];
    for (let i = 0; i < 4; i++) mine.push(await h.client.beta.environments.create({ name: `page-${i}` }));
    const first = await h.client.beta.environments.list({ limit: 2 });
    expect(first.data).toHaveLength(2);
    expect(first.hasNextPage()).toBe(true);
    const all: string[] = [];
    for await (const e of h.client.beta.environments.list({ limit: 2 })) all.push(e.id);
    expect(new Set(all).size).toBe(all.length);
    for (const e of mine) expect(all).toContain(e.id);

    const archived = await h.client.beta.environments.archive(mine[0]?.id as string);
    expect(archived.archived_at).not.toBeNull();
    expect(Date.parse(archived.archived_at as string)).not.toBeNaN();
    expect(await listIds()).not.toContain(archived.id);
    expect(await listIds({ include_archived: true })).toContain(archived.id);
    // still retrievable, and archiving again changes nothing
    expect((await h.client.beta.environments.retrieve(archived.id)).archived_at).toBe(archived.archived_at);
    expect((await h.client.beta.environments.archive(archived.id)).archived_at).toBe(archived.archived_at);
  });

  it("deletes: environment_deleted, then 404", async () => {
    const env = await h.client.beta.environments.create({ name: "doomed" });
    const deleted = await h.client.beta.environments.delete(env.id);
    expect(deleted).toEqual({ id: env.id, type: "environment_deleted" });
    await rejection(h.client.beta.environments.retrieve(env.id), Anthropic.NotFoundError);
    expect(await listIds({ include_archived: true })).not.toContain(env.id);
    await rejection(h.client.beta.environments.delete(env.id), Anthropic.NotFoundError);
  });

  it("answers 404 for unknown ids on every route", async () => {
    const id = "env_0000000000000000000000";
    const calls: Array<() => Promise<unknown>> = [
      () => h.client.beta.environments.retrieve(id),
      () => h.client.beta.environments.update(id, { name: "x" }),
      () => h.client.beta.environments.archive(id),
      () => h.client.beta.environments.delete(id),
    ];
    for (const call of calls) {
      const error = await rejection(call(), Anthropic.NotFoundError);
      expect(messageOf(error)).toContain(id);
    }
  });

  it("rejects invalid bodies with 400 naming the field", async () => {
    const noName = await rejection(
      h.client.beta.environments.create({} as Anthropic.Beta.Environments.EnvironmentCreateParams),
      Anthropic.BadRequestError,
    );
    expect(messageOf(noName)).toContain("name");
    const badConfig = await rejection(
      h.client.beta.environments.create({
        name: "bad",
        config: { type: "moon" } as unknown as Anthropic.Beta.Environments.BetaCloudConfigParams,
      }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(badConfig)).toContain("config");
  });
});

describe("sessions and environments", () => {
  it("runs sessions on a self_hosted environment, but refuses what its worker cannot serve with a clear 400", async () => {
    const { agentId } = await h.setup();
    const env = await h.client.beta.environments.create({ name: "runner", config: { type: "self_hosted" } });
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: env.id });
    expect(session.environment_id).toBe(env.id);
    const helper = await h.client.beta.agents.create({ name: "helper", model: "claude-sonnet-4-6" });
    const coordinator = await h.client.beta.agents.create({
      name: "lead",
      model: "claude-sonnet-4-6",
      multiagent: { type: "coordinator", agents: [helper.id] },
    });
    const error = await rejection(
      h.client.beta.sessions.create({ agent: coordinator.id, environment_id: env.id }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toMatch(/multiagent.*self_hosted/);
  });

  it("refuses a session on an archived environment with 400, and on an unknown one with 404", async () => {
    const { agentId, environmentId } = await h.setup();
    await h.client.beta.environments.archive(environmentId);
    const error = await rejection(
      h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId }),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toContain("archived");
    await rejection(
      h.client.beta.sessions.create({ agent: agentId, environment_id: "env_0000000000000000000000" }),
      Anthropic.NotFoundError,
    );
  });

  it("runs a session on a cloud environment", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    expect(session.environment_id).toBe(environmentId);
  });
});
