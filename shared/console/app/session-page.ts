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

function ThreadTree({
  sessionId,
  threads,
  selected,
}: {
  sessionId: string;
  threads: Thread[];
  selected: string | undefined;
}) {
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
        ${roots.length ? html`<ul class="tree">${roots.map(item)}</ul>` : html`<p class="muted small">No threads.</p>`}
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
  const refresh = useRef(0);
  const onLive = (event: AnyEvent) => {
    if (/^session\.(status|thread)|^span\.(model_request_end|outcome_evaluation_end)/.test(event.type)) {
      clearTimeout(refresh.current);
      refresh.current = window.setTimeout(() => {
        session.reload();
        if (event.type.includes("thread")) threads.reload();
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
              <${ThreadTree} sessionId=${sessionId} threads=${threads.data ?? []} selected=${threadId} />
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
