/**
 * `reverie sessions ls` and `reverie sessions tail <id>`: the session list as a table (or JSON), and
 * one session followed live over SSE through the official SDK — history first, then new events as
 * they happen, a progress line while the model works, each thread's events indented under it.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { age, type CliContext, ExitCode, table, UsageError } from "./cli-context.js";
import { eventLines, type StreamEvent, turnEnd } from "./event-lines.js";

type Session = Anthropic.Beta.Sessions.BetaManagedAgentsSession;
type SessionStatus = Session["status"];

const STATUSES: readonly SessionStatus[] = ["rescheduling", "running", "idle", "terminated"];

export const sessionsLsOptions = {
  limit: { type: "string" },
  status: { type: "string", multiple: true },
  agent: { type: "string" },
} as const;

/** `sessions ls [--limit N] [--status S]… [--agent agent_…]`: newest first. */
export async function sessionsLs(
  ctx: CliContext,
  flags: { limit?: string; status?: string[]; agent?: string },
): Promise<ExitCode> {
  const limit = flags.limit === undefined ? 20 : Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
    throw new UsageError("--limit: a whole number from 1 to 1000");
  for (const status of flags.status ?? [])
    if (!STATUSES.includes(status as SessionStatus))
      throw new UsageError(`--status: one of ${STATUSES.join(", ")}`);
  const sessions: Session[] = [];
  const params: Anthropic.Beta.Sessions.SessionListParams = {
    limit: Math.min(limit, 100),
    order: "desc",
    ...(flags.agent ? { agent_id: flags.agent } : {}),
    ...(flags.status?.length ? { statuses: flags.status as SessionStatus[] } : {}),
  };
  for await (const session of ctx.client().beta.sessions.list(params)) {
    sessions.push(session);
    if (sessions.length >= limit) break;
  }
  if (ctx.json) {
    ctx.emit(sessions);
    return ExitCode.ok;
  }
  if (sessions.length === 0) {
    ctx.say("no sessions");
    return ExitCode.ok;
  }
  const rows = [["ID", "STATUS", "AGENT", "AGE", "TOKENS IN/OUT", "TITLE"]];
  for (const s of sessions)
    rows.push([
      s.id,
      s.status,
      s.agent.name,
      age(s.created_at),
      `${s.usage.input_tokens ?? 0}/${s.usage.output_tokens ?? 0}`,
      s.title ?? "",
    ]);
  for (const line of table(rows)) ctx.say(line);
  return ExitCode.ok;
}

export const sessionsTailOptions = {
  follow: { type: "boolean", short: "f" },
  "no-threads": { type: "boolean" },
} as const;

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];

/**
 * The progress line of a terminal (stderr): what `text` says, redrawn in place (a spinner, a
 * ticking clock) while the session works, and cleared before any other line is printed. On anything
 * but a terminal it draws nothing.
 */
class ProgressLine {
  private frame = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly ctx: CliContext,
    private readonly text: () => string | undefined,
  ) {
    this.timer = this.enabled ? setInterval(() => this.draw(), 120) : undefined;
    this.timer?.unref();
  }
  get enabled(): boolean {
    return !this.ctx.json && this.ctx.io.stderr.isTTY === true;
  }
  refresh() {
    this.draw();
  }
  /** Prints lines above the progress line. */
  print(lines: string[]) {
    if (lines.length === 0) return;
    this.clear();
    for (const line of lines) this.ctx.say(line);
    this.draw();
  }
  stop() {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }
  private clear() {
    if (this.enabled) this.ctx.io.stderr.write("\r\x1b[2K");
  }
  private draw() {
    if (!this.enabled) return;
    this.clear();
    const text = this.text();
    if (!text) return;
    // A pseudo-terminal without a size reports 0 columns.
    const width = Math.max(20, (this.ctx.io.stderr.columns || 80) - 1);
    const frame = SPINNER[this.frame++ % SPINNER.length];
    this.ctx.io.stderr.write(`${frame} ${text}`.slice(0, width));
  }
}

/**
 * What the progress line says: the text previewed so far (`event_deltas`), else how long the
 * session has been working since its last event. Reverie writes a step's model-request span with
 * the step's other events after the call, so "working" is read from the session's status (and
 * each thread's), not from the spans.
 */
class Activity {
  private running = false;
  private readonly threads = new Set<string>();
  private lastEventAt = Date.now();
  private readonly previews = new Map<string, { who: string; text: string }>();
  see(event: StreamEvent, thread: string | undefined, who: string) {
    this.lastEventAt = Date.now();
    if (event.type === "event_start" && event.event.type === "agent.message")
      this.previews.set(event.event.id, { who, text: "" });
    else if (event.type === "event_delta") {
      const preview = this.previews.get(event.event_id);
      if (preview) preview.text += event.delta.content.type === "text" ? event.delta.content.text : "";
    } else if (event.type === "agent.message") this.previews.delete(event.id);
    else if (event.type === "span.model_request_end") this.previews.clear(); // a call that failed
    if (thread) return;
    if (event.type === "session.status_running" || event.type === "session.status_rescheduled")
      this.running = true;
    else if (event.type === "session.status_idle" || event.type === "session.status_terminated") {
      this.running = false;
      this.previews.clear();
    } else if (event.type === "session.thread_status_running") this.threads.add(event.session_thread_id);
    else if (event.type === "session.thread_status_idle" || event.type === "session.thread_status_terminated")
      this.threads.delete(event.session_thread_id);
  }
  /** The progress line's text, or undefined when the session is not working. */
  describe(agent: string): string | undefined {
    const preview = [...this.previews.values()].at(-1);
    if (preview?.text) return `${preview.who}: …${preview.text.replace(/\s+/g, " ").slice(-200)}`;
    if (!this.running) return undefined;
    const seconds = Math.round((Date.now() - this.lastEventAt) / 1000);
    const threads =
      this.threads.size > 0
        ? ` (${this.threads.size} thread${this.threads.size > 1 ? "s" : ""} running)`
        : "";
    return `${agent} is working… ${seconds}s${threads}`;
  }
}

