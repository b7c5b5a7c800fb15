/**
 * `session.status_idled` is a domain event (webhooks, the event bus): one per idle, even when the
 * commit that goes idle loses its rev check and decides again (DESIGN.md §5).
 */
import { describe, expect, it } from "vitest";
import { EventsService } from "../../shared/core/events/events-service.js";
import { runAgentStep } from "../../shared/core/runtime/agent-step.js";
import { newRunState } from "../../shared/core/sessions/session-record.js";
import { inMemoryDeps, ScriptedModel, sessionFixture, text } from "../fixtures/in-memory-runtime.js";

const WS = "wrkspc_test";

describe("session.status_idled from the step commit", () => {
  it("is published once when the idle commit loses its rev check to a concurrent write and retries", async () => {
    // Prepare: a turn that ends; a metadata update lands between the idle's publish and its save.
    const { deps, queue, published } = inMemoryDeps(new ScriptedModel([text("done")]));
    await deps.sessions.create({ workspaceId: WS, session: sessionFixture("sesn_1"), run: newRunState() });
    await new EventsService(deps).send(WS, "sesn_1", [
      { type: "user.message", content: [{ type: "text", text: "hi" }] },
    ]);
    const save = deps.sessions.save.bind(deps.sessions);
    let raced = false;
    deps.sessions.save = async (...args: Parameters<typeof save>) => {
      if (!raced && published.some((e) => e.type === "session.status_idled")) {
        raced = true;
        await deps.sessions.mutate(WS, "sesn_1", (current) => {
          current.session.metadata = { touched: "yes" };
          return current;
        });
      }
      return save(...args);
    };

    // Act
    await runAgentStep(deps, queue.take() as never);

    // Assess: the commit went idle on its second pass, and announced it once.
    expect(raced).toBe(true);
    const record = await deps.sessions.get(WS, "sesn_1");
    expect(record?.session.status).toBe("idle");
    expect(record?.session.metadata).toEqual({ touched: "yes" });
    const idles = (await deps.events.read("sesn_1")).filter((e) => e.event.type === "session.status_idle");
    expect(idles).toHaveLength(1);
    expect(published.filter((e) => e.type === "session.status_idled")).toHaveLength(1);
  });
});
