/**
 * Multiagent threads in the step loop: a child thread runs through the very same `runAgentStep` as
 * a session's primary thread — only its repository (its own run record), its queue messages
 * (carrying `threadId`) and one extension (its budget rule, its report when idle) differ. The
 * coordinator's side is the `threads` RunExtension: a step whose model called `send_to_agent`
 * becomes a fan-out — its plan is stored, its threads created, a Step Functions execution started;
 * the coordinator is parked (`run.parkedStep`) until the execution's resume message brings every
 * thread's result.
 *
 * Every effect is idempotent (DESIGN.md §5): the plan is stored once per step, thread records are
 * created with `ifNotExists`, events go to fixed slots or through emitOnce, the orchestrator ignores
 * duplicate starts and answers, and a resume for a step the coordinator no longer waits on is dropped.
 */
import { idPrefix } from "../../contract/ids.js";
import type { SessionAgent, SessionEvent, SessionUsage } from "../../contract/sdk-types.js";
import {
  FANOUT_HEARTBEAT_SECONDS,
  FANOUT_MAX_CONCURRENCY,
  type FanoutExecutionInput,
} from "../../infra-spec/fanout-state-machine.js";
import { emitOnce } from "../events/emit-once.js";
import { subagentsOf } from "../multiagent/session-multiagent.js";
import {
  delegates,
  delegationToolDefinitions,
  inlineDispatch,
  predefinedMembers,
  type SubagentSendInput,
  SubagentSendInputSchema,
} from "../multiagent/subagents.js";
import { ConditionFailedError, type DomainEvent } from "../ports.js";
import { listPrice } from "../runtime/budget.js";
import type { RunExtension } from "../runtime/run-extension.js";
import { runningIndexEntry, type StopReason, wakeSession } from "../runtime/session-status.js";
import type { StepDeps, ThreadHooks } from "../runtime/step-deps.js";
import { type StepMessage, stepMessage } from "../runtime/step-message.js";
import type { StepRecord } from "../runtime/step-record.js";
import {
  emptySessionUsage,
  newRunState,
  type RunState,
  type SessionRecord,
} from "../sessions/session-record.js";
import { SendToAgentInputSchema, THREAD_TIMEOUT } from "./coordinator-tools.js";
import {
  dispatchedItems,
  type FanoutPlan,
  type FanoutPlanItem,
  loadFanoutPlan,
  saveFanoutPlan,
} from "./fanout-plan.js";
import {
  type FanoutResumeMessage,
  type ThreadDispatchMessage,
  threadQueueMessageSchema,
} from "./thread-messages.js";
import { metaOf, type ThreadMeta, threadMetaSchema, threadRepository } from "./thread-record.js";
import { sessionBudgetReached, sessionSpendUsd, threadSpends } from "./thread-spend.js";
import type { WorkflowThreadDispatcher } from "./thread-tasks.js";

/** A roster member as the coordinator sees it. */
export interface RosterMember {
  name: string;
  agent: SessionAgent;
}

export interface ThreadsRuntimeOptions {
  /** An agent snapshot by pinned reference (agents service). */
  resolveAgent(workspaceId: string, ref: { id: string; version: number }): Promise<SessionAgent>;
  /** The agent-steps queue URL the state machine sends to (any string locally). */
  queueUrl: string;
  /** Tokens a thread is assumed to spend when its call gives no token_budget (cost preflight). */
  estimatedThreadTokens: number;
}

/** A thread reply travels in the task output; Step Functions caps payloads at 256 KB for 25 threads. */
const MAX_REPLY_CHARS = 8_000;
const iso = (ms: number) => new Date(ms).toISOString();
const text = (t: string) => [{ type: "text" as const, text: t }];
/**
 * Resolves after the I/O callbacks that are ready now (a macrotask turn). Work a fan-out does not
 * wait on (bookkeeping after a thread's answer or wake-up) awaits this first, so that on one event
 * loop the 25 threads' critical work runs before any thread's bookkeeping instead of interleaved
 * with it. It changes the order of writes of different threads, never the order within one.
 */
const readyWorkFirst = () => new Promise<void>((resolve) => setImmediate(resolve));
/** The extension name a coordinator waiting on a fan-out is parked by. */
const THREADS = "threads";
/** The fan-out step a coordinator waits on, if it is parked by one. */
const fanoutStepOf = (run: RunState) => (run.parkedBy === THREADS ? run.parkedStep : undefined);
/** Why the threads of an interrupted coordinator's fan-out were cancelled. */
const INTERRUPTED = "the coordinator was interrupted";
/**
 * How long a fan-out may take: its longest timeout per wave of at most FANOUT_MAX_CONCURRENCY
 * threads, plus the heartbeat interval. The sweeper looks at a parked coordinator again after this,
 * and a fan-out this old is over whatever its execution did (its iterations time out by then).
 */
const fanoutWaitMs = (timeoutSeconds: number[]) =>
  (Math.ceil(timeoutSeconds.length / FANOUT_MAX_CONCURRENCY) * Math.max(0, ...timeoutSeconds) +
    FANOUT_HEARTBEAT_SECONDS) *
  1000;
const atWork = (run: SessionRecord) =>
  run.session.status === "running" || run.session.status === "rescheduling";
/**
 * Whether a thread is still in the turn of a task before task `key`: running, and either on another
 * task, or on this one before the step its turn for it starts at (`fromStep`).
 */
const stillOnEarlierTask = (thread: SessionRecord, key: string) => {
  if (!atWork(thread)) return false;
  const dispatch = metaOf(thread).dispatch;
  if (dispatch?.fanoutKey !== key) return true;
  return dispatch.fromStep !== undefined && thread.run.stepSeq < dispatch.fromStep;
};
/**
 * Whether a thread may still be woken for task `key`: the task is on its record, not answered and
 * not cancelled, and the thread is not archived. Read in the wake's own conditional write.
 */
const taskOpen = (thread: SessionRecord, key: string) => {
  const meta = metaOf(thread);
  const dispatch = meta.dispatch;
  return !meta.archivedAt && dispatch?.fanoutKey === key && !dispatch.outcome && !dispatch.cancelled;
};
/** Why a thread archived before its task reached it answers that task as cancelled. */
const ARCHIVED = "the thread was archived";
/** A fan-out's thread, as a cancel names it (`toolUseEventId`: its call, for a dispatch not yet arrived). */
interface CancelTarget {
  threadId: string;
  toolUseEventId?: string;
}
/** A thread's result as the store holds it (`recorded`: its outcome for the fan-out is there). */
interface StoredResult {
  threadId: string;
  toolUseEventId: string;
  recorded: boolean;
  ok: boolean;
  reply?: string;
  error?: string;
  cause?: string;
}
/** A thread's failed outcome as its task's failure (SendTaskFailure's error and cause). */
const taskFailureOf = (outcome: { error?: string }) => ({
  ok: false as const,
  error: outcome.error?.startsWith("cancelled") ? "ThreadCancelled" : "ThreadFailed",
  cause: outcome.error ?? "failed",
});

