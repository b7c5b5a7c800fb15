/**
 * Where one session's wall time goes, in order: milestones of a turn read off Node's HTTP diagnostics
 * channels (the client's POST reaching the API and answered, each model call reaching the mock
 * server and answered) and the SSE stream's writes, against the client's own clock (send, idle seen)
 * and the step queue drained. One thread runs the client, the stack and the mock model here, so a
 * gap between two milestones is CPU work of whichever of them ran in it, not waiting.
 */
import { subscribe, unsubscribe } from "node:diagnostics_channel";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { ReverieSystem } from "./reverie.js";
import { now } from "./stats.js";

export interface TimelineMark {
  /** e.g. `API POST events in`, `model call 1 answered`, `SSE session.status_idle written`. */
  label: string;
  /** Median ms since the client called `events.send`, over the sessions where the mark was seen. */
  msSinceSend: number;
}

interface ServerMessage {
  request: IncomingMessage;
  response: ServerResponse;
}

/** What a server request is, by its path: the turn's POST, a model call, or the event stream. */
function kindOf(request: IncomingMessage): "events" | "model" | "stream" | undefined {
  const url = request.url ?? "";
  if (request.method === "POST" && /\/v1\/sessions\/[^/]+\/events(\?|$)/.test(url)) return "events";
  if (request.method === "POST" && url.startsWith("/v1/messages")) return "model";
  if (request.method === "GET" && /\/v1\/sessions\/[^/]+\/events\/stream/.test(url)) return "stream";
  return undefined;
}

/** Runs `sessions` timed turns (SSE client) and returns each milestone's median time since send. */
export async function sessionTimeline(reverie: ReverieSystem, sessions: number): Promise<TimelineMark[]> {
  let marks: Array<[string, number]> = [];
  let modelCalls = 0;
  const modelCallOf = new WeakMap<IncomingMessage, number>();
  const mark = (label: string) => marks.push([label, now()]);
  const onStart = (message: unknown) => {
    const { request, response } = message as ServerMessage;
    const kind = kindOf(request);
    if (kind === "events") mark("API: POST events received");
    else if (kind === "model") {
      modelCallOf.set(request, ++modelCalls);
      mark(`model call ${modelCalls} received`);
    } else if (kind === "stream") {
      // the stream opened before the turn: only what it writes during the turn is marked
      const write = response.write.bind(response) as (...args: unknown[]) => boolean;
      response.write = ((chunk: unknown, ...rest: unknown[]) => {
        const type = /"type":"([a-z_.]+)"/.exec(String(chunk))?.[1];
        if (type === "session.status_idle" || type === "agent.tool_use") mark(`SSE: ${type} written`);
        return write(chunk, ...rest);
      }) as typeof response.write;
    }
  };
  const onFinish = (message: unknown) => {
    const { request } = message as ServerMessage;
    const kind = kindOf(request);
    if (kind === "events") mark("API: POST events answered");
    else if (kind === "model") mark(`model call ${modelCallOf.get(request)} answered`);
  };
  subscribe("http.server.request.start", onStart);
  subscribe("http.server.response.finish", onFinish);
  const seen = new Map<string, number[]>();
  try {
    for (let i = 0; i < sessions; i++) {
      const prepared = await reverie.prepare(`timeline${i}`);
      marks = [];
      modelCalls = 0;
      const start = now();
      await reverie.turn(prepared, start);
      mark("client: session.status_idle seen");
      await reverie.harness.stack.queue.drained();
      mark("every write committed (queue drained)");
      for (const [label, at] of marks) seen.set(label, [...(seen.get(label) ?? []), at - start]);
    }
  } finally {
    unsubscribe("http.server.request.start", onStart);
    unsubscribe("http.server.response.finish", onFinish);
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;
  return [...seen]
    .filter(([, values]) => values.length >= sessions / 2)
    .map(([label, values]) => ({ label, msSinceSend: median(values) }))
    .sort((a, b) => a.msSinceSend - b.msSinceSend);
}
