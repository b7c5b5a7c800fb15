/**
 * One run kernel: a session's primary thread, a coordinator's thread, a child thread, a dream and a
 * workflow run's threads all run through the same step loop (agent-step.ts). What differs between
 * them is not a branch inside the loop but a `RunExtension` the composition root lists, asked at
 * fixed points of every step:
 *
 *     claim ─▶ resumeParked?      a parked run's claim restarts what it waits on (a fan-out)
 *           ─▶ systemNote         session-constant prompt additions (memory mounts, skills, a brief)
 *           ─▶ contextText        what its own events say in the model's context (an outcome, a result)
 *           ─▶ tools              tools beyond the agent's toolset, run here (coordinator, dreamer…)
 *     model ─▶ tool.run           each call to an extension tool, result in its reserved slot
 *           ─▶ afterTools         may park the run until outside work ends (threads, a workflow run)
 *     interrupt ─▶ interrupted    stop outside work (a fan-out's threads, workflow runs)
 *     commit ─▶ insteadOfIdle     may take the end of a turn over (an outcome's grader)
 *            ─▶ afterIdle         the idle transition is committed (a child thread reports back)
 *     budget ─▶ overBudget        a run's own budget rule (a child thread's token budget)
 *
 * The kernel imports no extension; extensions import the kernel. Every hook may run more than once
 * for the same step (a crash, a duplicate delivery) and must be idempotent (DESIGN.md §5).
 */
import type Anthropic from "@anthropic-ai/sdk";
import type { SessionUsage } from "../../contract/sdk-types.js";
import type { LoggedEvent } from "../events/event-log.js";
import type { SessionRecord } from "../sessions/session-record.js";
import type { MountedStore } from "../tools/file-tools.js";
import type { ToolOutcome } from "../tools/toolset.js";
import type { StepDeps, StopReason } from "./step-deps.js";
import type { StepRecord, ToolRun } from "./step-record.js";

/** A tool an extension offers to a run's model and runs on the server. */
export interface ExtensionTool {
  definition: Anthropic.Messages.Tool;
  /**
   * Runs one call; its outcome becomes the call's `agent.tool_result`. Called again after a crash
   * until that result is written, so it is read-only or keyed by `call.toolUseEventId` (runOnce).
   * `"deferred"`: no result now — the extension writes it into `call.resultSeq` later (`afterTools`).
   */
  run(deps: StepDeps, run: SessionRecord, call: ToolRun): Promise<ToolOutcome | "deferred">;
}

/** Where a tool call mounts what it may read and write, beyond the run's workspace. */
export interface MountContext {
  workspaceId: string;
  /** The run whose tool call this is (a session, or a child thread). */
  runId: string;
  /** The session whose workspace and memory the call works on (a child thread's parent session). */
  owner: string;
  resources: SessionRecord["session"]["resources"];
  agent: SessionRecord["session"]["agent"];
  toolUseEventId: string;
  /** The builtin tool being run (`bash` gets extra provenance on memory writes). */
  tool: string;
  /** For a child thread: the coordinator's tool use that gave it its current message. */
  dispatchedBy?: string;
}

/**
 * What a turn's end was handed to instead of going idle: `next` (the record about to be saved) was
 * changed accordingly, and this starts the handoff once it is saved (safe to repeat).
 */
export type IdleHandoff = () => Promise<void>;

export interface RunExtension {
  /** For logs and tests. */
  readonly name: string;
  /** A session-constant addition to the system prompt (cached with it), or undefined. */
  systemNote?(deps: StepDeps, run: SessionRecord): Promise<string | undefined>;
  /**
   * The user-turn text an event adds to the model's context (events of this extension's own kinds:
   * an outcome's instruction, a grader's feedback); undefined for events it does not render.
   */
  contextText?(logged: LoggedEvent): string | undefined;
  /** Tools this run's model is offered beyond its agent's tools, named apart from them. */
  tools?(deps: StepDeps, run: SessionRecord): Promise<readonly ExtensionTool[]> | readonly ExtensionTool[];
  /** Stores a builtin tool call mounts (memory stores, session files, skills). */
  mounts?(deps: StepDeps, context: MountContext): MountedStore[];
  /** After a step's tools ran; true parks the run: it waits (status running) for work outside the loop. */
  afterTools?(deps: StepDeps, run: SessionRecord, step: StepRecord): Promise<boolean>;
  /** A parked run was claimed (the park was just committed, or redelivered): (re)starts what it waits on. */
  resumeParked?(deps: StepDeps, run: SessionRecord): Promise<boolean>;
  /**
   * A `user.interrupt` was recorded on the run (`run` as saved with it): stop the outside work the
   * extension started (a fan-out's threads, workflow runs). A crash here is finished by the parked
   * run's next claim (resumeParked sees the pending interrupt).
   */
  interrupted?(deps: StepDeps, run: SessionRecord): Promise<void>;
  /** The turn ended with `end_turn`: may take the place of the idle transition by changing `next`. */
  insteadOfIdle?(deps: StepDeps, next: SessionRecord): IdleHandoff | undefined;
  /** The run's idle transition is committed. */
  afterIdle?(deps: StepDeps, run: SessionRecord, stop: StopReason): Promise<void>;
  /** This run's own budget rule: true when spent; undefined defers to the next rule (the session's). */
  overBudget?(deps: StepDeps, run: SessionRecord, usage: SessionUsage): Promise<boolean | undefined>;
}
