/**
 * The Dreams API as the SDK types it (create, retrieve, list, cancel, archive) and the review
 * extension (changes, apply). Creating a dream writes its record and enqueues a job; the run itself
 * is `runDream` (dream-runner.ts).
 */
import type { BetaDream } from "@anthropic-ai/sdk/resources/beta/dreams";
import {
  type DreamApplyBody,
  type DreamCreateBody,
  type DreamListQuery,
  isTerminalDreamStatus,
} from "../../contract/dreams.js";
import { ApiError, ConflictError, InvalidRequestError, NotFoundError } from "../../contract/errors.js";
import { dreamHoldKey as holdKey } from "../memory/memory-records.js";
import { collectPage, createdAtFilter, decodeCursor, type PageCursorBody } from "../paging.js";
import { ConditionFailedError } from "../ports.js";
import { type DreamDeps, dreamJob } from "./dream-deps.js";
import type { FileChange } from "./dream-guards.js";
import type { DreamWriteActor } from "./dream-memory.js";
import { type ApplyOutcome, activeDreamMarker, activeDreamsKey, type DreamRecord } from "./dream-record.js";
import { citations } from "./mechanical-dreamer.js";

export const dreamIdPrefix = "drm";
export const memoryStoreIdPrefix = "memstore";

/** Who is calling: the workspace and the API key (the second-reviewer rule needs the key). */
export interface DreamCaller {
  workspaceId: string;
  apiKeyId: string | null;
}

/** Extension options a schedule sets on the dreams it creates. */
export interface DreamCreateExtras {
  mode?: "auto" | "review";
  scheduleId?: string;
  /** A dream id chosen in advance, so a retried schedule firing creates the same dream once. */
  dreamId?: string;
}

/** One file of a review, as `GET /v1/dreams/{id}/changes` returns it (extension). */
export interface DreamChangeView extends Omit<FileChange, "evidence"> {
  type: "dream_change";
  /** The path in the input store an apply of this change writes. */
  target_path: string;
  evidence: Array<{ session_id: string; event_ids: string[] }>;
  /** What an apply did with this path, or null when it has not been applied. */
  applied: ApplyOutcome | null;
}

export interface DreamApplyResult {
  type: "dream_apply_result";
  dream_id: string;
  results: Array<{ path: string; outcome: ApplyOutcome | "not_found" }>;
}

const zeroUsage = () => ({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});

export class DreamsService {
  constructor(private readonly deps: DreamDeps) {}

