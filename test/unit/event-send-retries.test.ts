/**
 * A retried send of user events (the SDK's `X-Stainless-Retry-Count` ≥ 1, or an `Idempotency-Key`)
 * whose earlier attempt already wrote them writes nothing twice, finishes what that attempt died
 * before doing (the wake), and answers with the stored events (shared/core/events/send-attempts.ts).
 * Crashes come from the crashing store: every write fails from the crash point until restart().
 */
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../shared/contract/sdk-types.js";
import { EventLog } from "../../shared/core/events/event-log.js";
import { EventsService } from "../../shared/core/events/events-service.js";
import { SEND_RETRY_WINDOW_MS, type SendAttempt } from "../../shared/core/events/send-attempts.js";
import { runAgentStep } from "../../shared/core/runtime/agent-step.js";
import type { StepDeps } from "../../shared/core/runtime/step-deps.js";
import { newRunState, SessionRepository } from "../../shared/core/sessions/session-record.js";
import { CrashError, CrashingStore } from "../fixtures/crashing-store.js";
import {
  inMemoryDeps,
  type RecordingQueue,
  ScriptedModel,
  sessionFixture,
  text,
  toolUse,
} from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_test";
const SID = "sesn_1";
const RETRY: SendAttempt = { retry: true };
const message = (t: string) => ({
  type: "user.message" as const,
  content: [{ type: "text" as const, text: t }],
});

interface Runtime {
  deps: StepDeps;
  store: CrashingStore;
  queue: RecordingQueue;
  model: ScriptedModel;
  events: EventsService;
  clock: { t: number };
}

/** An idle session over a crashing store, with a clock the test moves. */
async function start(
  model: ScriptedModel,
  agent: Parameters<typeof sessionFixture>[1] = {},
): Promise<Runtime> {
  const clock = { t: Date.parse("2026-05-01T10:00:00Z") };
  const rt = inMemoryDeps(model, () => clock.t);
  const store = new CrashingStore();
  const deps: StepDeps = {
    ...rt.deps,
    store,
    sessions: new SessionRepository(store),
    events: new EventLog(store, rt.deps.notifier),
  };
  await deps.sessions.create({ workspaceId: WS, session: sessionFixture(SID, agent), run: newRunState() });
  return { deps, store, queue: rt.queue, model, events: new EventsService(deps), clock };
}

/** Delivers queued step messages until none is left. */
async function drain(rt: Runtime) {
  for (let next = rt.queue.take(); next; next = rt.queue.take()) await runAgentStep(rt.deps, next);
}

const logged = async (rt: Runtime) => (await rt.deps.events.read(SID)).map((e) => e.event);
const ofType = async (rt: Runtime, type: SessionEvent["type"]) =>
  (await logged(rt)).filter((e) => e.type === type);
const status = async (rt: Runtime) => (await rt.deps.sessions.get(WS, SID))?.session.status;

