/**
 * Runs one dream, resumable from any point: each phase is idempotent and recorded before the next
 * begins, so a job delivered twice, or re-delivered after a crash, finishes the dream exactly once.
 *
 *   claim (pending → running, lease; the session and draft ids) → draft (a copy of the input store,
 *   its manifest, the pre-pass hint) → the dreamer's session, started on the one step loop → … the
 *   dreamer works, step by step, like any session; when it goes idle the job runs again → pinned
 *   answer (the finish_dream answer, or a forced finish_dream call; the draft's diff against the
 *   manifest; guards; change items; then the answer marker) → output (create_new: the new store;
 *   update_existing in auto mode with every guard passed: the input store under content_sha256
 *   preconditions, each change's outcome recorded as it lands) → completed (rev-checked) → hold,
 *   active marker and draft released.
 *
 * The dream's session is a real session (`session_id`): retrievable, streamable, its events the
 * dreamer's own tool calls and results.
 */
import type { BetaDream } from "@anthropic-ai/sdk/resources/beta/dreams";
import { isTerminalDreamStatus } from "../../contract/dreams.js";
import { idPrefix } from "../../contract/ids.js";
import type { Session, SessionEvent } from "../../contract/sdk-types.js";
import { memoryPromptNote } from "../memory/memory-mounts.js";
import { GraderOutputError, gradeAgainstRubric } from "../outcomes/grading.js";
import { ConditionFailedError, ModelCallError } from "../ports.js";
import { buildModelRequest } from "../runtime/model-request.js";
import { runningIndexEntry } from "../runtime/session-status.js";
import { stepMessage } from "../runtime/step-message.js";
import { buildTranscript } from "../runtime/transcript.js";
import { emptySessionUsage, newRunState, type SessionRecord } from "../sessions/session-record.js";
import {
  addCallUsage,
  type CallUsage,
  forcedToolCall,
  StructuredAnswerError,
  zeroCallUsage,
} from "../tools/forced-tool-call.js";
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
import { DREAM_INPUT_MOUNT, DREAM_OUTPUT_MOUNT, dreamerAgent, dreamerResources } from "./dreamer-agent.js";
import { type DreamerAnswer, outputOf } from "./dreamer-answer.js";
import { budgetSpent } from "./dreamer-extension.js";
import {
  type FinishDream,
  finishDreamSchema,
  finishKey,
  hintKey,
  malformedFinishes,
  manifestKey,
  readFinish,
  readHint,
  readManifest,
} from "./dreamer-state.js";
import { DREAMER_TOOL_NAMES, dreamerToolDefinitions, memoryPathOf } from "./dreamer-tools.js";
import {
  applyChange,
  DreamsService,
  inputStoreOf,
  memoryStoreIdPrefix,
  sessionIdsOf,
} from "./dreams-service.js";
import { citations } from "./mechanical-dreamer.js";
import { readTranscripts, runPrePass, trustedEventIds } from "./pre-pass.js";

export class DreamFailedError extends Error {
  override name = "DreamFailedError";
  constructor(
    readonly type:
      | "timeout"
      | "input_memory_store_too_large"
      | "internal_error"
      | "input_session_not_found"
      | "budget_exceeded"
      | "invalid_dreamer_answer",
    message: string,
    options?: { cause?: unknown; usage?: PinnedAnswer["usage"] },
  ) {
    super(message, options);
    this.usage = options?.usage;
  }
  /** What the dream spent before it failed (reported as the dream's usage). */
  readonly usage: PinnedAnswer["usage"] | undefined;
}

export type DreamRunOutcome = "done" | "skipped" | "held_by_other_run" | "dreaming";

