/**
 * The API's route modules are split over three Lambda functions by bounded context; API Gateway
 * sends a path to a function by its top-level collection (shared/infra-spec/rest-api.ts). This keeps
 * the two in step: every route of a module group is one that API Gateway sends to the function
 * serving that group, and together the groups are every route the embedded stack serves.
 */
import { describe, expect, it } from "vitest";
import { type RestApiFunction, restApiFunctionOf } from "../../shared/infra-spec/rest-api.js";
import { allApiRoutes } from "../../shared/runtime/http/all-api-routes.js";
import { type ApiRoutes, type ApiServices, createApi } from "../../shared/runtime/http/api.js";
import { memoryApiRoutes } from "../../shared/runtime/http/memory-api-routes.js";
import { eventStreamApiRoutes, sessionsApiRoutes } from "../../shared/runtime/http/sessions-api-routes.js";
import { workspaceApiRoutes } from "../../shared/runtime/http/workspace-api-routes.js";

/** Services that are all present (routes are only added, never called, here). */
const everyService = new Proxy({} as Record<string, unknown>, {
  get: (_target, name) => (name === "then" ? undefined : new Proxy({}, { get: () => ({}) })),
}) as unknown as ApiServices;

const pathsOf = (routes: readonly ApiRoutes[]) =>
  createApi(everyService, routes)
    .router.list()
    .filter((r) => r.path !== "/health")
    .map((r) => `${r.method} ${r.path}`);

describe("the API split over Lambda functions", () => {
  const groups: Array<[RestApiFunction, readonly ApiRoutes[]]> = [
    ["api", sessionsApiRoutes],
    ["api-memory", memoryApiRoutes],
    ["api-workspace", workspaceApiRoutes],
  ];

  it.each(groups)("every route of %s's modules is routed to it by API Gateway", (name, routes) => {
    const paths = pathsOf(routes);
    expect(paths.length).toBeGreaterThan(5);
    for (const route of paths) expect(restApiFunctionOf(route.split(" ")[1] as string), route).toBe(name);
  });

  it("the three groups are every route the embedded stack serves, each once", () => {
    const split = groups.flatMap(([, routes]) => pathsOf(routes));
    const all = pathsOf(allApiRoutes);
    expect(new Set(split).size).toBe(split.length);
    expect([...split].sort()).toEqual([...all].sort());
  });

  it("api-stream serves the events routes of a session, the stream among them", () => {
    expect(pathsOf(eventStreamApiRoutes)).toContain("GET /v1/sessions/{session_id}/events/stream");
  });
});
