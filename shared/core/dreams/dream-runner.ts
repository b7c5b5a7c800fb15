/**
 * Runs one dream, resumable from any point: each phase is idempotent and recorded before the next
 * begins, so a job delivered twice, or re-delivered after a crash, finishes the dream exactly once.
 *
 *   claim (pending → running, lease) → dreamer session + brief → pinned answer (pre-pass, one model
 *   call, guards, change items, then the answer marker) → output (create_new: the new store;
 *   update_existing in auto mode with every guard passed: the input store under content_sha256
 *   preconditions) → session idle → completed (rev-checked) → hold and active marker released.
 *
 * The dream's session is a real session (`session_id`), streamable like any other: its events are
 * the brief, the model request span and the dreamer's summary, written at fixed sequences.
 */
import type { BetaDream } from "@anthropic-ai/sdk/resources/beta/dreams";
import { DREAMER_AGENT_ID, isTerminalDreamStatus } from "../../contract/dreams.js";
import { idPrefix } from "../../contract/ids.js";
import type { Session, SessionEvent } from "../../contract/sdk-types.js";
import { GraderOutputError, gradeAgainstRubric } from "../outcomes/grading.js";
import { ConditionFailedError, ModelCallError } from "../ports.js";
import { emptySessionUsage, newRunState } from "../sessions/session-record.js";
import type { DreamDeps, DreamJob } from "./dream-deps.js";
import { type GuardViolation, guardDream, isQuarantined } from "./dream-guards.js";
import type { DreamMemoryFile } from "./dream-memory.js";
import {
  answerKey,
  changeKey,
  type DreamRecord,
  type PinnedAnswer,
  type StoredChange,
} from "./dream-record.js";
import { DreamerAnswerError, dreamerRequest, outputOf, parseDreamerAnswer } from "./dreamer-prompt.js";
import { applyChange, DreamsService, inputStoreOf, sessionIdsOf } from "./dreams-service.js";
import { citations } from "./mechanical-dreamer.js";
import { readTranscripts, runPrePass, trustedEventIds } from "./pre-pass.js";

