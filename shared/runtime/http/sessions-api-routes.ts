/**
 * The sessions context of the API, served by the `api` function: agents, environments (with
 * self-hosted work and environment keys), sessions and their events, threads, resources and
 * outcome evaluations. The SSE streams (a session's, a thread's) are what `api-stream` serves.
 */
import { addAgentRoutes } from "./agents-routes.js";
import type { ApiRoutes } from "./api.js";
import { addEnvironmentRoutes } from "./environments-routes.js";
import { addEventRoutes } from "./events-routes.js";
import { addOutcomeRoutes } from "./outcomes-routes.js";
import { addSessionResourceRoutes } from "./session-resources-routes.js";
import { addSessionRoutes } from "./sessions-routes.js";
import { addThreadRoutes } from "./threads-routes.js";
import { addWorkRoutes } from "./work-routes.js";

export const sessionsApiRoutes: readonly ApiRoutes[] = [
  (router, s) => addAgentRoutes(router, s.agents),
  (router, s) => addEnvironmentRoutes(router, s.environments),
  (router, s) => addSessionRoutes(router, s.sessions),
  (router, s) => addEventRoutes(router, s.events),
  (router, s) => s.work && addWorkRoutes(router, s.work.service, s.work.keys),
  (router, s) => s.threads && addThreadRoutes(router, s.threads),
  (router, s) => addSessionResourceRoutes(router, s.sessionResources),
  (router, s) => s.outcomes && addOutcomeRoutes(router, s.outcomes),
];

/** What `api-stream` serves: a session's and a thread's event streams (and the rest of their routes). */
export const eventStreamApiRoutes: readonly ApiRoutes[] = [
  (router, s) => addEventRoutes(router, s.events),
  (router, s) => s.threads && addThreadRoutes(router, s.threads),
];