export class ThreadsRuntime implements ThreadHooks, WorkflowThreadDispatcher {
  /** Stored plans never change, so a process keeps the ones it read (25 dispatches read one plan). */
  private readonly plans = new Map<string, FanoutPlan>();

  /** The coordinator's side in the step loop: its tools, its fan-out (parking), its interrupt. */
  readonly extension: RunExtension = {
    name: THREADS,
    tools: (_deps, run) =>
      delegationToolDefinitions(run.session.agent).map((definition) => ({
        definition,
        // Answered from the fan-out, in the calls' reserved slots (applyPlan, resume).
        run: async () => "deferred" as const,
      })),
    afterTools: (deps, run, step) => this.planFanout(deps, run, step),
    resumeParked: async (deps, run) => {
      await this.startFanout(deps, run);
      return true;
    },
    interrupted: async (deps, run) => {
      const fanoutStep = fanoutStepOf(run.run);
      if (fanoutStep !== undefined)
        await this.cancelFanout(deps, run.workspaceId, run.session.id, fanoutStep);
    },
  };

  constructor(private readonly options: ThreadsRuntimeOptions) {}

  private async plan(deps: StepDeps, sessionId: string, stepSeq: number): Promise<FanoutPlan | undefined> {
    const key = `${sessionId}#${stepSeq}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const plan = await loadFanoutPlan(deps.store, sessionId, stepSeq);
    if (plan) {
      if (this.plans.size >= 200) this.plans.delete(this.plans.keys().next().value as string);
      this.plans.set(key, plan);
    }
    return plan;
  }

  async depsFor(deps: StepDeps, message: StepMessage): Promise<StepDeps> {
    if (!message.threadId) return deps;
    return this.threadDeps(deps, message.workspaceId, message.sessionId);
  }

  /** Deps for a session's child threads: their repository, their queue messages, their callbacks. */
  private threadDeps(deps: StepDeps, workspaceId: string, sessionId: string): StepDeps {
    return {
      ...deps,
      sessions: threadRepository(deps.store, sessionId),
      // The loop addresses a run by its own id; a thread's nudge names the session and the thread.
      steps: {
        send: (m, options) =>
          deps.steps.send(stepMessage(m.workspaceId, sessionId, m.stepSeq, m.sessionId), options),
      },
      // A child thread's own rules come first: its budget (which answers for the session's too)
      // and its report to the fan-out once idle.
      extensions: [
        {
          name: "child-thread",
          overBudget: (_deps, record, usage) =>
            this.threadOverBudget(deps, workspaceId, sessionId, record, usage),
          afterIdle: (_deps, record, stop) => this.threadIdle(deps, workspaceId, sessionId, record, stop),
        },
        ...(deps.extensions ?? []),
      ],
    };
  }

  /**
   * The agents a run delegates to: a coordinator's roster, resolved to the pinned agent versions
   * (self included), or the predefined agents copied into a multiagent_20261001 session.
   */
  async roster(workspaceId: string, agent: SessionAgent): Promise<RosterMember[]> {
    if (agent.multiagent?.type === "multiagent_20261001") return predefinedMembers(agent);
    if (agent.multiagent?.type !== "coordinator") return [];
    const members: RosterMember[] = [];
    for (const entry of agent.multiagent.agents) {
      if (entry.type !== "agent") continue;
      const resolved = await this.options.resolveAgent(workspaceId, { id: entry.id, version: entry.version });
      // One level only: a thread never coordinates (a `self` entry runs the coordinator without its roster).
      members.push({ name: resolved.name, agent: { ...resolved, multiagent: null } });
    }
    return members;
  }

  private async planFanout(deps: StepDeps, record: SessionRecord, step: StepRecord): Promise<boolean> {
    const agent = record.session.agent;
    if (!delegates(agent)) return false;
    const runs = step.toolRuns.filter((r) => r.name === "list_agents" || r.name === "send_to_agent");
    if (runs.length === 0) return false;
    const sessionId = record.session.id;
    const plan =
      (await loadFanoutPlan(deps.store, sessionId, step.stepSeq)) ??
      (await saveFanoutPlan(deps.store, sessionId, await this.buildPlan(deps, record, step)));
    await this.applyPlan(deps, record, plan);
    return dispatchedItems(plan).length > 0;
  }

  private async buildPlan(deps: StepDeps, record: SessionRecord, step: StepRecord): Promise<FanoutPlan> {
    const ws = record.workspaceId;
    const sessionId = record.session.id;
    const roster = await this.roster(ws, record.session.agent);
    const threads = threadRepository(deps.store, sessionId);
    const items: FanoutPlanItem[] = [];
    let policy: FanoutPlan["policy"] = "continue";
    const targeted = new Set<string>();
    /** The agent each dispatch runs (for the cost preflight). */
    const agentOf = new Map<string, SessionAgent>();
    const subagents = record.session.agent.multiagent?.type === "multiagent_20261001";
    let inlines = 0;
    for (const run of step.toolRuns) {
      if (run.name !== "list_agents" && run.name !== "send_to_agent") continue;
      const base = {
        toolUseEventId: run.toolUseEventId,
        resultSeq: run.resultSeq,
        resultEventId: run.resultEventId,
        tool: run.name,
      } as const;
      const refuse = (message: string) =>
        items.push({ ...base, immediate: { isError: true, text: message } });
      if (run.name === "list_agents") {
        const listing = roster.map((m) => ({
          name: m.name,
          id: m.agent.id,
          version: m.agent.version,
          description: m.agent.description,
          model: m.agent.model.id,
        }));
        items.push({ ...base, immediate: { isError: false, text: JSON.stringify(listing, null, 2) } });
        continue;
      }
      const parsed = (subagents ? SubagentSendInputSchema : SendToAgentInputSchema).safeParse(run.input);
      if (!parsed.success) {
        refuse(
          `Invalid input for send_to_agent: ${parsed.error.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ")}`,
        );
        continue;
      }
      const input = parsed.data;
      if (input.failure_policy === "cancel_siblings") policy = "cancel_siblings";
      let member: RosterMember | undefined;
      let threadId: string;
      let isNew = false;
      let inline = false;
      if (input.thread_id) {
        const thread = await threads.get(ws, input.thread_id);
        if (!thread) {
          refuse(`Unknown thread ${input.thread_id}: start a new one with agent_name.`);
          continue;
        }
        const meta = metaOf(thread);
        if (meta.archivedAt) {
          refuse(`Thread ${input.thread_id} is archived and takes no more messages.`);
          continue;
        }
        member = { name: meta.agentName, agent: thread.session.agent };
        threadId = input.thread_id;
      } else if ("agent" in input && input.agent !== undefined) {
        // multiagent_20261001: an inline agent, defined by this call, never saved.
        const defined = inlineDispatch(record.session.agent, input as SubagentSendInput, {
          budgeted: Boolean(record.session.budget),
          ordinal: ++inlines,
        });
        if ("refusal" in defined) {
          refuse(defined.refusal);
          continue;
        }
        member = { name: defined.agent.name, agent: defined.agent };
        threadId = deps.ids.next(idPrefix.thread);
        isNew = true;
        inline = true;
      } else {
        const wanted = input.agent_name ?? "";
        member = roster.find((m) => m.name === wanted) ?? roster.find((m) => m.agent.id === wanted);
        if (!member) {
          const inlineHint = subagentsOf(record.session.agent)?.inline
            ? " Or define an inline agent with agent instead of agent_name."
            : "";
          refuse(
            `No agent named ${JSON.stringify(wanted)} in your roster (${roster.map((m) => m.name).join(", ")}).${inlineHint}`,
          );
          continue;
        }
        threadId = deps.ids.next(idPrefix.thread);
        isNew = true;
      }
      if (targeted.has(threadId)) {
        refuse(`Thread ${threadId} already gets a message in this turn.`);
        continue;
      }
      targeted.add(threadId);
      agentOf.set(run.toolUseEventId, member.agent);
      items.push({
        ...base,
        dispatch: {
          threadId,
          isNew,
          agentName: member.name,
          agentRef: { id: member.agent.id, version: member.agent.version },
          ...(inline ? { inlineAgent: member.agent as unknown as Record<string, unknown> } : {}),
          message: input.message,
          timeoutSeconds: input.timeout_seconds ?? THREAD_TIMEOUT.default,
          ...(input.token_budget ? { tokenBudget: input.token_budget } : {}),
        },
      });
    }
    const refusal = await this.preflight(deps, record, items, agentOf);
    if (refusal) {
      for (const item of items)
        if (item.dispatch) {
          item.dispatch = undefined;
          item.immediate = { isError: true, text: refusal };
        }
    }
    return {
      schemaVersion: 1,
      stepSeq: step.stepSeq,
      policy,
      createdAt: iso(deps.clock.now()),
      items,
    };
  }

  /**
   * Cost preflight (extension): the dispatched threads' estimated spend — their token budgets, or a
   * default estimate, at their models' list input price — must fit what is left of the session budget.
   */
  private async preflight(
    deps: StepDeps,
    record: SessionRecord,
    items: FanoutPlanItem[],
    agentOf: ReadonlyMap<string, SessionAgent>,
  ) {
    const budget = record.session.budget;
    const dispatched = items.filter((i) => i.dispatch);
    if (!budget || dispatched.length === 0) return undefined;
    // What the session spent so far, every thread at its own model (thread-spend.ts).
    const spent = sessionSpendUsd(
      record.session.agent.model.id,
      record.session.usage,
      await threadSpends(deps.store, record.workspaceId, record.session.id),
    );
    let estimate = 0;
    for (const item of dispatched) {
      const d = item.dispatch as NonNullable<FanoutPlanItem["dispatch"]>;
      const agent =
        agentOf.get(item.toolUseEventId) ?? (await this.options.resolveAgent(record.workspaceId, d.agentRef));
      const price = listPrice(agent.model.id)?.input ?? 3;
      estimate += ((d.tokenBudget ?? this.options.estimatedThreadTokens) * price) / 1_000_000;
    }
    const limit = Number(budget.max_list_cost.amount);
    if (spent + estimate <= limit) return undefined;
    deps.logger.info("fan-out refused by cost preflight", {
      sessionId: record.session.id,
      spent,
      estimate,
      limit,
    });
    return `Fan-out refused by the cost preflight: ${dispatched.length} thread(s) are estimated at $${estimate.toFixed(4)} and the session has $${Math.max(0, limit - spent).toFixed(4)} of its $${limit.toFixed(2)} budget left. Send fewer threads, give them a smaller token_budget, or do the work yourself.`;
  }

  /** Creates the plan's new threads and writes its events; safe to repeat. */
  private async applyPlan(deps: StepDeps, record: SessionRecord, plan: FanoutPlan) {
    const ws = record.workspaceId;
    const sessionId = record.session.id;
    const now = plan.createdAt;
    const threads = threadRepository(deps.store, sessionId);
    const fresh = dispatchedItems(plan).filter((i) => i.dispatch.isNew);
    const roster = fresh.length > 0 ? await this.roster(ws, record.session.agent) : [];
    await Promise.all(
      fresh.map(async (item) => {
        const inline = item.dispatch.inlineAgent as SessionAgent | undefined;
        const agent = inline ?? roster.find((m) => m.agent.id === item.dispatch.agentRef.id)?.agent;
        if (agent)
          await this.createThread(
            threads,
            record,
            item.dispatch.threadId,
            item.dispatch.agentName,
            agent,
            now,
            inline ? { agentKind: "inline" } : {},
          );
      }),
    );
    // Each call's reserved slot: its result when answered now; for a dispatch, the thread's
    // creation (new) or the message sent (follow-up), so a live stream never waits on an empty slot.
    const slots = plan.items.map((item) => {
      const d = item.dispatch;
      const event: SessionEvent = d
        ? d.isNew
          ? {
              type: "session.thread_created",
              id: item.resultEventId,
              processed_at: now,
              agent_name: d.agentName,
              session_thread_id: d.threadId,
              workflow_run_id: null,
            }
          : messageSentEvent(item.resultEventId, now, d.threadId, d.agentName, d.message)
        : {
            type: "agent.tool_result",
            id: item.resultEventId,
            processed_at: now,
            tool_use_id: item.toolUseEventId,
            is_error: item.immediate?.isError ?? true,
            content: text(item.immediate?.text ?? ""),
          };
      return { seq: item.resultSeq, event, internals: {} };
    });
    await deps.events.write(sessionId, slots);
    const sent = dispatchedItems(plan)
      .filter((i) => i.dispatch.isNew)
      .map((i) =>
        messageSentEvent(
          deps.ids.next(idPrefix.event),
          now,
          i.dispatch.threadId,
          i.dispatch.agentName,
          i.dispatch.message,
        ),
      );
    await emitOnce(deps.store, deps.events, sessionId, `fanout#${plan.stepSeq}`, sent);
    for (const item of dispatchedItems(plan).filter((i) => i.dispatch.isNew)) {
      await this.publish(deps, ws, "session.thread_created", `${item.dispatch.threadId}#created`, {
        session_id: sessionId,
        session_thread_id: item.dispatch.threadId,
        agent_name: item.dispatch.agentName,
      });
    }
  }

  private async createThread(
    threads: ReturnType<typeof threadRepository>,
    parent: SessionRecord,
    threadId: string,
    agentName: string,
    agent: SessionAgent,
    now: string,
    extra: Pick<ThreadMeta, "agentKind" | "workflowRunId"> = {},
  ) {
    const meta: ThreadMeta = {
      schemaVersion: 1,
      sessionId: parent.session.id,
      agentName,
      parentThreadId: null,
      archivedAt: null,
      ...extra,
    };
    try {
      await threads.create({
        workspaceId: parent.workspaceId,
        session: {
          ...parent.session,
          id: threadId,
          agent,
          created_at: now,
          updated_at: now,
          status: "idle",
          usage: emptySessionUsage(),
          outcome_evaluations: [],
          metadata: {},
        },
        run: newRunState(),
        thread: meta,
      });
    } catch (error) {
      if (!(error instanceof ConditionFailedError)) throw error;
    }
  }

  /**
   * The parked coordinator was claimed: right after its park commit, or by the sweeper's nudge. A
   * nudge first asks the store whether the fan-out is over — every thread's outcome recorded, or its
   * deadline passed — and if so resumes the coordinator from the store: the execution's own resume
   * message may have been lost (a failed send, a dead letter), and a start of an execution that
   * already ran does nothing. Otherwise the execution is started (again: idempotent by name, which
   * recovers a lost start or an execution the embedded stack lost in a restart).
   */
  private async startFanout(deps: StepDeps, record: SessionRecord): Promise<void> {
    const fanoutStep = fanoutStepOf(record.run);
    if (fanoutStep === undefined) return;
    const sessionId = record.session.id;
    const plan = await this.plan(deps, sessionId, fanoutStep);
    if (!plan) throw new Error(`session ${sessionId}: no fan-out plan for step ${fanoutStep}`);
    const items = dispatchedItems(plan);
    const waitMs = fanoutWaitMs(items.map((i) => i.dispatch.timeoutSeconds));
    const interrupted = record.run.interruptSeq > record.run.interruptHandledSeq;
    // The park commit's own call holds no lease; a claim (the sweeper's nudge) does.
    const nudged = record.run.leaseOwner !== undefined;
    if (nudged) {
      const results = await this.storedResults(deps, record.workspaceId, sessionId, fanoutStep, items);
      const pastDeadline = deps.clock.now() >= Date.parse(plan.createdAt) + waitMs;
      if (pastDeadline || results.every((r) => r.recorded)) {
        deps.logger.info("resuming a coordinator from its threads' stored outcomes", {
          sessionId,
          fanoutStep,
          pastDeadline,
        });
        await this.resume(deps, this.resumeMessage(record, fanoutStep, results));
        return;
      }
    } else if (interrupted) {
      // Interrupted during the model call that dispatched (the park kept the interrupt pending): no
      // thread is started; each call is answered as cancelled, and the next step ends the turn.
      const results = items.map((i) => ({
        recorded: true,
        threadId: i.dispatch.threadId,
        toolUseEventId: i.toolUseEventId,
        ...taskFailureOf({ error: `cancelled: ${INTERRUPTED}` }),
      }));
      await this.resume(deps, this.resumeMessage(record, fanoutStep, results));
      return;
    }
    const input: FanoutExecutionInput = {
      schemaVersion: 1,
      queueUrl: this.options.queueUrl,
      workspaceId: record.workspaceId,
      sessionId,
      fanoutStep,
      threads: items.map((i) => ({
        QueueUrl: this.options.queueUrl,
        MessageBody: {
          schemaVersion: 1,
          kind: "thread_dispatch",
          workspaceId: record.workspaceId,
          sessionId,
          threadId: i.dispatch.threadId,
          toolUseEventId: i.toolUseEventId,
          fanoutKey: String(fanoutStep),
          timeoutSeconds: i.dispatch.timeoutSeconds,
        },
      })),
    };
    if (!deps.orchestrator) throw new Error("threads need a fan-out orchestrator");
    await deps.orchestrator.start(`${sessionId}-${fanoutStep}`, input);
    // An interrupt whose cancel a crash cut short is finished when the sweeper re-nudges the coordinator.
    if (interrupted) await this.cancelFanout(deps, record.workspaceId, sessionId, fanoutStep);
    // The sweeper looks again only after the longest thread could have finished: then the fan-out is
    // over by the store's account (above), or the execution is started again.
    await deps.sessions.mutate(record.workspaceId, sessionId, (current) => {
      if (fanoutStepOf(current.run) !== fanoutStep) return undefined;
      current.run.leaseUntil = undefined;
      current.run.leaseOwner = undefined;
      current.run.nudgeAfter = deps.clock.now() + waitMs;
      return current;
    });
  }

  /**
   * Every dispatched thread's result as its thread record holds it (`recorded`: its outcome for this
   * fan-out is there), shaped like the execution's results; a thread without one gave no result.
   */
  private async storedResults(
    deps: StepDeps,
    ws: string,
    sessionId: string,
    fanoutStep: number,
    items: ReturnType<typeof dispatchedItems>,
  ): Promise<StoredResult[]> {
    const threads = threadRepository(deps.store, sessionId);
    return Promise.all(
      items.map(async (item) => {
        const thread = await threads.get(ws, item.dispatch.threadId);
        const dispatch = thread ? metaOf(thread).dispatch : undefined;
        const outcome = dispatch?.fanoutKey === String(fanoutStep) ? dispatch.outcome : undefined;
        const base = { threadId: item.dispatch.threadId, toolUseEventId: item.toolUseEventId };
        if (!outcome)
          return {
            ...base,
            recorded: false,
            ok: false,
            error: "no result was recorded by the fan-out's deadline",
          };
        return outcome.ok
          ? { ...base, recorded: true, ok: true, reply: (outcome.reply ?? "").slice(0, MAX_REPLY_CHARS) }
          : { ...base, recorded: true, ...taskFailureOf(outcome) };
      }),
    );
  }

  /** The resume the execution would have sent, made of `results` (resume's input, never queued). */
  private resumeMessage(
    record: SessionRecord,
    fanoutStep: number,
    results: StoredResult[],
  ): FanoutResumeMessage {
    return {
      schemaVersion: 1,
      kind: "fanout_resume",
      workspaceId: record.workspaceId,
      sessionId: record.session.id,
      fanoutStep,
      results: results.map(({ threadId, toolUseEventId, ok, reply, error, cause }) => ({
        threadId,
        toolUseEventId,
        ok,
        reply,
        error,
        cause,
      })),
    };
  }

  /** Handles a fan-out message from the agent-steps queue; false when `body` is not one. */
  async handleQueueMessage(deps: StepDeps, body: unknown): Promise<boolean> {
    const kind = typeof body === "object" && body !== null ? (body as { kind?: unknown }).kind : undefined;
    if (kind !== "thread_dispatch" && kind !== "fanout_resume") return false;
    const message = threadQueueMessageSchema.parse(body);
    if (message.kind === "thread_dispatch") await this.dispatch(deps, message);
    else await this.resume(deps, message);
    return true;
  }

  /** A thread's iteration started: record its task token, give it the message, wake it. */
  private async dispatch(deps: StepDeps, message: ThreadDispatchMessage) {
    const { workspaceId: ws, sessionId, threadId, fanoutKey, taskToken } = message;
    const threadDeps = this.threadDeps(deps, ws, sessionId);
    const plan = await this.plan(deps, sessionId, Number(fanoutKey));
    const item = plan && dispatchedItems(plan).find((i) => i.dispatch.threadId === threadId);
    const thread = await threadDeps.sessions.get(ws, threadId);
    if (!item || !thread) {
      await deps.orchestrator?.sendTaskFailure(taskToken, "ThreadMissing", `thread ${threadId} not found`);
      return;
    }
    const known = metaOf(thread).dispatch;
    if (known?.fanoutKey === fanoutKey && known.outcome) {
      // Redelivered, or a restarted execution: the thread has answered already — answer again.
      await this.answer(deps, taskToken, threadId, known.outcome);
      return;
    }
    if (known && Number(known.fanoutKey) > Number(fanoutKey)) {
      // A dispatch of an earlier fan-out arriving after a later one gave the thread its next task.
      await deps.orchestrator?.sendTaskFailure(
        taskToken,
        "ThreadCancelled",
        "a later fan-out took the thread",
      );
      return;
    }
    await this.giveTask(deps, {
      workspaceId: ws,
      sessionId,
      threadId,
      key: fanoutKey,
      toolUseEventId: message.toolUseEventId,
      message: item.dispatch.message,
      agentName: item.dispatch.agentName,
      taskToken,
      tokenBudget: item.dispatch.tokenBudget,
      known: thread,
    });
    // Checked after the thread is awake: an interrupt whose cancel ran before this dispatch existed
    // is seen here (its coordinator write precedes this read), one that ran later saw the dispatch.
    const parent = await deps.sessions.get(ws, sessionId);
    if (!parent || fanoutStepOf(parent.run) !== Number(fanoutKey))
      // The coordinator no longer waits on this fan-out (resumed from the store at its deadline while
      // the execution still ran): nobody reads this thread's answer, so it stops.
      await this.cancelThreads(
        deps,
        ws,
        sessionId,
        fanoutKey,
        [{ threadId, toolUseEventId: message.toolUseEventId }],
        "its fan-out ended without it",
      );
    else if (parent.run.interruptSeq > parent.run.interruptHandledSeq)
      await this.cancelFanout(deps, ws, sessionId, Number(fanoutKey));
  }

  /**
   * Gives a thread a message to work on for task `key` (a fan-out's dispatch, a workflow run's
   * call) and wakes it: its `user.message`, the task token it answers when it goes idle, the
   * primary stream's `session.thread_status_running`, its running-index entry (the sweeper re-nudges
   * a stalled thread). Idempotent per (thread, key); a new token for the same key replaces the old.
   */
  private async giveTask(
    deps: StepDeps,
    task: {
      workspaceId: string;
      sessionId: string;
      threadId: string;
      key: string;
      toolUseEventId: string;
      message: string;
      agentName: string;
      taskToken: string;
      tokenBudget?: number;
      /** The thread's record as the caller just read it (saves a read). */
      known?: SessionRecord;
    },
  ) {
    const { workspaceId: ws, sessionId, threadId, key, taskToken } = task;
    const threadDeps = this.threadDeps(deps, ws, sessionId);
    const now = deps.clock.now();
    const before = task.known ?? (await threadDeps.sessions.get(ws, threadId));
    // The task goes on the thread's record first, by a conditional write that reads what it starts
    // under: a thread archived, or a task cancelled before its dispatch arrived (a failed sibling, an
    // interrupt, its fan-out over: cancelThreads left its outcome), is answered and never woken.
    const saved = await threadDeps.sessions.mutate(
      ws,
      threadId,
      (current) => {
        const meta = metaOf(current);
        if (meta.dispatch?.fanoutKey === key) {
          if (meta.dispatch.outcome || meta.dispatch.taskToken === taskToken) return undefined;
          meta.dispatch.taskToken = taskToken;
        } else if (meta.archivedAt) {
          meta.dispatch = {
            fanoutKey: key,
            toolUseEventId: task.toolUseEventId,
            taskToken,
            startTokens: 0,
            cancelled: true,
            cancelReason: ARCHIVED,
            outcome: { ok: false, error: `cancelled: ${ARCHIVED}` },
          };
        } else {
          const busy = atWork(current);
          meta.dispatch = {
            fanoutKey: key,
            toolUseEventId: task.toolUseEventId,
            taskToken,
            startTokens:
              (current.session.usage.input_tokens ?? 0) + (current.session.usage.output_tokens ?? 0),
            // A turn under way now began before this task: only one from the next step answers it.
            fromStep: current.run.stepSeq + (busy ? 1 : 0),
            // A thread still in the turn of a task given up on (cancelled, its model call in flight)
            // gets the message once that turn has ended (threadIdle): written now, it would come
            // before that turn's reply, and the turn's end would be taken for this task's.
            ...(busy ? { pendingMessage: task.message } : {}),
            ...(task.tokenBudget ? { tokenBudget: task.tokenBudget } : {}),
          };
        }
        current.thread = meta;
        return current;
      },
      before ? { from: before } : {},
    );
    const after = saved?.after ?? (await threadDeps.sessions.get(ws, threadId));
    const dispatch = after ? metaOf(after).dispatch : undefined;
    if (!after) {
      // Deleted with its session since it was read: nothing to start, nobody to wait.
      await deps.orchestrator?.sendTaskFailure(taskToken, "ThreadMissing", `thread ${threadId} not found`);
      return;
    }
    // A later task took it (the dispatch of an earlier one arriving late): nothing to start.
    if (dispatch?.fanoutKey !== key) return;
    if (dispatch.outcome) {
      await this.answer(deps, taskToken, threadId, dispatch.outcome);
      return;
    }
    await emitOnce(deps.store, deps.events, sessionId, `thread-running#${threadId}#${key}`, [
      {
        type: "session.thread_status_running",
        id: deps.ids.next(idPrefix.event),
        processed_at: iso(now),
        agent_name: task.agentName,
        session_thread_id: threadId,
      },
    ]);
    await this.publish(deps, ws, "session.thread_status_running", `${threadId}#running#${key}`, {
      session_id: sessionId,
      session_thread_id: threadId,
    });
    // Deferred: that earlier turn's end delivers the message (threadIdle), unless it ended meanwhile
    // (before this dispatch was on the record, so its report did not deliver it): delivered now.
    if (dispatch.pendingMessage !== undefined && stillOnEarlierTask(after, key)) return;
    const seq = await this.logMessage(deps, ws, sessionId, threadId, key, task.message);
    await this.wakeForTask(deps, ws, sessionId, threadId, key, seq);
  }

  /**
   * Wakes a thread for task `key` if the task is still open on its record (read in the wake's own
   * conditional write): its running-index entry goes with the wake and names the session, so the
   * sweeper can re-nudge a stalled thread. A task closed since (cancelled, or the thread archived)
   * is answered instead, the thread left idle.
   */
  private async wakeForTask(
    deps: StepDeps,
    ws: string,
    sessionId: string,
    threadId: string,
    key: string,
    seq: number,
  ) {
    const threadDeps = this.threadDeps(deps, ws, sessionId);
    let closed = false;
    await wakeSession(threadDeps, ws, threadId, seq, "*", undefined, (current) => {
      closed = !taskOpen(current, key);
      return !closed;
    });
    if (!closed) return;
    const thread = await threadDeps.sessions.get(ws, threadId);
    const meta = thread && metaOf(thread);
    if (meta?.dispatch?.fanoutKey !== key) return;
    if (meta.archivedAt && !meta.dispatch.outcome)
      // Archived after the task was on its record: it ends here, as cancelled.
      await this.cancelThreads(deps, ws, sessionId, key, [{ threadId }], ARCHIVED);
    else if (meta.dispatch.outcome && meta.dispatch.taskToken)
      await this.answer(deps, meta.dispatch.taskToken, threadId, meta.dispatch.outcome);
  }

  /** Appends a task's message to the thread's log, once per (thread, task): its sequence. */
  private async logMessage(
    deps: StepDeps,
    ws: string,
    sessionId: string,
    threadId: string,
    key: string,
    message: string,
  ): Promise<number> {
    const threadDeps = this.threadDeps(deps, ws, sessionId);
    const [logged] = await emitOnce(deps.store, threadDeps.events, threadId, `dispatch#${key}`, [
      {
        type: "user.message",
        id: deps.ids.next(idPrefix.event),
        processed_at: iso(deps.clock.now()),
        content: text(message),
      },
    ]);
    return logged?.seq ?? 0;
  }

  /**
   * A workflow run's call (core/workflows): a new thread of the session, created by the run
   * (`workflow_run_id` on it and on its `session.thread_created`), given the call's input.
   */
  async dispatchTask(deps: StepDeps, task: Parameters<WorkflowThreadDispatcher["dispatchTask"]>[1]) {
    const { workspaceId: ws, sessionId, threadId } = task;
    const parent = await deps.sessions.get(ws, sessionId);
    if (!parent) throw new Error(`session ${sessionId} not found`);
    const now = iso(deps.clock.now());
    await this.createThread(
      threadRepository(deps.store, sessionId),
      parent,
      threadId,
      task.agentName,
      task.agent,
      now,
      {
        agentKind: task.agentKind,
        workflowRunId: task.workflowRunId,
      },
    );
    await emitOnce(deps.store, deps.events, sessionId, `thread-created#${threadId}`, [
      {
        type: "session.thread_created",
        id: deps.ids.next(idPrefix.event),
        processed_at: now,
        agent_name: task.agentName,
        session_thread_id: threadId,
        workflow_run_id: task.workflowRunId,
      },
    ]);
    await this.publish(deps, ws, "session.thread_created", `${threadId}#created`, {
      session_id: sessionId,
      session_thread_id: threadId,
      agent_name: task.agentName,
    });
    await this.giveTask(deps, task);
  }

  /** Stops workflow calls' threads still at work (each answers as cancelled at its next decision point). */
  async cancelTasks(
    deps: StepDeps,
    workspaceId: string,
    sessionId: string,
    tasks: Array<{ threadId: string; key: string }>,
    reason: string,
  ) {
    for (const task of tasks)
      await this.cancelThreads(deps, workspaceId, sessionId, task.key, [{ threadId: task.threadId }], reason);
  }

  private async answer(
    deps: StepDeps,
    token: string,
    threadId: string,
    outcome: NonNullable<ThreadMeta["dispatch"]>["outcome"],
  ) {
    if (!deps.orchestrator || !outcome) return;
    if (outcome.ok)
      await deps.orchestrator.sendTaskSuccess(token, {
        threadId,
        reply: (outcome.reply ?? "").slice(0, MAX_REPLY_CHARS),
      });
    else {
      const failure = taskFailureOf(outcome);
      await deps.orchestrator.sendTaskFailure(token, failure.error, failure.cause);
    }
  }

  /** Budget rule of a child thread: its own token budget for the dispatch, and the shared session budget. */
  private async threadOverBudget(
    deps: StepDeps,
    workspaceId: string,
    sessionId: string,
    record: SessionRecord,
    usage: SessionUsage,
  ): Promise<boolean> {
    const dispatch = metaOf(record).dispatch;
    // Asked at the start and at the commit of every claimed step: also the step's heartbeat for the
    // execution waiting on this thread.
    if (dispatch?.taskToken && !dispatch.outcome)
      await deps.orchestrator?.sendTaskHeartbeat(dispatch.taskToken).catch(() => {});
    const tokens = (usage.input_tokens ?? 0) + (usage.output_tokens ?? 0);
    if (dispatch?.tokenBudget && tokens - dispatch.startTokens >= dispatch.tokenBudget) return true;
    // A thread carries its session's budget from creation: without one, no read of the parent.
    if (!record.session.budget) return false;
    const parent = await deps.sessions.get(workspaceId, sessionId);
    if (!parent?.session.budget) return false;
    // Every thread at its own model's price; this one with the usage being committed.
    const threads = (await threadSpends(deps.store, workspaceId, sessionId)).map((t) =>
      t.threadId === record.session.id ? { ...t, usage } : t,
    );
    if (!threads.some((t) => t.threadId === record.session.id))
      threads.push({ threadId: record.session.id, model: record.session.agent.model.id, usage });
    return sessionBudgetReached(
      parent.session.budget,
      parent.session.agent.model.id,
      parent.session.usage,
      threads,
    );
  }

  /**
   * Every child thread's cumulative usage, read from the thread records themselves: threads never
   * write the parent's record, so 25 threads finishing at once do not contend on it. The parent's
   * `run.threadUsage` takes this snapshot when a fan-out resumes.
   */
  private async threadUsage(deps: StepDeps, workspaceId: string, sessionId: string) {
    const threads = await threadRepository(deps.store, sessionId).list(workspaceId, {
      order: "asc",
      limit: 1000,
    });
    return Object.fromEntries(threads.map((t) => [t.session.id, t.session.usage]));
  }

  /**
   * A child thread went idle: record its outcome, report it on the primary stream and answer its
   * task. Re-runnable: until the task is answered the thread keeps a running-index entry, so the
   * sweeper finishes a report a crash cut short (recoverIdleThread).
   */
  private async threadIdle(
    deps: StepDeps,
    workspaceId: string,
    sessionId: string,
    record: SessionRecord,
    stop: StopReason,
  ): Promise<void> {
    const threadId = record.session.id;
    const meta = metaOf(record);
    const dispatch = meta.dispatch;
    if (!dispatch || dispatch.answered) return;
    if (!dispatch.cancelled && dispatch.fromStep !== undefined && record.run.stepSeq <= dispatch.fromStep) {
      // The turn that ended began before this task was given (a cancelled task's turn, ending late):
      // its reply is not this task's. The task's message, held back until now, is logged after that
      // turn and the thread woken to answer it. (A task cancelled meanwhile is reported as such.)
      const seq =
        dispatch.pendingMessage === undefined
          ? 0
          : await this.logMessage(
              deps,
              workspaceId,
              sessionId,
              threadId,
              dispatch.fanoutKey,
              dispatch.pendingMessage,
            );
      await this.wakeForTask(deps, workspaceId, sessionId, threadId, dispatch.fanoutKey, seq);
      return;
    }
    await deps.store.put("resources", runningIndexEntry(workspaceId, threadId, sessionId));
    const outcome = dispatch.outcome ?? (await this.outcomeOf(deps, threadId, dispatch, stop));
    const threads = threadRepository(deps.store, sessionId);
    const saved = await threads.mutate(workspaceId, threadId, (current) => {
      const m = metaOf(current);
      if (m.dispatch?.fanoutKey !== dispatch.fanoutKey || m.dispatch.outcome) return undefined;
      m.dispatch.outcome = outcome;
      current.thread = threadMetaSchema.parse(m);
      return current;
    });
    const stored = saved ? metaOf(saved.after).dispatch : undefined;
    if (stored?.fanoutKey !== dispatch.fanoutKey || !stored.outcome) return;
    const final = stored.outcome;
    const now = iso(deps.clock.now());
    const events: SessionEvent[] = [
      {
        type: "session.thread_status_idle",
        id: deps.ids.next(idPrefix.event),
        processed_at: now,
        agent_name: meta.agentName,
        session_thread_id: threadId,
        stop_reason: (final.stop ?? stop) as StopReason,
        stop_details: null,
      },
    ];
    if (final.reply)
      events.push({
        type: "agent.thread_message_received",
        id: deps.ids.next(idPrefix.event),
        processed_at: now,
        content: text(final.reply),
        from_session_thread_id: threadId,
        from_agent_name: meta.agentName,
      });
    await emitOnce(
      deps.store,
      deps.events,
      sessionId,
      `thread-idle#${threadId}#${dispatch.fanoutKey}`,
      events,
    );
    if (stored.taskToken) await this.answer(deps, stored.taskToken, threadId, final);
    // Only the answer is on the fan-out's path to its resume; what follows lets the work that is
    // ready first go ahead (siblings' model answers reaching their own answers).
    await readyWorkFirst();
    await this.publish(deps, workspaceId, "session.thread_idled", `${threadId}#idle#${dispatch.fanoutKey}`, {
      session_id: sessionId,
      session_thread_id: threadId,
      stop_reason: ((final.stop ?? stop) as StopReason).type,
    });
    await threads.mutate(workspaceId, threadId, (current) => {
      const m = metaOf(current);
      if (m.dispatch?.fanoutKey !== dispatch.fanoutKey || m.dispatch.answered) return undefined;
      m.dispatch.answered = true;
      current.thread = threadMetaSchema.parse(m);
      return current;
    });
    // The entry is removed by the caller once this returns (the step loop after afterIdle, the sweeper
    // after recoverIdleThread), so that a crash before then leaves it for the sweeper.
    if (!final.ok && !dispatch.cancelled)
      await this.cancelSiblings(deps, workspaceId, sessionId, threadId, dispatch.fanoutKey);
  }

  /** What a thread's turn amounts to for its dispatcher: its reply, or why it has none. */
  private async outcomeOf(
    deps: StepDeps,
    threadId: string,
    dispatch: NonNullable<ThreadMeta["dispatch"]>,
    stop: StopReason,
  ): Promise<NonNullable<NonNullable<ThreadMeta["dispatch"]>["outcome"]>> {
    const recent = (await deps.events.read(threadId, { order: "desc", limit: 50 })).map((e) => e.event);
    const reply = recent
      .find((e) => e.type === "agent.message")
      ?.content.map((b) => (b.type === "text" ? b.text : ""))
      .join("");
    const failure = recent.find((e) => e.type === "session.error");
    const stopRecord = stop as unknown as Record<string, unknown>;
    if (stop.type === "end_turn" && !dispatch.cancelled)
      return { ok: true, reply: reply ?? "", stop: stopRecord };
    const error = dispatch.cancelled
      ? `cancelled: ${dispatch.cancelReason ?? "a sibling thread failed (failure_policy cancel_siblings)"}`
      : stop.type === "retries_exhausted"
        ? `the thread failed: ${failure?.type === "session.error" ? failure.error.message : "model errors"}`
        : `the thread stopped (${stop.type}${dispatch.tokenBudget && stop.type === "budget_reached" ? `: token_budget ${dispatch.tokenBudget}` : ""})${reply ? `; its last message: ${reply}` : ""}`;
    return { ok: false, error, stop: stopRecord };
  }

  async recoverIdleThread(deps: StepDeps, workspaceId: string, sessionId: string, threadId: string) {
    const record = await threadRepository(deps.store, sessionId).get(workspaceId, threadId);
    if (!record || record.session.status === "running" || record.session.status === "rescheduling") return;
    const dispatch = metaOf(record).dispatch;
    if (!dispatch || dispatch.answered) return;
    const lastIdle = (await deps.events.read(threadId, { order: "desc", limit: 50 }))
      .map((e) => e.event)
      .find((e) => e.type === "session.status_idle");
    const stop =
      lastIdle?.type === "session.status_idle" ? lastIdle.stop_reason : { type: "end_turn" as const };
    deps.logger.info("finishing an idle thread's report", { sessionId, threadId });
    await this.threadIdle(deps, workspaceId, sessionId, record, stop);
  }

  /** Failure policy `cancel_siblings`: interrupt the fan-out's other threads; they answer as cancelled. */
  private async cancelSiblings(
    deps: StepDeps,
    ws: string,
    sessionId: string,
    failedId: string,
    fanoutKey: string,
  ) {
    const plan = await this.plan(deps, sessionId, Number(fanoutKey));
    if (plan?.policy !== "cancel_siblings") return;
    const others = dispatchedItems(plan)
      .filter((i) => i.dispatch.threadId !== failedId)
      .map((i) => ({ threadId: i.dispatch.threadId, toolUseEventId: i.toolUseEventId }));
    await this.cancelThreads(
      deps,
      ws,
      sessionId,
      fanoutKey,
      others,
      "a sibling thread failed (failure_policy cancel_siblings)",
    );
  }

  /**
   * Stops the given threads of a fan-out (or workflow task `fanoutKey`) that have not answered, each
   * by a conditional write of its record, so that a dispatch, which reads the same record in its
   * own write, either sees the cancel or is seen by it:
   * - at work on the task: marked cancelled, its interrupt raised; it ends at its next decision
   *   point and answers as cancelled;
   * - given the task but not woken yet (idle, its turn for it not begun): marked cancelled with its
   *   outcome, and its task answered here; the dispatch's wake, conditional on an open task, does
   *   nothing;
   * - not given the task yet (its dispatch still queued or late; a fan-out's target names its call):
   *   the task is put on its record already cancelled, with its outcome, so that the dispatch, when
   *   it comes, answers it from the record and wakes nothing.
   * An idle thread whose turn for the task has run is left alone (its report is underway).
   * Idempotent (a redelivery changes nothing).
   */
  private async cancelThreads(
    deps: StepDeps,
    ws: string,
    sessionId: string,
    fanoutKey: string,
    targets: CancelTarget[],
    reason: string,
  ) {
    const threads = threadRepository(deps.store, sessionId);
    const outcome = { ok: false, error: `cancelled: ${reason}` };
    for (const { threadId, toolUseEventId } of targets) {
      const saved = await threads.mutate(ws, threadId, (current) => {
        const meta = metaOf(current);
        const dispatch = meta.dispatch;
        if (dispatch?.fanoutKey !== fanoutKey) {
          // Not on the record yet; only a fan-out's target (a numeric key, later than the thread's
          // last task's) is put there cancelled. A workflow's task is given as its thread is made.
          const earlier = dispatch === undefined || Number(dispatch.fanoutKey) < Number(fanoutKey);
          if (toolUseEventId === undefined || !earlier) return undefined;
          meta.dispatch = {
            fanoutKey,
            toolUseEventId,
            startTokens: 0,
            cancelled: true,
            cancelReason: reason,
            outcome,
          };
        } else {
          if (dispatch.outcome || dispatch.cancelled) return undefined;
          if (atWork(current)) {
            current.run.interruptSeq = Math.max(
              current.run.interruptSeq,
              current.run.interruptHandledSeq + 1,
            );
          } else if (dispatch.fromStep === undefined || current.run.stepSeq <= dispatch.fromStep) {
            dispatch.outcome = outcome;
          } else return undefined;
          dispatch.cancelled = true;
          dispatch.cancelReason = reason;
        }
        current.thread = meta;
        return current;
      });
      const after = saved && saved.before.rev !== saved.after.rev ? metaOf(saved.after).dispatch : undefined;
      // Given but never woken: no turn reports it, so its task is answered now.
      if (after?.outcome && after.taskToken)
        await this.answer(deps, after.taskToken, threadId, after.outcome);
    }
  }

  /** A coordinator waiting on its fan-out was interrupted: every thread of the plan is stopped. */
  private async cancelFanout(
    deps: StepDeps,
    ws: string,
    sessionId: string,
    fanoutStep: number,
  ): Promise<void> {
    const plan = await this.plan(deps, sessionId, fanoutStep);
    if (!plan) return;
    const targets = dispatchedItems(plan).map((i) => ({
      threadId: i.dispatch.threadId,
      toolUseEventId: i.toolUseEventId,
    }));
    await this.cancelThreads(deps, ws, sessionId, String(fanoutStep), targets, INTERRUPTED);
  }

  /**
   * The fan-out ended: every result becomes its `send_to_agent` call's tool result; the coordinator
   * resumes. From the execution's message or, when that was lost, from the store (startFanout); the
   * first to clear the park wins, and the other finds it cleared and changes nothing.
   */
  private async resume(deps: StepDeps, message: FanoutResumeMessage) {
    const { workspaceId: ws, sessionId, fanoutStep } = message;
    const record = await deps.sessions.get(ws, sessionId);
    if (!record || fanoutStepOf(record.run) !== fanoutStep) return;
    const plan = await this.plan(deps, sessionId, fanoutStep);
    if (!plan) return;
    const now = iso(deps.clock.now());
    const results: SessionEvent[] = dispatchedItems(plan).map((item) => {
      const r = message.results.find((x) => x.toolUseEventId === item.toolUseEventId);
      const body = r?.ok
        ? r.reply || "(the agent ended its turn without a reply)"
        : `Thread ${item.dispatch.threadId} (${item.dispatch.agentName}) gave no result: ${describeError(r?.error, r?.cause)}`;
      return {
        type: "agent.tool_result",
        id: deps.ids.next(idPrefix.event),
        processed_at: now,
        tool_use_id: item.toolUseEventId,
        is_error: !r?.ok,
        content: text(body),
      };
    });
    await emitOnce(deps.store, deps.events, sessionId, `fanout-results#${fanoutStep}`, results);
    // A thread that timed out or failed may still be running (and spending): stop it, before the
    // coordinator moves on, so a redelivered resume repeats the stop.
    const failed = dispatchedItems(plan).filter(
      (item) => !message.results.find((x) => x.toolUseEventId === item.toolUseEventId)?.ok,
    );
    await this.cancelThreads(
      deps,
      ws,
      sessionId,
      String(fanoutStep),
      failed.map((i) => ({ threadId: i.dispatch.threadId, toolUseEventId: i.toolUseEventId })),
      "its fan-out gave up on it (timed out or failed)",
    );
    const threadUsage = await this.threadUsage(deps, ws, sessionId);
    const saved = await deps.sessions.mutate(
      ws,
      sessionId,
      (current) => {
        if (fanoutStepOf(current.run) !== fanoutStep) return undefined;
        current.run.parkedStep = undefined;
        current.run.parkedBy = undefined;
        // A resume from the store runs in the claim of a nudge: its lease ends with the park.
        current.run.leaseUntil = undefined;
        current.run.leaseOwner = undefined;
        current.run.threadUsage = threadUsage;
        current.run.stepClaims = 0;
        current.run.nudgeAfter = deps.clock.now() + deps.leaseMs;
        return current;
      },
      { from: record },
    );
    if (saved && saved.before.rev !== saved.after.rev)
      await deps.steps.send(stepMessage(ws, sessionId, saved.after.run.stepSeq));
  }

  private async publish(
    deps: StepDeps,
    workspaceId: string,
    type: string,
    key: string,
    data: Record<string, unknown>,
  ) {
    // The SDK's thread webhooks carry the session as `id` (and the thread as `session_thread_id`).
    const event: DomainEvent = {
      type,
      id: `dev_${key}`,
      workspaceId,
      createdAt: iso(deps.clock.now()),
      data: { id: data.session_id, ...data },
    };
    await deps.domainEvents
      .publish(event)
      .catch((error) => deps.logger.warn("domain event not published", { type, error: String(error) }));
  }
}

function messageSentEvent(
  id: string,
  now: string,
  threadId: string,
  agentName: string,
  message: string,
): SessionEvent {
  return {
    type: "agent.thread_message_sent",
    id,
    processed_at: now,
    content: text(message),
    to_session_thread_id: threadId,
    to_agent_name: agentName,
  };
}

function describeError(error: string | undefined, cause: string | undefined): string {
  if (!error) return "no result was reported";
  if (error === "States.Timeout") return "it timed out (timeout_seconds elapsed)";
  if (error === "States.HeartbeatTimeout") return "it stopped sending heartbeats";
  return cause && cause !== error ? `${error}: ${cause}` : error;
}