  async create(
    caller: DreamCaller,
    body: DreamCreateBody,
    extras: DreamCreateExtras = {},
  ): Promise<BetaDream> {
    const { workspaceId } = caller;
    if (extras.dreamId) {
      const existing = await this.deps.dreams.get(workspaceId, extras.dreamId);
      if (existing) {
        // A retried firing finds the dream it planned. The delivery before may have died before the
        // job was sent (or, for a dream created before the marker came first, before the marker):
        // both are harmless to repeat — a run claims the dream first — and a dream left without
        // them would stay pending, holding its store and skipping its schedule's firings.
        if (!isTerminalDreamStatus(existing.dream.status)) {
          await this.putActiveMarker(workspaceId, existing.dream.id);
          await this.deps.jobs.send(dreamJob(workspaceId, existing.dream.id));
        }
        return existing.dream;
      }
    }
    const storeInput = body.inputs.find((i) => i.type === "memory_store");
    const sessionsInput = body.inputs.find((i) => i.type === "sessions");
    if (!storeInput || !sessionsInput)
      throw new InvalidRequestError("inputs: give one memory_store and one sessions entry");
    const store = await this.deps.memory.describe(workspaceId, storeInput.memory_store_id);
    if (!store) throw new NotFoundError("memory store", storeInput.memory_store_id);
    if (store.archived) throw new InvalidRequestError(`inputs: memory store ${store.id} is archived`);
    for (const sessionId of sessionsInput.session_ids) {
      if (!(await this.deps.sessions.get(workspaceId, sessionId)))
        throw new NotFoundError("session", sessionId);
    }
    const behavior = body.output_behavior ?? { type: "create_new" as const };
    const now = new Date(this.deps.clock.now()).toISOString();
    const dreamId = extras.dreamId ?? this.deps.ids.next(dreamIdPrefix);
    const model = typeof body.model === "string" ? { id: body.model } : { id: body.model.id };
    const dream: BetaDream = {
      type: "dream",
      id: dreamId,
      archived_at: null,
      created_at: now,
      ended_at: null,
      error: null,
      inputs: [
        { type: "memory_store", memory_store_id: store.id },
        { type: "sessions", session_ids: [...sessionsInput.session_ids].sort() },
      ],
      instructions: body.instructions ?? null,
      model: { ...model, speed: "standard" },
      output_behavior: behavior,
      outputs: [],
      session_id: null,
      status: "pending",
      usage: zeroUsage(),
    };
    if (behavior.type === "update_existing") await this.hold(workspaceId, store.id, dreamId);
    // The marker before the record: a dream that exists is always one the sweeper can see. A marker
    // whose record never came (a create that died between the two) is dropped by the sweeper.
    await this.putActiveMarker(workspaceId, dreamId);
    const record = await this.deps.dreams.create({
      workspaceId,
      dream,
      run: {
        schemaVersion: 1,
        mode: extras.mode ?? "auto",
        createdByKey: caller.apiKeyId,
        scheduleId: extras.scheduleId ?? null,
        outputStoreId: behavior.type === "create_new" ? this.deps.ids.next(memoryStoreIdPrefix) : null,
        attempts: 0,
        review: "none",
        violations: [],
        applied: {},
        landed: {},
      },
    });
    // A sweep that read a stale marker of this dream (a firing's delivery that died before the
    // record) may have dropped the one written above before the record came: look, and put it back.
    // The sweeper looks for the record after its delete, so one of the two always sees the other.
    if (!(await this.deps.store.get("resources", activeDreamsKey, `${workspaceId}#${dreamId}`)))
      await this.putActiveMarker(workspaceId, dreamId);
    await this.deps.jobs.send(dreamJob(workspaceId, dreamId));
    return record.dream;
  }

  /** The sweeper's entry for an unfinished dream (see activeDreamMarker). */
  private async putActiveMarker(workspaceId: string, dreamId: string): Promise<void> {
    await this.deps.store.put("resources", activeDreamMarker(workspaceId, dreamId, this.deps.clock.now()));
  }

