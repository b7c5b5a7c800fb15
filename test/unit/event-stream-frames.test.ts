/**
 * A session's event stream as a client reads it: SSE frames from `eventStreamResponse` over
 * `EventsService.streamLog`, resumed the way an SSE client resumes (the last `id:` it saw).
 */
import { describe, expect, it } from "vitest";
import { NotFoundError } from "../../shared/contract/errors.js";
import type { SessionEvent } from "../../shared/contract/sdk-types.js";
import { EventsService } from "../../shared/core/events/events-service.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import type { HttpRequest } from "../../shared/runtime/http/http-types.js";
import { eventStreamResponse } from "../../shared/runtime/http/request-parsing.js";
import { inMemoryDeps, ScriptedModel } from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_t";
const SESSION = "sesn_frames";
const event = (id: string) =>
  ({ type: "session.status_running", id, processed_at: new Date(0).toISOString() }) as SessionEvent;

async function setup(now: () => number = Date.now) {
  const rt = inMemoryDeps(new ScriptedModel([]), now);
  const session = { id: SESSION, created_at: new Date(0).toISOString() } as never;
  await rt.deps.sessions.create({ workspaceId: WS, session, run: newRunState() });
  return { rt, service: new EventsService(rt.deps) };
}

interface Frame {
  id?: string;
  event: string;
  data?: { id?: string };
}

/** An SSE client: reads frames, remembering the last `id:` (what it sends back as Last-Event-ID). */
async function openClient(service: EventsService, lastEventId?: string) {
  const request: HttpRequest = {
    method: "GET",
    path: `/v1/sessions/${SESSION}/events/stream`,
    query: new URLSearchParams(),
    headers: lastEventId === undefined ? {} : { "last-event-id": lastEventId },
    body: undefined,
  };
  const response = await eventStreamResponse(request, (options) => service.streamLog(SESSION, options));
  if (response.kind !== "sse") throw new Error("not a stream");
  const chunks = response.chunks[Symbol.asyncIterator]();
  const client = {
    lastEventId,
    /** The next frame that carries an event (comments and pings skipped). */
    async next(): Promise<Frame> {
      for (;;) {
        const { value, done } = await chunks.next();
        if (done) throw new Error("stream ended");
        const frame: Frame = { event: "" };
        for (const line of (value as string).split("\n")) {
          if (line.startsWith("id: ")) frame.id = line.slice(4);
          else if (line.startsWith("event: ")) frame.event = line.slice(7);
          else if (line.startsWith("data: ")) frame.data = JSON.parse(line.slice(6));
        }
        if (frame.id !== undefined) client.lastEventId = frame.id;
        if (frame.data && frame.event !== "ping") return frame;
      }
    },
    close: () => chunks.return?.(undefined),
  };
  return client;
}

describe("event stream frames", () => {
  it("a client that resumes after an event delivered late (out of order) gets nothing twice", async () => {
    const { rt, service } = await setup();
    const first = await openClient(service);
    // seq 1: a tool's result, its place taken at the step's commit, the tool still running;
    // seq 2: the user's message, written meanwhile.
    const reserved = await rt.deps.events.allocate(SESSION, 1);
    await rt.deps.events.append(SESSION, [event("message")]);
    expect((await first.next()).data?.id).toBe("message"); // after the gap wait, out of order
    await rt.deps.events.write(SESSION, [{ seq: reserved, event: event("tool-result"), internals: {} }]);
    expect((await first.next()).data?.id).toBe("tool-result");
    await first.close();

    // The connection drops; the client reconnects with the last id it saw.
    const resumed = await openClient(service, first.lastEventId);
    await rt.deps.events.append(SESSION, [event("after")]);
    expect((await resumed.next()).data?.id).toBe("after");
    await resumed.close();
  });
});

describe("resuming", () => {
  it("a Last-Event-ID past the log's end is a 400, not a stream that waits for a place never reached", async () => {
    const { rt, service } = await setup();
    await rt.deps.events.append(SESSION, [event("one"), event("two")]);
    await expect(openClient(service, "9")).rejects.toMatchObject({ status: 400 });
    const resumed = await openClient(service, "2"); // the last event: resumes after it
    await rt.deps.events.append(SESSION, [event("three")]);
    expect((await resumed.next()).data?.id).toBe("three");
    await resumed.close();
  });
});

describe("a stream of a session deleted while it is open", () => {
  it("ends with a not-found error at its next heartbeat instead of sending heartbeats for ever", async () => {
    let now = Date.now();
    const { rt, service } = await setup(() => now);
    const stream = await service.openStream(WS, SESSION, {});
    const next = stream.next();
    await rt.store.delete("resources", `ws#${WS}#session`, SESSION); // what a delete ends with
    now += 16_000; // a heartbeat is due
    await expect(next).rejects.toBeInstanceOf(NotFoundError);
  });

  it("goes on with heartbeats while the session is there", async () => {
    let now = Date.now();
    const { service } = await setup(() => now);
    const stream = await service.openStream(WS, SESSION, {});
    const next = stream.next();
    now += 16_000;
    expect((await next).value).toBe("heartbeat");
    await stream.return(undefined);
  });
});
