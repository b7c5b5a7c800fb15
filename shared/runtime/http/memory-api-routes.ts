/**
 * The memory context of the API, served by the `api-memory` function: memory stores, memories and
 * their versions (with the snapshot extension), dreams and dream schedules.
 */
import type { ApiRoutes } from "./api.js";
import { addDreamRoutes } from "./dreams-routes.js";
import { addMemoryRoutes } from "./memory-routes.js";

export const memoryApiRoutes: readonly ApiRoutes[] = [
  (router, s) => addMemoryRoutes(router, s),
  (router, s) => s.dreams && addDreamRoutes(router, s.dreams, s.dreamSchedules),
];