  /**
   * Claims the store for an update_existing dream: one such dream per store at a time. A hold left
   * by a dream that has ended (or never got created) is taken over.
   */
  private async hold(workspaceId: string, storeId: string, dreamId: string): Promise<void> {
    const key = holdKey(workspaceId, storeId);
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.deps.store.get("resources", key, "hold");
      if (current?.dreamId === dreamId) return;
      // A released hold names no dream (release writes `dreamId: null`).
      if (current?.dreamId) {
        const holder = await this.deps.dreams.get(workspaceId, String(current.dreamId));
        if (holder && !isTerminalDreamStatus(holder.dream.status)) {
          throw new ConflictError(
            `memory store ${storeId} is held by dream ${holder.dream.id}, which is ${holder.dream.status}; wait for it to end or cancel it`,
          );
        }
      }
      try {
        await this.deps.store.put(
          "resources",
          { pk: key, sk: "hold", rev: Number(current?.rev ?? 0) + 1, dreamId },
          { expectedRev: Number(current?.rev ?? 0) },
        );
        return;
      } catch (error) {
        if (!(error instanceof ConditionFailedError)) throw error;
      }
    }
    throw new ConflictError(`memory store ${storeId} is held by another dream`);
  }

  private async record(workspaceId: string, dreamId: string): Promise<DreamRecord> {
    const record = await this.deps.dreams.get(workspaceId, dreamId);
    if (!record) throw new NotFoundError("dream", dreamId);
    return record;
  }

  async retrieve(workspaceId: string, dreamId: string): Promise<BetaDream> {
    return (await this.record(workspaceId, dreamId)).dream;
  }

  async list(workspaceId: string, query: DreamListQuery): Promise<PageCursorBody<BetaDream>> {
    const inRange = createdAtFilter(query);
    const statuses = query.statuses ? new Set(query.statuses) : undefined;
    return collectPage({
      limit: query.limit,
      start: decodeCursor(query.page),
      read: (after, batch) =>
        this.deps.dreams.list(workspaceId, { after: after as string | undefined, limit: batch }),
      keyOf: (r) => r.dream.id,
      keep: (r) =>
        (query.include_archived || r.dream.archived_at === null) &&
        (!statuses || statuses.has(r.dream.status)) &&
        inRange(r.dream.created_at),
      map: (r) => r.dream,
    });
  }

  async cancel(workspaceId: string, dreamId: string): Promise<BetaDream> {
    const now = new Date(this.deps.clock.now()).toISOString();
    const result = await this.deps.dreams.mutate(workspaceId, dreamId, (current) => {
      const status = current.dream.status;
      if (status === "canceled") return undefined;
      if (status === "completed" || status === "failed") {
        throw new InvalidRequestError(`dream ${dreamId} is ${status} and cannot be canceled`);
      }
      current.dream.status = "canceled";
      current.dream.ended_at = now;
      return current;
    });
    if (!result) throw new NotFoundError("dream", dreamId);
    if (result.before.dream.status !== "canceled") await this.release(result.after);
    return result.after.dream;
  }

  async archive(workspaceId: string, dreamId: string): Promise<BetaDream> {
    const now = new Date(this.deps.clock.now()).toISOString();
    const result = await this.deps.dreams.mutate(workspaceId, dreamId, (current) => {
      if (current.dream.archived_at) return undefined;
      if (!isTerminalDreamStatus(current.dream.status)) {
        throw new InvalidRequestError(
          `dream ${dreamId} is ${current.dream.status}: cancel it before archiving`,
        );
      }
      current.dream.archived_at = now;
      return current;
    });
    if (!result) throw new NotFoundError("dream", dreamId);
    return result.after.dream;
  }

  /** Drops an ended dream's hold and active marker (idempotent). */
  async release(record: DreamRecord): Promise<void> {
    const storeId = inputStoreOf(record.dream);
    if (record.dream.output_behavior.type === "update_existing") {
      // A rev-checked write, not a delete: another dream may take the store over once this one has
      // ended, between the read and the write, and its hold must stand.
      const hold = await this.deps.store.get("resources", holdKey(record.workspaceId, storeId), "hold");
      if (hold?.dreamId === record.dream.id) {
        try {
          await this.deps.store.put(
            "resources",
            { pk: hold.pk, sk: hold.sk, rev: Number(hold.rev ?? 0) + 1, dreamId: null },
            { expectedRev: Number(hold.rev ?? 0) },
          );
        } catch (error) {
          if (!(error instanceof ConditionFailedError)) throw error;
        }
      }
    }
    await this.deps.store.delete("resources", activeDreamsKey, `${record.workspaceId}#${record.dream.id}`);
  }

  // ------------------------------------------------------------------ review (extension)

  async changes(workspaceId: string, dreamId: string): Promise<{ data: DreamChangeView[]; review: unknown }> {
    const record = await this.record(workspaceId, dreamId);
    const changes = await this.deps.dreams.changes(dreamId);
    return {
      data: changes.map((c) => ({
        type: "dream_change" as const,
        ...c.change,
        target_path: c.livePath,
        evidence: c.change.evidence.map((e) => ({ session_id: e.sessionId, event_ids: e.eventIds })),
        applied: record.run.applied[c.change.path] ?? record.run.landed[c.livePath] ?? null,
      })),
      review: { state: record.run.review, mode: record.run.mode, violations: record.run.violations },
    };
  }

  /**
   * Applies accepted changes to the input store, each under the precondition that the memory still
   * has the content the dream read: a memory changed since is reported as a conflict, never
   * overwritten. Paths already applied report their earlier outcome.
   */
  async apply(caller: DreamCaller, dreamId: string, body: DreamApplyBody): Promise<DreamApplyResult> {
    const record = await this.record(caller.workspaceId, dreamId);
    if (record.dream.status !== "completed") {
      throw new InvalidRequestError(
        `dream ${dreamId} is ${record.dream.status}: only a completed dream can be applied`,
      );
    }
    if (record.run.review !== "pending") {
      throw new InvalidRequestError(`dream ${dreamId} has no changes waiting for review`);
    }
    if (
      this.deps.options.requireSecondReviewer &&
      record.run.mode === "review" &&
      caller.apiKeyId !== null &&
      caller.apiKeyId === record.run.createdByKey
    ) {
      throw new ApiError(
        "permission_error",
        "this workspace requires a second reviewer: the key that created a review-mode dream cannot apply it",
      );
    }
    const changes = new Map((await this.deps.dreams.changes(dreamId)).map((c) => [c.change.path, c]));
    const storeId = inputStoreOf(record.dream);
    const results: DreamApplyResult["results"] = [];
    const outcomes: Record<string, ApplyOutcome> = {};
    for (const path of body.paths) {
      const stored = changes.get(path);
      if (!stored) {
        results.push({ path, outcome: "not_found" });
        continue;
      }
      const earlier = record.run.applied[path];
      if (earlier) {
        results.push({ path, outcome: earlier });
        continue;
      }
      const actor = { type: "api_actor" as const, api_key_id: caller.apiKeyId ?? "unknown" };
      const outcome = await applyChange(this.deps, caller.workspaceId, storeId, dreamId, stored, actor);
      outcomes[path] = outcome;
      results.push({ path, outcome });
    }
    await this.deps.dreams.mutate(caller.workspaceId, dreamId, (current) => {
      current.run.applied = { ...outcomes, ...current.run.applied };
      if (Object.keys(current.run.applied).length >= changes.size) current.run.review = "applied";
      return current;
    });
    return { type: "dream_apply_result", dream_id: dreamId, results };
  }
}

