import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe("sessions list paging", () => {
  it("walks forward with next_page and back with prev_page", async () => {
    const { agentId, environmentId } = await h.setup();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId })).id);
    }
    const newestFirst = [...ids].reverse();
    const first = await h.client.beta.sessions.list({ agent_id: agentId, limit: 2 });
    expect(first.data.map((s) => s.id)).toEqual(newestFirst.slice(0, 2));
    expect(first.prev_page).toBeNull();
    const second = await h.client.beta.sessions.list({ agent_id: agentId, limit: 2, page: first.next_page });
    expect(second.data.map((s) => s.id)).toEqual(newestFirst.slice(2, 4));
    const third = await h.client.beta.sessions.list({ agent_id: agentId, limit: 2, page: second.next_page });
    expect(third.data.map((s) => s.id)).toEqual(newestFirst.slice(4));
    expect(third.next_page).toBeNull();

    const back = await h.client.beta.sessions.list({ agent_id: agentId, limit: 2, page: third.prev_page });
    expect(back.data.map((s) => s.id)).toEqual(newestFirst.slice(2, 4));
    const backAgain = await h.client.beta.sessions.list({
      agent_id: agentId,
      limit: 2,
      page: back.prev_page,
    });
    expect(backAgain.data.map((s) => s.id)).toEqual(newestFirst.slice(0, 2));
    expect(backAgain.prev_page).toBeNull();
    const forwardAgain = await h.client.beta.sessions.list({
      agent_id: agentId,
      limit: 2,
      page: backAgain.next_page,
    });
    expect(forwardAgain.data.map((s) => s.id)).toEqual(newestFirst.slice(2, 4));
  });
});
