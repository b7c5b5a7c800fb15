/**
 * One session event, readable: messages as text, tool calls with their input and results folded,
 * model request spans with tokens and latency, outcome evaluations with their verdict, thread
 * events linking to the thread, and every event's raw JSON one click away.
 */
import { useState } from "preact/hooks";
import { count, json, type Loose, textOf, when } from "./format.js";
import { html } from "./html.js";
import { href } from "./router.js";

/** An SDK session event, read loosely (the console shows what it does not know as JSON). */
export type AnyEvent = { id: string; type: string; processed_at?: string | null } & Record<string, unknown>;

export interface EventContext {
  sessionId: string;
  /** Finds an earlier event by id (the start of a span, the tool use a result answers). */
  byId: (id: string) => AnyEvent | undefined;
  /** Tool uses waiting for the user's allow / deny. */
  pendingConfirmations: ReadonlySet<string>;
  confirm: (toolUseId: string, result: "allow" | "deny") => void;
  highlighted?: string | undefined;
}

/** Folded content, rendered only once opened (a long timeline keeps its DOM small). */
function Folded({
  summary,
  body,
  className = "fold",
}: {
  summary: string;
  body: () => string;
  className?: string;
}) {
  const [open, setOpen] = useState(false);
  return html`<details class=${className} onToggle=${(e: Event) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
    <summary>${summary}</summary>${open ? html`<pre>${body()}</pre>` : null}</details>`;
}

function kindOf(type: string): string {
  if (type.startsWith("user.")) return "user";
  if (type.startsWith("agent.")) return "agent";
  if (type.startsWith("span.")) return "span";
  return "system";
}