/**
 * Writes one proposed change into a store under its content_sha256 precondition. A store that
 * already holds the proposed content counts as applied (a retried apply).
 */
export async function applyChange(
  deps: Pick<DreamDeps, "memory">,
  workspaceId: string,
  storeId: string,
  dreamId: string,
  stored: { change: FileChange; livePath: string; after: string | null; expectedSha: string | null },
  actor: DreamWriteActor,
): Promise<ApplyOutcome> {
  const { change } = stored;
  const provenance = {
    actor,
    dreamId,
    citations: change.evidence.length ? [citations(change.evidence)] : [],
    tainted: change.tainted,
  };
  const expected = stored.expectedSha;
  const outcome =
    stored.after === null
      ? await deps.memory.delete(workspaceId, storeId, stored.livePath, expected, provenance)
      : await deps.memory.write(workspaceId, storeId, stored.livePath, stored.after, expected, provenance);
  if (outcome === "written") return "applied";
  const now = (await deps.memory.readAll(workspaceId, storeId)).find((f) => f.path === stored.livePath);
  if (stored.after === null ? now === undefined : now?.content === stored.after) return "applied";
  return "conflict";
}

export function inputStoreOf(dream: BetaDream): string {
  const input = dream.inputs.find((i) => i.type === "memory_store");
  return input && input.type === "memory_store" ? input.memory_store_id : "";
}

export function sessionIdsOf(dream: BetaDream): string[] {
  const input = dream.inputs.find((i) => i.type === "sessions");
  return input && input.type === "sessions" ? input.session_ids : [];
}
