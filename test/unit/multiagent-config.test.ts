/**
 * `multiagent_20261001` configuration: advisor pairing (contract) and the session's resolved copy
 * (core/multiagent/session-multiagent.ts) — predefined agents pinned to full definitions, `self` the
 * session's own agent, archived or multiagent members refused, nothing else touched.
 */
import { describe, expect, test } from "vitest";
import {
  AgentCreateSchema,
  AgentUpdateSchema,
  applyAgentUpdate,
  type NormalizeAgentOptions,
  normalizeAgentFields,
} from "../../shared/contract/agents.js";
import { InvalidRequestError } from "../../shared/contract/errors.js";
import type { Agent } from "../../shared/contract/sdk-types.js";
import { parseBody } from "../../shared/contract/validation.js";
import {
  advisorModelOf,
  pinnedMembers,
  pinSessionMultiagent,
  subagentsOf,
  type UnpinnedSessionAgent,
} from "../../shared/core/multiagent/session-multiagent.js";

const create = (body: unknown) => parseBody(AgentCreateSchema, body);
const update = (body: unknown) => parseBody(AgentUpdateSchema, body);
const roster: NormalizeAgentOptions = {
  resolveAgent: (ref) =>
    ref.type === "self"
      ? { type: "agent", id: "agent_self", version: 1 }
      : { type: "agent", id: ref.id, version: ref.version ?? 3 },
};

function errorOf(fn: () => unknown): InvalidRequestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRequestError);
    return e as InvalidRequestError;
  }
  throw new Error("expected an InvalidRequestError");
}

const withAdvisor = (model: string, advisor: string) =>
  create({
    name: "a",
    model,
    multiagent: { type: "multiagent_20261001", advisor: { type: "enabled", model: advisor } },
  });

describe("advisor pairing", () => {
  test("an advisor at least as capable as the agent's model pairs", () => {
    const pairs: Array<[string, string]> = [
      ["claude-haiku-4-5", "claude-opus-4-8"],
      ["claude-sonnet-4-6", "claude-sonnet-4-6"],
      ["claude-opus-4-8", "claude-opus-5"],
      ["my-gateway-model", "claude-opus-4-8"],
    ];
    for (const [model, advisor] of pairs)
      expect(normalizeAgentFields(withAdvisor(model, advisor), roster).multiagent).toMatchObject({
        advisor: { type: "enabled", model: advisor },
      });
  });

  test("a Haiku advisor, or one less capable than the agent's model, is a 400 naming the field", () => {
    expect(
      errorOf(() => normalizeAgentFields(withAdvisor("claude-haiku-4-5", "claude-haiku-4-5"))).message,
    ).toBe(
      "multiagent.advisor.model: claude-haiku-4-5 is not permitted as an advisor (below the advisor capability bar)",
    );
    expect(
      errorOf(() => normalizeAgentFields(withAdvisor("claude-opus-4-8", "claude-sonnet-4-6"))).message,
    ).toBe(
      "multiagent.advisor.model: claude-sonnet-4-6 is not permitted as an advisor for claude-opus-4-8: the agent's model must not be more capable than its advisor",
    );
    expect(
      errorOf(() =>
        normalizeAgentFields(
          create({
            name: "c",
            model: "claude-opus-4-8",
            multiagent: { type: "coordinator", agents: [{ type: "advisor", model: "claude-haiku-4-5" }] },
          }),
        ),
      ).message,
    ).toMatch(/^multiagent\.agents\.0\.model: claude-haiku-4-5 is not permitted/);
  });

  test("the merged result is checked: a model update can break an existing pairing", () => {
    const current = normalizeAgentFields(withAdvisor("claude-sonnet-4-6", "claude-sonnet-4-6"), roster);
    expect(
      errorOf(() => applyAgentUpdate(current, update({ model: "claude-opus-4-8" }), roster)).message,
    ).toMatch(
      /^multiagent\.advisor\.model: claude-sonnet-4-6 is not permitted as an advisor for claude-opus-4-8/,
    );
    // Disabling the advisor in the same update makes the new model fine.
    const fixed = applyAgentUpdate(
      current,
      update({ model: "claude-opus-4-8", multiagent: { type: "multiagent_20261001", advisor: null } }),
      roster,
    );
    expect(fixed.fields.multiagent).toMatchObject({ advisor: { type: "disabled" } });
  });
});

const stored = (id: string, version: number, extra: Partial<Agent> = {}): Agent => ({
  id,
  version,
  type: "agent",
  name: `agent ${id}`,
  description: null,
  model: { id: "claude-haiku-4-5", effort: { type: "high" }, speed: "standard" },
  system: `system of ${id}@${version}`,
  tools: [],
  mcp_servers: [],
  skills: [],
  execution_identity: { type: "service_account" },
  multiagent: null,
  metadata: {},
  created_at: "2026-12-01T00:00:00Z",
  updated_at: "2026-12-01T00:00:00Z",
  archived_at: null,
  ...extra,
});

