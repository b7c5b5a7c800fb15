/**
 * SessionRepository.mutate with `from` (core/sessions/session-record.ts), on a thread's run record:
 * it starts from a record the caller read moments ago and falls back to a fresh read-modify-write
 * when the record changed since.
 */
import { describe, expect, it } from "vitest";
import type { DocumentStore } from "../../shared/core/ports.js";
import { newRunState, type SessionRecord } from "../../shared/core/sessions/session-record.js";
import { threadRepository } from "../../shared/core/threads/thread-record.js";
import { inMemoryDeps, ScriptedModel, sessionFixture } from "../fixtures/in-memory-runtime.js";

async function prepare() {
  const { store } = inMemoryDeps(new ScriptedModel([]));
  let reads = 0;
  const counting: DocumentStore = Object.create(store);
  counting.get = (...args) => {
    reads++;
    return store.get(...args);
  };
  const threads = threadRepository(counting, "sesn_1");
  const created = await threads.create({
    workspaceId: "wrkspc_1",
    session: sessionFixture("sthr_1"),
    run: newRunState(),
    thread: { schemaVersion: 1, sessionId: "sesn_1", agentName: "a", parentThreadId: null, archivedAt: null },
  });
  return { threads, known: created, reads: () => reads };
}

const bumpSeq = (current: SessionRecord) => {
  current.run.lastInputSeq += 1;
  return current;
};

describe("SessionRepository.mutate from a known record", () => {
  it("writes over the known record without reading it again", async () => {
    const { threads, known, reads } = await prepare();

    const saved = await threads.mutate("wrkspc_1", "sthr_1", bumpSeq, { from: known });

    expect(reads()).toBe(0);
    expect(saved?.after.rev).toBe(known.rev + 1);
    expect((await threads.get("wrkspc_1", "sthr_1"))?.run.lastInputSeq).toBe(known.run.lastInputSeq + 1);
  });

  it("applies the change over the current record when it changed since it was read", async () => {
    const { threads, known, reads } = await prepare();
    await threads.mutate("wrkspc_1", "sthr_1", bumpSeq);

    const saved = await threads.mutate("wrkspc_1", "sthr_1", bumpSeq, { from: known });

    expect(reads()).toBeGreaterThan(1);
    expect(saved?.after.rev).toBe(known.rev + 2);
    // Both changes count: the concurrent one is not overwritten by the stale record.
    expect((await threads.get("wrkspc_1", "sthr_1"))?.run.lastInputSeq).toBe(known.run.lastInputSeq + 2);
  });

  it("reads again when the change finds nothing to do on the known record", async () => {
    const { threads, known, reads } = await prepare();

    const saved = await threads.mutate("wrkspc_1", "sthr_1", () => undefined, { from: known });

    expect(reads()).toBe(1);
    expect(saved?.after.rev).toBe(known.rev);
  });
});
