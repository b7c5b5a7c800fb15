/**
 * Hash routing (`#/sessions/sesn_…?event=sevt_…`): the console is static files, so every view has a
 * linkable address without the server knowing the routes.
 */
import { useEffect, useState } from "preact/hooks";

export interface Route {
  parts: string[];
  query: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const raw = hash.replace(/^#\/?/, "");
  const [path = "", search = ""] = raw.split("?");
  return {
    parts: path.split("/").filter(Boolean).map(decodeURIComponent),
    query: new URLSearchParams(search),
  };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseRoute(location.hash));
    addEventListener("hashchange", update);
    return () => removeEventListener("hashchange", update);
  }, []);
  return route;
}

/** A console address, e.g. `href("sessions", id)` → `#/sessions/<id>`. */
export function href(...parts: Array<string | Record<string, string | undefined>>): string {
  const path: string[] = [];
  const query = new URLSearchParams();
  for (const part of parts) {
    if (typeof part === "string") path.push(encodeURIComponent(part));
    else for (const [k, v] of Object.entries(part)) if (v !== undefined) query.set(k, v);
  }
  const q = query.toString();
  return `#/${path.join("/")}${q ? `?${q}` : ""}`;
}

/** Where a session event lives in the console (a thread's own timeline when it has one). */
export function eventHref(sessionId: string, eventId: string, threadId?: string | null): string {
  return threadId
    ? href("sessions", sessionId, "threads", threadId, { event: eventId })
    : href("sessions", sessionId, { event: eventId });
}
