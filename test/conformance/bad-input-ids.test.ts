/**
 * Bad ids and cursors are client errors: a path id far longer than any real one is a 404 on every
 * route, a made-up or mistyped page cursor a 400 — never a 500 from the store underneath.
 */
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

const longId = (prefix: string) => `${prefix}_${"x".repeat(1_100)}`;
const status = (p: Promise<unknown>) =>
  p.then(
    () => 200,
    (e: unknown) => (e instanceof Anthropic.APIError ? e.status : -1),
  );

describe("bad ids and cursors", () => {
  it("answers 404 for a 1,100-character id on the resource routes", async () => {
    const c = h.client.beta;
    const results = await Promise.all([
      status(c.agents.retrieve(longId("agent"))),
      status(c.environments.retrieve(longId("env"))),
      status(c.sessions.retrieve(longId("sesn"))),
      status(c.sessions.events.list(longId("sesn"))),
      status(c.sessions.archive(longId("sesn"))),
      status(c.memoryStores.retrieve(longId("memstore"))),
      status(c.memoryStores.memories.list(longId("memstore"))),
      status(c.dreams.retrieve(longId("drm"))),
      status(c.files.retrieveMetadata(longId("file"))),
      status(c.environments.work.retrieve(longId("work"), { environment_id: longId("env") })),
    ]);
    expect(results).toEqual(results.map(() => 404));
  });

  it("answers 400 for a made-up or mistyped page cursor", async () => {
    const { agentId, environmentId } = await h.setup();
    const session = await h.client.beta.sessions.create({ agent: agentId, environment_id: environmentId });
    const numeric = Buffer.from(JSON.stringify({ k: 1 })).toString("base64url");
    const text = Buffer.from(JSON.stringify({ k: "sevt_x" })).toString("base64url");
    const huge = Buffer.from(JSON.stringify({ k: "a".repeat(2_000) })).toString("base64url");
    expect(await status(h.client.beta.agents.list({ page: numeric }))).toBe(400);
    expect(await status(h.client.beta.agents.list({ page: huge }))).toBe(400);
    expect(await status(h.client.beta.environments.list({ page: "not-a-cursor" }))).toBe(400);
    expect(await status(h.client.beta.sessions.events.list(session.id, { page: text }))).toBe(400);
    expect(await status(h.client.beta.sessions.events.list(session.id, { page: numeric }))).toBe(200);
  });
});
