/**
 * Dreams: the list with status; a dream's inputs, outputs and the dreamer's own session; and its
 * review — each changed file's diff against the input store with the dreamer's rationale and evidence
 * (links to the session events it cites), accepted or rejected one by one, then applied, with
 * conflicts (a memory that changed since the dream read it) shown and never overwritten.
 */
import { useState } from "preact/hooks";
import type { ReverieApi } from "./api.js";
import { DiffView } from "./diff-view.js";
import { age, tokens, when } from "./format.js";
import { html } from "./html.js";
import { eventHref, href, type Route } from "./router.js";
import { LoadError, useLoad } from "./use-api.js";

type Dream = {
  id: string;
  status: string;
  created_at: string;
  ended_at?: string | null;
  model?: string | { id: string };
  session_id?: string | null;
  inputs: Array<{ type: string; memory_store_id?: string; session_ids?: string[] }>;
  outputs?: Array<{ type: string; memory_store_id: string }>;
  error?: { type: string; message: string } | null;
  usage?: Record<string, number> | null;
};
type Change = {
  path: string;
  change: "added" | "modified" | "deleted" | "quarantined";
  diff: string;
  rationale: string;
  evidence: Array<{ session_id: string; event_ids: string[] }>;
  target_path?: string | null;
  /** What an apply did with this path (null: not applied yet). */
  applied?: "applied" | "conflict" | "unchanged" | null;
};
type Changes = { data: Change[]; review: { state: string; mode?: string; violations?: string[] } };
type ApplyResult = { results: Array<{ path: string; outcome: string }> };

function DreamsList({ api }: { api: ReverieApi }) {
  const dreams = useLoad(() => api.all<Dream>("/v1/dreams", {}, 200), [api], 5000);
  return html`<section aria-labelledby="dreams-title">
    <h1 id="dreams-title">Dreams</h1>
    <${LoadError} error=${dreams.error} />
    <div class="table-wrap"><table>
      <caption class="sr-only">Dreams</caption>
      <thead><tr><th scope="col">Dream</th><th scope="col">Status</th><th scope="col">Input store</th><th scope="col">Age</th></tr></thead>
      <tbody>${(dreams.data ?? []).map(
        (d) => html`<tr key=${d.id}>
          <td><a href=${href("dreams", d.id)}>${d.id}</a></td>
          <td><span class=${`badge status-${d.status}`}>${d.status}</span></td>
          <td>${d.inputs.find((i) => i.type === "memory_store")?.memory_store_id ?? "—"}</td>
          <td>${age(d.created_at)}</td>
        </tr>`,
      )}</tbody>
    </table></div>
  </section>`;
}