/** Runs (or resumes) the dream a job names. Retryable failures throw, so the queue retries. */
export async function runDream(deps: DreamDeps, job: DreamJob): Promise<DreamRunOutcome> {
  const service = new DreamsService(deps);
  const record = await deps.dreams.get(job.workspaceId, job.dreamId);
  if (!record) return "skipped";
  if (isTerminalDreamStatus(record.dream.status)) {
    await service.release(record);
    await releaseDraft(deps, record);
    return "skipped";
  }
  const now = deps.clock.now();
  // Once the answer is pinned, what is left (output, apply, completion) asks no model and may already
  // have changed memory: an overdue dream is finished, not failed with its changes half landed — for
  // one timeout more at most, so a run that keeps dying (no error to catch) cannot keep it alive.
  const age = now - Date.parse(record.dream.created_at);
  const overdue = age > deps.options.timeoutMs;
  if (overdue && (age > 2 * deps.options.timeoutMs || !(await deps.dreams.answer(record.dream.id)))) {
    await failDream(deps, record.workspaceId, record.dream.id, "timeout", "the dream did not finish in time");
    return "done";
  }
  const claimed = await claim(deps, record, now);
  if (!claimed) return "held_by_other_run";
  try {
    return await runClaimed(deps, claimed);
  } catch (error) {
    const permanent =
      error instanceof DreamFailedError || (error instanceof ModelCallError && !error.retryable);
    if (!permanent && !overdue) {
      // Transient (a throttled table, an overloaded model): let the queue redeliver, and let the
      // redelivery claim the dream at once instead of waiting out this run's lease.
      await releaseLease(deps, record);
      throw error;
    }
    // Overdue, a transient failure ends the dream too, so its life stays bounded; each change that
    // landed is already on its record.
    const failure =
      error instanceof DreamFailedError
        ? error
        : permanent
          ? new DreamFailedError("internal_error", (error as Error).message, { cause: error })
          : new DreamFailedError(
              "timeout",
              `the dream did not finish in time; its last attempt failed: ${(error as Error).message}`,
              { cause: error },
            );
    await failDream(deps, record.workspaceId, record.dream.id, failure.type, failure.message, failure.usage);
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
    current.run.draftStoreId ??= deps.ids.next(memoryStoreIdPrefix);
    return current;
  });
  if (!result || result.after.rev === result.before.rev) return undefined;
  return result.after;
}

async function releaseLease(deps: DreamDeps, record: DreamRecord): Promise<void> {
  await deps.dreams.mutate(record.workspaceId, record.dream.id, (current) => {
    current.run.leaseUntil = undefined;
    return current;
  });
}

async function runClaimed(deps: DreamDeps, record: DreamRecord): Promise<DreamRunOutcome> {
  const { workspaceId, dream } = record;
  const sessionId = dream.session_id as string;
  const storeId = inputStoreOf(dream);

  let answer = await deps.dreams.answer(dream.id);
  if (!answer) {
    await ensureDraft(deps, record);
    const session = await ensureSession(deps, record);
    if (session.session.status !== "idle") {
      // The dreamer is at work on the step loop; its idle transition nudges this job again.
      await releaseLease(deps, record);
      return "dreaming";
    }
    answer = await pinAnswer(deps, record, session);
  }

  const latest = await deps.dreams.get(workspaceId, dream.id);
  if (!latest || isTerminalDreamStatus(latest.dream.status)) {
    await releaseDraft(deps, record);
    return "done"; // canceled meanwhile: what was written stays
  }

  const changes = await deps.dreams.changes(dream.id);
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
      await releaseDraft(deps, record); // canceled while the store was made
      return "done";
    }
    await writeOutputStore(
      deps,
      record,
      outputStoreId,
      await deps.memory.readAll(workspaceId, storeId),
      changes,
    );
  } else {
    outputs = [{ type: "memory_store", memory_store_id: storeId }];
    if (record.run.mode === "auto" && answer.passed) {
      const actor = { type: "session_actor" as const, session_id: sessionId };
      for (const stored of changes) {
        if (isQuarantined(stored.change.path) || record.run.landed[stored.livePath]) continue;
        const outcome = await applyChange(deps, workspaceId, storeId, dream.id, stored, actor);
        // Recorded as it lands, so a run that dies, fails or is canceled part way still reports
        // what it changed in the input store.
        const recorded = await deps.dreams.mutate(workspaceId, dream.id, (current) => {
          if (current.run.landed[stored.livePath]) return undefined;
          current.run.landed[stored.livePath] = outcome;
          return current;
        });
        if (recorded?.after.dream.status !== "running") {
          await releaseDraft(deps, record);
          return "done"; // canceled: the changes not yet written stay unwritten
        }
      }
    }
  }

  const needsReview =
    changes.length > 0 &&
    (dream.output_behavior.type === "create_new" || record.run.mode === "review" || !answer.passed);
  const finished = await deps.dreams.mutate(workspaceId, dream.id, (current) => {
    if (current.dream.status !== "running") return undefined;
    current.dream.status = "completed";
    current.dream.ended_at = new Date(deps.clock.now()).toISOString();
    current.dream.outputs = outputs;
    current.dream.usage = answer.usage;
    current.run.violations = answer.violations;
    current.run.review = needsReview ? "pending" : "none";
    current.run.leaseUntil = undefined;
    return current;
  });
  if (finished) await new DreamsService(deps).release(finished.after);
  await releaseDraft(deps, record);
  return "done";
}

