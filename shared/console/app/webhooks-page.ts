/** Webhooks: endpoints, each endpoint's deliveries with their attempts, and replay. */
import { useState } from "preact/hooks";
import type { Page, ReverieApi } from "./api.js";
import { json, when } from "./format.js";
import { html } from "./html.js";
import { href, type Route } from "./router.js";
import { LoadError, useLoad } from "./use-api.js";

type Endpoint = {
  id: string;
  url: string;
  name?: string;
  enabled_events?: string[];
  state?: string;
  disabled_reason?: string;
  created_at: string;
  description?: string;
};
type Delivery = {
  id: string;
  event_type: string;
  status: string;
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  payload: unknown;
};

function Deliveries({ api, endpointId }: { api: ReverieApi; endpointId: string }) {
  const [status, setStatus] = useState("");
  const [error, setError] = useState<string | null>(null);
  const deliveries = useLoad(
    () =>
      api
        .get<Page<Delivery>>(`/v1/organizations/webhooks/${endpointId}/deliveries`, {
          limit: 50,
          status: status || undefined,
        })
        .then((p) => p.data),
    [api, endpointId, status],
    5000,
  );
  const replay = async (d: Delivery) => {
    try {
      await api.post(`/v1/organizations/webhooks/${endpointId}/deliveries/${d.id}/replay`);
      setError(null);
      deliveries.reload();
    } catch (err) {
      setError((err as Error).message);
    }
  };
  return html`<section aria-labelledby="deliveries-title">
    <h2 id="deliveries-title">Deliveries</h2>
    <label>Status <select value=${status} onChange=${(e: Event) => setStatus((e.target as HTMLSelectElement).value)}>
      <option value="">any</option><option value="pending">pending</option><option value="delivered">delivered</option><option value="failed">failed</option>
    </select></label>
    <${LoadError} error=${deliveries.error ?? error} />
    <div class="table-wrap"><table>
      <caption class="sr-only">Deliveries, newest first</caption>
      <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
      <tbody>${(deliveries.data ?? []).map(
        (d) => html`<tr key=${d.id}>
          <td>${d.event_type}<details class="fold"><summary>Payload</summary><pre>${json(d.payload)}</pre></details></td>
          <td><span class=${`badge status-${d.status}`}>${d.status}</span></td>
          <td class="num">${d.attempts}</td>
          <td>${d.last_status ?? "—"}${d.last_error ? html`<div class="muted small">${d.last_error}</div>` : null}</td>
          <td>${when(d.created_at)}${d.delivered_at ? html`<div class="muted small">delivered ${when(d.delivered_at)}</div>` : null}</td>
          <td><button type="button" onClick=${() => replay(d)} disabled=${d.status === "pending"}>Replay ${d.id}</button></td>
        </tr>`,
      )}</tbody>
    </table></div>
  </section>`;
}

export function WebhooksPage({ api, route }: { api: ReverieApi; route: Route }) {
  const selected = route.parts[1];
  const endpoints = useLoad(() => api.all<Endpoint>("/v1/organizations/webhooks", {}, 100), [api]);
  return html`<section aria-labelledby="webhooks-title">
    <h1 id="webhooks-title">Webhooks</h1>
    <${LoadError} error=${endpoints.error} />
    ${endpoints.data?.length === 0 ? html`<p class="muted">No endpoints.</p>` : null}
    <ul class="cards">${(endpoints.data ?? []).map(
      (e) => html`<li class="card" key=${e.id}>
        <a href=${href("webhooks", e.id)} aria-current=${selected === e.id ? "page" : undefined}><strong>${e.url}</strong></a>
        <div class="muted small">${[e.name, e.id, e.state, e.disabled_reason].filter(Boolean).join(" · ")}</div>
        <div class="muted small">events: ${(e.enabled_events ?? []).join(", ") || "—"}</div>
      </li>`,
    )}</ul>
    ${selected ? html`<${Deliveries} key=${selected} api=${api} endpointId=${selected} />` : null}
  </section>`;
}
