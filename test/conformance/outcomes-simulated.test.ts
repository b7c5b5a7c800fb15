/** `npm start` with no model key: the simulated model does the work and grades it (machine-checkable lines). */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SimulatedModel } from "../../shared/adapters/model/simulated-model.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ model: new SimulatedModel() });
});
afterAll(async () => h.close());

describe("outcomes with the simulated model", () => {
  it("writes the file, grades it satisfied (a check line by code, a quoted phrase by the stand-in), goes idle", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    await h.client.beta.sessions.events.send(session.id, {
      events: [
        {
          type: "user.define_outcome",
          description: 'write "hello" to notes.txt',
          rubric: {
            type: "text",
            content: '- check: file notes.txt contains "hello"\n- notes.txt says "hello"',
          },
        },
      ],
    });
    const done = await h.waitIdle(session.id);
    expect(done.outcome_evaluations).toEqual([
      expect.objectContaining({
        result: "satisfied",
        explanation: expect.stringContaining("[simulated model]"),
      }),
    ]);
    const types = (await h.allEvents(session.id)).map((e) => e.type);
    expect(types).toContain("agent.tool_result");
    expect(types.slice(-3)).toEqual(["span.outcome_evaluation_end", "session.usage", "session.status_idle"]);
  });
});
