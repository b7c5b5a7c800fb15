/**
 * `node:http` or `node:https` for a URL's protocol, taken with `process.getBuiltinModule` on first
 * use. Importing either as an ES module (`import http from "node:http"`) makes Node build its ESM
 * facade, which reads every export — `http`'s lazy WebSocket getters included, which load undici:
 * ~25 ms of every Lambda cold start (over 100 ms on a busy machine), paid by every function that
 * bundles a guarded fetch or the webhook sender, whether or not the invocation makes a request.
 */
import type * as Http from "node:http";
import type * as Https from "node:https";

export function nodeHttpModule(protocol: string): typeof Http | typeof Https {
  return protocol === "https:"
    ? process.getBuiltinModule("node:https")
    : process.getBuiltinModule("node:http");
}
