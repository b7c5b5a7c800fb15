/**
 * A session: its header (status, agent, tokens, cost), the thread tree beside the selected
 * timeline, the composer (message, interrupt), outcome evaluations per criterion, and its files.
 */
import { useRef, useState } from "preact/hooks";
import type { Page, ReverieApi } from "./api.js";
import type { AnyEvent } from "./event-view.js";
import { age, cost, type Loose, tokens, when } from "./format.js";
import { html } from "./html.js";
import { OutcomesView } from "./outcomes-view.js";
import { href, type Route } from "./router.js";
import { SessionFilesView } from "./session-files-view.js";
import { modelOf } from "./sessions-page.js";
import { Timeline } from "./timeline.js";
import { LoadError, useLoad } from "./use-api.js";

type Thread = {
  id: string;
  status: string;
  parent_thread_id: string | null;
  workflow_run_id: string | null;
  agent: { name?: string; id?: string; type?: string };
  usage: Record<string, number> | null;
  created_at: string;
};

type RunEvent = Loose & { id: string; type: string; workflow_run_id: string };

/** Workflow runs from their events: name, phases (started / ended) and result. */
function runsOf(events: RunEvent[]) {
  const runs = new Map<
    string,
    { name: string; phases: Array<{ id: string; name: string; state: string }>; result?: string }
  >();
  for (const e of events) {
    if (e.type === "workflow_run.created")
      runs.set(e.workflow_run_id, {
        name: e.name,
        phases: (e.phases ?? []).map((p: Loose) => ({ id: p.id, name: p.name, state: "pending" })),
      });
    const run = runs.get(e.workflow_run_id);
    if (!run) continue;
    const phase = run.phases.find((p) => p.id === e.workflow_run_phase_id);
    if (e.type === "workflow_run.phase_started" && phase) phase.state = "running";
    if (e.type === "workflow_run.phase_ended" && phase) phase.state = "ended";
    if (e.type === "workflow_run.status_ended")
      run.result = typeof e.result === "string" ? e.result : e.result?.type;
  }
  return runs;
}

function ThreadTree({
  sessionId,
  threads,
  runEvents,
  selected,
}: {
  sessionId: string;
  threads: Thread[];
  runEvents: RunEvent[];
  selected: string | undefined;
}) {
  const runs = runsOf(runEvents);
  const known = new Set(threads.map((t) => t.id));
  const children = new Map<string, Thread[]>();
  const roots: Thread[] = [];
  for (const t of threads) {
    if (t.parent_thread_id && known.has(t.parent_thread_id)) {
      const list = children.get(t.parent_thread_id) ?? [];
      list.push(t);
      children.set(t.parent_thread_id, list);
    } else roots.push(t);
  }
  const item = (t: Thread): unknown => html`<li key=${t.id}>
    <a href=${href("sessions", sessionId, "threads", t.id)} aria-current=${selected === t.id ? "page" : undefined}>
      ${t.agent?.name ?? t.agent?.type ?? "thread"}</a>${" "}
    <span class=${`badge status-${t.status}`}>${t.status}</span>
    ${t.workflow_run_id ? html`<span class="muted small"> run ${t.workflow_run_id}</span>` : null}
    <div class="muted small">${t.id} · ${tokens(t.usage)}</div>
    ${children.get(t.id)?.length ? html`<ul class="tree">${children.get(t.id)?.map(item)}</ul>` : null}
  </li>`;
  return html`<nav class="thread-tree" aria-label="Threads">
    <h2 class="h3">Threads</h2>
    <ul class="tree tree-root">
      <li>
        <a href=${href("sessions", sessionId)} aria-current=${selected ? undefined : "page"}>Session (primary thread)</a>
        ${roots.some((t) => !t.workflow_run_id) ? html`<ul class="tree">${roots.filter((t) => !t.workflow_run_id).map(item)}</ul>` : null}
        ${[...runs.entries()].map(
          ([runId, run]) => html`<ul class="tree"><li>
            <strong>Workflow run ${run.name}</strong>${run.result ? html` <span class="badge">${run.result}</span>` : null}
            <div class="muted small">${runId}</div>
            <ol class="tree">${run.phases.map((p) => html`<li>phase ${p.name} <span class="badge">${p.state}</span></li>`)}</ol>
            <ul class="tree">${roots.filter((t) => t.workflow_run_id === runId).map(item)}</ul>
          </li></ul>`,
        )}
        ${roots.filter((t) => t.workflow_run_id && !runs.has(t.workflow_run_id)).length ? html`<ul class="tree">${roots.filter((t) => t.workflow_run_id && !runs.has(t.workflow_run_id)).map(item)}</ul>` : null}
        ${roots.length || runs.size ? null : html`<p class="muted small">No threads.</p>`}
      </li>
    </ul>
  </nav>`;
}