// ------------------------------------------------------------------ the draft

/**
 * The draft the dreamer edits: a copy of the input store, with a manifest of what was copied (the
 * diff's base) and the pre-pass hint. Written whole before the session starts; a crash part way
 * copies again (the same writes).
 */
async function ensureDraft(deps: DreamDeps, record: DreamRecord): Promise<void> {
  if (record.run.draftReady) return;
  const { workspaceId, dream } = record;
  const draftId = record.run.draftStoreId as string;
  const input = await deps.memory.readAll(workspaceId, inputStoreOf(dream));
  const bytes = input.reduce((sum, f) => sum + Buffer.byteLength(f.content, "utf8"), 0);
  if (bytes > deps.options.maxStoreBytes) {
    throw new DreamFailedError(
      "input_memory_store_too_large",
      `memory store ${inputStoreOf(dream)} holds ${bytes} bytes; dreams read at most ${deps.options.maxStoreBytes}`,
    );
  }
  await deps.memory.createStore(workspaceId, {
    id: draftId,
    name: `dream ${dream.id} (draft)`,
    description: `The dreamer's working copy of memory store ${inputStoreOf(dream)}; deleted when the dream ends`,
    metadata: { reverie_dream_id: dream.id, reverie_dream_draft: "true" },
  });
  const actor = { type: "session_actor" as const, session_id: dream.session_id as string };
  for (const file of input) {
    await deps.memory.write(workspaceId, draftId, file.path, file.content, undefined, {
      actor,
      dreamId: dream.id,
      citations: [],
      tainted: file.tainted,
    });
  }
  await deps.store.putMany(
    "resources",
    input.map((f) => ({
      pk: manifestKey(dream.id),
      sk: f.path,
      value: { sha256: f.sha256, tainted: f.tainted },
    })),
  );
  const prePass = runPrePass(await readTranscripts(deps.events, sessionIdsOf(dream)));
  await deps.store.put("resources", { pk: hintKey(dream.id), sk: "hint", text: hintText(prePass) });
  await deps.dreams.mutate(workspaceId, dream.id, (current) => {
    current.run.draftReady = true;
    return current;
  });
}

/** The pre-pass findings as the dreamer's starting hint: what code found, not the limit of what to read. */
function hintText(prePass: ReturnType<typeof runPrePass>): string {
  if (prePass.findings.length === 0)
    return `A code pre-pass over the ${prePass.sessionsRead} sessions (${prePass.eventsRead} events) found nothing by its four heuristics; read the transcripts yourself.`;
  return [
    `A code pre-pass over the ${prePass.sessionsRead} sessions (${prePass.eventsRead} events) found these candidates (tool errors fixed by a retry, recurring grader feedback, shared tool sequences, stated preferences), each with its evidence. Check them against the transcripts; they are a start, not the limit of what you may find.`,
    "<pre_pass_findings>",
    JSON.stringify(prePass.findings),
    "</pre_pass_findings>",
  ].join("\n");
}

/** Deletes the draft store and its manifest once the dream has ended (idempotent). */
async function releaseDraft(deps: DreamDeps, record: DreamRecord): Promise<void> {
  const draftId = record.run.draftStoreId;
  if (!draftId) return;
  await deps.memory.deleteStore(record.workspaceId, draftId);
}

// ------------------------------------------------------------------ the dream's session

