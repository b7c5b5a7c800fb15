/**
 * A small method + path router. Paths are written as on the API (`/v1/sessions/{session_id}`) so a
 * route is found by its URL; `{name}` segments become params.
 */
import type { CredentialScope } from "../../core/auth/api-keys.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";

/** Which narrower credentials (besides workspace API keys) may call a route. */
export interface RouteOptions {
  public?: boolean;
  scopes?: ReadonlyArray<CredentialScope["kind"]>;
  /** The handler checks a sessions token's lease generation itself (heartbeat answers 412). */
  ownLeaseCheck?: boolean;
}

/** Routes a self-hosted worker's sessions token may call (for its own session and stores only). */
export const SESSION_SCOPE: RouteOptions = { scopes: ["session"] };

export type RouteHandler = (request: HttpRequest, params: Record<string, string>) => Promise<HttpResponse>;

interface Route {
  method: string;
  /** The path as written (`/v1/sessions/{session_id}`): what the request log names. */
  path: string;
  segments: string[];
  handler: RouteHandler;
  public: boolean;
  scopes: ReadonlyArray<CredentialScope["kind"]>;
  ownLeaseCheck: boolean;
}

export class Router {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: RouteHandler, options: RouteOptions = {}): this {
    this.routes.push({
      method,
      path,
      segments: path.split("/").filter(Boolean),
      handler,
      public: options.public ?? false,
      scopes: options.scopes ?? [],
      ownLeaseCheck: options.ownLeaseCheck ?? false,
    });
    return this;
  }

  /** Every route as `{method, path}` with `{param}` segments (docs, the API fuzzer). */
  list(): Array<{ method: string; path: string; public: boolean }> {
    return this.routes.map((r) => ({ method: r.method, path: `/${r.segments.join("/")}`, public: r.public }));
  }

  /** The route for a request, or why there is none (`not_found` / `method_not_allowed`). */
  match(
    method: string,
    path: string,
  ): { route: Route; params: Record<string, string> } | { miss: "not_found" | "method_not_allowed" } {
    const parts = path.split("/").filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      pathMatched = true;
      if (route.method === method) return { route, params };
    }
    return { miss: pathMatched ? "method_not_allowed" : "not_found" };
  }
}

function matchSegments(pattern: string[], parts: string[]): Record<string, string> | undefined {
  if (pattern.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, segment] of pattern.entries()) {
    const part = parts[i] as string;
    if (segment.startsWith("{") && segment.endsWith("}")) {
      try {
        params[segment.slice(1, -1)] = decodeURIComponent(part);
      } catch {
        return undefined;
      }
    } else if (segment !== part) return undefined;
  }
  return params;
}