function Composer({ api, sessionId, status }: { api: ReverieApi; sessionId: string; status: string }) {
  const [text, setText] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [sending, setSending] = useState(false);
  const send = async (event: Event) => {
    event.preventDefault();
    if (!text.trim()) return;
    setSending(true);
    try {
      await api.post(`/v1/sessions/${sessionId}/events`, {
        events: [{ type: "user.message", content: [{ type: "text", text }] }],
      });
      setText("");
      setError(null);
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setSending(false);
    }
  };
  const interrupt = () =>
    api.post(`/v1/sessions/${sessionId}/events`, { events: [{ type: "user.interrupt" }] }).then(
      () => setError(null),
      (err: Error) => setError(err.message),
    );
  return html`<form class="composer" onSubmit=${send}>
    <label for="composer-text">Message</label>
    <textarea id="composer-text" rows="2" value=${text}
      onInput=${(e: Event) => setText((e.target as HTMLTextAreaElement).value)}
      onKeyDown=${(e: KeyboardEvent) => {
        if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) send(e);
      }}></textarea>
    <div class="actions">
      <button type="submit" class="primary" disabled=${sending}>Send</button>
      <button type="button" onClick=${interrupt} disabled=${status !== "running"}>Interrupt</button>
    </div>
    ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
  </form>`;
}

export function SessionPage({ api, route }: { api: ReverieApi; route: Route }) {
  const sessionId = route.parts[1] as string;
  const tab = route.parts[2] ?? "timeline";
  const threadId = tab === "threads" ? route.parts[3] : undefined;
  const session = useLoad(() => api.get<Loose>(`/v1/sessions/${sessionId}`), [api, sessionId]);
  const threads = useLoad(
    () => api.get<Page<Thread>>(`/v1/sessions/${sessionId}/threads`, { limit: 100 }).then((p) => p.data),
    [api, sessionId],
  );
  const runEvents = useLoad(
    () =>
      api
        .get<Page<RunEvent>>(`/v1/sessions/${sessionId}/events`, {
          limit: 1000,
          types: [
            "workflow_run.created",
            "workflow_run.phase_started",
            "workflow_run.phase_ended",
            "workflow_run.status_ended",
          ],
        })
        .then((p) => p.data),
    [api, sessionId],
  );
  const refresh = useRef(0);
  const onLive = (event: AnyEvent) => {
    if (
      /^session\.(status|thread)|^span\.(model_request_end|outcome_evaluation_end)|^workflow_run\./.test(
        event.type,
      )
    ) {
      clearTimeout(refresh.current);
      refresh.current = window.setTimeout(() => {
        session.reload();
        if (event.type.includes("thread")) threads.reload();
        if (event.type.startsWith("workflow_run.")) runEvents.reload();
      }, 150);
    }
  };
  const s = session.data;
  const tabLink = (name: string, label: string, to: string) =>
    html`<a href=${to} aria-current=${tab === name || (name === "timeline" && tab === "threads") ? "page" : undefined}>${label}</a>`;
  return html`<section class="session-page" aria-labelledby="session-title">
    <${LoadError} error=${session.error} />
    <header class="session-head">
      <h1 id="session-title">${s?.title || sessionId}</h1>
      ${
        s
          ? html`<dl class="facts">
              <div><dt>Status</dt><dd><span class=${`badge status-${s.status}`} data-testid="session-status">${s.status}</span></dd></div>
              <div><dt>Agent</dt><dd>${s.agent?.name ?? s.agent?.id}</dd></div>
              <div><dt>Created</dt><dd><time datetime=${s.created_at} title=${when(s.created_at)}>${age(s.created_at)} ago</time></dd></div>
              <div><dt>Tokens in → out</dt><dd>${tokens(s.usage)}</dd></div>
              <div><dt>Cost</dt><dd>${cost(s.usage, modelOf(s.agent))}</dd></div>
            </dl>`
          : null
      }
      <nav class="tabs" aria-label="Session views">
        ${tabLink("timeline", "Timeline", href("sessions", sessionId))}
        ${tabLink("outcomes", "Outcomes", href("sessions", sessionId, "outcomes"))}
        ${tabLink("files", "Files", href("sessions", sessionId, "files"))}
      </nav>
    </header>
    ${
      tab === "outcomes"
        ? html`<${OutcomesView} api=${api} sessionId=${sessionId} session=${s} />`
        : tab === "files"
          ? html`<${SessionFilesView} api=${api} sessionId=${sessionId} />`
          : html`<div class="session-body">
              <${ThreadTree} sessionId=${sessionId} threads=${threads.data ?? []} runEvents=${runEvents.data ?? []} selected=${threadId} />
              <div class="session-main">
                <h2 class="h3">${threadId ? `Thread ${threadId}` : "Session timeline"}</h2>
                <${Timeline} key=${threadId ?? "primary"} api=${api} sessionId=${sessionId} threadId=${threadId}
                  target=${route.query.get("event") ?? undefined} onLive=${onLive} />
                ${threadId ? null : html`<${Composer} api=${api} sessionId=${sessionId} status=${s?.status ?? ""} />`}
              </div>
            </div>`
    }
  </section>`;
}
