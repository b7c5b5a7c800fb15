/**
 * What the next worker of a self-hosted session is handed after one died (worker-hands.ts
 * `interruptDeliveredCalls`): a process that dies between an "interrupted" answer and its nudge is
 * repaired by the next hand-out, and an `ask` call counts as possibly run only once the dead worker
 * was shown its `allow` (which a sessions token's page records like a worker call).
 */
import { describe, expect, it } from "vitest";
import type { SessionEvent } from "../../shared/contract/sdk-types.js";
import type { CredentialScope } from "../../shared/core/auth/api-keys.js";
import { EventLog } from "../../shared/core/events/event-log.js";
import { EventsService } from "../../shared/core/events/events-service.js";
import { runAgentStep } from "../../shared/core/runtime/agent-step.js";
import type { StepDeps } from "../../shared/core/runtime/step-deps.js";
import { interruptDeliveredCalls } from "../../shared/core/runtime/worker-hands.js";
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
const message = (t: string) => ({
  type: "user.message" as const,
  content: [{ type: "text" as const, text: t }],
});

interface Runtime {
  deps: StepDeps;
  store: CrashingStore;
  queue: RecordingQueue;
  events: EventsService;
  delivered: number[];
}

/** An idle self-hosted session (its tools served by a worker) over a crashing store. */
async function start(model: ScriptedModel, bashPolicy: "always_allow" | "always_ask"): Promise<Runtime> {
  const rt = inMemoryDeps(model);
  const store = new CrashingStore();
  const delivered: number[] = [];
  const deps: StepDeps = {
    ...rt.deps,
    store,
    sessions: new SessionRepository(store),
    events: new EventLog(store, rt.deps.notifier),
    work: {
      ensureWork: async () => {},
      stopForSession: async () => {},
      noteDelivered: async (_ws: string, _token: unknown, seq: number) => {
        delivered.push(seq);
        return true;
      },
    } as unknown as StepDeps["work"],
  };
  const session = sessionFixture(SID, {
    tools: [
      {
        type: "agent_toolset_20260401",
        default_config: { enabled: true, permission_policy: { type: bashPolicy } },
        configs: [],
      },
    ],
  } as never);
  await deps.sessions.create({ workspaceId: WS, session, run: { ...newRunState(), hands: "worker" } });
  return { deps, store, queue: rt.queue, events: new EventsService(deps), delivered };
}

async function drain(rt: Runtime) {
  for (let next = rt.queue.take(); next; next = rt.queue.take()) await runAgentStep(rt.deps, next);
}

const log = (rt: Runtime) => rt.deps.events.read(SID);
const seqOf = async (rt: Runtime, type: SessionEvent["type"]) =>
  (await log(rt)).find((e) => e.event.type === type)?.seq as number;
const record = async (rt: Runtime) => (await rt.deps.sessions.get(WS, SID))?.run;
const status = async (rt: Runtime) => (await rt.deps.sessions.get(WS, SID))?.session.status;
const resultsOf = async (rt: Runtime) =>
  (await log(rt)).map((e) => e.event).filter((e) => e.type === "user.tool_result");

describe("a hand-out after a worker died mid-call", () => {
  it("that died between the interrupted answer and its nudge: the next hand-out wakes the waiting step", async () => {
    const rt = await start(
      new ScriptedModel([toolUse("bash", { command: "touch x" }), text("done")]),
      "always_allow",
    );
    await rt.events.send(WS, SID, [message("go")]);
    await drain(rt);
    // The step waits for the worker.
    expect(await status(rt)).toBe("running");
    expect((await record(rt))?.workerWait?.toolUseIds).toHaveLength(1);
    const callSeq = await seqOf(rt, "agent.tool_use");

    // The hand-out writes the interrupted answer, then dies at the nudge (the session record's write).
    rt.store.crashOn = { op: "put", pk: /#session$/ };
    await expect(interruptDeliveredCalls(rt.deps, WS, SID, callSeq)).rejects.toThrow(CrashError);
    rt.store.restart();
    expect(await resultsOf(rt)).toHaveLength(1);
    expect(rt.queue.sent).toHaveLength(0);

    // The item is offered again and the next hand-out redoes it: the wait is repaired.
    await interruptDeliveredCalls(rt.deps, WS, SID, callSeq);
    expect((await record(rt))?.workerWait).toBeUndefined();
    expect(rt.queue.sent).toHaveLength(1);
    await drain(rt);
    expect(await status(rt)).toBe("idle");
    expect(await resultsOf(rt)).toHaveLength(1);

    // A later hand-out finds nothing left to take in: no write, no nudge.
    await interruptDeliveredCalls(rt.deps, WS, SID, callSeq);
    expect(rt.queue.sent).toHaveLength(0);
  });

  describe("an `ask` call", () => {
    /** A session whose bash call was shown to a worker (as `ask`), then allowed by the user. */
    async function allowedAfterShown() {
      const rt = await start(
        new ScriptedModel([toolUse("bash", { command: "touch x" }), text("done")]),
        "always_ask",
      );
      await rt.events.send(WS, SID, [message("go")]);
      await drain(rt);
      expect(await status(rt)).toBe("idle");
      const use = (await log(rt)).find((e) => e.event.type === "agent.tool_use");
      expect(use?.event).toMatchObject({ evaluated_permission: "ask" });
      await rt.events.send(WS, SID, [
        { type: "user.tool_confirmation", tool_use_id: use?.event.id as string, result: "allow" },
      ]);
      await drain(rt);
      expect(await status(rt)).toBe("running");
      return { rt, callSeq: use?.seq as number, allowSeq: await seqOf(rt, "user.tool_confirmation") };
    }

    it("allowed after the dead worker was shown it: is left for the next worker to run", async () => {
      const { rt, callSeq } = await allowedAfterShown();
      await interruptDeliveredCalls(rt.deps, WS, SID, callSeq);
      expect(await resultsOf(rt)).toEqual([]);
      expect(await status(rt)).toBe("running");
      expect(rt.queue.sent).toHaveLength(0);
    });

    it("whose allow the dead worker was shown (recorded as delivered): is answered interrupted", async () => {
      const { rt, allowSeq } = await allowedAfterShown();
      // The worker's sessions token lists the log: the allow's sequence is recorded before it is shown.
      const scope: CredentialScope = {
        kind: "session",
        environmentId: "env_1",
        workId: "work_1",
        sessionId: SID,
        generation: 1,
      };
      await rt.events.list(WS, SID, { order: "asc", limit: 100 }, scope);
      expect(Math.max(...rt.delivered)).toBe(allowSeq);

      await interruptDeliveredCalls(rt.deps, WS, SID, Math.max(...rt.delivered));
      const results = await resultsOf(rt);
      expect(results).toHaveLength(1);
      expect(JSON.stringify(results)).toMatch(/Interrupted: the worker running this call stopped/);
      expect(rt.queue.sent).toHaveLength(1);
      await drain(rt);
      expect(await status(rt)).toBe("idle");
    });
  });
});