/** A dream that cannot succeed: it ends `failed` with this error type (the Dreams guide's codes). */
export class DreamFailedError extends Error {
  override name = "DreamFailedError";
  constructor(
    readonly type: "timeout" | "input_memory_store_too_large" | "internal_error" | "input_session_not_found",
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export type DreamRunOutcome = "done" | "skipped" | "held_by_other_run";

/** Runs (or resumes) the dream a job names. Retryable model failures throw, so the queue retries. */
export async function runDream(deps: DreamDeps, job: DreamJob): Promise<DreamRunOutcome> {
  const service = new DreamsService(deps);
  const record = await deps.dreams.get(job.workspaceId, job.dreamId);
  if (!record) return "skipped";
  if (isTerminalDreamStatus(record.dream.status)) {
    await service.release(record);
    return "skipped";
  }
  const now = deps.clock.now();
  if (now - Date.parse(record.dream.created_at) > deps.options.timeoutMs) {
    await failDream(deps, record.workspaceId, record.dream.id, "timeout", "the dream did not finish in time");
    return "done";
  }
  const claimed = await claim(deps, record, now);
  if (!claimed) return "held_by_other_run";
  try {
    await runClaimed(deps, claimed);
  } catch (error) {
    const permanent =
      error instanceof DreamFailedError ||
      error instanceof DreamerAnswerError ||
      (error instanceof ModelCallError && !error.retryable);
    if (!permanent) {
      // Transient (a throttled table, an overloaded model): let the queue redeliver, and let the
      // redelivery claim the dream at once instead of waiting out this run's lease.
      await deps.dreams.mutate(record.workspaceId, record.dream.id, (current) => {
        current.run.leaseUntil = undefined;
        return current;
      });
      throw error;
    }
    const failure =
      error instanceof DreamFailedError
        ? error
        : new DreamFailedError("internal_error", (error as Error).message, { cause: error });
    await failDream(deps, record.workspaceId, record.dream.id, failure.type, failure.message);
  }
  return "done";
}

async function claim(deps: DreamDeps, record: DreamRecord, now: number): Promise<DreamRecord | undefined> {
  const result = await deps.dreams.mutate(record.workspaceId, record.dream.id, (current) => {
    if (isTerminalDreamStatus(current.dream.status)) return undefined;
    if (current.run.leaseUntil !== undefined && current.run.leaseUntil > now) {
      return undefined;
    }
    current.run.leaseUntil = now + deps.options.leaseMs;
    current.run.attempts += 1;
    current.dream.status = "running";
    current.dream.session_id ??= deps.ids.next(idPrefix.session);
    return current;
  });
  if (!result || result.after.rev === result.before.rev) return undefined;
  return result.after;
}

async function runClaimed(deps: DreamDeps, record: DreamRecord): Promise<void> {
  const { workspaceId, dream } = record;
  const sessionId = dream.session_id as string;
  const storeId = inputStoreOf(dream);
  await ensureSession(deps, record, sessionId);

  const input = await deps.memory.readAll(workspaceId, storeId);
  const answer = (await deps.dreams.answer(dream.id)) ?? (await pinAnswer(deps, record, input));
  await writeSessionEvents(deps, dream, sessionId, 2, spanEvents(dream, answer));

  const latest = await deps.dreams.get(workspaceId, dream.id);
  if (!latest || isTerminalDreamStatus(latest.dream.status)) {
    // Canceled meanwhile: what was written stays; the session stops.
    await closeDreamSession(deps, workspaceId, sessionId);
    return;
  }

  const changes = await deps.dreams.changes(dream.id);
  const landed: Record<string, "applied" | "conflict" | "unchanged"> = {};
  let outputs: BetaDream["outputs"] = [];
  if (dream.output_behavior.type === "create_new") {
    const outputStoreId = record.run.outputStoreId as string;
    await deps.memory.createStore(workspaceId, {
      id: outputStoreId,
      name: `dream ${dream.id}`,
      description: `Output of dream ${dream.id} over memory store ${storeId}`,
      metadata: { reverie_dream_id: dream.id, reverie_input_store_id: storeId },
    });
    outputs = [{ type: "memory_store", memory_store_id: outputStoreId }];
    const recorded = await deps.dreams.mutate(workspaceId, dream.id, (current) => {
      if (current.dream.outputs.length > 0 || current.dream.status !== "running") return undefined;
      current.dream.outputs = outputs;
      return current;
    });
    if (recorded?.after.dream.status !== "running") {
      await closeDreamSession(deps, workspaceId, sessionId); // canceled while the store was made
      return;
    }
    await writeOutputStore(deps, record, outputStoreId, input, changes);
  } else {
    outputs = [{ type: "memory_store", memory_store_id: storeId }];
    if (record.run.mode === "auto" && answer.passed) {
      for (const stored of changes) {
        if (isQuarantined(stored.change.path)) continue;
        landed[stored.livePath] =
          record.run.landed[stored.livePath] ??
          (await applyChange(deps, workspaceId, storeId, dream.id, stored, {
            type: "session_actor",
            session_id: sessionId,
          }));
      }
    }
  }

  const needsReview =
    changes.length > 0 &&
    (dream.output_behavior.type === "create_new" || record.run.mode === "review" || !answer.passed);
  await writeSessionEvents(deps, dream, sessionId, 4, closingEvents(dream, answer, needsReview));
  await deps.sessions.mutate(workspaceId, sessionId, (current) => {
    if (current.session.status === "idle") return undefined;
    current.session.status = "idle";
    current.session.updated_at = new Date(deps.clock.now()).toISOString();
    current.session.usage = {
      input_tokens: answer.usage.input_tokens,
      output_tokens: answer.usage.output_tokens,
      cache_read_input_tokens: answer.usage.cache_read_input_tokens,
      cache_creation: {
        ephemeral_5m_input_tokens: answer.usage.cache_creation_input_tokens,
        ephemeral_1h_input_tokens: 0,
      },
    };
    return current;
  });

  const finished = await deps.dreams.mutate(workspaceId, dream.id, (current) => {
    if (current.dream.status !== "running") return undefined;
    current.dream.status = "completed";
    current.dream.ended_at = new Date(deps.clock.now()).toISOString();
    current.dream.outputs = outputs;
    current.dream.usage = answer.usage;
    current.run.violations = answer.violations;
    current.run.review = needsReview ? "pending" : "none";
    current.run.landed = { ...landed, ...current.run.landed };
    current.run.leaseUntil = undefined;
    return current;
  });
  if (finished) await new DreamsService(deps).release(finished.after);
}

/**
 * Computes the dream's answer once: pre-pass over its own sessions, one model call, guards, the
 * change items, then the answer marker (first writer wins). Until the marker exists nothing
 * downstream has happened, so a crash before it just runs this again.
 */
async function pinAnswer(
  deps: DreamDeps,
  record: DreamRecord,
  input: DreamMemoryFile[],
): Promise<PinnedAnswer> {
  const { dream } = record;
  const bytes = input.reduce((sum, f) => sum + Buffer.byteLength(f.content, "utf8"), 0);
  if (bytes > deps.options.maxStoreBytes) {
    throw new DreamFailedError(
      "input_memory_store_too_large",
      `memory store ${inputStoreOf(dream)} holds ${bytes} bytes; dreams read at most ${deps.options.maxStoreBytes}`,
    );
  }
  const sessionIds = sessionIdsOf(dream);
  const transcripts = await readTranscripts(deps.events, sessionIds);
  const prePass = runPrePass(transcripts);
  const request = dreamerRequest(dream.model.id, {
    instructions: dream.instructions,
    store: input,
    prePass,
    sessionIds,
  });
  const response = await deps.model.createMessage(request);
  const text = response.content.map((b) => (b.type === "text" ? b.text : "")).join("");
  const parsed = parseDreamerAnswer(text);
  const after = outputOf(input, parsed, sessionIds, trustedEventIds(transcripts));
  const verdict = guardDream(input, after, { maxDroppedShare: deps.options.maxDroppedShare });
  const inputs = new Map(input.map((f) => [f.path, f]));
  const afterByPath = new Map(verdict.output.map((f) => [f.path, f]));
  const items = verdict.changes.map((change) => {
    const livePath = isQuarantined(change.path) ? change.path.slice("/quarantine".length) : change.path;
    const stored: StoredChange = {
      schemaVersion: 1,
      change,
      livePath,
      before: inputs.get(livePath)?.content ?? null,
      after: change.change === "deleted" ? null : (afterByPath.get(change.path)?.content ?? null),
      expectedSha: inputs.get(livePath)?.sha256 ?? null,
    };
    return { pk: changeKey(dream.id), sk: change.path, value: stored };
  });
  if (items.length) await deps.store.putMany("resources", items);
  const usage = {
    input_tokens: response.usage.input_tokens,
    output_tokens: response.usage.output_tokens,
    cache_creation_input_tokens: response.usage.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: response.usage.cache_read_input_tokens ?? 0,
  };
  const violations = [...verdict.violations];
  if (deps.options.rubric && verdict.changes.length > 0) {
    const graded = await gradeDream(deps, dream.model.id, deps.options.rubric, parsed.summary, items);
    for (const key of Object.keys(usage) as Array<keyof typeof usage>) usage[key] += graded.usage[key];
    if (graded.violation) violations.push(graded.violation);
  }
  const answer: PinnedAnswer = {
    schemaVersion: 1,
    summary: parsed.summary,
    usage,
    passed: violations.length === 0,
    violations,
    paths: verdict.changes.map((c) => c.path),
  };
  try {
    await deps.store.put(
      "resources",
      { pk: answerKey(dream.id), sk: "answer", value: answer },
      { ifNotExists: true },
    );
    await deps.dreams.mutate(record.workspaceId, dream.id, (current) => {
      current.dream.usage = answer.usage;
      return current;
    });
    return answer;
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    return (await deps.dreams.answer(dream.id)) as PinnedAnswer;
  }
}

/**
 * The optional rubric gate: the outcomes grader judges the proposed changes (each changed file's new
 * content) against the memory rubric. Anything but `satisfied` — including a grader that cannot
 * answer — is a violation, so the result waits for a reviewer rather than landing.
 */
async function gradeDream(
  deps: DreamDeps,
  modelId: string,
  rubric: string,
  summary: string,
  items: Array<{ value: StoredChange }>,
): Promise<{ usage: PinnedAnswer["usage"]; violation?: GuardViolation }> {
  const files = new Map<string, string>();
  for (const { value } of items)
    if (value.after !== null) files.set(value.change.path.replace(/^\//, ""), value.after);
  const output = [
    summary,
    ...items.map(({ value }) => {
      const cites = value.change.evidence.map((e) => e.sessionId);
      return `${value.change.change} ${value.change.path}: ${value.change.rationale ?? "no rationale"} (evidence from ${new Set(cites).size} session(s)${value.change.tainted ? ", derived from untrusted content" : ""})`;
    }),
  ].join("\n");
  try {
    const grade = await gradeAgainstRubric(
      { description: "Consolidate an agent team's memory store from past sessions.", rubric, output, files },
      { model: deps.model, modelId },
    );
    if (grade.result === "satisfied") return { usage: grade.usage };
    return {
      usage: grade.usage,
      violation: { guard: "rubric", path: null, message: `rubric: ${grade.explanation}` },
    };
  } catch (error) {
    if (!(error instanceof GraderOutputError)) throw error;
    return {
      usage: error.usage,
      violation: { guard: "rubric", path: null, message: `rubric: ${error.message}` },
    };
  }
}

/** The output store starts as a copy of the input; the guarded result is written over it. */
async function writeOutputStore(
  deps: DreamDeps,
  record: DreamRecord,
  outputStoreId: string,
  input: DreamMemoryFile[],
  changes: StoredChange[],
): Promise<void> {
  const { workspaceId, dream } = record;
  const changed = new Map(changes.map((c) => [c.change.path, c]));
  const actor = { type: "session_actor" as const, session_id: dream.session_id as string };
  const copyProvenance = { actor, dreamId: dream.id, citations: [], tainted: false };
  for (const file of input) {
    if (changed.has(file.path)) continue;
    await deps.memory.write(workspaceId, outputStoreId, file.path, file.content, undefined, {
      ...copyProvenance,
      tainted: file.tainted,
    });
  }
  for (const stored of changes) {
    if (stored.after === null) continue;
    await deps.memory.write(workspaceId, outputStoreId, stored.change.path, stored.after, undefined, {
      actor,
      dreamId: dream.id,
      citations: stored.change.evidence.length ? [citations(stored.change.evidence)] : [],
      tainted: stored.change.tainted,
    });
  }
}

/** Ends a dream as failed (once), closes its session and releases what it held. */
export async function failDream(
  deps: DreamDeps,
  workspaceId: string,
  dreamId: string,
  type: DreamFailedError["type"],
  message: string,
): Promise<void> {
  const result = await deps.dreams.mutate(workspaceId, dreamId, (current) => {
    if (isTerminalDreamStatus(current.dream.status)) return undefined;
    current.dream.status = "failed";
    current.dream.error = { type, message };
    current.dream.ended_at = new Date(deps.clock.now()).toISOString();
    current.run.leaseUntil = undefined;
    return current;
  });
  if (!result) return;
  const sessionId = result.after.dream.session_id;
  if (sessionId) await closeDreamSession(deps, workspaceId, sessionId);
  await new DreamsService(deps).release(result.after);
}

// ------------------------------------------------------------------ the dream's session

/** Moves a dream's session to idle (a failed or canceled dream), once. */
export async function closeDreamSession(
  deps: DreamDeps,
  workspaceId: string,
  sessionId: string,
): Promise<void> {
  await deps.sessions.mutate(workspaceId, sessionId, (current) => {
    if (current.session.status === "idle") return undefined;
    current.session.status = "idle";
    current.session.updated_at = new Date(deps.clock.now()).toISOString();
    return current;
  });
}

async function ensureSession(deps: DreamDeps, record: DreamRecord, sessionId: string): Promise<void> {
  const { dream, workspaceId } = record;
  if (!(await deps.sessions.get(workspaceId, sessionId))) {
    const session: Session = {
      id: sessionId,
      type: "session",
      agent: {
        type: "agent",
        id: DREAMER_AGENT_ID,
        name: "Reverie dreamer",
        description:
          "Built-in: reads a dream's sessions (as a pre-pass) and input store, writes only its output",
        execution_identity: { type: "service_account" },
        mcp_servers: [],
        model: { id: dream.model.id, speed: "standard" },
        multiagent: null,
        skills: [],
        system: null,
        tools: [],
        version: 1,
      },
      archived_at: null,
      budget: null,
      created_at: dream.created_at,
      updated_at: dream.created_at,
      environment_id: "env_reverie_dreams",
      metadata: { reverie_dream_id: dream.id },
      outcome_evaluations: [],
      resources: [],
      stats: { active_seconds: 0, duration_seconds: 0 },
      status: "running",
      title: `Dream ${dream.id}`,
      usage: emptySessionUsage(),
      vault_ids: [],
    };
    try {
      await deps.sessions.create({ workspaceId, session, run: newRunState() });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
  const brief = [
    `Dream ${dream.id}: consolidate memory store ${inputStoreOf(dream)} using ${sessionIdsOf(dream).length} sessions (${sessionIdsOf(dream).join(", ")}).`,
    dream.instructions ? `Instructions: ${dream.instructions}` : "",
  ]
    .filter(Boolean)
    .join("\n");
  await writeSessionEvents(deps, dream, sessionId, 1, [
    { type: "user.message", content: [{ type: "text", text: brief }] } as Partial<SessionEvent>,
  ]);
}

const SESSION_EVENTS = 5;

/**
 * Writes the dream session's events at fixed sequences with ids derived from the dream, so a
 * retried phase writes the very same items again.
 */
async function writeSessionEvents(
  deps: DreamDeps,
  dream: BetaDream,
  sessionId: string,
  firstSeq: number,
  events: Array<Partial<SessionEvent>>,
): Promise<void> {
  if ((await deps.events.lastAllocated(sessionId)) < SESSION_EVENTS) {
    await deps.events.allocate(sessionId, SESSION_EVENTS - (await deps.events.lastAllocated(sessionId)));
  }
  const at = new Date(deps.clock.now()).toISOString();
  await deps.events.write(
    sessionId,
    events.map((event, i) => ({
      seq: firstSeq + i,
      event: {
        ...event,
        id: `${idPrefix.event}_${dream.id.slice(4)}${firstSeq + i}`,
        processed_at: at,
      } as SessionEvent,
      internals: {},
    })),
  );
}

function spanEvents(dream: BetaDream, answer: PinnedAnswer): Array<Partial<SessionEvent>> {
  return [
    { type: "span.model_request_start" },
    {
      type: "span.model_request_end",
      model_request_start_id: `${idPrefix.event}_${dream.id.slice(4)}2`,
      is_error: false,
      model_usage: {
        input_tokens: answer.usage.input_tokens,
        output_tokens: answer.usage.output_tokens,
        cache_creation_input_tokens: answer.usage.cache_creation_input_tokens,
        cache_read_input_tokens: answer.usage.cache_read_input_tokens,
      },
    } as Partial<SessionEvent>,
  ];
}

function closingEvents(
  dream: BetaDream,
  answer: PinnedAnswer,
  needsReview: boolean,
): Array<Partial<SessionEvent>> {
  const lines = [
    answer.summary || "Dream finished.",
    `${answer.paths.length} file(s) changed${answer.paths.length ? `: ${answer.paths.join(", ")}` : ""}.`,
    ...answer.violations.map((v) => `Guard ${v.guard}: ${v.message}`),
    needsReview ? `Review with GET /v1/dreams/${dream.id}/changes.` : "",
  ].filter(Boolean);
  return [
    { type: "agent.message", content: [{ type: "text", text: lines.join("\n") }] } as Partial<SessionEvent>,
    {
      type: "session.status_idle",
      stop_reason: { type: "end_turn" },
      stop_details: null,
    } as Partial<SessionEvent>,
  ];
}
