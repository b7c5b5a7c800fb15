import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../shared/contract/sdk-types.js";
import type { LoggedEvent } from "../../shared/core/events/event-log.js";
import { EventsService } from "../../shared/core/events/events-service.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { inMemoryDeps, ScriptedModel } from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_t";
const event = (id: string) =>
  ({ type: "session.status_running", id, processed_at: new Date(0).toISOString() }) as SessionEvent;

async function setup() {
  const rt = inMemoryDeps(new ScriptedModel([]));
  const session = { id: "sesn_f", created_at: new Date(0).toISOString() } as never;
  await rt.deps.sessions.create({ workspaceId: WS, session, run: newRunState() });
  const reads = { count: 0 };
  const read = rt.deps.events.read.bind(rt.deps.events);
  rt.deps.events.read = (...args) => {
    reads.count++;
    return read(...args);
  };
  return { rt, reads, service: new EventsService(rt.deps) };
}

async function take(follow: AsyncGenerator<LoggedEvent | "heartbeat">, n: number): Promise<string[]> {
  const ids: string[] = [];
  while (ids.length < n) {
    const { value } = await follow.next();
    if (value && value !== "heartbeat") ids.push(value.event.id);
  }
  return ids;
}

describe("EventsService.follow", () => {
  it("serves events written in this process without reading the table again", async () => {
    const { rt, reads, service } = await setup();
    const follow = service.follow("sesn_f", { afterSeq: 0 });
    const first = take(follow, 3);
    await new Promise((r) => setTimeout(r, 20));
    const readsAfterCatchUp = reads.count;
    await rt.deps.events.append("sesn_f", [event("a"), event("b")]);
    await rt.deps.events.append("sesn_f", [event("c")]);
    expect(await first).toEqual(["a", "b", "c"]);
    expect(reads.count).toBe(readsAfterCatchUp);
    await follow.return(undefined);
  });

  it("waits for an allocated sequence that is written late instead of skipping it", async () => {
    const { rt, service } = await setup();
    const follow = service.follow("sesn_f", { afterSeq: 0 });
    const late = await rt.deps.events.allocate("sesn_f", 1); // seq 1: a writer between its two calls
    const got = take(follow, 2);
    await rt.deps.events.append("sesn_f", [event("second")]); // seq 2 arrives first
    await new Promise((r) => setTimeout(r, 100));
    await rt.deps.events.write("sesn_f", [{ seq: late, event: event("first"), internals: {} }]);
    expect(await got).toEqual(["first", "second"]);
    await follow.return(undefined);
  });

  it("delivers a tool result written after a later event, once past its place, rather than never", async () => {
    const { rt, service } = await setup();
    const follow = service.follow("sesn_f", { afterSeq: 0, gapWaitMs: 50 });
    const reserved = await rt.deps.events.allocate("sesn_f", 1); // seq 1: a tool's result, the tool still running
    const got = take(follow, 2);
    await rt.deps.events.append("sesn_f", [event("interrupt")]); // seq 2, written meanwhile
    await new Promise((r) => setTimeout(r, 200));
    await rt.deps.events.write("sesn_f", [{ seq: reserved, event: event("tool-result"), internals: {} }]);
    expect(await got).toEqual(["interrupt", "tool-result"]);
    await follow.return(undefined);
  });

  it("delivers a passed event another process wrote late", async () => {
    const { rt, service } = await setup();
    const follow = service.follow("sesn_f", { afterSeq: 0, gapWaitMs: 50 });
    await rt.deps.events.allocate("sesn_f", 1);
    const got = take(follow, 2);
    await rt.deps.events.append("sesn_f", [event("later")]);
    await new Promise((r) => setTimeout(r, 200));
    // Written straight to the table: no notification reaches this process.
    await rt.store.put("events", { pk: "sesn_f", sk: 1, event: event("remote"), internals: {} });
    expect(await got).toEqual(["later", "remote"]);
    await follow.return(undefined);
  });

  it("picks up events another process wrote once a wait times out", async () => {
    const { rt, service } = await setup();
    const follow = service.follow("sesn_f", { afterSeq: 0 });
    const got = take(follow, 1);
    await new Promise((r) => setTimeout(r, 20));
    // Written straight to the table: no notification reaches this process.
    await rt.store.put("events", { pk: "sesn_f", sk: 1, event: event("remote"), internals: {} });
    expect(await got).toEqual(["remote"]);
    await follow.return(undefined);
  });
});

describe("EventsService.streamLog", () => {
  it("a stream opened while a tool runs delivers the tool's result, whose place was taken before", async () => {
    const { rt, service } = await setup();
    await rt.deps.events.append("sesn_f", [event("tool-use")]);
    const reserved = await rt.deps.events.allocate("sesn_f", 1);
    const stream = await service.streamLog("sesn_f", {});
    await rt.deps.events.write("sesn_f", [{ seq: reserved, event: event("tool-result"), internals: {} }]);
    await rt.deps.events.append("sesn_f", [event("next")]);
    const got: unknown[] = [];
    for (let i = 0; i < 2; i++) got.push((await stream.next()).value);
    expect(got).toMatchObject([{ event: { id: "tool-result" } }, { event: { id: "next" } }]);
    await stream.return(undefined);
  });

  it("a stream resumed after a later event delivers the earlier one still to be written", async () => {
    const { rt, service } = await setup();
    const reserved = await rt.deps.events.allocate("sesn_f", 1);
    await rt.deps.events.append("sesn_f", [event("sevt_later")]);
    const stream = await service.streamLog("sesn_f", { lastEventId: "sevt_later" });
    await rt.deps.events.write("sesn_f", [{ seq: reserved, event: event("tool-result"), internals: {} }]);
    expect((await stream.next()).value).toMatchObject({ seq: reserved, event: { id: "tool-result" } });
    await stream.return(undefined);
  });
});

describe("EventsService.streamLog resuming from an event id", () => {
  it("finds the event from the newest back, without reading a long log whole", async () => {
    const { rt, service } = await setup();
    for (let i = 0; i < 10; i++)
      await rt.deps.events.append(
        "sesn_f",
        Array.from({ length: 100 }, (_, j) => event(`sevt_${i * 100 + j}`)),
      );
    let itemsRead = 0;
    const read = rt.deps.events.read.bind(rt.deps.events);
    rt.deps.events.read = async (...args) => {
      const items = await read(...args);
      itemsRead += items.length;
      return items;
    };
    const stream = await service.streamLog("sesn_f", { lastEventId: "sevt_990" });
    await rt.deps.events.append("sesn_f", [event("next")]);
    const { value } = await stream.next();
    expect(value).toMatchObject({ seq: 992, event: { id: "sevt_991" } });
    expect(itemsRead).toBeLessThan(150);
    await stream.return(undefined);

    // An id further back is found a page at a time; one that is not in the log is refused.
    const older = await service.streamLog("sesn_f", { lastEventId: "sevt_5" });
    expect((await older.next()).value).toMatchObject({ seq: 7, event: { id: "sevt_6" } });
    await older.return(undefined);
    await expect(service.streamLog("sesn_f", { lastEventId: "sevt_unknown" })).rejects.toThrow(
      "is not an event of this stream",
    );
  });
});
