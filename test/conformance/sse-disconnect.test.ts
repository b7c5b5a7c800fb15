import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe("SSE stream", () => {
  it("stops reading the event log as soon as the client disconnects", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const store = h.stack.services.deps.store;
    const query = store.query.bind(store);
    let reads = 0;
    store.query = async (table, pk, options) => {
      if (table === "events" && pk === session.id) reads++;
      return query(table, pk, options);
    };
    const controller = new AbortController();
    const response = await fetch(`${h.stack.url}/v1/sessions/${session.id}/events/stream`, {
      headers: { "x-api-key": h.stack.apiKey },
      signal: controller.signal,
    });
    const reader = response.body?.getReader();
    await reader?.read(); // ": connected"
    await new Promise((r) => setTimeout(r, 1200));
    expect(reads).toBeGreaterThan(0); // it was following
    controller.abort();
    await new Promise((r) => setTimeout(r, 200));
    const afterClose = reads;
    await new Promise((r) => setTimeout(r, 2500));
    expect(reads).toBe(afterClose);
  });
});