const owner = (multiagent: Agent["multiagent"]): UnpinnedSessionAgent => {
  const {
    metadata: _m,
    created_at: _c,
    updated_at: _u,
    archived_at: _a,
    ...rest
  } = stored("agent_lead", 2, {
    name: "lead",
    system: "overridden for this session",
    multiagent,
  });
  return rest;
};

describe("pinSessionMultiagent", () => {
  const lookups: string[] = [];
  const lookup = async (ref: { id: string; version: number }) => {
    lookups.push(`${ref.id}@${ref.version}`);
    if (ref.id === "agent_gone") return stored(ref.id, ref.version, { archived_at: "2026-12-01T01:00:00Z" });
    if (ref.id === "agent_boss")
      return stored(ref.id, ref.version, { multiagent: { type: "coordinator", agents: [] } });
    return stored(ref.id, ref.version);
  };

  test("predefined agents become full definitions at their pinned versions; self is the session's agent", async () => {
    lookups.length = 0;
    const agent = owner({
      type: "multiagent_20261001",
      advisor: { type: "enabled", model: "claude-opus-4-8" },
      subagents: {
        type: "enabled",
        inline_agents: { type: "disabled" },
        predefined_agents: [
          { type: "agent", id: "agent_w", version: 4 },
          { type: "agent", id: "agent_lead", version: 2 },
        ],
      },
      workflows: { type: "disabled" },
    });
    const pinned = await pinSessionMultiagent(agent, lookup);
    expect(lookups).toEqual(["agent_w@4"]);
    expect(pinned.multiagent).toEqual({
      type: "multiagent_20261001",
      advisor: { type: "enabled", model: "claude-opus-4-8" },
      subagents: {
        type: "enabled",
        inline_agents: { type: "disabled" },
        predefined_agents: [
          expect.objectContaining({
            type: "agent",
            id: "agent_w",
            version: 4,
            system: "system of agent_w@4",
          }),
          expect.objectContaining({
            type: "agent",
            id: "agent_lead",
            version: 2,
            system: "overridden for this session",
          }),
        ],
      },
      workflows: { type: "disabled" },
    });
    // Thread definitions carry exactly the SDK's SessionThreadAgent fields.
    const subagents = subagentsOf(pinned);
    expect(Object.keys(subagents?.predefined[0] ?? {}).sort()).toEqual([
      "description",
      "execution_identity",
      "id",
      "mcp_servers",
      "model",
      "name",
      "skills",
      "system",
      "tools",
      "type",
      "version",
    ]);
    expect(subagents?.inline).toBe(false);
    expect(advisorModelOf(pinned)).toBe("claude-opus-4-8");
    expect(pinnedMembers(pinned).map((m) => [m.id, m.multiagent])).toEqual([
      ["agent_w", null],
      ["agent_lead", null],
    ]);
    // Everything but multiagent is the agent as given.
    expect({ ...pinned, multiagent: null }).toEqual({ ...agent, multiagent: null });
  });

  test("an archived or multiagent predefined agent is a 400 naming the entry", async () => {
    const list = (id: string) =>
      owner({
        type: "multiagent_20261001",
        advisor: { type: "disabled" },
        subagents: { type: "disabled" },
        workflows: {
          type: "enabled",
          inline_agents: { type: "enabled" },
          predefined_agents: [{ type: "agent", id, version: 1 }],
        },
      });
    await expect(pinSessionMultiagent(list("agent_gone"), lookup)).rejects.toThrow(
      "agent.multiagent.workflows.predefined_agents.0: agent agent_gone is archived",
    );
    await expect(pinSessionMultiagent(list("agent_boss"), lookup)).rejects.toThrow(/one level deep/);
  });

  test("other configurations pass through untouched", async () => {
    lookups.length = 0;
    const none = owner(null);
    expect(await pinSessionMultiagent(none, lookup)).toEqual(none);
    const coordinator = owner({
      type: "coordinator",
      agents: [{ type: "agent", id: "agent_w", version: 1 }],
    });
    expect(await pinSessionMultiagent(coordinator, lookup)).toEqual(coordinator);
    expect(lookups).toEqual([]);
    expect(subagentsOf(coordinator as never)).toBeUndefined();
    expect(advisorModelOf(coordinator as never)).toBeUndefined();
    // A coordinator roster's advisor entry is the primary thread's advisor too.
    const advised = owner({ type: "coordinator", agents: [{ type: "advisor", model: "claude-opus-4-8" }] });
    expect(advisorModelOf((await pinSessionMultiagent(advised, lookup)) as never)).toBe("claude-opus-4-8");
  });
});
