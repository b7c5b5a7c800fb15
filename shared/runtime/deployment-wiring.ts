/**
 * Wires the deployments context from the services the container built (agents, environments,
 * sessions, events, files, memory stores, vaults): kept out of container.ts so the composition
 * root gains a few lines, not sixty.
 */
import { InvalidRequestError, NotFoundError } from "../contract/errors.js";
import type { AgentsService } from "../core/agents/agents-service.js";
import { DeploymentRepository, DeploymentRunRepository } from "../core/deployments/deployment-record.js";
import { DeploymentRunner, type RunChecks } from "../core/deployments/deployment-runner.js";
import {
  type DeploymentScheduleTrigger,
  unscheduledDeployments,
} from "../core/deployments/deployment-trigger.js";
import { type DeploymentReferences, DeploymentsService } from "../core/deployments/deployments-service.js";
import type { EnvironmentsService } from "../core/environments/environments-service.js";
import type { EventsService } from "../core/events/events-service.js";
import type { FilesService } from "../core/files/files-service.js";
import type { MemoryStoresService } from "../core/memory/memory-stores-service.js";
import { checkOutcomesFit, validateOutcome } from "../core/outcomes/outcome-lifecycle.js";
import type { StepDeps } from "../core/runtime/step-deps.js";
import type { SessionResourcesService } from "../core/sessions/session-resources.js";
import type { SessionsService } from "../core/sessions/sessions-service.js";

/** The services a deployment reaches (each as the container built it). */
export interface DeploymentServices {
  agents: AgentsService;
  environments: EnvironmentsService;
  sessions: SessionsService;
  events: EventsService;
  files?: FilesService;
  memoryStores: MemoryStoresService;
  sessionResources: SessionResourcesService;
  /** Vaults, where served: `retrieve` for a run's checks, `forSession` for a deployment's `vault_ids`. */
  vaults?: {
    retrieve(ws: string, id: string): Promise<{ archived_at: string | null }>;
    forSession(ws: string, ids: readonly string[]): Promise<string[]>;
  };
}

/** undefined for a NotFoundError (another workspace's resource is one too); anything else is thrown. */
async function orMissing<T>(lookup: Promise<T>): Promise<T | undefined> {
  try {
    return await lookup;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

export function buildDeployments(
  deps: StepDeps,
  trigger: DeploymentScheduleTrigger | undefined,
  s: DeploymentServices,
) {
  const schedules = trigger ?? unscheduledDeployments;
  const checks: RunChecks = {
    environment: async (ws, id) => {
      const environment = await orMissing(s.environments.retrieve(ws, id));
      return (
        environment && {
          archived: Boolean(environment.archived_at),
          selfHosted: environment.config.type === "self_hosted",
        }
      );
    },
    agent: async (ws, id, version) => {
      const latest = await orMissing(s.agents.retrieve(ws, id));
      const pinned = latest && (await orMissing(s.agents.retrieve(ws, id, version)));
      return latest && pinned && { archived: Boolean(latest.archived_at) };
    },
    file: async (ws, id) => Boolean(s.files && (await orMissing(s.files.retrieve(ws, id)))),
    memoryStore: async (ws, id) => {
      const store = await orMissing(s.memoryStores.retrieve(ws, id));
      return store && { archived: Boolean(store.archived_at) };
    },
    ...(s.vaults
      ? {
          vault: async (ws: string, id: string) => {
            const vault = await orMissing(
              (s.vaults as NonNullable<DeploymentServices["vaults"]>).retrieve(ws, id),
            );
            return vault && { archived: Boolean(vault.archived_at) };
          },
        }
      : {}),
  };
  const references: DeploymentReferences = {
    pinAgent: async (ws, ref) => {
      const id = typeof ref === "string" ? ref : ref.id;
      const latest = await s.agents.retrieve(ws, id);
      if (latest.archived_at) throw new InvalidRequestError(`agent: agent ${id} is archived`);
      const version = typeof ref === "string" ? undefined : ref.version;
      const pinned = version === undefined ? latest : await s.agents.retrieve(ws, id, version);
      return { id, version: pinned.version, model: pinned.model.id };
    },
    environment: async (ws, id) => {
      const environment = await s.environments.retrieve(ws, id);
      if (environment.archived_at)
        throw new InvalidRequestError(`environment_id: environment ${id} is archived`);
      return { selfHosted: environment.config.type === "self_hosted" };
    },
    resources: async (ws, resources) => {
      // Resolving checks each one as a new session would (exists, not archived, mountable); the
      // resolved copies are dropped: each run resolves them again into its own session.
      await s.sessionResources.resolve(ws, resources);
    },
    ...(s.vaults
      ? {
          vaults: async (ws: string, ids: readonly string[]) => {
            await (s.vaults as NonNullable<DeploymentServices["vaults"]>).forSession(ws, ids);
          },
        }
      : {}),
    initialEvents: async (ws, events) => {
      for (const [i, event] of events.entries())
        if (event.type === "user.define_outcome") validateOutcome(event, `initial_events.${i}`);
      // Outcomes no session's record could hold (the agent's snapshot comes on top at each run).
      checkOutcomesFit({ outcome_evaluations: [] }, events, "initial_events");
      await s.events.fileRubrics(ws, events, "initial_events");
    },
  };
  const runner = new DeploymentRunner({
    step: deps,
    sessions: s.sessions,
    events: s.events,
    checks,
    trigger: schedules,
  });
  const deployments = new DeploymentsService({
    repository: new DeploymentRepository(deps.store),
    runs: new DeploymentRunRepository(deps.store),
    runner,
    trigger: schedules,
    references,
    publisher: { domainEvents: deps.domainEvents, ids: deps.ids, clock: deps.clock, logger: deps.logger },
  });
  return { deployments, runner };
}

/** What `buildServices` takes as `ports.deploying`. */
export type DeploymentWiring = typeof buildDeployments;
export type Deploying = ReturnType<DeploymentWiring>;

/** The deployments context of a process that wired it (`ports.deploying`). */
export function deploymentsOf(services: { deploying?: Deploying }): Deploying {
  if (!services.deploying) throw new Error("deployments are not wired in this process (ports.deploying)");
  return services.deploying;
}
