/** Sessions: status, agent, age, tokens and cost, filtered by status and agent, refreshed live. */
import { useState } from "preact/hooks";
import type { Page, ReverieApi } from "./api.js";
import { age, cost, type Loose, tokens } from "./format.js";
import { html } from "./html.js";
import { href } from "./router.js";
import { LoadError, useLoad } from "./use-api.js";

type Session = {
  id: string;
  title: string | null;
  status: string;
  created_at: string;
  updated_at: string;
  archived_at: string | null;
  agent: { id: string; name?: string; model?: string | { id: string } };
  usage: Loose;
};

const STATUSES = ["running", "idle", "rescheduling", "terminated"];

export const modelOf = (agent: Session["agent"]): string =>
  typeof agent.model === "string" ? agent.model : (agent.model?.id ?? "");

export function SessionsPage({ api }: { api: ReverieApi }) {
  const [status, setStatus] = useState("");
  const [agentId, setAgentId] = useState("");
  const [archived, setArchived] = useState(false);
  const [limit, setLimit] = useState(50);
  const agents = useLoad(() => api.all<{ id: string; name: string }>("/v1/agents", {}, 500), [api]);
  const sessions = useLoad(
    async () => {
      const query = {
        order: "desc",
        statuses: status ? [status] : undefined,
        agent_id: agentId || undefined,
        include_archived: archived || undefined,
      };
      const data: Session[] = [];
      let page: string | undefined;
      for (;;) {
        const result = await api.get<Page<Session>>("/v1/sessions", { ...query, limit: 100, page });
        data.push(...result.data);
        page = result.next_page ?? undefined;
        if (!page || data.length >= limit)
          return { data: data.slice(0, limit), more: !!page || data.length > limit };
      }
    },
    [api, status, agentId, archived, limit],
    3000,
  );
  const rows = sessions.data?.data ?? [];
  return html`<section aria-labelledby="sessions-title">
    <h1 id="sessions-title">Sessions</h1>
    <form class="filters" onSubmit=${(e: Event) => e.preventDefault()}>
      <label>Status
        <select value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </label>
      <label>Agent
        <select value=${agentId} onChange=${(e: Event) => setAgentId((e.target as HTMLSelectElement).value)}>
          <option value="">any</option>
          ${(agents.data ?? []).map((a) => html`<option value=${a.id}>${a.name} (${a.id})</option>`)}
        </select>
      </label>
      <label class="check"><input type="checkbox" checked=${archived}
        onChange=${(e: Event) => setArchived((e.target as HTMLInputElement).checked)} /> archived too</label>
      <span class="muted" role="status">${sessions.loading && !sessions.data ? "Loading…" : `${rows.length} shown · updates every 3 s`}</span>
    </form>
    <${LoadError} error=${sessions.error} />
    <div class="table-wrap">
      <table class="sessions">
        <caption class="sr-only">Sessions, newest first</caption>
        <thead><tr><th scope="col">Session</th><th scope="col">Status</th><th scope="col">Agent</th>
          <th scope="col">Age</th><th scope="col">Tokens in → out</th><th scope="col">Cost</th></tr></thead>
        <tbody>
          ${rows.map(
            (s) => html`<tr key=${s.id}>
              <td><a href=${href("sessions", s.id)}>${s.title || s.id}</a>${s.title ? html`<div class="muted small">${s.id}</div>` : null}</td>
              <td><span class=${`badge status-${s.status}`}>${s.status}</span>${s.archived_at ? html` <span class="badge">archived</span>` : null}</td>
              <td>${s.agent?.name ?? s.agent?.id}</td>
              <td><time datetime=${s.created_at} title=${s.created_at}>${age(s.created_at)}</time></td>
              <td class="num">${tokens(s.usage)}</td>
              <td class="num">${cost(s.usage, modelOf(s.agent))}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    </div>
    ${sessions.data?.more ? html`<button type="button" onClick=${() => setLimit(limit + 50)}>Show more</button>` : null}
  </section>`;
}
