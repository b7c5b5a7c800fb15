/**
 * `multiagent_20261001` through the official SDK: agents saved with it (defaults, `self`, pinned
 * versions, at most 20 predefined agents, depth limit 1, advisor pairing) and updated with the
 * documented level-by-level merge; sessions that copy the resolved configuration at creation.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { messageOf, rejection } from "../fixtures/sdk-assertions.js";

type Multiagent = Anthropic.Beta.Agents.BetaManagedAgentsMultiagent20261001;

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ env: { REVERIE_MODEL_MAX_RETRIES: "0" } });
});
afterAll(async () => h.close());

const basic = (name: string, extra: Partial<Anthropic.Beta.Agents.AgentCreateParams> = {}) =>
  h.client.beta.agents.create({ name, model: "claude-sonnet-4-6", ...extra });
const ENABLED = { type: "enabled" } as const;
const DISABLED = { type: "disabled" } as const;

describe("agents with multiagent_20261001", () => {
  it("takes the documented defaults: subagents and workflows enabled with inline agents, no advisor", async () => {
    const agent = await basic("defaults", { multiagent: { type: "multiagent_20261001" } });
    expect(agent.multiagent).toEqual({
      type: "multiagent_20261001",
      advisor: DISABLED,
      subagents: { type: "enabled", inline_agents: ENABLED, predefined_agents: [] },
      workflows: { type: "enabled", inline_agents: ENABLED, predefined_agents: [] },
    });
    // null means "default", on create as well.
    const nulls = await basic("nulls", {
      multiagent: { type: "multiagent_20261001", advisor: null, subagents: null, workflows: null },
    });
    expect(nulls.multiagent).toEqual(agent.multiagent);
    expect(await h.client.beta.agents.retrieve(agent.id)).toEqual(agent);
  });

  it("pins predefined agents (id string, reference, self) to versions, each list on its own", async () => {
    const worker = await basic("worker");
    await h.client.beta.agents.update(worker.id, { version: 1, system: "v2" });
    const pinned = await basic("pinned");
    const lead = await basic("lead", {
      multiagent: {
        type: "multiagent_20261001",
        subagents: {
          type: "enabled",
          inline_agents: DISABLED,
          predefined_agents: [worker.id, { type: "agent", id: pinned.id, version: 1 }, { type: "self" }],
        },
        workflows: { type: "enabled", predefined_agents: [{ type: "agent", id: worker.id }] },
      },
    });
    expect(lead.multiagent).toEqual({
      type: "multiagent_20261001",
      advisor: DISABLED,
      subagents: {
        type: "enabled",
        inline_agents: DISABLED,
        predefined_agents: [
          { type: "agent", id: worker.id, version: 2 },
          { type: "agent", id: pinned.id, version: 1 },
          { type: "agent", id: lead.id, version: 1 },
        ],
      },
      workflows: {
        type: "enabled",
        inline_agents: ENABLED,
        predefined_agents: [{ type: "agent", id: worker.id, version: 2 }],
      },
    });
  });

  it("refuses what the SDK rules out, naming the field", async () => {
    const worker = await basic("leaf");
    const nested = await basic("nested", { multiagent: { type: "multiagent_20261001" } });
    const cases: Array<[Anthropic.Beta.Agents.AgentCreateParams["multiagent"], RegExp]> = [
      // at most 20 predefined agents
      [
        {
          type: "multiagent_20261001",
          subagents: {
            type: "enabled",
            predefined_agents: Array.from({ length: 21 }, () => ({ type: "self" })),
          },
        },
        /multiagent\.subagents\.predefined_agents/,
      ],
      // depth limit 1
      [
        { type: "multiagent_20261001", subagents: { type: "enabled", predefined_agents: [nested.id] } },
        new RegExp(`${nested.id}.*one level deep`),
      ],
      // distinct agents
      [
        {
          type: "multiagent_20261001",
          workflows: { type: "enabled", predefined_agents: [worker.id, worker.id] },
        },
        /multiagent\.workflows\.predefined_agents\.1/,
      ],
      // inline agents disabled: at least one predefined agent
      [
        { type: "multiagent_20261001", subagents: { type: "enabled", inline_agents: DISABLED } },
        /multiagent\.subagents\.predefined_agents: must name at least one agent when inline_agents is disabled/,
      ],
      // an enabled advisor needs its model, and must be permitted for the agent's model
      [{ type: "multiagent_20261001", advisor: { type: "enabled" } as never }, /multiagent\.advisor\.model/],
      [
        { type: "multiagent_20261001", advisor: { type: "enabled", model: "claude-haiku-4-5" } },
        /multiagent\.advisor\.model: claude-haiku-4-5 is not permitted as an advisor/,
      ],
      // every object sent needs its type
      [{ type: "multiagent_20261001", workflows: {} as never }, /multiagent\.workflows/],
    ];
    for (const [multiagent, pattern] of cases) {
      const error = await rejection(basic("bad", { multiagent }), Anthropic.BadRequestError);
      expect(messageOf(error)).toMatch(pattern);
    }
    const missing = await rejection(
      basic("lost", {
        multiagent: {
          type: "multiagent_20261001",
          subagents: { type: "enabled", predefined_agents: ["agent_doesnotexist"] },
        },
      }),
      Anthropic.NotFoundError,
    );
    expect(messageOf(missing)).toContain("agent_doesnotexist");
  });

  it("merges an update level by level: omitted keeps, null defaults, another type replaces, a sent list replaces", async () => {
    const [a, b] = await Promise.all([basic("a"), basic("b")]);
    const agent = await basic("merging", {
      multiagent: {
        type: "multiagent_20261001",
        advisor: { type: "enabled", model: "claude-opus-4-8" },
        subagents: { type: "enabled", inline_agents: DISABLED, predefined_agents: [a.id] },
        workflows: DISABLED,
      },
    });
    const update = (multiagent: Anthropic.Beta.Agents.AgentUpdateParams["multiagent"], version: number) =>
      h.client.beta.agents.update(agent.id, { version, multiagent });

    // A sent predefined_agents list replaces the stored list; inline_agents, advisor, workflows keep.
    const v2 = await update(
      { type: "multiagent_20261001", subagents: { type: "enabled", predefined_agents: [b.id] } },
      1,
    );
    expect(v2.version).toBe(2);
    expect(v2.multiagent).toEqual({
      type: "multiagent_20261001",
      advisor: { type: "enabled", model: "claude-opus-4-8" },
      subagents: {
        type: "enabled",
        inline_agents: DISABLED,
        predefined_agents: [{ type: "agent", id: b.id, version: 1 }],
      },
      workflows: DISABLED,
    });
    // null takes the default ("workflows": null enables workflows; advisor: null disables it).
    const v3 = await update({ type: "multiagent_20261001", workflows: null, advisor: null }, 2);
    expect((v3.multiagent as Multiagent).workflows).toEqual({
      type: "enabled",
      inline_agents: ENABLED,
      predefined_agents: [],
    });
    expect((v3.multiagent as Multiagent).advisor).toEqual(DISABLED);
    expect((v3.multiagent as Multiagent).subagents).toEqual(
      v2.multiagent && (v2.multiagent as Multiagent).subagents,
    );
    // An object of another type replaces the stored one; what it omits takes its default.
    const v4 = await update({ type: "multiagent_20261001", subagents: DISABLED }, 3);
    expect((v4.multiagent as Multiagent).subagents).toEqual(DISABLED);
    const v5 = await update({ type: "multiagent_20261001", subagents: ENABLED }, 4);
    expect((v5.multiagent as Multiagent).subagents).toEqual({
      type: "enabled",
      inline_agents: ENABLED,
      predefined_agents: [],
    });
    // The same configuration again changes nothing (no new version).
    const same = await update({ type: "multiagent_20261001" }, 5);
    expect(same.version).toBe(5);
    // Validation applies to the merged result.
    const error = await rejection(
      update({ type: "multiagent_20261001", subagents: { type: "enabled", inline_agents: DISABLED } }, 5),
      Anthropic.BadRequestError,
    );
    expect(messageOf(error)).toMatch(
      /multiagent\.subagents\.predefined_agents: must name at least one agent/,
    );
    // A coordinator replaces it outright; null clears it.
    const coordinator = await update({ type: "coordinator", agents: [a.id] }, 5);
    expect(coordinator.multiagent).toEqual({
      type: "coordinator",
      agents: [{ type: "agent", id: a.id, version: 1 }],
    });
    const cleared = await update(null, 6);
    expect(cleared.multiagent).toBeNull();
    // Old versions keep what they had.
    const old = await h.client.beta.agents.retrieve(agent.id, { version: 2 });
    expect(old.multiagent).toEqual(v2.multiagent);
  });
});

describe("sessions with multiagent_20261001", () => {
  it("start, with the configuration resolved and pinned: predefined agents copied as full definitions", async () => {
    const { environmentId } = await h.setup();
    const worker = await basic("pinned worker", {
      system: "v1",
      tools: [{ type: "agent_toolset_20260401" }],
    });
    const lead = await basic("pinning lead", {
      system: "LEAD",
      multiagent: {
        type: "multiagent_20261001",
        advisor: { type: "enabled", model: "claude-opus-4-8" },
        subagents: { type: "enabled", predefined_agents: [worker.id, { type: "self" }] },
        workflows: DISABLED,
      },
    });
    const session = await h.client.beta.sessions.create({ agent: lead.id, environment_id: environmentId });
    // A later change to the predefined agent does not reach the session.
    await h.client.beta.agents.update(worker.id, { version: 1, system: "v2" });
    const retrieved = await h.client.beta.sessions.retrieve(session.id);
    const multiagent = retrieved.agent
      .multiagent as Anthropic.Beta.Sessions.BetaManagedAgentsSessionMultiagent20261001;
    expect(multiagent.type).toBe("multiagent_20261001");
    expect(multiagent.advisor).toEqual({ type: "enabled", model: "claude-opus-4-8" });
    expect(multiagent.workflows).toEqual(DISABLED);
    const subagents =
      multiagent.subagents as Anthropic.Beta.Sessions.BetaManagedAgentsSessionMultiagentSubagentsEnabled;
    expect(subagents.inline_agents).toEqual(ENABLED);
    expect(subagents.predefined_agents).toEqual([
      expect.objectContaining({
        type: "agent",
        id: worker.id,
        version: 1,
        name: "pinned worker",
        system: "v1",
      }),
      expect.objectContaining({
        type: "agent",
        id: lead.id,
        version: 1,
        name: "pinning lead",
        system: "LEAD",
      }),
    ]);
    expect(subagents.predefined_agents[0]?.tools).toEqual(worker.tools);
    expect(retrieved).toEqual({ ...session, ...pick(retrieved, ["stats", "usage", "updated_at", "status"]) });
  });
});

function pick<T extends object>(value: T, keys: Array<keyof T>): Partial<T> {
  return Object.fromEntries(keys.map((k) => [k, value[k]])) as Partial<T>;
}
