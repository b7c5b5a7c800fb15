/**
 * Optimistic concurrency through the official SDK: 20 writers doing read-modify-write with
 * `content_sha256` preconditions on one memory for 50 rounds each (a refused round is read again and
 * retried). Every accepted update must be in the
 * final content (0 lost updates), and every accepted update is exactly one version.
 */
import { createHash } from "node:crypto";
import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, startHarness } from "../fixtures/reverie-harness.js";

const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
const sumOf = (content: string) => Number(content.split(" ")[0]);
const WRITERS = 20;
const ROUNDS = 50;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => h.close());

describe("memory read-modify-write under contention", () => {
  it(`${WRITERS} writers × ${ROUNDS} rounds lose no update`, async () => {
    const memories = h.client.beta.memoryStores.memories;
    const store = await h.client.beta.memoryStores.create({ name: "contended" });
    const memory = await memories.create(store.id, { path: "/counter", content: "0" });
    let acceptedSum = 0;
    let accepted = 0;
    let refused = 0;

    // each writer runs its own 50 rounds; a round retries its read-modify-write until accepted
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, writer) => {
        const increment = writer + 1;
        for (let round = 0; round < ROUNDS; round++) {
          let backoff = 0;
          for (;;) {
            const current = await memories.retrieve(memory.id, { memory_store_id: store.id });
            // Each write is unique (the sum, then who wrote it and when): the API answers 200 to a
            // stale precondition when the memory already holds exactly the requested content, so two
            // writers asking for the same bare sum would both be "accepted" with one write.
            const next = `${sumOf(current.content as string) + increment} ${writer}:${round}`;
            try {
              await memories.update(memory.id, {
                memory_store_id: store.id,
                content: next,
                precondition: { type: "content_sha256", content_sha256: sha(current.content as string) },
              });
              acceptedSum += increment;
              accepted++;
              break;
            } catch (error) {
              expect(error).toBeInstanceOf(Anthropic.ConflictError);
              refused++;
              // what a well-behaved client does: back off with jitter before reading again
              await new Promise((r) => setTimeout(r, Math.random() * 5 * ++backoff));
            }
          }
        }
      }),
    );

    const final = await memories.retrieve(memory.id, { memory_store_id: store.id });
    const lost = acceptedSum - sumOf(final.content as string);
    console.log(
      `memory concurrency: ${WRITERS} writers × ${ROUNDS} rounds, ${accepted} accepted, ${refused} refused with 409, final ${sumOf(final.content as string)}, sum of accepted ${acceptedSum}, lost updates ${lost}`,
    );
    expect(lost).toBe(0);
    expect(accepted).toBe(WRITERS * ROUNDS);
    expect(sumOf(final.content as string)).toBe((ROUNDS * WRITERS * (WRITERS + 1)) / 2);
    const versions = [];
    for await (const v of h.client.beta.memoryStores.memoryVersions.list(store.id, { memory_id: memory.id }))
      versions.push(v);
    expect(versions).toHaveLength(accepted + 1);
  }, 120_000);
});