function body(event: AnyEvent, ctx: EventContext) {
  const e = event as Loose;
  switch (event.type) {
    case "user.message":
    case "agent.message":
    case "system.message":
      return html`<p class="text">${textOf(e.content)}</p>`;
    case "agent.thinking":
      return html`<${Folded} summary="Thinking" body=${() => String(e.thinking ?? textOf(e.content) ?? "")} />`;
    case "agent.tool_use":
    case "agent.mcp_tool_use":
    case "agent.custom_tool_use": {
      const pending = ctx.pendingConfirmations.has(event.id);
      const permission = e.evaluated_permission as string | undefined;
      return html`<div>
        <p>
          <strong class="tool-name">${e.mcp_server_name ? `${e.mcp_server_name}.` : ""}${e.name}</strong>
          ${permission ? html` <span class=${`badge perm-${permission}`}>permission: ${permission}</span>` : null}
        </p>
        <${Folded} summary="Input" body=${() => json(e.input)} />
        ${
          pending
            ? html`<div class="confirm" role="group" aria-label=${`Confirm ${e.name}`}>
                <span>The agent asks to run <strong>${e.name}</strong>.</span>
                <button type="button" class="primary" onClick=${() => ctx.confirm(event.id, "allow")}>Allow</button>
                <button type="button" onClick=${() => ctx.confirm(event.id, "deny")}>Deny</button>
              </div>`
            : null
        }
      </div>`;
    }
    case "agent.tool_result":
    case "agent.mcp_tool_result": {
      const use = ctx.byId(String(e.tool_use_id ?? e.mcp_tool_use_id ?? ""));
      const text = textOf(e.content);
      return html`<div>
        <p>${e.is_error ? html`<span class="badge error">error</span> ` : null}Result of
        <strong>${(use?.name as string) ?? "a tool"}</strong> (${count(text.length)} chars)</p>
        <${Folded} summary="Result" body=${() => text} />
      </div>`;
    }
    case "user.custom_tool_result":
      return html`<${Folded} summary="Custom tool result" body=${() => textOf(e.content)} />`;
    case "user.tool_confirmation":
      return html`<p>${e.result === "allow" ? "Allowed" : "Denied"} tool use <code>${e.tool_use_id}</code>${e.deny_message ? `: ${e.deny_message}` : ""}</p>`;
    case "span.model_request_start":
      return html`<p class="muted">Model request started</p>`;
    case "span.model_request_end": {
      const start = ctx.byId(String(e.model_request_start_id));
      const ms =
        start?.processed_at && event.processed_at
          ? Date.parse(event.processed_at) - Date.parse(start.processed_at)
          : undefined;
      const u = (e.model_usage ?? {}) as Record<string, number>;
      return html`<p class="span-line">
        Model request ${e.is_error ? html`<span class="badge error">failed</span>` : null}
        <span class="metric">in <b>${count(u.input_tokens)}</b></span>
        <span class="metric">out <b>${count(u.output_tokens)}</b></span>
        <span class="metric">cache read <b>${count(u.cache_read_input_tokens)}</b></span>
        <span class="metric">cache write <b>${count(u.cache_creation_input_tokens)}</b></span>
        ${
          ms
            ? html`<span class="metric">latency <b>${count(ms)} ms</b></span>`
            : html`<span class="metric muted" title="the start and end of this span carry the same time">latency not recorded</span>`
        }
      </p>`;
    }
    case "user.define_outcome":
      return html`<div><p><strong>Outcome:</strong> ${e.description}</p>
        <${Folded} summary="Rubric" body=${() => (e.rubric?.type === "text" ? e.rubric.content : json(e.rubric))} /></div>`;
    case "span.outcome_evaluation_start":
      return html`<p class="muted">Grading iteration ${e.iteration ?? ""}</p>`;
    case "span.outcome_evaluation_ongoing":
      return html`<p class="muted">Grader working…</p>`;
    case "span.outcome_evaluation_end":
      return html`<div><p><span class=${`badge verdict-${e.result}`}>${e.result}</span> iteration ${e.iteration}
        — <a href=${href("sessions", ctx.sessionId, "outcomes")}>criteria</a></p>
        <p class="text">${e.explanation}</p></div>`;
    case "session.thread_created":
      return html`<p>Thread <a href=${href("sessions", ctx.sessionId, "threads", e.session_thread_id)}>${e.agent_name} (${e.session_thread_id})</a> created</p>`;
    case "agent.thread_message_sent":
      return html`<div><p>To <a href=${href("sessions", ctx.sessionId, "threads", e.to_session_thread_id)}>${e.to_agent_name ?? e.to_session_thread_id}</a></p><p class="text">${textOf(e.content)}</p></div>`;
    case "agent.thread_message_received":
      return html`<div><p>From <a href=${href("sessions", ctx.sessionId, "threads", e.from_session_thread_id)}>${e.from_agent_name ?? e.from_session_thread_id}</a></p><p class="text">${textOf(e.content)}</p></div>`;
    case "session.usage": {
      const u = (e.usage ?? {}) as Record<string, number>;
      return html`<p class="span-line">Session usage
        <span class="metric">in <b>${count(u.input_tokens)}</b></span>
        <span class="metric">out <b>${count(u.output_tokens)}</b></span>
        <span class="metric">cache read <b>${count(u.cache_read_input_tokens)}</b></span></p>`;
    }
    case "workflow_run.created":
      return html`<p>Workflow run <strong>${e.name}</strong> (${e.workflow_run_id}): phases ${(e.phases ?? []).map((p: Loose) => p.name).join(" → ")}</p>`;
    case "workflow_run.phase_started":
    case "workflow_run.phase_ended":
      return html`<p class="muted">Phase ${e.workflow_run_phase_id} ${event.type.endsWith("started") ? "started" : "ended"}</p>`;
    case "workflow_run.status_ended":
      return html`<p>Workflow run ended: <strong>${typeof e.result === "string" ? e.result : (e.result?.type ?? "")}</strong></p>`;
    case "session.status_idle":
      return html`<p class="muted">Idle — ${e.stop_reason?.type ?? ""}</p>`;
    case "session.error":
      return html`<p><span class="badge error">error</span> ${e.error?.type}: ${e.error?.message}</p>`;
    default:
      return null;
  }
}

export function EventView({ event, index, ctx }: { event: AnyEvent; index: number; ctx: EventContext }) {
  const kind = kindOf(event.type);
  const content = body(event, ctx);
  return html`<article
    class=${`event event-${kind}${ctx.highlighted === event.id ? " highlighted" : ""}`}
    id=${`event-${event.id}`}
    aria-label=${`${event.type} ${index + 1}`}
  >
    <header class="event-head">
      <span class="event-type">${event.type}</span>
      <time datetime=${event.processed_at ?? ""}>${when(event.processed_at)}</time>
    </header>
    ${content}
    <${Folded} className="fold raw" summary="JSON" body=${() => json(event)} />
  </article>`;
}