describe("a retried send of user events", () => {
  it("after the append committed and the process died before the wake: logs the message once and runs the turn", async () => {
    // Prepare: the first attempt appends the message, then dies at the wake's first write.
    const rt = await start(new ScriptedModel([text("hello back"), text("a second answer")]));
    rt.store.crashOn = { op: "put", pk: /^running$/ };
    await expect(rt.events.send(WS, SID, [message("hello")])).rejects.toThrow(CrashError);
    rt.store.restart();
    expect(await ofType(rt, "user.message")).toHaveLength(1);
    expect(await status(rt)).toBe("idle");
    expect(rt.queue.sent).toHaveLength(0);

    // Act: the SDK retries the same request.
    const answer = await rt.events.send(WS, SID, [message("hello")], undefined, RETRY);

    // Assess: no second copy; the session woke and its turn answers once.
    const [stored] = await ofType(rt, "user.message");
    expect(await ofType(rt, "user.message")).toHaveLength(1);
    expect(answer.data).toEqual([stored]);
    expect(await status(rt)).toBe("running");
    await drain(rt);
    expect(await status(rt)).toBe("idle");
    expect(rt.model.requests).toHaveLength(1);
    expect(await ofType(rt, "agent.message")).toHaveLength(1);
  });

  it("of an outcome, after the process died between its entry and its wake: wakes the session", async () => {
    // Prepare: the first attempt logs the outcome and lists it as running, then dies at the wake.
    const rt = await start(new ScriptedModel([text("written")]));
    rt.deps.outcomes = { queue: { send: async () => {} }, heartbeatMs: 60_000, leaseMs: 300_000 };
    const outcome = {
      type: "user.define_outcome" as const,
      description: "A haiku about the sea",
      rubric: { type: "text" as const, content: "- It is a haiku" },
    };
    rt.store.crashOn = { op: "put", pk: /^running$/ };
    await expect(rt.events.send(WS, SID, [outcome as never])).rejects.toThrow(CrashError);
    rt.store.restart();
    const before = await rt.deps.sessions.get(WS, SID);
    expect(before?.session.outcome_evaluations.map((e) => e.result)).toEqual(["running"]);
    expect(before?.session.status).toBe("idle");

    // Act: the SDK retries the same request.
    await rt.events.send(WS, SID, [outcome as never], undefined, RETRY);

    // Assess: one outcome, and the session at work on it.
    expect(await ofType(rt, "user.define_outcome")).toHaveLength(1);
    expect(await status(rt)).toBe("running");
    expect(rt.queue.sent).toHaveLength(1);
  });

  it("after the first attempt's turn is over: answers with the stored events and wakes nothing", async () => {
    const rt = await start(new ScriptedModel([text("hello back"), text("a second answer")]));
    const first = await rt.events.send(WS, SID, [message("hello")]);
    await drain(rt);
    expect(await status(rt)).toBe("idle");

    const retried = await rt.events.send(WS, SID, [message("hello")], undefined, RETRY);

    expect(retried).toEqual(first);
    expect(await ofType(rt, "user.message")).toHaveLength(1);
    expect(await status(rt)).toBe("idle");
    expect(rt.queue.sent).toHaveLength(0);
    expect(rt.model.requests).toHaveLength(1);
  });

  it("after an attempt that died between two of its events: writes only the rest, in order", async () => {
    const rt = await start(new ScriptedModel([text("both read")]));
    // The first event and its wake are written; the process dies writing the second event.
    const append = rt.deps.events.append.bind(rt.deps.events);
    let appends = 0;
    rt.deps.events.append = async (...args) => {
      if (++appends === 2) rt.store.crashOn = { op: "put", pk: /^sesn_1$/ };
      return append(...args);
    };
    const sent = [message("one"), message("two")];
    await expect(rt.events.send(WS, SID, sent)).rejects.toThrow(CrashError);
    rt.store.restart();
    rt.deps.events.append = append;

    const answer = await rt.events.send(WS, SID, sent, undefined, RETRY);

    const messages = await ofType(rt, "user.message");
    expect(messages.map((m) => (m as { content: Array<{ text: string }> }).content[0]?.text)).toEqual([
      "one",
      "two",
    ]);
    expect(answer.data).toEqual(messages);
    await drain(rt);
    expect(rt.model.requests).toHaveLength(1);
    expect(await status(rt)).toBe("idle");
  });

  it("answers a retried custom tool result with the stored event, not a 409", async () => {
    const lookup = {
      type: "custom" as const,
      name: "lookup",
      description: "d",
      input_schema: { type: "object" as const },
    };
    const rt = await start(new ScriptedModel([toolUse("lookup", { id: "42" }), text("shipped")]), {
      tools: [lookup],
    });
    await rt.events.send(WS, SID, [message("go")]);
    await drain(rt);
    const [use] = await ofType(rt, "agent.custom_tool_use");
    const result = {
      type: "user.custom_tool_result" as const,
      custom_tool_use_id: String(use?.id),
      content: [{ type: "text" as const, text: "shipped" }],
    };
    const first = await rt.events.send(WS, SID, [result]);

    const retried = await rt.events.send(WS, SID, [result], undefined, RETRY);

    expect(retried).toEqual(first);
    expect(await ofType(rt, "user.custom_tool_result")).toHaveLength(1);
    await drain(rt);
    expect(rt.model.requests).toHaveLength(2);
  });
});

describe("a send that is not taken for a repeat", () => {
  it("is written again when it is not a retry: a user may send the same words twice", async () => {
    const rt = await start(new ScriptedModel([text("ok"), text("ok again")]));
    await rt.events.send(WS, SID, [message("yes")]);
    await drain(rt);

    await rt.events.send(WS, SID, [message("yes")]);
    await drain(rt);

    expect(await ofType(rt, "user.message")).toHaveLength(2);
    expect(await ofType(rt, "agent.message")).toHaveLength(2);
  });

  it("is written again when the earlier send differs, is older than the window, or another send came after it", async () => {
    const rt = await start(new ScriptedModel([]));
    await rt.events.send(WS, SID, [message("a")]);
    // Other content.
    await rt.events.send(WS, SID, [message("b")], undefined, RETRY);
    expect(await ofType(rt, "user.message")).toHaveLength(2);
    // Not the newest send: "b" came after "a".
    await rt.events.send(WS, SID, [message("a")], undefined, RETRY);
    expect(await ofType(rt, "user.message")).toHaveLength(3);
    // The newest send, but too long ago for a retry of it.
    rt.clock.t += SEND_RETRY_WINDOW_MS + 1;
    await rt.events.send(WS, SID, [message("a")], undefined, RETRY);
    expect(await ofType(rt, "user.message")).toHaveLength(4);
    // More events than the earlier send had, and fewer.
    await rt.events.send(WS, SID, [message("a"), message("a")], undefined, RETRY);
    expect(await ofType(rt, "user.message")).toHaveLength(6);
    await rt.events.send(WS, SID, [message("a")], undefined, RETRY);
    expect(await ofType(rt, "user.message")).toHaveLength(7);
  });

  it("matches an Idempotency-Key only to the send that carried it", async () => {
    const rt = await start(new ScriptedModel([]));
    const first = await rt.events.send(WS, SID, [message("a")], undefined, {
      retry: false,
      idempotencyKey: "k1",
    });
    // The same key, even without a retry count: a repeat.
    const again = await rt.events.send(WS, SID, [message("a")], undefined, {
      retry: false,
      idempotencyKey: "k1",
    });
    expect(again).toEqual(first);
    expect(await ofType(rt, "user.message")).toHaveLength(1);
    // Another key, or a retry without the key the earlier send had: a new send.
    await rt.events.send(WS, SID, [message("a")], undefined, { retry: true, idempotencyKey: "k2" });
    expect(await ofType(rt, "user.message")).toHaveLength(2);
    await rt.events.send(WS, SID, [message("a")], undefined, RETRY);
    expect(await ofType(rt, "user.message")).toHaveLength(3);
  });
});