/**
 * The dreamer's session: created running, its brief at sequence 1, and its first step enqueued on the
 * agent-steps queue. From there it is a session like any other (the sweeper re-nudges it if a step
 * message is lost). Returns the session as it is now.
 */
async function ensureSession(deps: DreamDeps, record: DreamRecord): Promise<SessionRecord> {
  const { dream, workspaceId } = record;
  const sessionId = dream.session_id as string;
  const existing = await deps.sessions.get(workspaceId, sessionId);
  if (existing && existing.run.stepSeq > 0) return existing;
  const now = deps.clock.now();
  if (!existing) {
    const session: Session = {
      id: sessionId,
      type: "session",
      agent: dreamerAgent(dream.model.id),
      archived_at: null,
      budget: null,
      created_at: dream.created_at,
      updated_at: new Date(now).toISOString(),
      environment_id: "env_reverie_dreams",
      metadata: { reverie_dream_id: dream.id },
      outcome_evaluations: [],
      resources: dreamerResources(inputStoreOf(dream), record.run.draftStoreId as string),
      stats: { active_seconds: 0, duration_seconds: 0 },
      status: "running",
      title: `Dream ${dream.id}`,
      usage: emptySessionUsage(),
      vault_ids: [],
    };
    try {
      await deps.sessions.create({
        workspaceId,
        session,
        run: { ...newRunState(), lastInputSeq: 1, runningSince: now, nudgeAfter: now + deps.stepLeaseMs },
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }
  if ((await deps.events.lastAllocated(sessionId)) < 2) await deps.events.allocate(sessionId, 2);
  const at = new Date(now).toISOString();
  await deps.events.write(sessionId, [
    {
      seq: 1,
      event: {
        type: "user.message",
        id: `${idPrefix.event}_${dream.id.slice(4)}1`,
        processed_at: at,
        content: [{ type: "text", text: briefText(dream) }],
      } as SessionEvent,
      internals: {},
    },
    {
      seq: 2,
      event: {
        type: "session.status_running",
        id: `${idPrefix.event}_${dream.id.slice(4)}2`,
        processed_at: at,
      },
      internals: {},
    },
  ]);
  await deps.store.put("resources", runningIndexEntry(workspaceId, sessionId));
  const session = (await deps.sessions.get(workspaceId, sessionId)) as SessionRecord;
  if (session.session.status !== "idle" && session.run.stepSeq === 0)
    await deps.steps.send(stepMessage(workspaceId, sessionId, 0));
  return session;
}

function briefText(dream: BetaDream): string {
  const ids = sessionIdsOf(dream);
  return [
    `Dream ${dream.id}: reorganise memory store ${inputStoreOf(dream)} (mounted read-only at ${DREAM_INPUT_MOUNT}/) into your draft at ${DREAM_OUTPUT_MOUNT}/, using what the ${ids.length} past session(s) of this dream show: ${ids.join(", ")}.`,
    dream.instructions ? `Instructions from the dream's creator: ${dream.instructions}` : "",
    `When you are done, call ${DREAMER_TOOL_NAMES.finish}.`,
  ]
    .filter(Boolean)
    .join("\n");
}

/** Ends a dream's session (a failed or canceled dream): an idle one stays; a running one is interrupted. */
export async function closeDreamSession(
  deps: DreamDeps,
  workspaceId: string,
  sessionId: string,
): Promise<void> {
  await deps.sessions.mutate(workspaceId, sessionId, (current) => {
    if (current.session.status === "idle" || current.session.status === "terminated") return undefined;
    // The step loop ends the turn at its next decision, as for a user.interrupt.
    current.run.interruptSeq = Math.max(current.run.interruptSeq, current.run.interruptHandledSeq) + 1;
    return current;
  });
}

// ------------------------------------------------------------------ the answer

/**
 * Computes the dream's answer once the dreamer's session is idle: its finish_dream answer (or, when
 * it ended without one, a forced finish_dream call over its transcript), the draft's diff against
 * the manifest, the guards, the change items, then the answer marker (first writer wins). Until the
 * marker exists nothing downstream has happened, so a crash before it just runs this again.
 */
async function pinAnswer(
  deps: DreamDeps,
  record: DreamRecord,
  session: SessionRecord,
): Promise<PinnedAnswer> {
  const { dream, workspaceId } = record;
  const draftId = record.run.draftStoreId as string;
  const malformed = await malformedFinishes(deps.store, dream.id);
  if (malformed.length >= deps.options.maxMalformedFinishes) {
    throw new DreamFailedError(
      "invalid_dreamer_answer",
      `the dreamer's finish_dream call was malformed ${malformed.length} times; the last: ${malformed[0]}`,
      { usage: callUsageOf(session.session.usage) },
    );
  }
  const usage = callUsageOf(session.session.usage);
  let finish = await readFinish(deps.store, dream.id);
  if (!finish) {
    const spent = budgetSpent(
      deps.options.budget,
      dream.model.id,
      session.session.usage,
      session.run.stepSeq,
    );
    if (spent === "tokens" || spent === "usd") {
      throw new DreamFailedError(
        "budget_exceeded",
        `the dream's ${spent === "tokens" ? `budget of ${deps.options.budget.maxTokens} tokens` : `budget of ${deps.options.budget.maxUsd} USD`} was spent before the dreamer finished; nothing was written (usage: ${usage.input_tokens} input, ${usage.output_tokens} output tokens)`,
        { usage },
      );
    }
    finish = await forcedFinish(deps, record, session, usage);
  }

  const sessionIds = sessionIdsOf(dream);
  const transcripts = await readTranscripts(deps.events, sessionIds);
  const manifest = await readManifest(deps.store, dream.id);
  const input = await deps.memory.readAll(workspaceId, inputStoreOf(dream));
  const draft = new Map((await deps.memory.readAll(workspaceId, draftId)).map((f) => [f.path, f]));
  const cited = new Map(finish.changes.map((c) => [memoryPathOf(c.path), c]));
  const evidenceOf = (path: string) =>
    (cited.get(path)?.evidence ?? []).map((e) => ({ session_id: e.session_id, event_ids: e.event_ids }));
  const answer: DreamerAnswer = { writes: [], deletes: [], summary: finish.summary };
  for (const [path, file] of draft) {
    if (manifest.get(path)?.sha256 === file.sha256) continue;
    answer.writes.push({
      path,
      content: file.content,
      rationale: cited.get(path)?.rationale ?? null,
      evidence: evidenceOf(path),
      derived_from: [],
    });
  }
  for (const path of manifest.keys()) {
    if (draft.has(path)) continue;
    answer.deletes.push({
      path,
      rationale: cited.get(path)?.rationale ?? null,
      merged_into: cited.get(path)?.merged_into ?? null,
    });
  }
  const after = outputOf(input, answer, sessionIds, trustedEventIds(transcripts));
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
      // What the dreamer read (the manifest), not what the store holds now: an edit made during the
      // dream makes the apply a conflict instead of being overwritten.
      expectedSha: manifest.get(livePath)?.sha256 ?? null,
    };
    return { pk: changeKey(dream.id), sk: change.path, value: stored };
  });
  if (items.length) await deps.store.putMany("resources", items);
  const violations = [...verdict.violations];
  if (deps.options.rubric && verdict.changes.length > 0) {
    const graded = await gradeDream(deps, dream.model.id, deps.options.rubric, finish.summary, items);
    addCallUsage(usage, graded.usage);
    if (graded.violation) violations.push(graded.violation);
  }
  const pinned: PinnedAnswer = {
    schemaVersion: 1,
    summary: finish.summary,
    usage,
    passed: violations.length === 0,
    violations,
    paths: verdict.changes.map((c) => c.path),
  };
  try {
    await deps.store.put(
      "resources",
      { pk: answerKey(dream.id), sk: "answer", value: pinned },
      { ifNotExists: true },
    );
    await deps.dreams.mutate(workspaceId, dream.id, (current) => {
      current.dream.usage = pinned.usage;
      return current;
    });
    return pinned;
  } catch (error) {
    if (!(error instanceof ConditionFailedError)) throw error;
    return (await deps.dreams.answer(dream.id)) as PinnedAnswer;
  }
}