function Review({ api, dreamId }: { api: ReverieApi; dreamId: string }) {
  const changes = useLoad(() => api.get<Changes>(`/v1/dreams/${dreamId}/changes`), [api, dreamId]);
  const [decisions, setDecisions] = useState<Record<string, "accept" | "reject">>({});
  const [results, setResults] = useState<ApplyResult["results"] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [applying, setApplying] = useState(false);
  const list = changes.data?.data ?? [];
  const accepted = list.filter((c) => decisions[c.path] === "accept" && !c.applied).map((c) => c.path);
  const apply = async () => {
    setApplying(true);
    try {
      const r = await api.post<ApplyResult>(`/v1/dreams/${dreamId}/apply`, { paths: accepted });
      setResults(r.results);
      setError(null);
      changes.reload();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setApplying(false);
    }
  };
  const outcomeOf = (c: Change) => results?.find((r) => r.path === c.path)?.outcome ?? c.applied ?? undefined;
  const review = changes.data?.review;
  return html`<section class="review" aria-labelledby="review-title">
    <h2 id="review-title">Review</h2>
    <${LoadError} error=${changes.error ?? error} />
    ${
      review
        ? html`<p>Review state: <strong data-testid="review-state">${review.state}</strong>${review.mode ? ` · mode ${review.mode}` : ""}
          ${review.violations?.length ? html`<span class="badge warn">guards: ${review.violations.join(", ")}</span>` : null}</p>`
        : null
    }
    ${list.length === 0 && !changes.loading ? html`<p class="muted">This dream changes nothing.</p>` : null}
    <ol class="plain">${list.map((c, i) => {
      const outcome = outcomeOf(c);
      const name = `decision-${i}`;
      return html`<li class=${`card change change-${c.change}${outcome === "conflict" ? " conflict" : ""}`} key=${c.path}>
        <fieldset>
          <legend><span class=${`badge change-${c.change}`}>${c.change}</span> <code>${c.path}</code>
            ${c.target_path && c.target_path !== c.path ? html` → <code>${c.target_path}</code>` : null}</legend>
          <p class="text"><strong>Rationale:</strong> ${c.rationale || "—"}</p>
          ${
            c.evidence.length
              ? html`<p><strong>Evidence:</strong> ${c.evidence.map(
                  (ev) =>
                    html`<span class="evidence">session <a href=${href("sessions", ev.session_id)}>${ev.session_id}</a>${
                      ev.event_ids.length
                        ? html` events ${ev.event_ids.map((id, k) => html`${k ? ", " : " "}<a href=${eventHref(ev.session_id, id)}>${id}</a>`)}`
                        : null
                    }</span>`,
                )}</p>`
              : html`<p class="muted">No evidence cited.</p>`
          }
          <${DiffView} label=${`Diff of ${c.path} against the input store`} diff=${c.diff} />
          ${
            c.applied
              ? null
              : html`<div class="decision" role="radiogroup" aria-label=${`Decision for ${c.path}`}>
                  <label class="check"><input type="radio" name=${name} checked=${decisions[c.path] === "accept"}
                    onChange=${() => setDecisions({ ...decisions, [c.path]: "accept" })} /> Accept</label>
                  <label class="check"><input type="radio" name=${name} checked=${decisions[c.path] === "reject"}
                    onChange=${() => setDecisions({ ...decisions, [c.path]: "reject" })} /> Reject</label>
                </div>`
          }
          ${
            outcome
              ? html`<p class=${outcome === "conflict" ? "error-text" : "ok-text"} data-testid="apply-outcome">${
                  outcome === "conflict"
                    ? "Conflict: the memory changed after the dream read it; nothing was overwritten."
                    : outcome === "applied"
                      ? "Applied."
                      : `Result: ${outcome}`
                }</p>`
              : null
          }
        </fieldset>
      </li>`;
    })}</ol>
    ${
      list.some((c) => !c.applied)
        ? html`<div class="actions sticky">
            <button type="button" class="primary" disabled=${applying || accepted.length === 0} onClick=${apply}>
              Apply ${accepted.length} accepted ${accepted.length === 1 ? "file" : "files"}</button>
            <span class="muted">${list.filter((c) => decisions[c.path] === "reject").length} rejected (left out)</span>
          </div>`
        : null
    }
    ${results ? html`<p role="status">${results.filter((r) => r.outcome === "applied").length} applied, ${results.filter((r) => r.outcome === "conflict").length} conflicts.</p>` : null}
  </section>`;
}

function DreamView({ api, dreamId }: { api: ReverieApi; dreamId: string }) {
  const dream = useLoad(() => api.get<Dream>(`/v1/dreams/${dreamId}`), [api, dreamId], 3000);
  const d = dream.data;
  const done = d && !["pending", "running"].includes(d.status);
  return html`<section aria-labelledby="dream-title">
    <p><a href=${href("dreams")}>← Dreams</a></p>
    <h1 id="dream-title">Dream ${dreamId}</h1>
    <${LoadError} error=${dream.error} />
    ${
      d
        ? html`<dl class="facts">
            <div><dt>Status</dt><dd><span class=${`badge status-${d.status}`}>${d.status}</span></dd></div>
            <div><dt>Created</dt><dd>${when(d.created_at)}</dd></div>
            <div><dt>Dreamer's session</dt><dd>${d.session_id ? html`<a href=${href("sessions", d.session_id)}>${d.session_id}</a>` : "—"}</dd></div>
            <div><dt>Input store</dt><dd>${d.inputs.filter((i) => i.memory_store_id).map((i) => html`<a href=${href("memory", i.memory_store_id ?? "")}>${i.memory_store_id}</a> `)}</dd></div>
            <div><dt>Input sessions</dt><dd>${d.inputs.flatMap((i) => i.session_ids ?? []).length}</dd></div>
            <div><dt>Output</dt><dd>${(d.outputs ?? []).map((o) => html`<a href=${href("memory", o.memory_store_id)}>${o.memory_store_id}</a> `)}</dd></div>
            <div><dt>Tokens in → out</dt><dd>${tokens(d.usage)}</dd></div>
          </dl>
          ${d.error ? html`<p class="error-text">${d.error.type}: ${d.error.message}</p>` : null}`
        : null
    }
    ${done ? html`<${Review} api=${api} dreamId=${dreamId} />` : d ? html`<p class="muted" role="status">The dream is ${d.status}; its review appears when it completes.</p>` : null}
  </section>`;
}

export function DreamsPage({ api, route }: { api: ReverieApi; route: Route }) {
  const dreamId = route.parts[1];
  return dreamId
    ? html`<${DreamView} key=${dreamId} api=${api} dreamId=${dreamId} />`
    : html`<${DreamsList} api=${api} />`;
}
