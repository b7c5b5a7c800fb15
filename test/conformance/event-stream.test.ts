/**
 * `client.beta.sessions.events.stream` through the official SDK against the embedded stack: how a
 * stream ends when it cannot go on, and whose sessions it streams.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiKeys } from "../../shared/core/auth/api-keys.js";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";
import { rejection } from "../fixtures/sdk-assertions.js";

let h: Harness;
let other: Anthropic;
beforeAll(async () => {
  h = await startHarness();
  const key = ApiKeys.generate();
  await h.stack.services.apiKeys.register(key, { workspaceId: "wrkspc_other", apiKeyId: "apikey_other" });
  other = new Anthropic({ baseURL: h.stack.url, apiKey: key, maxRetries: 0 });
});
afterAll(async () => h.close());

describe("sessions.events.stream", () => {
  it("a stream whose log can no longer be read ends with an error the SDK raises, not as if it were done", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const stream = await h.client.beta.sessions.events.stream(session.id);
    const store = h.stack.services.deps.store;
    const query = store.query.bind(store);
    store.query = async (table, pk, options) => {
      if (table === "events" && pk === session.id) throw new Error("the table is gone");
      return query(table, pk, options);
    };
    try {
      const error = await (async () => {
        for await (const _ of stream) {
          // nothing is written: the follower's next poll fails
        }
      })().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(Anthropic.APIError);
      expect((error as InstanceType<typeof Anthropic.APIError>).type).toBe("api_error");
    } finally {
      store.query = query;
    }
  });

  it("another workspace's session is a 404 for its stream and its events", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const events = other.beta.sessions.events;
    await rejection(events.stream(session.id), Anthropic.NotFoundError);
    await rejection(events.list(session.id), Anthropic.NotFoundError);
    await rejection(
      events.send(session.id, { events: [{ type: "user.message", content: [{ type: "text", text: "x" }] }] }),
      Anthropic.NotFoundError,
    );
    await rejection(other.beta.sessions.retrieve(session.id), Anthropic.NotFoundError);
    await rejection(other.beta.sessions.update(session.id, { title: "theirs" }), Anthropic.NotFoundError);
    await rejection(other.beta.sessions.archive(session.id), Anthropic.NotFoundError);
    await rejection(other.beta.sessions.delete(session.id), Anthropic.NotFoundError);
    expect((await other.beta.sessions.list()).data.map((s) => s.id)).not.toContain(session.id);
    expect((await h.client.beta.sessions.retrieve(session.id)).title).toBeNull();
  });
});