/**
 * The dreamer ended its turn without a valid finish_dream (or ran out of steps): its answer is asked
 * for once more as a forced finish_dream call over its own transcript, validated and retried a
 * bounded number of times; then the dream fails saying why. The answer is pinned like a tool call's.
 */
async function forcedFinish(
  deps: DreamDeps,
  record: DreamRecord,
  session: SessionRecord,
  usage: CallUsage,
): Promise<FinishDream> {
  const { dream } = record;
  const messages = buildTranscript(await deps.events.read(session.session.id));
  const closing = `Your turn ended without a valid ${DREAMER_TOOL_NAMES.finish} call. Call ${DREAMER_TOOL_NAMES.finish} now: a summary, and one entry per file you changed in ${DREAM_OUTPUT_MOUNT}/ with its evidence.`;
  const last = messages.at(-1);
  if (last?.role === "user") {
    const content =
      typeof last.content === "string" ? [{ type: "text" as const, text: last.content }] : last.content;
    messages[messages.length - 1] = { role: "user", content: [...content, { type: "text", text: closing }] };
  } else messages.push({ role: "user", content: closing });
  const hint = await readHint(deps.store, dream.id);
  const finishTool = dreamerToolDefinitions.find((t) => t.name === DREAMER_TOOL_NAMES.finish);
  // The session's own request shape (system prompt, notes, tools), so its cached prefix is read again.
  const notes = [memoryPromptNote(session.session.resources), hint ? `# Starting hint\n${hint}` : undefined];
  const request = buildModelRequest(
    session.session.agent,
    messages,
    notes.filter((n): n is string => Boolean(n)).join("\n\n") || undefined,
    { bash: false, extension: dreamerToolDefinitions },
  );
  try {
    const read = await forcedToolCall(deps.model, {
      request,
      tool: finishTool as (typeof dreamerToolDefinitions)[number],
      schema: finishDreamSchema,
      check: (answer) => {
        const outside = answer.changes
          .flatMap((c) => c.evidence.map((e) => e.session_id))
          .filter((id) => !sessionIdsOf(dream).includes(id));
        return outside.length
          ? `evidence cites sessions outside this dream: ${outside.join(", ")}`
          : undefined;
      },
      maxAttempts: deps.options.maxMalformedFinishes,
    });
    addCallUsage(usage, read.usage);
    try {
      // First writer wins: a run that overlapped this one may have pinned its own answer, and the
      // change items must all come from one answer (its evidence decides what is quarantined).
      await deps.store.put(
        "resources",
        { pk: finishKey(dream.id), sk: "finish", value: read.value },
        { ifNotExists: true },
      );
      return read.value;
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
      return (await readFinish(deps.store, dream.id)) as FinishDream;
    }
  } catch (error) {
    if (!(error instanceof StructuredAnswerError)) throw error;
    addCallUsage(usage, error.usage);
    throw new DreamFailedError("invalid_dreamer_answer", `the dreamer's answer: ${error.message}`, {
      cause: error,
      usage,
    });
  }
}

function callUsageOf(usage: Session["usage"]): CallUsage {
  const out = zeroCallUsage();
  out.input_tokens = usage.input_tokens ?? 0;
  out.output_tokens = usage.output_tokens ?? 0;
  out.cache_read_input_tokens = usage.cache_read_input_tokens ?? 0;
  out.cache_creation_input_tokens =
    (usage.cache_creation?.ephemeral_5m_input_tokens ?? 0) +
    (usage.cache_creation?.ephemeral_1h_input_tokens ?? 0);
  return out;
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
  usage?: PinnedAnswer["usage"],
): Promise<void> {
  const result = await deps.dreams.mutate(workspaceId, dreamId, (current) => {
    if (isTerminalDreamStatus(current.dream.status)) return undefined;
    current.dream.status = "failed";
    current.dream.error = { type, message };
    if (usage) current.dream.usage = usage;
    current.dream.ended_at = new Date(deps.clock.now()).toISOString();
    current.run.leaseUntil = undefined;
    return current;
  });
  if (!result) return;
  const sessionId = result.after.dream.session_id;
  if (sessionId) await closeDreamSession(deps, workspaceId, sessionId);
  await new DreamsService(deps).release(result.after);
}
