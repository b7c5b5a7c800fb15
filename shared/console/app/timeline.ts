/**
 * A session's (or one thread's) timeline: the newest 200 events first (what a reader of a running
 * session wants), then older history in pages of 1,000 (the list API's largest page) prepended as
 * they land, and the live tail over SSE — the stream is opened before the history is read, so nothing
 * written in between is missed, and events are de-duplicated by id.
 */
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { ApiError, type Page, type ReverieApi, STREAM_UNAVAILABLE } from "./api.js";
import { type AnyEvent, type EventContext, EventView } from "./event-view.js";
import { count, type Loose } from "./format.js";
import { html } from "./html.js";
import { VirtualList } from "./virtual-list.js";

export interface TimelineProps {
  api: ReverieApi;
  sessionId: string;
  threadId?: string | undefined;
  /** Scroll to and mark this event once it is loaded. */
  target?: string | undefined;
  /** Called for every live event (the page refreshes the session's status and usage). */
  onLive?: (event: AnyEvent) => void;
}

const PAGE = 1000;

/** Tool uses the session is waiting on: the last idle's `requires_action` ids not answered since. */
function pendingOf(events: readonly AnyEvent[]): Set<string> {
  const answered = new Set<string>();
  for (let i = events.length - 1; i >= 0; i--) {
    const e = events[i] as Loose;
    if (e.type === "user.tool_confirmation") answered.add(e.tool_use_id);
    else if (e.type === "user.custom_tool_result") answered.add(e.custom_tool_use_id);
    else if (e.type === "session.status_running" || e.type === "session.status_terminated") return new Set();
    else if (e.type === "session.status_idle" || e.type === "session.thread_status_idle") {
      if (e.stop_reason?.type !== "requires_action") return new Set();
      return new Set((e.stop_reason.event_ids as string[]).filter((id) => !answered.has(id)));
    }
  }
  return new Set();
}

export function Timeline({ api, sessionId, threadId, target, onLive }: TimelineProps) {
  const [events, setEvents] = useState<AnyEvent[]>([]);
  const [loading, setLoading] = useState(true);
  const [live, setLive] = useState<"connecting" | "live" | "reconnecting" | "polling">("connecting");
  const [error, setError] = useState<string | null>(null);
  const ids = useRef(new Map<string, AnyEvent>());
  const onLiveRef = useRef(onLive);
  onLiveRef.current = onLive;

  const base = threadId ? `/v1/sessions/${sessionId}/threads/${threadId}` : `/v1/sessions/${sessionId}`;

  useEffect(() => {
    const abort = new AbortController();
    ids.current = new Map();
    setEvents([]);
    setLoading(true);
    setError(null);
    let historyDone = false;
    const early: AnyEvent[] = [];
    const fresh = (batch: AnyEvent[]) => {
      const out = batch.filter((e) => !ids.current.has(e.id));
      for (const e of out) ids.current.set(e.id, e);
      return out;
    };
    const append = (batch: AnyEvent[]) => {
      const out = fresh(batch);
      if (out.length) setEvents((prev) => prev.concat(out));
    };
    const prepend = (batch: AnyEvent[]) => {
      const out = fresh(batch);
      if (out.length) setEvents((prev) => out.concat(prev));
    };
    const streamPath = threadId ? `${base}/stream` : `${base}/events/stream`;
    api
      .follow(
        streamPath,
        (event) => {
          const e = event as AnyEvent;
          if (historyDone) append([e]);
          else early.push(e);
          onLiveRef.current?.(e);
        },
        abort.signal,
        setLive,
      )
      .catch((err: Error) => {
        if (abort.signal.aborted) return;
        if (!(err instanceof ApiError && err.type === STREAM_UNAVAILABLE))
          return setError(`live updates stopped: ${err.message}`);
        // No SSE on this route (a deployment that does not stream it): read the newest page every 2 s.
        setLive("polling");
        const timer = setInterval(() => {
          if (!historyDone) return;
          api
            .get<Page<AnyEvent>>(`${base}/events`, { limit: 100, order: "desc" })
            .then((p) => {
              const added = fresh(p.data.slice().reverse());
              if (added.length) setEvents((prev) => prev.concat(added));
              for (const e of added) onLiveRef.current?.(e);
            })
            .catch(() => {});
        }, 2000);
        abort.signal.addEventListener("abort", () => clearInterval(timer));
      });
    (async () => {
      let page: string | undefined;
      let first = true;
      for (;;) {
        const result = await api.get<Page<AnyEvent>>(`${base}/events`, {
          limit: first ? 200 : PAGE,
          order: "desc",
          page,
        });
        if (abort.signal.aborted) return;
        prepend(result.data.slice().reverse());
        first = false;
        if (!result.next_page) break;
        page = result.next_page;
      }
      historyDone = true;
      append(early);
      setLoading(false);
    })().catch((err: Error) => {
      if (!abort.signal.aborted) setError(err.message);
    });
    return () => abort.abort();
  }, [api, base, threadId]);

  const pending = useMemo(() => pendingOf(events), [events]);
  const targetIndex = useMemo(() => {
    if (!target) return undefined;
    const i = events.findIndex((e) => e.id === target);
    return i >= 0 ? i : undefined;
  }, [events, target]);

  const ctx: EventContext = {
    sessionId,
    byId: (id) => ids.current.get(id),
    pendingConfirmations: pending,
    highlighted: target,
    confirm: (toolUseId, result) => {
      api
        .post(`/v1/sessions/${sessionId}/events`, {
          events: [
            {
              type: "user.tool_confirmation",
              tool_use_id: toolUseId,
              result,
              ...(threadId ? { session_thread_id: threadId } : {}),
            },
          ],
        })
        .catch((err: Error) => setError(err.message));
    },
  };

  return html`<section class="timeline" aria-label="Timeline">
    <p class="timeline-status" role="status">
      <span class=${`dot dot-${live}`} aria-hidden="true"></span>
      ${` ${{ live: "Live", reconnecting: "Reconnecting…", connecting: "Connecting…", polling: "Live (polling)" }[live]} · ${count(events.length)} events`}
      ${loading ? " · loading history…" : ""}
      ${target && targetIndex === undefined && !loading ? " · that event is not in this timeline" : ""}
    </p>
    ${error ? html`<p class="error-text" role="alert">${error}</p>` : null}
    <${VirtualList}
      items=${events}
      keyOf=${(e: AnyEvent) => e.id}
      label=${threadId ? `Events of thread ${threadId}` : "Session events"}
      busy=${loading}
      scrollTo=${targetIndex}
      render=${(e: AnyEvent, i: number) => html`<${EventView} event=${e} index=${i} ctx=${ctx} />`}
    />
  </section>`;
}