/**
 * `sessions tail <id> [--follow] [--no-threads]`: prints the history, then follows the session live
 * until its turn ends (idle or terminated; exit 0, or 6 when it ended in an error); `--follow` keeps
 * going across turns until interrupted. A session that is idle when asked prints its history and
 * exits. `--json` prints every event as one JSON line (thread events carry `session_thread_id`).
 */
export async function sessionsTail(
  ctx: CliContext,
  sessionId: string | undefined,
  flags: { follow?: boolean; "no-threads"?: boolean },
  signal: AbortSignal,
): Promise<ExitCode> {
  if (!sessionId) throw new UsageError("sessions tail needs a session id (sesn_…)");
  const client = ctx.client();
  const session = await client.beta.sessions.retrieve(sessionId);
  const settled = session.status === "idle" || session.status === "terminated";
  const stop = new AbortController();
  const abortAll = () => stop.abort();
  signal.addEventListener("abort", abortAll, { once: true });
  const activity = new Activity();
  const progress = new ProgressLine(ctx, () => activity.describe(session.agent.name));
  const printed = new Set<string>();
  const threads = new Map<string, Promise<void>>();
  let exitCode: ExitCode = ExitCode.ok;

  const show = (event: StreamEvent, thread?: { id: string; agent: string }) => {
    activity.see(event, thread?.id, thread?.agent ?? session.agent.name);
    const id = (event as { id?: string }).id;
    if (id && event.type !== "event_start" && event.type !== "event_delta") {
      if (printed.has(id)) return;
      printed.add(id);
    }
    if (ctx.json) {
      if (event.type === "event_start" || event.type === "event_delta") return;
      ctx.emit(
        thread && !("session_thread_id" in event && event.session_thread_id)
          ? { ...event, session_thread_id: thread.id }
          : event,
      );
    } else {
      const lines = eventLines(event);
      progress.print(thread ? lines.map((l) => `  │ ${thread.agent.padEnd(12)} ${l}`) : lines);
    }
    progress.refresh();
  };

  const followThread = (threadId: string, agent: string) => {
    if (flags["no-threads"] || threads.has(threadId)) return;
    const thread = { id: threadId, agent };
    threads.set(
      threadId,
      (async () => {
        const live = await client.beta.sessions.threads.events.stream(
          threadId,
          { session_id: sessionId, ...deltasFor(ctx) },
          { signal: stop.signal },
        );
        for await (const event of client.beta.sessions.threads.events.list(threadId, {
          session_id: sessionId,
        }))
          show(event as StreamEvent, thread);
        for await (const event of live) show(event, thread);
      })().catch((error) => {
        if (!stop.signal.aborted) ctx.note(`thread ${threadId}: ${(error as Error).message}`);
      }),
    );
  };

  const watchThreads = (event: StreamEvent) => {
    if (event.type === "session.thread_created" && !settled)
      followThread(event.session_thread_id, event.agent_name);
  };

  try {
    // The stream's start is fixed when it opens, so nothing between the history read and the
    // live events is lost; what both return is printed once.
    const live =
      settled && !flags.follow
        ? undefined
        : await client.beta.sessions.events.stream(sessionId, deltasFor(ctx), { signal: stop.signal });
    let lastEnd: "idle" | "error" | undefined;
    for await (const event of client.beta.sessions.events.list(sessionId, { order: "asc", limit: 100 })) {
      show(event as StreamEvent);
      watchThreads(event as StreamEvent);
      lastEnd = turnEnd(event as StreamEvent) ?? lastEnd;
    }
    if (!live)
      return session.status === "terminated" || lastEnd === "error" ? ExitCode.unsettled : ExitCode.ok;
    for await (const event of live) {
      show(event);
      watchThreads(event);
      const end = turnEnd(event);
      if (end && !flags.follow) {
        exitCode = end === "idle" ? ExitCode.ok : ExitCode.unsettled;
        break;
      }
    }
  } catch (error) {
    if (!signal.aborted) throw error;
  } finally {
    progress.stop();
    stop.abort();
    signal.removeEventListener("abort", abortAll);
    await Promise.allSettled(threads.values());
  }
  return exitCode;
}

/** On a terminal the agent's text is previewed as the model writes it (`event_deltas`). */
function deltasFor(ctx: CliContext): { event_deltas?: Array<"agent.message"> } {
  return !ctx.json && ctx.io.stderr.isTTY ? { event_deltas: ["agent.message"] } : {};
}
