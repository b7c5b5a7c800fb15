/**
 * Wires the skills context from the container's step dependencies. Only the processes that serve
 * the API pass it (`Ports.skilling`): uploads, agent checks and session set-up need the zip and YAML
 * code, which the step, sweeper and worker bundles never carry (a running session reads its skills
 * through `core/skills/session-skills.ts` alone).
 */
import type { SessionAgent } from "../contract/sdk-types.js";
import { pinnedMembers } from "../core/multiagent/session-multiagent.js";
import type { FileBlobStore } from "../core/ports.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import { SessionSkillSetup } from "../core/skills/session-skill-setup.js";
import { type SkillReference, SkillsService } from "../core/skills/skills-service.js";

/** An agent of a coordinator's roster, by pinned reference (the agents service). */
export type RosterMemberResolver = (
  workspaceId: string,
  ref: { id: string; version: number },
) => Promise<SessionAgent>;

export function buildSkills(deps: StepDeps, blobs: FileBlobStore, resolveMember: RosterMemberResolver) {
  const service = new SkillsService({ store: deps.store, blobs, ids: deps.ids, clock: deps.clock });
  const setup = new SessionSkillSetup({ store: deps.store, workspace: deps.workspace }, service);
  return {
    service,
    /** Agent create / update: every named skill must be servable here. */
    checkAgentSkills: (workspaceId: string, skills: readonly SkillReference[]) =>
      service.checkReferences(workspaceId, skills),
    /** Session create: pin the skills of the agent and of its roster, lay out their files. */
    prepareSkills: async (
      workspaceId: string,
      sessionId: string,
      agent: SessionAgent,
      options: { selfHosted: boolean },
    ) =>
      setup.prepare(workspaceId, sessionId, agent, {
        members: await rosterOf(workspaceId, agent, resolveMember),
        copyFiles: !options.selfHosted,
      }),
  };
}

export type SkillsWiring = typeof buildSkills;

/**
 * The other agents a session may run (their skills are the session's too): a coordinator's roster,
 * or the predefined agents already copied into a `multiagent_20261001` session; none for other agents.
 */
async function rosterOf(workspaceId: string, agent: SessionAgent, resolve: RosterMemberResolver) {
  if (agent.multiagent?.type === "multiagent_20261001") return pinnedMembers(agent);
  if (agent.multiagent?.type !== "coordinator") return [];
  const members: SessionAgent[] = [];
  for (const entry of agent.multiagent.agents)
    if (entry.type === "agent")
      members.push(await resolve(workspaceId, { id: entry.id, version: entry.version }));
  return members;
}
